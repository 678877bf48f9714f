/* q-guest-agent-files.c: QGuestAgent's file transfers (guest-file-*), in memory
 * and between GFiles
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "q-error.h"
#include "q-fs-private.h"
#include "q-guest-agent-private.h"
#include "q-util-private.h"
#include "q-worker-private.h"

#define TRANSFER_CHUNK (48 * 1024)

/* ------------------------------------------------------------------------ */
/* The local side of copy_from_guest                                        */

/* The copy is written to a new file, made with O_CREAT | O_EXCL |
 * O_NOFOLLOW under a random name in the destination's directory (opened
 * with q_fs_open_dir, so no link is followed on the way and nobody else
 * can rename entries there), and renamed over the destination only once
 * complete: a link there is replaced, never followed, and a failed copy
 * leaves the destination as it was. Every step runs on a thread of GIO's
 * pool (one at a time, in order), never in the caller's main context.
 * Shared by the transfer and the job running in a thread: reference
 * counted. */
typedef struct
{
  char         *path;       /* the destination, for messages */
  char         *dir;
  char         *base;
  guint         mode;
  int           dir_fd;
  int           fd;
  char         *temp_name;  /* while the temporary file exists */
  GCancellable *cancellable;
} Local;

static void
local_clear (Local *l)
{
  /* Whatever happened, no temporary file stays behind. */
  if (l->temp_name != NULL && l->dir_fd >= 0)
    unlinkat (l->dir_fd, l->temp_name, 0);
  g_clear_pointer (&l->temp_name, g_free);
  if (l->fd >= 0)
    close (l->fd);
  l->fd = -1;
}

static void
local_free (Local *l)
{
  local_clear (l);
  if (l->dir_fd >= 0)
    close (l->dir_fd);
  g_free (l->path);
  g_free (l->dir);
  g_free (l->base);
  g_clear_object (&l->cancellable);
}

static Local *
local_ref (Local *l)
{
  return g_atomic_rc_box_acquire (l);
}

static void
local_unref (Local *l)
{
  g_atomic_rc_box_release_full (l, (GDestroyNotify)local_free);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Local, local_unref)

/* @doing ends with the word before the destination: "write the copy to". */
static gboolean
local_errno (GError     **error,
             int          errsv,
             const char  *doing,
             Local       *l)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
               "Could not %s %s: %s", doing, l->path, g_strerror (errsv));
  return FALSE;
}

/* Opens the destination's directory and creates the temporary file. */
static gboolean
local_prepare (Local   *l,
               GError **error)
{
  l->dir_fd = q_fs_open_dir (l->dir, Q_FS_DIR_NONE, "destination directory", error);
  if (l->dir_fd < 0)
    return FALSE;
  l->fd = q_fs_create_unique_at (l->dir_fd, ".qmachine-copy", 0600, &l->temp_name, error);
  if (l->fd < 0)
    {
      g_prefix_error (error, "Could not create the copy %s: ", l->path);
      return FALSE;
    }
  return TRUE;
}

