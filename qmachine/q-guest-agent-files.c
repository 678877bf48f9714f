/* q-guest-agent-files.c: QGuestAgent's file transfers (guest-file-*), in memory
 * and between GFiles
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>

#include "q-error.h"
#include "q-guest-agent-private.h"
#include "q-util-private.h"
#include "q-worker-private.h"

#define TRANSFER_CHUNK (48 * 1024)
#define MAX_FILE_READ  (256u * 1024 * 1024)

/* ------------------------------------------------------------------------ */
/* Files                                                                    */

/* A transfer through guest-file-open/read/write/close, in chunks of
 * TRANSFER_CHUNK bytes. From the guest into `collected` (file_read) or
 * `out` (copy_from_guest); into the guest from `data` (file_write) or
 * `in` (copy_to_guest). The guest's handle is closed on every path: after
 * a failure or a cancel in the background (the caller gets its answer at
 * once), after success before the call completes. */
typedef struct
{
  char          *path;
  gboolean       to_guest;
  gint64         handle;
  gboolean       open;
  gboolean       at_end;    /* everything read (from the guest) */
  GByteArray    *collected;
  GOutputStream *out;
  GBytes        *data;
  gsize          offset;
  GInputStream  *in;
} Xfer;

static void
xfer_free (Xfer *t)
{
  g_free (t->path);
  g_clear_pointer (&t->collected, g_byte_array_unref);
  g_clear_pointer (&t->data, g_bytes_unref);
  g_clear_object (&t->in);
  if (t->out != NULL && !g_output_stream_is_closed (t->out))
    {
      /* Never finished: a replaced file keeps its old contents. */
      g_autoptr(GCancellable) abort = g_cancellable_new ();
      g_cancellable_cancel (abort);
      g_output_stream_close (t->out, abort, NULL);
    }
  g_clear_object (&t->out);
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
xfer_fail (GTask      *task,
           GError     *error,
           const char *what)
{
  Xfer *t = g_task_get_task_data (task);

  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_prefix_error (&error, "%s %s: ", what, t->path);
  xfer_close_in_background (g_task_get_source_object (task), t);
  g_task_return_error (task, error);
}

static void
xfer_local_closed_cb (GObject      *object,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Xfer *t = g_task_get_task_data (task);
  GError *error = NULL;

  if (!g_output_stream_close_finish (G_OUTPUT_STREAM (object), result, &error))
    {
      g_prefix_error (&error, "Could not finish the copy of %s: ", t->path);
      g_task_return_error (task, error);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

/* The guest's side is done: the local side is committed last, so that a
 * failure anywhere leaves a replaced file as it was. */
static void
xfer_commit (GTask *task)
{
  Xfer *t = g_task_get_task_data (task);

  if (t->out != NULL)
    g_output_stream_close_async (t->out, G_PRIORITY_DEFAULT, g_task_get_cancellable (task),
                                 xfer_local_closed_cb, g_object_ref (task));
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
          g_task_return_error (task, error);
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

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (object), result, NULL, &error))
    {
      xfer_fail (task, error, "Could not write the copy of");
      return;
    }
  xfer_step (task);
}

static void
xfer_read_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Xfer *t = g_task_get_task_data (task);
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GBytes) chunk = NULL;
  GError *error = NULL;
  JsonObject *reply;

  node = q_guest_agent_execute_finish (Q_GUEST_AGENT (object), result, &error);
  if (node == NULL)
    {
      xfer_fail (task, error, "Could not read");
      return;
    }
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      xfer_fail (task, g_error_new (Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                                    "the guest-file-read reply is not an object"), "Could not read");
      return;
    }
  reply = json_node_get_object (node);
  chunk = q_json_get_base64 (reply, "buf-b64");
  t->at_end = q_json_get_boolean (reply, "eof");

  if (!t->at_end && g_bytes_get_size (chunk) == 0)
    {
      xfer_fail (task, g_error_new (Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                                    "the agent returned no data and no end of file"),
                 "Could not read");
      return;
    }

  if (t->collected != NULL)
    {
      /* The guest is not trusted to end a file: what is held in memory
       * is bounded. */
      if (t->collected->len + g_bytes_get_size (chunk) > MAX_FILE_READ)
        {
          xfer_fail (task, g_error_new (G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                                        "it is larger than %u MiB (copy it to a file instead)",
                                        MAX_FILE_READ / (1024 * 1024)),
                     "Could not read");
          return;
        }
      g_byte_array_append (t->collected, g_bytes_get_data (chunk, NULL), g_bytes_get_size (chunk));
    }

  if (t->out != NULL && g_bytes_get_size (chunk) > 0)
    {
      /* The chunk lives in the task until written. */
      g_object_set_data_full (G_OBJECT (task), "q-chunk", g_bytes_ref (chunk),
                              (GDestroyNotify)g_bytes_unref);
      g_output_stream_write_all_async (t->out, g_bytes_get_data (chunk, NULL), g_bytes_get_size (chunk),
                                       G_PRIORITY_DEFAULT, g_task_get_cancellable (task),
                                       xfer_wrote_local_cb, g_object_ref (task));
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
  g_autoptr(JsonNode) node = NULL;
  GError *error = NULL;

  node = q_guest_agent_execute_finish (Q_GUEST_AGENT (object), result, &error);
  if (node == NULL)
    {
      xfer_fail (task, error, "Could not write");
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

  if (g_task_return_error_if_cancelled (task))
    {
      xfer_close_in_background (self, t);
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
 * 256 MiB are held: a bigger file (or a guest that never reports the end
 * of one) fails with `G_IO_ERROR_MESSAGE_TOO_LARGE`; copy it with
 * [method@QMachine.GuestAgent.copy_from_guest_async] instead.
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

  g_return_if_fail (Q_IS_GUEST_AGENT (self));
  g_return_if_fail (path != NULL);
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = xfer_new (self, path, FALSE, q_guest_agent_file_read_async, cancellable, callback, user_data);
  ((Xfer *)g_task_get_task_data (task))->collected = g_byte_array_new ();
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

  g_return_if_fail (Q_IS_GUEST_AGENT (self));
  g_return_if_fail (path != NULL);
  g_return_if_fail (data != NULL);
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

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

  g_return_if_fail (Q_IS_GUEST_AGENT (self));
  g_return_if_fail (G_IS_FILE (source));
  g_return_if_fail (guest_path != NULL);
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

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

  return q_guest_agent_copy_to_guest_finish (self, result, error);
}

static void
copy_from_replaced_cb (GObject      *object,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Xfer *t = g_task_get_task_data (task);
  GError *error = NULL;

  t->out = G_OUTPUT_STREAM (g_file_replace_finish (G_FILE (object), result, &error));
  if (t->out == NULL)
    {
      g_prefix_error (&error, "Could not create the copy of %s: ", t->path);
      g_task_return_error (task, error);
      return;
    }
  xfer_open (task);
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
 * chunk in memory. On failure @destination keeps what it held before.
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
  GTask *task;

  g_return_if_fail (Q_IS_GUEST_AGENT (self));
  g_return_if_fail (guest_path != NULL);
  g_return_if_fail (G_IS_FILE (destination));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = xfer_new (self, guest_path, FALSE, q_guest_agent_copy_from_guest_async,
                   cancellable, callback, user_data);
  g_file_replace_async (destination, NULL, FALSE, G_FILE_CREATE_NONE, G_PRIORITY_DEFAULT,
                        cancellable, copy_from_replaced_cb, task);
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

  return q_guest_agent_copy_from_guest_finish (self, result, error);
}
