/* q-qmp-core.c: the protocol engine behind QQmpClient and QGuestAgent
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Reading, framing, writing, the commands in flight, deadlines, closing
 * and emissions, for any dialect: what a dialect decides (how a message
 * is routed, which command goes next, what a command abandoned means) is
 * asked of core->dialect, never of a dialect's file by name.
 *
 * Everything here runs on the worker thread unless a comment says "any
 * thread". Requests from the public API arrive as Request records posted
 * with q_worker_schedule; results leave as GTask returns (which GTask
 * marshals to the caller's context) and as emissions for the owner's
 * context, delivered by the object's dispatcher.
 */

#include "config.h"

#include <string.h>

#include <gio/gunixfdmessage.h>

#include "q-error.h"
#include "q-qmp-core-private.h"
#include "q-util-private.h"

static gboolean core_start_reading (gpointer data);
static void     core_got_data      (Core     *core,
                                    gssize    n,
                                    GError   *error);
static void core_read_next   (Core         *core);
static void core_op_done     (Core         *core);

/* ------------------------------------------------------------------------ */
/* Pending commands and emissions                                           */

Core *
core_ref (Core *core)
{
  g_atomic_ref_count_inc (&core->ref_count);
  return core;
}

void
core_unref (Core *core)
{
  if (!g_atomic_ref_count_dec (&core->ref_count))
    return;

  g_assert (g_hash_table_size (core->pending) == 0);
  g_assert (core->deadline_source == NULL);
  g_assert (core->read_source == NULL);
  g_assert (core->hook_destroy == NULL);

  if (core->dialect->finalize != NULL)
    core->dialect->finalize (core);
  g_clear_pointer (&core->dispatcher, q_dispatcher_unref);
  g_clear_object (&core->stream);
  g_clear_object (&core->socket);
  g_clear_object (&core->io_cancellable);
  q_qmp_framer_clear (&core->framer);
  g_clear_pointer (&core->readbuf, g_free);
  g_clear_pointer (&core->pending, g_hash_table_unref);
  g_clear_pointer (&core->close_tasks, g_ptr_array_unref);
  g_clear_error (&core->closed_error);
  g_free (core->log_name);
  g_queue_clear_full (&core->emissions, (GDestroyNotify)emission_free);
  g_queue_clear_full (&core->direct_sent, (GDestroyNotify)pending_free);
  g_mutex_clear (&core->mutex);
  g_mutex_clear (&core->wire_mutex);
  g_free (core);
}

Core *
core_new (GIOStream         *stream,
          GMainContext      *owner_context,
          QBox              *box,
          QDispatchFunc      dispatch,
          const CoreDialect *dialect)
{
  Core *core = g_new0 (Core, 1);

  g_atomic_ref_count_init (&core->ref_count);
  g_mutex_init (&core->mutex);
  g_mutex_init (&core->wire_mutex);
  core->dialect = dialect;
  core->dispatcher = q_dispatcher_new (owner_context, box, dispatch);
  core->io_cancellable = g_cancellable_new ();
  core->pending = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                         (GDestroyNotify)pending_free);
  core->max_message_size = Q_QMP_CLIENT_DEFAULT_MAX_MESSAGE_SIZE;
  core->max_message_nodes = Q_QMP_CLIENT_DEFAULT_MAX_MESSAGE_NODES;
  core->max_queued_events = MAX_QUEUED_EMISSIONS;
  core->max_queued_event_bytes = Q_QMP_CLIENT_DEFAULT_MAX_QUEUED_EVENT_BYTES;
  q_qmp_framer_init (&core->framer, core->max_message_size, core->max_message_nodes);
  /* Its limits and its framing, before any thread but this one sees it. */
  if (dialect->setup != NULL)
    dialect->setup (core);

  if (stream == NULL)
    {
      /* Made without a stream (g_object_new with no properties): a closed
       * client whose every call fails with a clear error. */
      core->closed = TRUE;
      core->stream_closed = TRUE;
      core->closed_error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED,
                                                dialect->no_stream);
      return core;
    }

  core->stream = g_object_ref (stream);
  core->input = g_io_stream_get_input_stream (stream);
  core->output = g_io_stream_get_output_stream (stream);
  if (G_IS_SOCKET_CONNECTION (stream))
    core->socket = g_object_ref (g_socket_connection_get_socket (G_SOCKET_CONNECTION (stream)));
  /* A GTcpWrapperConnection (TLS from GSocketClient, for one) is a socket
   * connection whose streams are not the socket's: what it reads and
   * writes passes through another stream first. */
  core->socket_streams = core->socket != NULL &&
                         G_OBJECT_TYPE (core->input) == g_type_from_name ("GSocketInputStream") &&
                         G_OBJECT_TYPE (core->output) == g_type_from_name ("GSocketOutputStream");
  core->readbuf = g_malloc (READ_CHUNK);

  q_worker_schedule (core_start_reading, core_ref (core), (GDestroyNotify)core_unref);

  return core;
}