static gboolean
local_write (Local   *l,
             GBytes  *chunk,
             GError **error)
{
  gsize len;
  const guint8 *p = g_bytes_get_data (chunk, &len);

  while (len > 0)
    {
      gssize n = write (l->fd, p, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return local_errno (error, errno, "write the copy to", l);
      p += n;
      len -= n;
    }
  return TRUE;
}

/* The copy is complete: on disk, with its mode, then in place. */
static gboolean
local_commit (Local   *l,
              GError **error)
{
  int dir_rd;

  if (fchmod (l->fd, l->mode) != 0)
    return local_errno (error, errno, "set the mode of the copy to", l);
  if (fsync (l->fd) != 0)
    return local_errno (error, errno, "write the copy to", l);
  if (g_cancellable_set_error_if_cancelled (l->cancellable, error))
    return FALSE;
  if (renameat (l->dir_fd, l->temp_name, l->dir_fd, l->base) != 0)
    return local_errno (error, errno, "put the copy in place at", l);
  g_clear_pointer (&l->temp_name, g_free);
  close (l->fd);
  l->fd = -1;

  /* The new name on disk too (best effort: the data is). */
  dir_rd = openat (l->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_rd >= 0)
    {
      fsync (dir_rd);
      close (dir_rd);
    }
  return TRUE;
}

typedef enum
{
  LOCAL_PREPARE,
  LOCAL_WRITE,
  LOCAL_COMMIT,
  LOCAL_DISCARD,
} LocalStep;

typedef struct
{
  Local     *local;
  LocalStep  step;
  GBytes    *chunk;
  GError    *error;     /* LOCAL_DISCARD: what to return afterwards */
} LocalJob;

static void
local_job_free (LocalJob *job)
{
  local_unref (job->local);
  g_clear_pointer (&job->chunk, g_bytes_unref);
  g_clear_error (&job->error);
  g_free (job);
}

static void
local_thread (GTask        *task,
              gpointer      source_object,
              gpointer      task_data,
              GCancellable *cancellable)
{
  LocalJob *job = task_data;
  GError *error = NULL;
  gboolean ok = FALSE;

  switch (job->step)
    {
    case LOCAL_PREPARE:
      ok = local_prepare (job->local, &error);
      break;
    case LOCAL_WRITE:
      ok = local_write (job->local, job->chunk, &error);
      break;
    case LOCAL_COMMIT:
      ok = local_commit (job->local, &error);
      break;
    case LOCAL_DISCARD:
      local_clear (job->local);
      ok = TRUE;
      break;
    default:
      g_assert_not_reached ();
    }

  if (ok)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/* Runs @step on a thread; @callback gets @xfer_task (a reference) as its
 * user data. Not cancellable: each step is short, and a step abandoned
 * half-way would leave the file to a thread we no longer wait for. */
static void
local_run (GTask               *xfer_task,
           Local               *local,
           LocalStep            step,
           GBytes              *chunk,
           GError              *error,
           GAsyncReadyCallback  callback)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, g_object_ref (xfer_task));
  LocalJob *job = g_new0 (LocalJob, 1);

  job->local = local_ref (local);
  job->step = step;
  job->chunk = chunk ? g_bytes_ref (chunk) : NULL;
  job->error = error;
  g_task_set_source_tag (task, local_run);
  g_task_set_name (task, "[qmachine] guest copy, local file");
  g_task_set_task_data (task, job, (GDestroyNotify)local_job_free);
  g_task_run_in_thread (task, local_thread);
}

/* ------------------------------------------------------------------------ */
/* Files                                                                    */

/* A transfer through guest-file-open/read/write/close, in chunks of
 * TRANSFER_CHUNK bytes. From the guest into `collected` (file_read) or
 * `local` (copy_from_guest), at most `limit` bytes; into the guest from
 * `data` (file_write) or `in` (copy_to_guest). The guest's handle is
 * closed on every path: after a failure or a cancel in the background
 * (the caller gets its answer once the local side is cleaned up), after
 * success before the call completes. */
typedef struct
{
  char          *path;
  gboolean       to_guest;
  gint64         handle;
  gboolean       open;
  gboolean       at_end;    /* everything read (from the guest) */
  guint64        limit;     /* from the guest */
  guint64        received;
  GByteArray    *collected;
  Local         *local;
  GBytes        *data;
  gsize          offset;
  gsize          sent;      /* the size of the chunk being written */
  GInputStream  *in;
} Xfer;

static void
xfer_free (Xfer *t)
{
  g_free (t->path);
  g_clear_pointer (&t->collected, g_byte_array_unref);
  g_clear_pointer (&t->local, local_unref);
  g_clear_pointer (&t->data, g_bytes_unref);
  g_clear_object (&t->in);
  g_free (t);
}

static void xfer_step (GTask *task);

/* Frees the guest's handle without waiting. The command has no source
 * object: nothing it leaves in a main context holds the agent. */
static void
xfer_close_in_background (QGuestAgent *self,
                          Xfer        *t)
{
  g_autoptr(JsonObject) args = NULL;

  if (!t->open)
    return;
  t->open = FALSE;
  args = json_object_new ();
  json_object_set_int_member (args, "handle", t->handle);
  q_guest_agent_execute_detached (self, "guest-file-close", args);
}

static void
xfer_discarded_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  LocalJob *job = g_task_get_task_data (G_TASK (result));

  g_task_return_error (task, g_steal_pointer (&job->error));
}

/* Fails the transfer with @error: the guest's handle is closed in the
 * background, and a copy's temporary file removed before the call
 * returns. */
static void
xfer_return_error (GTask  *task,
                   GError *error)
{
  Xfer *t = g_task_get_task_data (task);

  xfer_close_in_background (g_task_get_source_object (task), t);
  if (t->local != NULL)
    {
      Local *local = g_steal_pointer (&t->local);

      local_run (task, local, LOCAL_DISCARD, NULL, error, xfer_discarded_cb);
      local_unref (local);
      return;
    }
  g_task_return_error (task, error);
}

static void
xfer_fail (GTask      *task,
           GError     *error,
           const char *what)
{
  Xfer *t = g_task_get_task_data (task);

  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_prefix_error (&error, "%s %s: ", what, t->path);
  xfer_return_error (task, error);
}

