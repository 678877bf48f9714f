/* q-qmp-core-execute.c: starting commands (any thread): a Pending made
 * and checked on the caller's thread, its cancellation linked, then
 * handed to the worker
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "q-error.h"
#include "q-qmp-core-private.h"

typedef struct
{
  Request      *request;
  GCancellable *cancellable;
  gulong        handler;
} CancelLink;

static void
cancel_link_free (CancelLink *link)
{
  if (link->handler != 0)
    g_cancellable_disconnect (link->cancellable, link->handler);
  g_clear_object (&link->cancellable);
  request_free (link->request);
  g_free (link);
}

/* Connects @cancellable for the life of @task; the link goes with the
 * task's data, so it is disconnected once the task is done with. The
 * link owns @request, which the handler reads: it is freed only after
 * g_cancellable_disconnect(), which waits for a handler running on
 * another thread, so the handler never sees it freed. (The handler only
 * schedules a copy for the worker; nothing it does can drop the task.) */
void
core_link_cancellable (GTask        *task,
                       GCancellable *cancellable,
                       Request      *request,
                       GCallback     callback)
{
  CancelLink *link = g_new0 (CancelLink, 1);

  link->request = request;
  if (cancellable != NULL)
    {
      link->cancellable = g_object_ref (cancellable);
      link->handler = g_cancellable_connect (cancellable, callback, request, NULL);
    }
  g_object_set_data_full (G_OBJECT (task), "q-cancel-link", link,
                          (GDestroyNotify)cancel_link_free);
}

/* Any thread: hands @p (with its task) to the worker, writing it first
 * when it may (q-qmp-core-direct.c). */
static void
core_submit (Core    *core,
             Pending *p)
{
  gboolean post_adopt = FALSE;
  Request *r;

  if (core_write_direct (core, p, &post_adopt))
    {
      if (!post_adopt)
        return;
      r = request_new (core);
      q_worker_schedule (core_do_adopt, r, (GDestroyNotify)request_free);
      return;
    }

  r = request_new (core);
  r->pending = p;
  q_worker_schedule (core_do_execute, r, (GDestroyNotify)request_free);
}

/* Any thread: @p (made for @task) gets its task and deadline, its
 * cancellation linked, and goes to the wire; a cancellable already
 * cancelled ends it here. */
static void
core_start_pending (Core         *core,
                    Pending      *p,
                    GTask        *task,
                    int           timeout_msec,
                    GCancellable *cancellable)
{
  Request *cr;

  p->task = g_object_ref (task);
  p->timeout_msec = timeout_msec;
  if (timeout_msec >= 0)
    p->deadline = g_get_monotonic_time () + (gint64)timeout_msec * 1000;

  cr = request_new (core);
  cr->id = g_strdup (p->id);
  if (cancellable != NULL && g_cancellable_is_cancelled (cancellable))
    {
      request_free (cr);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               "%s %s was cancelled", core->dialect->command, p->command);
      pending_free (p);
      return;
    }
  core_link_cancellable (task, cancellable, cr, G_CALLBACK (core_execute_cancelled_cb));

  core_submit (core, p);
}

/* Any thread. */
void
core_execute_async (Core               *core,
                    gpointer            source_object,
                    const char         *command,
                    JsonObject         *arguments,
                    gboolean            oob,
                    GUnixFDList        *fds,
                    int                 timeout_msec,
                    gboolean            raw,
                    gboolean            barrier,
                    gpointer            source_tag,
                    GCancellable       *cancellable,
                    GAsyncReadyCallback callback,
                    gpointer            user_data)
{
  g_autoptr(GTask) task = NULL;
  Pending *p;

  task = g_task_new (source_object, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);
  g_task_set_name (task, raw ? core->dialect->raw_task_name : core->dialect->task_name);
  /* We return cancellation ourselves, but keep the slot for the reply. */
  g_task_set_check_cancellable (task, FALSE);

  if (fds != NULL && g_unix_fd_list_get_length (fds) > 0 &&
      (core->socket == NULL ||
       g_socket_get_family (core->socket) != G_SOCKET_FAMILY_UNIX))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                               "Passing file descriptors needs a GSocketConnection "
                               "on a unix socket");
      return;
    }

  /* Ids are allocated here (any thread); the counter is atomic. */
  if (barrier)
    {
      p = g_new0 (Pending, 1);
      p->id = core_next_id (core);
      p->command = g_strdup (command);
      p->barrier = TRUE;
    }
  else
    {
      gsize len;
      const guint8 *bytes;
      GError *error = NULL;

      p = pending_new (core, command, arguments, oob);
      bytes = g_bytes_get_data (p->bytes, &len);
      /* Without its line feed. */
      if (!q_qmp_json_check_outgoing (command, bytes, len - 1, &error))
        {
          pending_free (p);
          g_task_return_error (task, error);
          return;
        }
    }
  p->fds = (fds && g_unix_fd_list_get_length (fds) > 0) ? g_object_ref (fds) : NULL;
  p->raw = raw;
  core_start_pending (core, p, task, timeout_msec, cancellable);
}

/* Any thread: a command that is one text line (qtest's dialect). */
void
core_execute_line_async (Core               *core,
                         gpointer            source_object,
                         const char         *name,
                         GBytes             *line,
                         int                 timeout_msec,
                         gpointer            task_data,
                         GDestroyNotify      task_data_destroy,
                         gpointer            source_tag,
                         GCancellable       *cancellable,
                         GAsyncReadyCallback callback,
                         gpointer            user_data)
{
  g_autoptr(GTask) task = NULL;
  Pending *p;

  task = g_task_new (source_object, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);
  g_task_set_name (task, core->dialect->task_name);
  g_task_set_check_cancellable (task, FALSE);
  if (task_data != NULL)
    g_task_set_task_data (task, task_data, task_data_destroy);

  p = g_new0 (Pending, 1);
  p->id = core_next_id (core);
  p->command = g_strdup (name);
  p->bytes = g_bytes_ref (line);
  if (traffic_logged ())
    {
      g_autoptr(JsonObject) shown = json_object_new ();

      json_object_set_string_member (shown, "line", name);
      log_traffic (core, TRUE, shown);
    }

  core_start_pending (core, p, task, timeout_msec, cancellable);
}