/* Worker, before the first read returns: signals go to @context. */
void
core_set_owner_context (Core          *core,
                        GMainContext  *context,
                        QBox          *box,
                        QDispatchFunc  dispatch)
{
  QDispatcher *old = core->dispatcher;

  g_assert (q_worker_is_current ());

  q_leaf_lock (&core->mutex);
  core->dispatcher = q_dispatcher_new (context, box, dispatch);
  q_leaf_unlock (&core->mutex);

  q_dispatcher_close (old);
  q_dispatcher_unref (old);
}

/* The client is being disposed (any thread): nothing is delivered any
 * more and nothing waits in the owner's context; the worker closes. */
void
core_dispose (Core *core)
{
  Request *r = request_new (core);

  q_leaf_lock (&core->mutex);
  q_dispatcher_close (core->dispatcher);
  g_queue_clear_full (&core->emissions, (GDestroyNotify)emission_free);
  g_queue_init (&core->emissions);
  core->queued_events = 0;
  core->queued_event_bytes = 0;
  q_leaf_unlock (&core->mutex);

  q_worker_schedule (core_do_fail, r, (GDestroyNotify)request_free);
}


/* Owner's context, from the client's dispatch: takes what waits. */
void
core_take_emissions (Core   *core,
                     GQueue *out,
                     guint  *dropped)
{
  q_leaf_lock (&core->mutex);
  *out = core->emissions;
  g_queue_init (&core->emissions);
  core->queued_events = 0;
  core->queued_event_bytes = 0;
  *dropped = core->dropped_events;
  q_leaf_unlock (&core->mutex);
}

/* Any thread. Queues a signal for the owner's context. An event beyond
 * max_queued_events, or over max_queued_event_bytes, drops the oldest
 * queued events (counted), never the closed notification; the newest
 * event is always kept. */
void
core_queue_emission (Core     *core,
                     Emission *e)
{
  QDispatcher *dispatcher;

  q_leaf_lock (&core->mutex);
  if (e->kind == EMIT_EVENT)
    {
      GList *l = core->emissions.head;

      while (core->queued_events > 0 &&
             (core->queued_events >= MAX (core->max_queued_events, 1) ||
              core->queued_event_bytes + e->cost > core->max_queued_event_bytes))
        {
          Emission *old;
          GList *next;

          while (((Emission *)l->data)->kind != EMIT_EVENT)
            l = l->next;
          old = l->data;
          next = l->next;
          g_queue_delete_link (&core->emissions, l);
          l = next;
          core->queued_events--;
          core->queued_event_bytes -= old->cost;
          emission_free (old);
          if (core->dropped_events++ == 0)
            g_debug ("QMP client: the owner's main context is not dispatching events; "
                     "more than %u (or %" G_GUINT64_FORMAT " bytes of them) wait, dropping "
                     "the oldest", core->max_queued_events, core->max_queued_event_bytes);
        }
      core->queued_events++;
      core->queued_event_bytes += e->cost;
    }
  g_queue_push_tail (&core->emissions, e);
  dispatcher = core->dispatcher;
  q_leaf_unlock (&core->mutex);

  /* The dispatcher only changes before the first read (on this thread)
   * and lives as long as the core. */
  q_dispatcher_wakeup (dispatcher);
}

/* ------------------------------------------------------------------------ */
/* Completion of commands (worker thread)                                   */