static void
xfer_protocol_error (GTask      *task,
                     const char *what,
                     const char *format,
                     ...) G_GNUC_PRINTF (3, 4);

static void
xfer_protocol_error (GTask      *task,
                     const char *what,
                     const char *format,
                     ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  xfer_fail (task, g_error_new_literal (Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL, message), what);
}

static void
xfer_committed_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      xfer_return_error (task, error);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

/* The guest's side is done: the local side is committed last, so that a
 * failure anywhere leaves the destination as it was. */
static void
xfer_commit (GTask *task)
{
  Xfer *t = g_task_get_task_data (task);

  if (t->local != NULL)
    local_run (task, t->local, LOCAL_COMMIT, NULL, NULL, xfer_committed_cb);
  else if (t->collected != NULL)
    g_task_return_pointer (task, g_byte_array_free_to_bytes (g_steal_pointer (&t->collected)),
                           (GDestroyNotify)g_bytes_unref);
  else
    g_task_return_boolean (task, TRUE);
}

static void
xfer_closed_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Xfer *t = g_task_get_task_data (task);
  g_autoptr(JsonNode) node = NULL;
  GError *error = NULL;

  node = q_guest_agent_execute_finish (Q_GUEST_AGENT (object), result, &error);
  if (node == NULL)
    {
      if (t->to_guest)
        {
          /* Written data may not have reached the file. */
          g_prefix_error (&error, "Could not close %s in the guest: ", t->path);
          xfer_return_error (task, error);
          return;
        }
      g_debug ("Guest agent: closing %s after reading all of it failed: %s", t->path, error->message);
      g_clear_error (&error);
    }
  xfer_commit (task);
}

/* Everything is transferred: close the guest's handle, then commit. */
static void
xfer_done (GTask *task)
{
  QGuestAgent *self = g_task_get_source_object (task);
  Xfer *t = g_task_get_task_data (task);
  g_autoptr(JsonObject) args = json_object_new ();

  t->open = FALSE;
  json_object_set_int_member (args, "handle", t->handle);
  /* Not cancellable: the handle is the guest's to free. */
  q_guest_agent_execute_async (self, "guest-file-close", args, NULL,
                               xfer_closed_cb, g_object_ref (task));
}

static void
xfer_wrote_local_cb (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      xfer_return_error (task, error);
      return;
    }
  xfer_step (task);
}

/* A member that must be a non-negative integer. */
static gboolean
xfer_get_count (JsonObject *reply,
                gint64     *count)
{
  return q_json_get_int (reply, "count", count) && *count >= 0;
}

static void
xfer_read_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Xfer *t = g_task_get_task_data (task);
  g_autoptr(JsonNode) node = NULL;
  GError *error = NULL;
  JsonObject *reply;
  JsonNode *eof;
  const char *text;
  gsize text_len, size;
  gint64 count;

  node = q_guest_agent_execute_finish (Q_GUEST_AGENT (object), result, &error);
  if (node == NULL)
    {
      xfer_fail (task, error, "Could not read");
      return;
    }
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      xfer_protocol_error (task, "Could not read", "the guest-file-read reply is not an object");
      return;
    }
  reply = json_node_get_object (node);
  text = q_json_get_string (reply, "buf-b64");
  eof = json_object_get_member (reply, "eof");
  if (text == NULL || !xfer_get_count (reply, &count) || eof == NULL ||
      !JSON_NODE_HOLDS_VALUE (eof) || json_node_get_value_type (eof) != G_TYPE_BOOLEAN)
    {
      xfer_protocol_error (task, "Could not read", "the guest-file-read reply lacks a "
                           "\"buf-b64\" string, a \"count\" of zero or more or an \"eof\" "
                           "boolean");
      return;
    }
  t->at_end = json_node_get_boolean (eof);

  /* What the data says, checked against what the agent says about it:
   * never taken for other data. */
  text_len = strlen (text);
  if (!q_guest_agent_base64_check (text, text_len, &size, "file data (buf-b64)", &error))
    {
      xfer_fail (task, error, "Could not read");
      return;
    }
  if ((guint64)count != size)
    {
      xfer_protocol_error (task, "Could not read", "the agent said %" G_GINT64_FORMAT " bytes "
                           "but sent %" G_GSIZE_FORMAT, count, size);
      return;
    }
  if (size > TRANSFER_CHUNK)
    {
      xfer_protocol_error (task, "Could not read", "the agent sent %" G_GSIZE_FORMAT " bytes "
                           "when asked for at most %d", size, TRANSFER_CHUNK);
      return;
    }
  if (!t->at_end && size == 0)
    {
      xfer_protocol_error (task, "Could not read", "the agent returned no data and no end of file");
      return;
    }

  /* The guest is not trusted to end a file: bounded before anything is
   * kept. */
  if (size > t->limit - t->received)
    {
      xfer_fail (task, g_error_new (G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                                    "it is larger than the limit of %" G_GUINT64_FORMAT " bytes%s",
                                    t->limit, t->collected != NULL ?
                                    " (copy it to a file instead)" : ""),
                 "Could not read");
      return;
    }
  t->received += size;

  if (t->collected != NULL && size > 0)
    {
      /* Decoded in place: the file is held once. */
      guint old = t->collected->len;

      g_byte_array_set_size (t->collected, old + size);
      q_guest_agent_base64_decode (text, text_len, t->collected->data + old);
    }

  if (t->local != NULL && size > 0)
    {
      guint8 *data = g_malloc (size);
      g_autoptr(GBytes) chunk = NULL;

      q_guest_agent_base64_decode (text, text_len, data);
      chunk = g_bytes_new_take (data, size);
      local_run (task, t->local, LOCAL_WRITE, chunk, NULL, xfer_wrote_local_cb);
      return;
    }
  xfer_step (task);
}

static void
xfer_wrote_guest_cb (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Xfer *t = g_task_get_task_data (task);
  g_autoptr(JsonNode) node = NULL;
  GError *error = NULL;
  gint64 count;

  node = q_guest_agent_execute_finish (Q_GUEST_AGENT (object), result, &error);
  if (node == NULL)
    {
      xfer_fail (task, error, "Could not write");
      return;
    }
  /* A short write in the guest (its disk full) is a failed write. */
  if (!JSON_NODE_HOLDS_OBJECT (node) || !xfer_get_count (json_node_get_object (node), &count))
    {
      xfer_protocol_error (task, "Could not write",
                           "the guest-file-write reply has no \"count\" of zero or more");
      return;
    }
  if ((guint64)count != t->sent)
    {
      xfer_fail (task, g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED,
                                    "the agent wrote %" G_GINT64_FORMAT " of %" G_GSIZE_FORMAT
                                    " bytes", count, t->sent),
                 "Could not write");
      return;
    }
  xfer_step (task);
}

static void
xfer_send_chunk (GTask  *task,
                 GBytes *chunk)
{
  QGuestAgent *self = g_task_get_source_object (task);
  Xfer *t = g_task_get_task_data (task);
  g_autoptr(JsonObject) args = json_object_new ();
  g_autofree char *b64 = NULL;
  gsize len;
  const guchar *data = g_bytes_get_data (chunk, &len);

  b64 = g_base64_encode (data, len);
  t->sent = len;
  json_object_set_int_member (args, "handle", t->handle);
  json_object_set_string_member (args, "buf-b64", b64);
  json_object_set_int_member (args, "count", (gint64)len);
  q_guest_agent_execute_async (self, "guest-file-write", args, g_task_get_cancellable (task),
                               xfer_wrote_guest_cb, g_object_ref (task));
}

static void
xfer_local_read_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GBytes) chunk = NULL;
  GError *error = NULL;

  chunk = g_input_stream_read_bytes_finish (G_INPUT_STREAM (object), result, &error);
  if (chunk == NULL)
    {
      xfer_fail (task, error, "Could not read the source of");
      return;
    }
  if (g_bytes_get_size (chunk) == 0)
    xfer_done (task);
  else
    xfer_send_chunk (task, chunk);
}

/* The next chunk, whichever way the transfer goes. */
static void
xfer_step (GTask *task)
{
  QGuestAgent *self = g_task_get_source_object (task);
  Xfer *t = g_task_get_task_data (task);
  GError *error = NULL;

  if (g_cancellable_set_error_if_cancelled (g_task_get_cancellable (task), &error))
    {
      xfer_return_error (task, error);
      return;
    }

  if (!t->to_guest)
    {
      g_autoptr(JsonObject) args = NULL;

      if (t->at_end)
        {
          xfer_done (task);
          return;
        }
      args = json_object_new ();
      json_object_set_int_member (args, "handle", t->handle);
      json_object_set_int_member (args, "count", TRANSFER_CHUNK);
      q_guest_agent_execute_async (self, "guest-file-read", args, g_task_get_cancellable (task),
                                   xfer_read_cb, g_object_ref (task));
      return;
    }

  if (t->in != NULL)
    {
      g_input_stream_read_bytes_async (t->in, TRANSFER_CHUNK, G_PRIORITY_DEFAULT,
                                       g_task_get_cancellable (task),
                                       xfer_local_read_cb, g_object_ref (task));
      return;
    }

  if (t->offset >= g_bytes_get_size (t->data))
    {
      xfer_done (task);
      return;
    }
  {
    gsize n = MIN (TRANSFER_CHUNK, g_bytes_get_size (t->data) - t->offset);
    g_autoptr(GBytes) chunk = g_bytes_new_from_bytes (t->data, t->offset, n);

    t->offset += n;
    xfer_send_chunk (task, chunk);
  }
}