static void
core_complete (Core       *core,
               Pending    *p,
               JsonObject *response)
{
  g_autoptr(GTask) task = g_steal_pointer (&p->task);
  JsonObject *error_obj;

  if (task == NULL)
    return;

  if (p->raw)
    {
      g_task_return_pointer (task, json_object_ref (response),
                             (GDestroyNotify)json_object_unref);
      return;
    }

  if ((error_obj = q_json_get_object (response, "error")))
    {
      GError *error = q_qmp_error_from_json (error_obj);
      g_task_return_error (task, error);
      return;
    }

  if (json_object_has_member (response, "return"))
    {
      JsonNode *ret = json_object_get_member (response, "return");
      g_task_return_pointer (task, json_node_copy (ret), (GDestroyNotify)json_node_unref);
      return;
    }

  g_task_return_new_error (task, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                           "QMP reply to %s has neither \"return\" nor \"error\"", p->command);
}

/* Removes a written command whose reply will not be waited for (its
 * task, if any, already returned). */
void
core_forget_sent (Core    *core,
                  Pending *p)
{
  g_assert (p->sent);
  g_queue_remove (&core->sent, p);
  if (p->fds != NULL)
    core->fd_in_flight--;
  if (!p->oob)
    core->inband_in_flight--;
  g_hash_table_remove (core->pending, p->id);
}

/* Removes a sent pending command and completes it. */
void
core_finish_sent (Core       *core,
                  Pending    *p,
                  JsonObject *response)
{
  g_queue_remove (&core->sent, p);
  if (p->fds != NULL)
    core->fd_in_flight--;
  if (!p->oob)
    core->inband_in_flight--;
  if (response != NULL)
    core_complete (core, p, response);
  g_hash_table_remove (core->pending, p->id);

  /* A reply may unblock a held fd-bearing or in-band command. */
  core_write_next (core);
}

/* ------------------------------------------------------------------------ */
/* Reading (worker thread)                                                  */

static gboolean
core_handle_frame (JsonObject         *message,
                   const QQmpJsonInfo *info,
                   gpointer            user_data)
{
  Core *core = user_data;

  /* A message with a misread number is not shown: its values are not
   * what the peer sent (its handling logs why it went). NULL is a line a
   * framer that drops bad lines dropped. */
  if (message != NULL && info->number_error == NULL && traffic_logged ())
    log_traffic (core, FALSE, message);
  core->dialect->handle_message (core, message, info);
  return !core->closed;
}

static void
core_read_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(Core) core = user_data;
  g_autoptr(GError) error = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (object), result, &error);
  core_op_done (core);

  if (core->closed)
    return;
  core_got_data (core, n, error);
  if (!core->closed)
    core_read_next (core);
}

/* @n bytes are in readbuf (0 at end of file, < 0 with @error). */
static void
core_got_data (Core   *core,
               gssize  n,
               GError *error)
{
  g_autoptr(GError) perror = NULL;

  /* A reply may be to a command a caller wrote. */
  core_adopt_direct (core);

  if (n < 0)
    {
      g_autoptr(GError) rerror =
        g_error_new (error->domain, error->code, "%s: %s",
                     core->dialect->read_failed, error->message);
      core_close (core, rerror);
      return;
    }

  if (n == 0)
    {
      perror = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                    core->dialect->peer_closed);
      core_close (core, perror);
      return;
    }

  q_leaf_lock (&core->mutex);
  core->framer.max_size = core->max_message_size;
  core->framer.max_nodes = core->max_message_nodes;
  q_leaf_unlock (&core->mutex);

  if (!q_qmp_framer_push (&core->framer, core->readbuf, n, core_handle_frame, core, &perror))
    core_close (core, perror);
}

/* A pollable stream (a socket: what QMachine uses) is read from one
 * source that lives as long as the connection: no allocation per read. */
static gboolean
core_readable_cb (GObject  *stream,
                  gpointer  user_data)
{
  Core *core = user_data;
  g_autoptr(GError) error = NULL;
  gssize n;

  n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (core->input),
                                                core->readbuf, READ_CHUNK, NULL, &error);
  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return G_SOURCE_CONTINUE;
  core_got_data (core, n, error);
  return core->closed ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

static gboolean
core_socket_readable_cb (GSocket      *socket,
                         GIOCondition  condition,
                         gpointer      user_data)
{
  return core_readable_cb (NULL, user_data);
}

static void
core_read_next (Core *core)
{
  if (core->closed)
    return;

  if (G_IS_POLLABLE_INPUT_STREAM (core->input) &&
      g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (core->input)))
    {
      if (core->read_source == NULL)
        {
          /* A socket's own source, rather than the stream's (which wraps
           * it as a child source): one source to dispatch per read. */
          if (core->socket_streams)
            {
              core->read_source = g_socket_create_source (core->socket, G_IO_IN, NULL);
              g_source_set_callback (core->read_source, G_SOURCE_FUNC (core_socket_readable_cb),
                                     core_ref (core), (GDestroyNotify)core_unref);
            }
          else
            {
              core->read_source =
                g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (core->input), NULL);
              g_source_set_callback (core->read_source, G_SOURCE_FUNC (core_readable_cb),
                                     core_ref (core), (GDestroyNotify)core_unref);
            }
          g_source_set_static_name (core->read_source, "[qmachine] qmp read");
          /* The callback never iterates the worker's context, so GLib
           * need not block the source around it: blocking removes and
           * re-adds its descriptor, and each wakes the context (eventfd
           * writes and an extra poll per read). */
          g_source_set_can_recurse (core->read_source, TRUE);
          g_source_attach (core->read_source, q_worker_get_context ());
          core->ops_pending++;
        }
      return;
    }

  core->ops_pending++;
  g_input_stream_read_async (core->input, core->readbuf, READ_CHUNK,
                             G_PRIORITY_DEFAULT, core->io_cancellable,
                             core_read_cb, core_ref (core));
}

/* ------------------------------------------------------------------------ */
/* Writing (worker thread)                                                  */

static void
core_write_done (Core   *core,
                 GError *error)
{
  core->writing = FALSE;

  if (error != NULL)
    {
      if (!core->closed)
        {
          g_autoptr(GError) werror =
            g_error_new (error->domain, error->code, "%s: %s",
                         core->dialect->write_failed, error->message);
          core_close (core, werror);
        }
      return;
    }

  core_write_next (core);
}

typedef struct
{
  Core   *core;
  GBytes *bytes;   /* keeps the buffer alive while the write runs */
} WriteOp;

static void
core_write_all_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  WriteOp *op = user_data;
  g_autoptr(Core) core = op->core;
  g_autoptr(GError) error = NULL;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (object), result, NULL, &error);
  g_bytes_unref (op->bytes);
  g_free (op);
  core_op_done (core);
  core_write_done (core, error);
}

/* Writes @bytes from @offset on, through the output stream. */
static void
core_write_bytes (Core   *core,
                  GBytes *bytes,
                  gsize   offset)
{
  WriteOp *op = g_new0 (WriteOp, 1);
  gsize len;
  const guint8 *buf = g_bytes_get_data (bytes, &len);

  op->core = core_ref (core);
  op->bytes = g_bytes_ref (bytes);
  core->ops_pending++;
  g_output_stream_write_all_async (core->output, buf + offset, len - offset,
                                   G_PRIORITY_DEFAULT, core->io_cancellable,
                                   core_write_all_cb, op);
}

typedef struct
{
  Core        *core;
  GBytes      *bytes;
  GUnixFDList *fds;
} FdSend;

static void
fd_send_free (FdSend *s)
{
  core_unref (s->core);
  g_bytes_unref (s->bytes);
  g_object_unref (s->fds);
  g_free (s);
}

/* Sends the first bytes together with the fds in one sendmsg(), as QEMU
 * requires; the rest of a partial send goes through the stream. Returns
 * FALSE when the socket is full (try again when it has room); otherwise
 * the send is over, one way or the other. Does not free @s. */
static gboolean
core_fd_send_attempt (FdSend *s)
{
  Core *core = s->core;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketControlMessage) msg = NULL;
  GOutputVector vec;
  GSocketControlMessage *msgs[1];
  gsize written = 0;
  gsize len;
  const guint8 *buf;
  GPollableReturn ret;

  if (core->closed)
    {
      core_op_done (core);
      return TRUE;
    }

  buf = g_bytes_get_data (s->bytes, &len);
  vec.buffer = buf;
  vec.size = len;
  msg = g_unix_fd_message_new_with_fd_list (s->fds);
  msgs[0] = msg;

  ret = g_socket_send_message_with_timeout (core->socket, NULL, &vec, 1, msgs, 1,
                                            G_SOCKET_MSG_NONE, 0, &written,
                                            core->io_cancellable, &error);
  if (ret == G_POLLABLE_RETURN_WOULD_BLOCK)
    return FALSE;

  core_op_done (core);
  if (ret != G_POLLABLE_RETURN_OK)
    core_write_done (core, error);
  else if (written < len)
    core_write_bytes (core, s->bytes, written);
  else
    core_write_done (core, NULL);
  return TRUE;
}