static void
xfer_opened_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Xfer *t = g_task_get_task_data (task);
  g_autoptr(JsonNode) node = NULL;
  GError *error = NULL;

  node = q_guest_agent_execute_finish (Q_GUEST_AGENT (object), result, &error);
  if (node == NULL)
    {
      xfer_fail (task, error, "Could not open");
      return;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    {
      xfer_fail (task, g_error_new (Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                                    "the guest-file-open reply is not a handle"), "Could not open");
      return;
    }
  t->handle = json_node_get_int (node);
  t->open = TRUE;
  /* A cancel during the open is seen here (xfer_step), where the handle
   * can be freed. */
  xfer_step (task);
}

/* Not cancellable: abandoned, the open would still happen in the guest and
 * its handle would never be freed. */
static void
xfer_open (GTask *task)
{
  QGuestAgent *self = g_task_get_source_object (task);
  Xfer *t = g_task_get_task_data (task);
  g_autoptr(JsonObject) args = json_object_new ();

  json_object_set_string_member (args, "path", t->path);
  json_object_set_string_member (args, "mode", t->to_guest ? "w" : "r");
  q_guest_agent_execute_async (self, "guest-file-open", args, NULL,
                               xfer_opened_cb, g_object_ref (task));
}

static GTask *
xfer_new (QGuestAgent         *self,
          const char          *path,
          gboolean             to_guest,
          gpointer             source_tag,
          GCancellable        *cancellable,
          GAsyncReadyCallback  callback,
          gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  Xfer *t = g_new0 (Xfer, 1);

  g_task_set_source_tag (task, source_tag);
  t->path = g_strdup (path);
  t->to_guest = to_guest;
  g_task_set_task_data (task, t, (GDestroyNotify)xfer_free);
  return task;
}

/**
 * q_guest_agent_file_read_async:
 * @self: a `QGuestAgent`
 * @path: a file in the guest (UTF-8)
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called with the contents
 * @user_data: closure data for @callback
 *
 * Reads a whole guest file with `guest-file-open`, `guest-file-read` (in
 * chunks of 48 KiB, base64 on the wire) and `guest-file-close`. At most
 * [property@QMachine.GuestAgent:max-read-size] bytes (256 MiB by default)
 * are held: a bigger file (or a guest that never reports the end of one)
 * fails with `G_IO_ERROR_MESSAGE_TOO_LARGE` before more is kept; copy it
 * with [method@QMachine.GuestAgent.copy_from_guest_async] instead. Each
 * chunk is decoded straight into the one growing buffer, so the file is
 * held once. Data that is not valid base64, or whose size is not the
 * `count` the agent gives, fails with `Q_MACHINE_ERROR_PROTOCOL`.
 *
 * Since: 1.0
 */
void
q_guest_agent_file_read_async (QGuestAgent         *self,
                               const char          *path,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  GTask *task;
  Xfer *t;

  q_return_async_if_fail (Q_IS_GUEST_AGENT (self), callback, user_data);
  q_return_async_if_fail (path != NULL, callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  task = xfer_new (self, path, FALSE, q_guest_agent_file_read_async, cancellable, callback, user_data);
  t = g_task_get_task_data (task);
  t->collected = g_byte_array_new ();
  t->limit = q_guest_agent_get_max_read_size (self);
  xfer_open (task);
  g_object_unref (task);
}

/**
 * q_guest_agent_file_read_finish:
 * @self: a `QGuestAgent`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.GuestAgent.file_read_async].
 *
 * Returns: (transfer full): the file's contents
 *
 * Since: 1.0
 */
GBytes *
q_guest_agent_file_read_finish (QGuestAgent   *self,
                                GAsyncResult  *result,
                                GError       **error)
{
  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), NULL);
  g_return_val_if_fail (q_guest_agent_check_result (self, result, q_guest_agent_file_read_async), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * q_guest_agent_file_read:
 * @self: a `QGuestAgent`
 * @path: a file in the guest (UTF-8)
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.GuestAgent.file_read_async].
 *
 * Returns: (transfer full): the file's contents
 *
 * Since: 1.0
 */
GBytes *
q_guest_agent_file_read (QGuestAgent   *self,
                         const char    *path,
                         GCancellable  *cancellable,
                         GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), NULL);
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), NULL);

  q_sync_call_begin (&call);
  q_guest_agent_file_read_async (self, path, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return NULL;

  return q_guest_agent_file_read_finish (self, result, error);
}

/**
 * q_guest_agent_file_write_async:
 * @self: a `QGuestAgent`
 * @path: a file in the guest (UTF-8), created or truncated
 * @data: what to write
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when written
 * @user_data: closure data for @callback
 *
 * Writes a guest file with `guest-file-open` (mode `w`),
 * `guest-file-write` in chunks of 48 KiB and `guest-file-close`.
 *
 * Since: 1.0
 */
void
q_guest_agent_file_write_async (QGuestAgent         *self,
                                const char          *path,
                                GBytes              *data,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  GTask *task;

  q_return_async_if_fail (Q_IS_GUEST_AGENT (self), callback, user_data);
  q_return_async_if_fail (path != NULL, callback, user_data);
  q_return_async_if_fail (data != NULL, callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  task = xfer_new (self, path, TRUE, q_guest_agent_file_write_async, cancellable, callback, user_data);
  ((Xfer *)g_task_get_task_data (task))->data = g_bytes_ref (data);
  xfer_open (task);
  g_object_unref (task);
}

/**
 * q_guest_agent_file_write_finish:
 * @self: a `QGuestAgent`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.GuestAgent.file_write_async].
 *
 * Returns: %TRUE when the file was written and closed
 *
 * Since: 1.0
 */
gboolean
q_guest_agent_file_write_finish (QGuestAgent   *self,
                                 GAsyncResult  *result,
                                 GError       **error)
{
  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), FALSE);
  g_return_val_if_fail (q_guest_agent_check_result (self, result, q_guest_agent_file_write_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * q_guest_agent_file_write:
 * @self: a `QGuestAgent`
 * @path: a file in the guest (UTF-8)
 * @data: what to write
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.GuestAgent.file_write_async].
 *
 * Returns: %TRUE when the file was written and closed
 *
 * Since: 1.0
 */
gboolean
q_guest_agent_file_write (QGuestAgent   *self,
                          const char    *path,
                          GBytes        *data,
                          GCancellable  *cancellable,
                          GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (data != NULL, FALSE);
  g_return_val_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), FALSE);

  q_sync_call_begin (&call);
  q_guest_agent_file_write_async (self, path, data, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return FALSE;

  return q_guest_agent_file_write_finish (self, result, error);
}

static void
copy_to_opened_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Xfer *t = g_task_get_task_data (task);
  GError *error = NULL;

  t->in = G_INPUT_STREAM (g_file_read_finish (G_FILE (object), result, &error));
  if (t->in == NULL)
    {
      g_prefix_error (&error, "Could not open the file to copy to %s: ", t->path);
      g_task_return_error (task, error);
      return;
    }
  xfer_open (task);
}

/**
 * q_guest_agent_copy_to_guest_async:
 * @self: a `QGuestAgent`
 * @source: the local file to copy
 * @guest_path: where in the guest, created or truncated
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when copied
 * @user_data: closure data for @callback
 *
 * Copies a local file into the guest in chunks of 48 KiB, never holding
 * more than a chunk in memory.
 *
 * Since: 1.0
 */
void
q_guest_agent_copy_to_guest_async (QGuestAgent         *self,
                                   GFile               *source,
                                   const char          *guest_path,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  GTask *task;

  q_return_async_if_fail (Q_IS_GUEST_AGENT (self), callback, user_data);
  q_return_async_if_fail (G_IS_FILE (source), callback, user_data);
  q_return_async_if_fail (guest_path != NULL, callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  task = xfer_new (self, guest_path, TRUE, q_guest_agent_copy_to_guest_async,
                   cancellable, callback, user_data);
  g_file_read_async (source, G_PRIORITY_DEFAULT, cancellable, copy_to_opened_cb, task);
}

/**
 * q_guest_agent_copy_to_guest_finish:
 * @self: a `QGuestAgent`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.GuestAgent.copy_to_guest_async].
 *
 * Returns: %TRUE when copied
 *
 * Since: 1.0
 */
gboolean
q_guest_agent_copy_to_guest_finish (QGuestAgent   *self,
                                    GAsyncResult  *result,
                                    GError       **error)
{
  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), FALSE);
  g_return_val_if_fail (q_guest_agent_check_result (self, result, q_guest_agent_copy_to_guest_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * q_guest_agent_copy_to_guest:
 * @self: a `QGuestAgent`
 * @source: the local file to copy
 * @guest_path: where in the guest
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.GuestAgent.copy_to_guest_async].
 *
 * Returns: %TRUE when copied
 *
 * Since: 1.0
 */
gboolean
q_guest_agent_copy_to_guest (QGuestAgent   *self,
                             GFile         *source,
                             const char    *guest_path,
                             GCancellable  *cancellable,
                             GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), FALSE);
  g_return_val_if_fail (G_IS_FILE (source), FALSE);
  g_return_val_if_fail (guest_path != NULL, FALSE);
  g_return_val_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), FALSE);

  q_sync_call_begin (&call);
  q_guest_agent_copy_to_guest_async (self, source, guest_path, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return FALSE;

  return q_guest_agent_copy_to_guest_finish (self, result, error);
}