/* The socket has room again (or the connection is closing). The source
 * owns @data. */
static gboolean
core_fd_send_ready (GSocket      *socket,
                    GIOCondition  condition,
                    gpointer      data)
{
  return core_fd_send_attempt (data) ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

/* Takes @s. */
static void
core_fd_send_start (FdSend *s)
{
  GSource *source;

  if (core_fd_send_attempt (s))
    {
      fd_send_free (s);
      return;
    }

  source = g_socket_create_source (s->core->socket, G_IO_OUT, s->core->io_cancellable);
  g_source_set_callback (source, G_SOURCE_FUNC (core_fd_send_ready), s,
                         (GDestroyNotify)fd_send_free);
  g_source_set_static_name (source, "[qmachine] qmp fd send");
  g_source_attach (source, q_worker_get_context ());
  g_source_unref (source);
}

/* Writes what the socket takes now. Returns TRUE when all of @bytes went
 * out; otherwise the rest is written asynchronously (or the write failed
 * and the core is closed). */
gboolean
core_write_now (Core   *core,
                GBytes *bytes)
{
  g_autoptr(GError) error = NULL;
  gsize len;
  const guint8 *buf = g_bytes_get_data (bytes, &len);
  gsize offset = 0;

  if (!G_IS_POLLABLE_OUTPUT_STREAM (core->output) ||
      !g_pollable_output_stream_can_poll (G_POLLABLE_OUTPUT_STREAM (core->output)))
    {
      core_write_bytes (core, bytes, 0);
      return FALSE;
    }

  while (offset < len)
    {
      gssize n = g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (core->output),
                                                             buf + offset, len - offset,
                                                             NULL, &error);
      if (n < 0)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            {
              core_write_bytes (core, bytes, offset);
              return FALSE;
            }
          core_write_done (core, error);
          return FALSE;
        }
      offset += n;
    }

  core->writing = FALSE;
  return TRUE;
}

void
core_write_next (Core *core)
{
  /* A loop, not recursion: most writes complete at once. */
  while (!core->writing && !core->closed)
    {
      if (!core->dialect->write_one (core))
        break;
    }
  core_update_wire (core);
}

/* Marks @p, taken from outq by the dialect, written and starts writing
 * it (with its fds in the same message). Returns TRUE when it went out at
 * once and the next may follow. */
gboolean
core_write_pending (Core    *core,
                    Pending *p)
{
  p->sent = TRUE;
  g_queue_push_tail (&core->sent, p);
  if (p->fds != NULL)
    core->fd_in_flight++;
  if (!p->oob)
    core->inband_in_flight++;
  core->writing = TRUE;

  if (p->fds != NULL)
    {
      FdSend *s = g_new0 (FdSend, 1);

      s->core = core_ref (core);
      s->bytes = g_bytes_ref (p->bytes);
      s->fds = g_object_ref (p->fds);
      core->ops_pending++;
      core_fd_send_start (s);
      return FALSE;
    }

  return core_write_now (core, p->bytes);
}

/* ------------------------------------------------------------------------ */
/* Closing (worker thread)                                                  */

/* The stream is closed once no read or write is in flight on it (a
 * stream with a pending operation refuses to close). Cancelling
 * io_cancellable makes those finish promptly. */
static void
core_maybe_close_stream (Core *core)
{
  if (core->closed && core->ops_pending == 0 && !core->stream_closed)
    {
      core->stream_closed = TRUE;
      g_io_stream_close (core->stream, NULL, NULL);
      /* Nothing reads any more: a closed client costs no buffers. */
      g_clear_pointer (&core->readbuf, g_free);
      q_qmp_framer_clear (&core->framer);
      q_qmp_framer_init (&core->framer, 1, 1);
    }
}

static void
core_op_done (Core *core)
{
  g_assert (core->ops_pending > 0);
  core->ops_pending--;
  core_maybe_close_stream (core);
}

void
core_close (Core         *core,
            const GError *error)
{
  g_autoptr(GError) fail = NULL;
  g_autoptr(GPtrArray) close_tasks = NULL;
  QQmpClosedHook hook;
  gpointer hook_data;
  GDestroyNotify hook_destroy;
  Emission *e;
  Pending *p;

  g_assert (q_worker_is_current ());

  if (core->closed)
    return;

  /* Callers stop writing; what they wrote fails below with the rest. */
  q_leaf_lock (&core->wire_mutex);
  core->wire_idle = FALSE;
  q_leaf_unlock (&core->wire_mutex);
  core_adopt_direct (core);

  q_leaf_lock (&core->mutex);
  core->closed = TRUE;
  core->closed_error = error ? g_error_copy (error) : NULL;
  q_leaf_unlock (&core->mutex);

  hook = core->closed_hook;
  hook_data = core->hook_data;
  hook_destroy = core->hook_destroy;
  core->event_hook = NULL;
  core->closed_hook = NULL;
  core->hook_data = NULL;
  core->hook_destroy = NULL;

  q_destroy_source (&core->deadline_source);
  if (core->read_source != NULL)
    {
      q_destroy_source (&core->read_source);
      core->ops_pending--;
    }

  if (error != NULL)
    g_debug ("%s closed: %s", core->dialect->channel, error->message);

  g_cancellable_cancel (core->io_cancellable);
  core_maybe_close_stream (core);

  if (error != NULL)
    fail = g_error_copy (error);
  else
    fail = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED, core->dialect->was_closed);

  /* Fail everything that waits, in the order it was sent. A command that
   * never replies on success (guest-shutdown) is done when the peer closes
   * the channel: the guest went down with QEMU. */
  while ((p = g_queue_pop_head (&core->sent)))
    {
      /* Only the peer's going away (the guest and QEMU with it) counts,
       * not a close of ours. */
      if (p->task != NULL && p->no_reply &&
          g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED))
        take_task_return_pointer (&p->task, json_node_new (JSON_NODE_NULL),
                                  (GDestroyNotify)json_node_unref);
      else if (p->task != NULL)
        take_task_return_error (&p->task, g_error_copy (fail));
      g_hash_table_remove (core->pending, p->id);
    }
  while ((p = g_queue_pop_head (&core->outq)))
    {
      if (p->task != NULL)
        take_task_return_error (&p->task, g_error_copy (fail));
      g_hash_table_remove (core->pending, p->id);
    }
  g_assert (g_hash_table_size (core->pending) == 0);

  if (core->dialect->close != NULL)
    core->dialect->close (core, fail);

  close_tasks = g_steal_pointer (&core->close_tasks);
  for (guint i = 0; close_tasks && i < close_tasks->len; i++)
    g_task_return_boolean (g_ptr_array_index (close_tasks, i), TRUE);

  if (hook != NULL)
    hook (error, hook_data);
  if (hook_destroy != NULL)
    hook_destroy (hook_data);

  e = g_new0 (Emission, 1);
  e->kind = EMIT_CLOSED;
  e->error = error ? g_error_copy (error) : NULL;
  core_queue_emission (core, e);
}

/* Fails what is in `sent` (commands callers wrote, adopted after the
 * close) with @error, or the close's error. */
static void
core_fail_sent (Core         *core,
                const GError *error)
{
  Pending *p;

  while ((p = g_queue_pop_head (&core->sent)))
    {
      if (p->task != NULL)
        take_task_return_error (&p->task, error ? g_error_copy (error) : core_closed_error (core));
      g_hash_table_remove (core->pending, p->id);
    }
}

/* ------------------------------------------------------------------------ */
/* Requests posted from any thread to the worker                            */


void
request_free (Request *r)
{
  core_unref (r->core);
  g_clear_pointer (&r->pending, pending_free);
  g_clear_object (&r->task);
  g_clear_error (&r->error);
  g_free (r->id);
  g_free (r);
}