static void
copy_from_prepared_cb (GObject      *object,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error) ||
      g_cancellable_set_error_if_cancelled (g_task_get_cancellable (task), &error))
    {
      xfer_return_error (task, error);
      return;
    }
  xfer_open (task);
}

static void
copy_from_start (QGuestAgent         *self,
                 const char          *guest_path,
                 GFile               *destination,
                 guint                mode,
                 gpointer             source_tag,
                 GCancellable        *cancellable,
                 GAsyncReadyCallback  callback,
                 gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *path = g_file_get_path (destination);
  g_autofree char *base = NULL;
  Xfer *t;
  Local *l;

  task = xfer_new (self, guest_path, FALSE, source_tag, cancellable, callback, user_data);
  t = g_task_get_task_data (task);
  t->limit = q_guest_agent_get_max_copy_size (self);

  if (path == NULL)
    {
      g_autofree char *uri = g_file_get_uri (destination);

      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                               "Could not copy %s to %s: the destination must be a local file",
                               guest_path, uri);
      return;
    }
  base = g_path_get_basename (path);
  if (g_str_equal (base, "/") || g_str_equal (base, ".") || g_str_equal (base, ".."))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "Could not copy %s to %s: the destination does not name a file",
                               guest_path, path);
      return;
    }

  l = g_atomic_rc_box_new0 (Local);
  l->path = g_steal_pointer (&path);
  l->dir = g_path_get_dirname (l->path);
  l->base = g_steal_pointer (&base);
  l->mode = mode;
  l->dir_fd = -1;
  l->fd = -1;
  l->cancellable = cancellable ? g_object_ref (cancellable) : NULL;
  t->local = l;
  local_run (task, l, LOCAL_PREPARE, NULL, NULL, copy_from_prepared_cb);
}

/**
 * q_guest_agent_copy_from_guest_async:
 * @self: a `QGuestAgent`
 * @guest_path: the guest file to copy
 * @destination: the local file to write (replaced only once the copy is
 *   complete)
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when copied
 * @user_data: closure data for @callback
 *
 * Copies a guest file out in chunks of 48 KiB, never holding more than a
 * chunk in memory, into a new file of mode 0600:
 * [method@QMachine.GuestAgent.copy_from_guest_full_async] with that mode.
 *
 * Since: 1.0
 */
void
q_guest_agent_copy_from_guest_async (QGuestAgent         *self,
                                     const char          *guest_path,
                                     GFile               *destination,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  q_return_async_if_fail (Q_IS_GUEST_AGENT (self), callback, user_data);
  q_return_async_if_fail (guest_path != NULL, callback, user_data);
  q_return_async_if_fail (G_IS_FILE (destination), callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  copy_from_start (self, guest_path, destination, 0600, q_guest_agent_copy_from_guest_async,
                   cancellable, callback, user_data);
}

/**
 * q_guest_agent_copy_from_guest_finish:
 * @self: a `QGuestAgent`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.GuestAgent.copy_from_guest_async].
 *
 * Returns: %TRUE when copied
 *
 * Since: 1.0
 */
gboolean
q_guest_agent_copy_from_guest_finish (QGuestAgent   *self,
                                      GAsyncResult  *result,
                                      GError       **error)
{
  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), FALSE);
  g_return_val_if_fail (q_guest_agent_check_result (self, result, q_guest_agent_copy_from_guest_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * q_guest_agent_copy_from_guest:
 * @self: a `QGuestAgent`
 * @guest_path: the guest file to copy
 * @destination: the local file to write
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.GuestAgent.copy_from_guest_async].
 *
 * Returns: %TRUE when copied
 *
 * Since: 1.0
 */
gboolean
q_guest_agent_copy_from_guest (QGuestAgent   *self,
                               const char    *guest_path,
                               GFile         *destination,
                               GCancellable  *cancellable,
                               GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), FALSE);
  g_return_val_if_fail (guest_path != NULL, FALSE);
  g_return_val_if_fail (G_IS_FILE (destination), FALSE);
  g_return_val_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), FALSE);

  q_sync_call_begin (&call);
  q_guest_agent_copy_from_guest_async (self, guest_path, destination, cancellable,
                                       q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return FALSE;

  return q_guest_agent_copy_from_guest_finish (self, result, error);
}