Request *
request_new (Core *core)
{
  Request *r = g_new0 (Request, 1);
  r->core = core_ref (core);
  return r;
}

static gboolean
core_start_reading (gpointer data)
{
  Core *core = data;

  core_read_next (core);
  return G_SOURCE_REMOVE;
}

GError *
core_closed_error (Core *core)
{
  GError *error;

  q_leaf_lock (&core->mutex);
  if (core->closed_error != NULL)
    error = g_error_new (core->closed_error->domain, core->closed_error->code,
                         "%s: %s", core->dialect->is_closed, core->closed_error->message);
  else
    error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED, core->dialect->is_closed);
  q_leaf_unlock (&core->mutex);

  return error;
}

gboolean
core_do_execute (gpointer data)
{
  Request *r = data;
  Core *core = r->core;
  Pending *p = g_steal_pointer (&r->pending);

  core_direct_arrived (core);
  core_adopt_direct (core);
  if (core->closed)
    {
      take_task_return_error (&p->task, core_closed_error (core));
      pending_free (p);
      return G_SOURCE_REMOVE;
    }

  if (p->task != NULL && g_task_return_error_if_cancelled (p->task))
    {
      g_clear_object (&p->task);
      pending_free (p);
      core_update_wire (core);
      return G_SOURCE_REMOVE;
    }

  if (core->dialect->queue != NULL)
    core->dialect->queue (core, p);
  g_hash_table_insert (core->pending, p->id, p);
  g_queue_push_tail (&core->outq, p);
  if (p->deadline != 0 && (core->deadline_source == NULL || p->deadline < core->deadline_armed))
    core_arm_deadline (core);
  core_write_next (core);

  return G_SOURCE_REMOVE;
}

/* ------------------------------------------------------------------------ */
/* Commands callers wrote (worker thread; q-qmp-core-direct.c)              */

/* Takes in what callers wrote, in the order they wrote it. Runs before
 * anything looks at `sent` or at the table of commands. */
void
core_adopt_direct (Core *core)
{
  GQueue adopted;
  gboolean rearm = FALSE;
  Pending *p;

  core_direct_take (core, &adopted);
  if (g_queue_is_empty (&adopted))
    return;

  while ((p = g_queue_pop_head (&adopted)))
    {
      gsize len = g_bytes_get_size (p->bytes);

      g_hash_table_insert (core->pending, p->id, p);
      g_queue_push_tail (&core->sent, p);
      core->inband_in_flight++;
      if (p->deadline != 0 && (core->deadline_source == NULL || p->deadline < core->deadline_armed))
        rearm = TRUE;
      if (p->direct_written < len)
        {
          /* A short write is always the last a caller made. */
          g_assert (g_queue_is_empty (&adopted));
          q_leaf_lock (&core->wire_mutex);
          core->direct_short = FALSE;
          q_leaf_unlock (&core->wire_mutex);
          if (!core->closed)
            {
              /* The rest of it. */
              core->writing = TRUE;
              core_write_bytes (core, p->bytes, p->direct_written);
            }
        }
    }

  if (core->closed)
    {
      /* Closed in between: what callers wrote fails as the rest did. */
      core_fail_sent (core, NULL);
      return;
    }
  if (rearm)
    core_arm_deadline (core);
}

gboolean
core_do_adopt (gpointer data)
{
  Request *r = data;

  core_adopt_direct (r->core);
  core_update_wire (r->core);
  return G_SOURCE_REMOVE;
}

/* ------------------------------------------------------------------------ */
/* Deadlines (worker thread)                                                */

/* One timer per core, for the earliest deadline of the commands still
 * waiting: nothing per command but a number. */
static gboolean
core_deadline_cb (gpointer data)
{
  Core *core = data;
  gint64 now = g_get_monotonic_time ();
  g_autoptr(GPtrArray) expired = g_ptr_array_new ();
  GHashTableIter iter;
  Pending *p;

  g_clear_pointer (&core->deadline_source, g_source_unref);
  /* Callers that write from now on tell the worker of their deadlines. */
  q_leaf_lock (&core->wire_mutex);
  core->deadline_hint = 0;
  q_leaf_unlock (&core->wire_mutex);
  core_adopt_direct (core);

  g_hash_table_iter_init (&iter, core->pending);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *)&p))
    if ((p->task != NULL || p->own) && p->deadline != 0 && p->deadline <= now)
      g_ptr_array_add (expired, p);

  for (guint i = 0; i < expired->len; i++)
    {
      p = g_ptr_array_index (expired, i);
      /* Without a task it is the dialect's own command. */
      if (p->task != NULL)
        take_task_return_error (&p->task, core->dialect->timeout_error (core, p));
      if (p->sent && core->dialect->abandon != NULL)
        core->dialect->abandon (core, p);
      else if (!p->sent)
        {
          /* Never written: no reply will come, forget it. */
          g_queue_remove (&core->outq, p);
          g_hash_table_remove (core->pending, p->id);
        }
      /* Otherwise the slot stays until the late reply arrives and is
       * dropped, so the reply stream never desynchronises. */
    }

  core_arm_deadline (core);
  /* A command abandoned may have been what held the next one. */
  core_write_next (core);
  return G_SOURCE_REMOVE;
}

void
core_arm_deadline (Core *core)
{
  GHashTableIter iter;
  gint64 earliest = 0;
  gint64 delay_ms;
  Pending *p;

  q_destroy_source (&core->deadline_source);
  q_leaf_lock (&core->wire_mutex);
  core->deadline_hint = 0;
  q_leaf_unlock (&core->wire_mutex);
  if (core->closed)
    return;

  g_hash_table_iter_init (&iter, core->pending);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *)&p))
    if ((p->task != NULL || p->own) && p->deadline != 0 && (earliest == 0 || p->deadline < earliest))
      earliest = p->deadline;
  if (earliest == 0)
    return;

  core->deadline_armed = earliest;
  delay_ms = MAX (0, (earliest - g_get_monotonic_time () + 999) / 1000);
  core->deadline_source = q_worker_timeout_source ((int)MIN (delay_ms, G_MAXINT), core_deadline_cb,
                                                   core_ref (core), (GDestroyNotify)core_unref);
  q_leaf_lock (&core->wire_mutex);
  core->deadline_hint = earliest;
  q_leaf_unlock (&core->wire_mutex);
}

static gboolean
core_do_cancel (gpointer data)
{
  Request *r = data;
  Core *core = r->core;
  Pending *p;

  core_adopt_direct (core);
  p = g_hash_table_lookup (core->pending, r->id);
  if (p == NULL || p->task == NULL)
    return G_SOURCE_REMOVE;

  take_task_return_new_error (&p->task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                              "%s %s was cancelled", core->dialect->command, p->command);

  if (p->sent && core->dialect->abandon != NULL)
    {
      /* The dialect does not wait for its reply. */
      core->dialect->abandon (core, p);
      core_write_next (core);
    }
  else if (!p->sent)
    {
      /* Never written: no reply will come, forget it. */
      g_queue_remove (&core->outq, p);
      g_hash_table_remove (core->pending, p->id);
    }
  /* Otherwise the slot stays until the late reply arrives and is dropped,
   * so the reply stream never desynchronises. */

  return G_SOURCE_REMOVE;
}

void
core_execute_cancelled_cb (GCancellable *cancellable,
                      gpointer      data)
{
  Request *src = data;
  Request *r = request_new (src->core);

  r->id = g_strdup (src->id);
  q_worker_schedule (core_do_cancel, r, (GDestroyNotify)request_free);
}

gboolean
core_do_close (gpointer data)
{
  Request *r = data;
  Core *core = r->core;

  if (core->closed)
    {
      take_task_return_boolean (&r->task, TRUE);
      return G_SOURCE_REMOVE;
    }

  /* What callers wrote is finished (a short write's rest) before the
   * stream closes behind it. */
  core_adopt_direct (core);
  if (core->close_tasks == NULL)
    core->close_tasks = g_ptr_array_new_with_free_func (g_object_unref);
  g_ptr_array_add (core->close_tasks, g_steal_pointer (&r->task));

  /* Flush what is queued first: closing right behind a command (such as
   * `quit`) can make QEMU drop it. */
  core->closing = TRUE;
  core_write_next (core);

  return G_SOURCE_REMOVE;
}

gboolean
core_do_fail (gpointer data)
{
  Request *r = data;

  core_close (r->core, r->error);
  return G_SOURCE_REMOVE;
}