/**
 * q_guest_agent_copy_from_guest_full_async:
 * @self: a `QGuestAgent`
 * @guest_path: the guest file to copy
 * @destination: the local file to write: a path on this machine
 * @mode: the permissions of the copy, from 0 to 0777 (the process's umask
 *   is not applied)
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when copied
 * @user_data: closure data for @callback
 *
 * Copies a guest file out in chunks of 48 KiB, never holding more than a
 * chunk in memory.
 *
 * The guest is not trusted, and neither is the destination's directory
 * when other users can write to it. The directory is reached without
 * following a symbolic link anywhere on its path and must be one that
 * only this user (or root) can change, or a sticky one such as `/tmp`;
 * otherwise the copy fails with `G_IO_ERROR_PERMISSION_DENIED`. The data
 * goes to a new file, created there under a temporary name
 * (`.qmachine-copy-` and six random characters) with mode 0600, written
 * on a thread, never in the caller's main context, and synced to disk;
 * only when the whole file was read does it get @mode and take the
 * destination's name, in one rename. Whatever was at @destination is replaced, never written
 * through: a symbolic link there is replaced by the copy and its target
 * is left alone.
 *
 * On failure or cancel the temporary file is removed before the call
 * completes, and @destination keeps what it held (or stays absent). A
 * guest that sends more than [property@QMachine.GuestAgent:max-copy-size]
 * bytes fails the copy with `G_IO_ERROR_MESSAGE_TOO_LARGE`; data that is
 * not valid base64, or whose size is not the one the agent gives, fails
 * it with `Q_MACHINE_ERROR_PROTOCOL`. A @destination that is no local
 * file (a `GFile` of another URI scheme) fails with
 * `G_IO_ERROR_NOT_SUPPORTED`.
 *
 * Since: 1.0
 */
void
q_guest_agent_copy_from_guest_full_async (QGuestAgent         *self,
                                          const char          *guest_path,
                                          GFile               *destination,
                                          guint                mode,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data)
{
  q_return_async_if_fail (Q_IS_GUEST_AGENT (self), callback, user_data);
  q_return_async_if_fail (guest_path != NULL, callback, user_data);
  q_return_async_if_fail (G_IS_FILE (destination), callback, user_data);
  q_return_async_if_fail (mode <= 0777, callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  copy_from_start (self, guest_path, destination, mode, q_guest_agent_copy_from_guest_full_async,
                   cancellable, callback, user_data);
}

/**
 * q_guest_agent_copy_from_guest_full_finish:
 * @self: a `QGuestAgent`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.GuestAgent.copy_from_guest_full_async].
 *
 * Returns: %TRUE when copied
 *
 * Since: 1.0
 */
gboolean
q_guest_agent_copy_from_guest_full_finish (QGuestAgent   *self,
                                           GAsyncResult  *result,
                                           GError       **error)
{
  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), FALSE);
  g_return_val_if_fail (q_guest_agent_check_result (self, result,
                                                    q_guest_agent_copy_from_guest_full_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * q_guest_agent_copy_from_guest_full:
 * @self: a `QGuestAgent`
 * @guest_path: the guest file to copy
 * @destination: the local file to write
 * @mode: the permissions of the copy, from 0 to 0777
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.GuestAgent.copy_from_guest_full_async].
 *
 * Returns: %TRUE when copied
 *
 * Since: 1.0
 */
gboolean
q_guest_agent_copy_from_guest_full (QGuestAgent   *self,
                                    const char    *guest_path,
                                    GFile         *destination,
                                    guint          mode,
                                    GCancellable  *cancellable,
                                    GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), FALSE);
  g_return_val_if_fail (guest_path != NULL, FALSE);
  g_return_val_if_fail (G_IS_FILE (destination), FALSE);
  g_return_val_if_fail (mode <= 0777, FALSE);
  g_return_val_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), FALSE);

  q_sync_call_begin (&call);
  q_guest_agent_copy_from_guest_full_async (self, guest_path, destination, mode, cancellable,
                                            q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return FALSE;

  return q_guest_agent_copy_from_guest_full_finish (self, result, error);
}
