/* q-qmp-client.c
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>

#include <gio/gunixfdmessage.h>

#include "q-error.h"
#include "q-qmp-client-private.h"
#include "q-util-private.h"
#include "q-worker-private.h"

/**
 * QQmpClient:
 *
 * The QEMU Machine Protocol over any [class@Gio.IOStream].
 *
 * `QQmpClient` speaks QMP to a QEMU monitor (or anything that talks like
 * one) over a connected stream: a socketpair end, a unix socket or a TCP
 * connection. It reads the greeting, negotiates capabilities, runs
 * commands (many at once, replies routed by id), passes file descriptors
 * with `SCM_RIGHTS` and delivers events as the detailed
 * [signal@QMachine.QmpClient::event] signal.
 *
 * ## Threads and main contexts
 *
 * All I/O happens on a private worker thread shared by every qmachine
 * object. Signals are emitted, and async callbacks called, in the
 * thread-default main context of the thread that created the client (for
 * callbacks: of the thread that started the call). The sync variants wait
 * on a private main context: they work without a main loop and never
 * dispatch the application's sources while they wait.
 *
 * ## Limits
 *
 * A message longer than [property@QMachine.QmpClient:max-message-size]
 * bytes, or nested deeper than 1024 levels, is a protocol error: the client
 * closes with `Q_MACHINE_ERROR_PROTOCOL` rather than buffering without
 * bound or recursing without bound. At most 10000 events wait for the
 * owner's main context to dispatch them; older ones are then dropped (and
 * counted in a warning).
 *
 * ## Errors
 *
 * A command QEMU refused fails with a `Q_QMP_ERROR` whose code is the QMP
 * error class and whose message is QEMU's `desc`. When the connection
 * ends, every pending command fails with `G_IO_ERROR_CONNECTION_CLOSED`
 * (peer hung up), `G_IO_ERROR_CLOSED` (we closed it) or the protocol/I/O
 * error that ended it, [signal@QMachine.QmpClient::closed] is emitted, and
 * later calls fail at once.
 *
 * Since: 1.0
 */

#define MAX_DEPTH 1024
#define MAX_QUEUED_EMISSIONS 10000
#define READ_CHUNK 65536
#define MAX_INBAND_IN_FLIGHT_OOB 8

typedef struct _Core Core;

typedef struct
{
  char        *id;
  GBytes      *bytes;        /* the serialized command, CRLF-terminated */
  GUnixFDList *fds;          /* nullable */
  GTask       *task;         /* NULL once cancelled: the slot then only waits for the late reply */
  gboolean     raw;
  gboolean     oob;
  gboolean     sent;
} Pending;

typedef enum
{
  EMIT_EVENT,
  EMIT_CLOSED,
} EmitKind;

typedef struct
{
  EmitKind    kind;
  char       *name;
  JsonObject *object;
  GError     *error;
} Emission;

struct _Core
{
  gatomicrefcount  ref_count;
  QQmpClient      *client;            /* under mutex; cleared by dispose (not a GWeakRef:
                                       * GLib 2.74's can race with finalization) */
  GMainContext    *owner_context;

  GIOStream       *stream;
  GInputStream    *input;
  GOutputStream   *output;
  GSocket         *socket;            /* nullable: only for GSocketConnection */
  GCancellable    *io_cancellable;

  /* Everything below is touched on the worker thread only, unless noted. */
  GByteArray      *inbuf;
  guint8          *readbuf;
  gsize            scanned;           /* bytes of inbuf known to hold no newline */
  JsonParser      *parser;

  int              id_counter;        /* atomic: ids are made on any thread */
  guint            ops_pending;       /* reads and writes in flight */
  gboolean         stream_closed;
  GHashTable      *pending;           /* id -> Pending */
  GQueue           outq;              /* Pending not yet written */
  GQueue           sent;              /* Pending written, awaiting reply (oldest first) */
  gboolean         writing;
  guint            fd_in_flight;      /* sent fd-bearing commands awaiting reply */
  guint            inband_in_flight;
  gboolean         oob_enabled;

  GTask           *negotiate_task;    /* waiting for the greeting */
  QQmpNegotiateFlags negotiate_flags;
  gboolean         negotiated;

  GPtrArray       *close_tasks;       /* close_async waiting for the out queue to drain */
  gboolean         closing;

  /* Protected by mutex: read from any thread. */
  GMutex           mutex;
  JsonObject      *greeting;
  gboolean         closed;
  GError          *closed_error;
  guint64          max_message_size;
  QQmpEventHook    event_hook;
  QQmpClosedHook   closed_hook;
  gpointer         hook_data;
  GQueue           emissions;
  guint            queued_events;
  guint            dropped_events;
  gboolean         emit_scheduled;
};

struct _QQmpClient
{
  GObject    parent_instance;
  Core      *core;
  GIOStream *stream;
};

G_DEFINE_FINAL_TYPE (QQmpClient, q_qmp_client, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_STREAM,
  PROP_MAX_MESSAGE_SIZE,
  N_PROPS
};

enum {
  EVENT,
  CLOSED,
  N_SIGNALS
};

static GParamSpec *properties [N_PROPS];
static guint signals [N_SIGNALS];

/* Return through a task held in @slot, and drop that reference. */
static void
take_task_return_error (GTask  **slot,
                        GError  *error)
{
  GTask *task = g_steal_pointer (slot);

  g_task_return_error (task, error);
  g_object_unref (task);
}

static void
take_task_return_boolean (GTask    **slot,
                          gboolean   value)
{
  GTask *task = g_steal_pointer (slot);

  g_task_return_boolean (task, value);
  g_object_unref (task);
}

#define take_task_return_new_error(slot, domain, code, ...) \
  take_task_return_error ((slot), g_error_new ((domain), (code), __VA_ARGS__))

static void core_close       (Core         *core,
                              const GError *error);
static void core_write_next  (Core         *core);
static void core_read_next   (Core         *core);
static void core_op_done     (Core         *core);
static char *core_next_id    (Core         *core);

/* ------------------------------------------------------------------------ */
/* Pending commands and emissions                                           */

static void
pending_free (Pending *p)
{
  g_free (p->id);
  g_clear_pointer (&p->bytes, g_bytes_unref);
  g_clear_object (&p->fds);
  g_clear_object (&p->task);
  g_free (p);
}

static void
emission_free (Emission *e)
{
  g_free (e->name);
  g_clear_pointer (&e->object, json_object_unref);
  g_clear_error (&e->error);
  g_free (e);
}

static Core *
core_ref (Core *core)
{
  g_atomic_ref_count_inc (&core->ref_count);
  return core;
}

static void
core_unref (Core *core)
{
  if (!g_atomic_ref_count_dec (&core->ref_count))
    return;

  g_assert (g_hash_table_size (core->pending) == 0);
  g_assert (core->negotiate_task == NULL);

  g_clear_pointer (&core->owner_context, g_main_context_unref);
  g_clear_object (&core->stream);
  g_clear_object (&core->socket);
  g_clear_object (&core->io_cancellable);
  g_clear_pointer (&core->inbuf, g_byte_array_unref);
  g_clear_pointer (&core->readbuf, g_free);
  g_clear_object (&core->parser);
  g_clear_pointer (&core->pending, g_hash_table_unref);
  g_clear_pointer (&core->close_tasks, g_ptr_array_unref);
  g_clear_pointer (&core->greeting, json_object_unref);
  g_clear_error (&core->closed_error);
  g_queue_clear_full (&core->emissions, (GDestroyNotify)emission_free);
  g_mutex_clear (&core->mutex);
  g_free (core);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Core, core_unref)

static gboolean
core_dispatch_emissions (gpointer data)
{
  Core *core = data;
  g_autoptr(QQmpClient) client = NULL;
  GQueue items = G_QUEUE_INIT;
  guint dropped;
  Emission *e;

  g_mutex_lock (&core->mutex);
  if (core->client != NULL)
    client = g_object_ref (core->client);
  items = core->emissions;
  g_queue_init (&core->emissions);
  core->queued_events = 0;
  dropped = core->dropped_events;
  core->dropped_events = 0;
  core->emit_scheduled = FALSE;
  g_mutex_unlock (&core->mutex);

  if (dropped > 0)
    g_warning ("QMP client: %u events dropped because the owner's main context "
               "did not dispatch them (more than %u waiting)",
               dropped, MAX_QUEUED_EMISSIONS);

  while ((e = g_queue_pop_head (&items)))
    {
      if (client != NULL)
        {
          if (e->kind == EMIT_EVENT)
            g_signal_emit (client, signals [EVENT], g_quark_from_string (e->name),
                           e->name, e->object);
          else
            g_signal_emit (client, signals [CLOSED], 0, e->error);
        }
      emission_free (e);
    }

  return G_SOURCE_REMOVE;
}

/* Any thread. Queues a signal for the owner's context. */
static void
core_queue_emission (Core     *core,
                     Emission *e)
{
  gboolean schedule = FALSE;

  g_mutex_lock (&core->mutex);
  if (e->kind == EMIT_EVENT)
    {
      if (core->queued_events >= MAX_QUEUED_EMISSIONS)
        {
          /* Drop the oldest queued event, never the closed notification. */
          for (GList *l = core->emissions.head; l; l = l->next)
            {
              Emission *old = l->data;
              if (old->kind == EMIT_EVENT)
                {
                  g_queue_delete_link (&core->emissions, l);
                  emission_free (old);
                  core->queued_events--;
                  core->dropped_events++;
                  break;
                }
            }
        }
      core->queued_events++;
    }
  g_queue_push_tail (&core->emissions, e);
  if (!core->emit_scheduled)
    core->emit_scheduled = schedule = TRUE;
  g_mutex_unlock (&core->mutex);

  if (schedule)
    q_schedule_in_context (core->owner_context, core_dispatch_emissions,
                           core_ref (core), (GDestroyNotify)core_unref);
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
                           "QMP reply to %s has neither \"return\" nor \"error\"", p->id);
}

/* Removes a sent pending command and completes it. */
static void
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

static void
core_handle_return (Core       *core,
                    JsonObject *message)
{
  JsonNode *id_node = json_object_get_member (message, "id");
  Pending *p = NULL;

  if (id_node != NULL && JSON_NODE_HOLDS_VALUE (id_node) &&
      json_node_get_value_type (id_node) == G_TYPE_STRING)
    p = g_hash_table_lookup (core->pending, json_node_get_string (id_node));

  if (id_node == NULL && json_object_has_member (message, "error"))
    {
      /* QEMU could not parse something we sent, so it cannot tell us which
       * command failed: fail the oldest one rather than leave it hanging. */
      p = g_queue_peek_head (&core->sent);
      if (p == NULL)
        {
          g_debug ("QMP: id-less error with no command pending; dropped");
          return;
        }
    }

  if (p == NULL || !p->sent)
    {
      g_debug ("QMP: reply with unknown id dropped");
      return;
    }

  core_finish_sent (core, p, message);
}

static void
core_greeting_arrived (Core *core);

static void
core_handle_message (Core       *core,
                     JsonObject *message)
{
  JsonNode *node;

  if (json_object_has_member (message, "QMP"))
    {
      JsonObject *qmp = q_json_get_object (message, "QMP");
      gboolean first;

      if (qmp == NULL)
        {
          g_autoptr(GError) error =
            g_error_new (Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                         "QMP greeting is not an object");
          core_close (core, error);
          return;
        }

      g_mutex_lock (&core->mutex);
      first = core->greeting == NULL;
      if (first)
        core->greeting = json_object_ref (qmp);
      g_mutex_unlock (&core->mutex);

      if (first)
        core_greeting_arrived (core);
      else
        g_debug ("QMP: second greeting ignored");
      return;
    }

  if ((node = json_object_get_member (message, "event")) != NULL)
    {
      QQmpEventHook hook;
      gpointer hook_data;
      Emission *e;

      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
        {
          g_debug ("QMP: event without a string name dropped");
          return;
        }

      g_mutex_lock (&core->mutex);
      hook = core->event_hook;
      hook_data = core->hook_data;
      g_mutex_unlock (&core->mutex);

      if (hook != NULL)
        hook (message, hook_data);

      e = g_new0 (Emission, 1);
      e->kind = EMIT_EVENT;
      e->name = g_strdup (json_node_get_string (node));
      e->object = json_object_ref (message);
      core_queue_emission (core, e);
      return;
    }

  if (json_object_has_member (message, "return") || json_object_has_member (message, "error"))
    {
      core_handle_return (core, message);
      return;
    }

  g_debug ("QMP: message of unknown kind dropped");
}

/* ------------------------------------------------------------------------ */
/* Reading and framing (worker thread)                                      */

/* A linear pre-check so that a hostile peer cannot make the recursive
 * JSON parser overflow the stack. */
static gboolean
json_depth_ok (const char *data,
               gsize       len)
{
  gboolean in_string = FALSE;
  gboolean escaped = FALSE;
  int depth = 0;

  for (gsize i = 0; i < len; i++)
    {
      char c = data[i];

      if (in_string)
        {
          if (escaped)
            escaped = FALSE;
          else if (c == '\\')
            escaped = TRUE;
          else if (c == '"')
            in_string = FALSE;
          continue;
        }

      if (c == '"')
        in_string = TRUE;
      else if (c == '{' || c == '[')
        {
          if (++depth > MAX_DEPTH)
            return FALSE;
        }
      else if (c == '}' || c == ']')
        depth--;
    }

  return TRUE;
}

static gboolean
core_parse_line (Core        *core,
                 const char  *line,
                 gsize        len)
{
  g_autoptr(GError) error = NULL;
  JsonNode *root;

  while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
    len--;
  while (len > 0 && (line[0] == ' ' || line[0] == '\t' || line[0] == '\r'))
    line++, len--;
  if (len == 0)
    return TRUE;

  if (!json_depth_ok (line, len))
    {
      error = g_error_new (Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                           "QMP message nested deeper than %d levels", MAX_DEPTH);
      core_close (core, error);
      return FALSE;
    }

  if (!json_parser_load_from_data (core->parser, line, len, &error))
    {
      g_autoptr(GError) perror =
        g_error_new (Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                     "Malformed JSON from the QMP peer: %s", error->message);
      core_close (core, perror);
      return FALSE;
    }

  root = json_parser_get_root (core->parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      error = g_error_new (Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                           "QMP message is not a JSON object");
      core_close (core, error);
      return FALSE;
    }

  {
    g_autoptr(JsonObject) message = json_object_ref (json_node_get_object (root));
    /* Drop the parser's tree right away: messages can be big. */
    json_parser_load_from_data (core->parser, "{}", 2, NULL);
    core_handle_message (core, message);
  }

  return TRUE;
}

static gboolean
core_process_input (Core *core)
{
  guint64 max_size;
  gsize start = 0;

  g_mutex_lock (&core->mutex);
  max_size = core->max_message_size;
  g_mutex_unlock (&core->mutex);

  for (;;)
    {
      const guint8 *nl;
      gsize line_len;

      if (core->closed)
        return FALSE;

      nl = memchr (core->inbuf->data + core->scanned, '\n',
                   core->inbuf->len - core->scanned);
      if (nl == NULL)
        break;

      line_len = nl - (core->inbuf->data + start);
      if (line_len > max_size)
        goto too_big;

      if (!core_parse_line (core, (const char *)core->inbuf->data + start, line_len))
        return FALSE;

      start += line_len + 1;
      core->scanned = start;
    }

  if (start > 0)
    g_byte_array_remove_range (core->inbuf, 0, start);
  core->scanned = core->inbuf->len;

  if (core->inbuf->len > max_size)
    goto too_big;

  return TRUE;

too_big:
  {
    g_autoptr(GError) error =
      g_error_new (Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                   "QMP message larger than the limit of %" G_GUINT64_FORMAT " bytes",
                   max_size);
    core_close (core, error);
    return FALSE;
  }
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

  if (n < 0)
    {
      g_autoptr(GError) rerror =
        g_error_new (error->domain, error->code,
                     "Reading from the QMP peer failed: %s", error->message);
      core_close (core, rerror);
      return;
    }

  if (n == 0)
    {
      error = g_error_new (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                           "The QMP peer closed the connection");
      core_close (core, error);
      return;
    }

  g_byte_array_append (core->inbuf, core->readbuf, n);
  if (core_process_input (core))
    core_read_next (core);
}

static void
core_read_next (Core *core)
{
  if (core->closed)
    return;

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
            g_error_new (error->domain, error->code,
                         "Writing to the QMP peer failed: %s", error->message);
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

static gboolean core_fd_send_try (gpointer data);

/* Sends the first bytes together with the fds in one sendmsg(), as QEMU
 * requires; the rest of a partial send goes through the stream. */
static gboolean
core_fd_send_try (gpointer data)
{
  FdSend *s = data;
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
      return G_SOURCE_REMOVE;
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
    {
      GSource *source = g_socket_create_source (core->socket, G_IO_OUT, core->io_cancellable);

      g_source_set_callback (source, core_fd_send_try, s, (GDestroyNotify)fd_send_free);
      g_source_attach (source, q_worker_get_context ());
      g_source_unref (source);
      return G_SOURCE_REMOVE;
    }

  core_ref (core);
  core_op_done (core);

  if (ret != G_POLLABLE_RETURN_OK)
    core_write_done (core, error);
  else if (written < len)
    core_write_bytes (core, s->bytes, written);
  else
    core_write_done (core, NULL);

  fd_send_free (s);
  core_unref (core);
  return G_SOURCE_REMOVE;
}

static void
core_write_next (Core *core)
{
  Pending *p;

  if (core->writing || core->closed)
    return;

  if (g_queue_is_empty (&core->outq))
    {
      if (core->closing)
        core_close (core, NULL);
      return;
    }

  /* Each fd-bearing message replaces the fds QEMU has stashed, so an
   * fd-bearing command waits until the previous one has been answered;
   * commands behind it wait too, to keep their order. In-band commands
   * over the OOB limit wait, but out-of-band ones pass them: that is what
   * out-of-band is for. */
  p = NULL;
  for (GList *l = core->outq.head; l; l = l->next)
    {
      Pending *candidate = l->data;

      if (candidate->fds != NULL && core->fd_in_flight > 0)
        break;
      if (!candidate->oob && core->oob_enabled &&
          core->inband_in_flight >= MAX_INBAND_IN_FLIGHT_OOB)
        continue;
      p = candidate;
      g_queue_delete_link (&core->outq, l);
      break;
    }
  if (p == NULL)
    {
      /* Only held commands are left: they wait for replies, which a
       * close does not wait for. */
      if (core->closing)
        core_close (core, NULL);
      return;
    }

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
      core_fd_send_try (s);
    }
  else
    core_write_bytes (core, p->bytes, 0);
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
    }
}

static void
core_op_done (Core *core)
{
  g_assert (core->ops_pending > 0);
  core->ops_pending--;
  core_maybe_close_stream (core);
}

static void
core_close (Core         *core,
            const GError *error)
{
  g_autoptr(GError) fail = NULL;
  g_autoptr(GPtrArray) close_tasks = NULL;
  g_autoptr(GTask) negotiate_task = NULL;
  QQmpClosedHook hook;
  gpointer hook_data;
  Emission *e;
  Pending *p;

  g_assert (q_worker_is_current ());

  if (core->closed)
    return;

  g_mutex_lock (&core->mutex);
  core->closed = TRUE;
  core->closed_error = error ? g_error_copy (error) : NULL;
  hook = core->closed_hook;
  hook_data = core->hook_data;
  core->event_hook = NULL;
  core->closed_hook = NULL;
  g_mutex_unlock (&core->mutex);

  if (error != NULL)
    g_debug ("QMP connection closed: %s", error->message);

  g_cancellable_cancel (core->io_cancellable);
  core_maybe_close_stream (core);

  if (error != NULL)
    fail = g_error_copy (error);
  else
    fail = g_error_new (G_IO_ERROR, G_IO_ERROR_CLOSED, "The QMP connection was closed");

  /* Fail everything that waits, in the order it was sent. */
  while ((p = g_queue_pop_head (&core->sent)))
    {
      if (p->task != NULL)
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

  if ((negotiate_task = g_steal_pointer (&core->negotiate_task)))
    g_task_return_error (negotiate_task, g_error_copy (fail));

  close_tasks = g_steal_pointer (&core->close_tasks);
  for (guint i = 0; close_tasks && i < close_tasks->len; i++)
    g_task_return_boolean (g_ptr_array_index (close_tasks, i), TRUE);

  if (hook != NULL)
    hook (error, hook_data);

  e = g_new0 (Emission, 1);
  e->kind = EMIT_CLOSED;
  e->error = error ? g_error_copy (error) : NULL;
  core_queue_emission (core, e);
}

/* ------------------------------------------------------------------------ */
/* Requests posted from any thread to the worker                            */

typedef struct
{
  Core    *core;
  Pending *pending;    /* execute */
  GTask   *task;       /* negotiate, close */
  GError  *error;      /* fail */
  char    *id;         /* cancel */
  gpointer task_key;   /* negotiate cancel: compared, never dereferenced */
} Request;

static void
request_free (Request *r)
{
  core_unref (r->core);
  g_clear_pointer (&r->pending, pending_free);
  g_clear_object (&r->task);
  g_clear_error (&r->error);
  g_free (r->id);
  g_free (r);
}

static Request *
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

static GError *
core_closed_error (Core *core)
{
  GError *error;

  g_mutex_lock (&core->mutex);
  if (core->closed_error != NULL)
    error = g_error_new (core->closed_error->domain, core->closed_error->code,
                         "The QMP connection is closed: %s", core->closed_error->message);
  else
    error = g_error_new (G_IO_ERROR, G_IO_ERROR_CLOSED, "The QMP connection is closed");
  g_mutex_unlock (&core->mutex);

  return error;
}

static gboolean
core_do_execute (gpointer data)
{
  Request *r = data;
  Core *core = r->core;
  Pending *p = g_steal_pointer (&r->pending);

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
      return G_SOURCE_REMOVE;
    }

  g_hash_table_insert (core->pending, p->id, p);
  g_queue_push_tail (&core->outq, p);
  core_write_next (core);

  return G_SOURCE_REMOVE;
}

static gboolean
core_do_cancel (gpointer data)
{
  Request *r = data;
  Core *core = r->core;
  Pending *p = g_hash_table_lookup (core->pending, r->id);

  if (p == NULL || p->task == NULL)
    return G_SOURCE_REMOVE;

  take_task_return_new_error (&p->task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                           "The QMP command %s was cancelled", p->id);

  if (!p->sent)
    {
      /* Never written: no reply will come, forget it. */
      g_queue_remove (&core->outq, p);
      g_hash_table_remove (core->pending, p->id);
    }
  /* Otherwise the slot stays until the late reply arrives and is dropped,
   * so the reply stream never desynchronises. */

  return G_SOURCE_REMOVE;
}

static void
execute_cancelled_cb (GCancellable *cancellable,
                      gpointer      data)
{
  Request *src = data;
  Request *r = request_new (src->core);

  r->id = g_strdup (src->id);
  q_worker_schedule (core_do_cancel, r, (GDestroyNotify)request_free);
}

static void
core_send_capabilities (Core *core);

static gboolean
core_do_negotiate (gpointer data)
{
  Request *r = data;
  Core *core = r->core;
  gboolean have_greeting;

  if (core->closed)
    {
      take_task_return_error (&r->task, core_closed_error (core));
      return G_SOURCE_REMOVE;
    }
  if (g_task_return_error_if_cancelled (r->task))
    return G_SOURCE_REMOVE;
  if (core->negotiate_task != NULL || core->negotiated)
    {
      take_task_return_new_error (&r->task, G_IO_ERROR, G_IO_ERROR_PENDING,
                               core->negotiated ? "QMP capabilities are already negotiated"
                                                : "QMP negotiation is already in progress");
      return G_SOURCE_REMOVE;
    }

  core->negotiate_task = g_steal_pointer (&r->task);
  core->negotiate_flags = GPOINTER_TO_UINT (g_task_get_task_data (core->negotiate_task));

  g_mutex_lock (&core->mutex);
  have_greeting = core->greeting != NULL;
  g_mutex_unlock (&core->mutex);

  if (have_greeting)
    core_send_capabilities (core);

  return G_SOURCE_REMOVE;
}

static gboolean
core_do_negotiate_cancel (gpointer data)
{
  Request *r = data;
  Core *core = r->core;

  /* Only the wait for the greeting is cancelled here; once
   * qmp_capabilities is in flight, its own cancellation applies. */
  if (core->negotiate_task != NULL && (gpointer)core->negotiate_task == r->task_key)
    {
      GTask *task = g_steal_pointer (&core->negotiate_task);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               "Waiting for the QMP greeting was cancelled");
      g_object_unref (task);
    }

  return G_SOURCE_REMOVE;
}

static gboolean
core_do_close (gpointer data)
{
  Request *r = data;
  Core *core = r->core;

  if (core->closed)
    {
      take_task_return_boolean (&r->task, TRUE);
      return G_SOURCE_REMOVE;
    }

  if (core->close_tasks == NULL)
    core->close_tasks = g_ptr_array_new_with_free_func (g_object_unref);
  g_ptr_array_add (core->close_tasks, g_steal_pointer (&r->task));

  /* Flush what is queued first: closing right behind a command (such as
   * `quit`) can make QEMU drop it. */
  core->closing = TRUE;
  core_write_next (core);

  return G_SOURCE_REMOVE;
}

static gboolean
core_do_fail (gpointer data)
{
  Request *r = data;

  core_close (r->core, r->error);
  return G_SOURCE_REMOVE;
}

/* ------------------------------------------------------------------------ */
/* Negotiation (worker thread)                                              */

static void
capabilities_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(Core) core = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;
  g_autoptr(GTask) task = NULL;

  ret = g_task_propagate_pointer (G_TASK (result), &error);
  task = g_steal_pointer (&core->negotiate_task);

  if (task == NULL)
    return;

  if (ret == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  core->negotiated = TRUE;
  g_task_return_boolean (task, TRUE);
}

static char *
core_next_id (Core *core)
{
  return g_strdup_printf ("qm-%u", (guint)g_atomic_int_add (&core->id_counter, 1));
}

static GBytes *
serialize_command (const char *command,
                   JsonObject *arguments,
                   gboolean    oob,
                   const char *id)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  gsize len;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, oob ? "exec-oob" : "execute");
  json_builder_add_string_value (builder, command);
  if (arguments != NULL)
    {
      JsonNode *args = json_node_new (JSON_NODE_OBJECT);
      json_node_set_object (args, arguments);
      json_builder_set_member_name (builder, "arguments");
      json_builder_add_value (builder, args);
    }
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, id);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, &len);

  {
    GString *s = g_string_new_len (text, len);
    g_string_append (s, "\r\n");
    return g_string_free_to_bytes (s);
  }
}

static void
core_send_capabilities (Core *core)
{
  g_autoptr(JsonObject) args = NULL;
  GTask *task;
  Pending *p;

  if (core->negotiate_flags & Q_QMP_NEGOTIATE_FLAGS_OOB)
    {
      JsonObject *greeting;
      JsonArray *caps;
      gboolean offered = FALSE;

      g_mutex_lock (&core->mutex);
      greeting = core->greeting;
      caps = q_json_get_array (greeting, "capabilities");
      for (guint i = 0; caps && i < json_array_get_length (caps); i++)
        {
          JsonNode *n = json_array_get_element (caps, i);
          if (JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING &&
              g_strcmp0 (json_node_get_string (n), "oob") == 0)
            offered = TRUE;
        }
      g_mutex_unlock (&core->mutex);

      if (!offered)
        {
          task = g_steal_pointer (&core->negotiate_task);
          g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                                   "The QMP server does not offer out-of-band execution");
          g_object_unref (task);
          return;
        }

      args = json_object_new ();
      {
        JsonArray *enable = json_array_new ();
        json_array_add_string_element (enable, "oob");
        json_object_set_array_member (args, "enable", enable);
      }
      core->oob_enabled = TRUE;
    }

  p = g_new0 (Pending, 1);
  p->id = core_next_id (core);
  p->bytes = serialize_command ("qmp_capabilities", args, FALSE, p->id);
  p->task = g_task_new (NULL, NULL, capabilities_cb, core_ref (core));
  g_task_set_source_tag (p->task, core_send_capabilities);

  g_hash_table_insert (core->pending, p->id, p);
  g_queue_push_tail (&core->outq, p);
  core_write_next (core);
}

static void
core_greeting_arrived (Core *core)
{
  if (core->negotiate_task != NULL)
    core_send_capabilities (core);
}

/* ------------------------------------------------------------------------ */
/* GObject                                                                  */

static void
q_qmp_client_constructed (GObject *object)
{
  QQmpClient *self = (QQmpClient *)object;
  Core *core;

  G_OBJECT_CLASS (q_qmp_client_parent_class)->constructed (object);

  g_return_if_fail (G_IS_IO_STREAM (self->stream));

  core = g_new0 (Core, 1);
  g_atomic_ref_count_init (&core->ref_count);
  g_mutex_init (&core->mutex);
  core->client = self;
  core->owner_context = g_main_context_ref_thread_default ();
  core->stream = g_object_ref (self->stream);
  core->input = g_io_stream_get_input_stream (core->stream);
  core->output = g_io_stream_get_output_stream (core->stream);
  if (G_IS_SOCKET_CONNECTION (core->stream))
    core->socket = g_object_ref (g_socket_connection_get_socket (G_SOCKET_CONNECTION (core->stream)));
  core->io_cancellable = g_cancellable_new ();
  core->inbuf = g_byte_array_new ();
  core->readbuf = g_malloc (READ_CHUNK);
  core->parser = json_parser_new_immutable ();
  core->pending = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                         (GDestroyNotify)pending_free);
  core->max_message_size = Q_QMP_CLIENT_DEFAULT_MAX_MESSAGE_SIZE;
  self->core = core;

  q_worker_schedule (core_start_reading, core_ref (core), (GDestroyNotify)core_unref);
}

static void
q_qmp_client_dispose (GObject *object)
{
  QQmpClient *self = (QQmpClient *)object;

  if (self->core != NULL)
    {
      Request *r = request_new (self->core);

      g_mutex_lock (&self->core->mutex);
      self->core->client = NULL;
      g_mutex_unlock (&self->core->mutex);

      /* Closing happens on the worker; nothing can reach us afterwards
       * because the core only holds a weak reference. */
      q_worker_schedule (core_do_fail, r, (GDestroyNotify)request_free);
      g_clear_pointer (&self->core, core_unref);
    }

  g_clear_object (&self->stream);

  G_OBJECT_CLASS (q_qmp_client_parent_class)->dispose (object);
}

static void
q_qmp_client_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  QQmpClient *self = Q_QMP_CLIENT (object);

  switch (prop_id)
    {
    case PROP_STREAM:
      g_value_set_object (value, self->stream);
      break;

    case PROP_MAX_MESSAGE_SIZE:
      g_value_set_uint64 (value, q_qmp_client_get_max_message_size (self));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
q_qmp_client_set_property (GObject      *object,
                           guint         prop_id,
                           const GValue *value,
                           GParamSpec   *pspec)
{
  QQmpClient *self = Q_QMP_CLIENT (object);

  switch (prop_id)
    {
    case PROP_STREAM:
      self->stream = g_value_dup_object (value);
      break;

    case PROP_MAX_MESSAGE_SIZE:
      q_qmp_client_set_max_message_size (self, g_value_get_uint64 (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
q_qmp_client_class_init (QQmpClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = q_qmp_client_constructed;
  object_class->dispose = q_qmp_client_dispose;
  object_class->get_property = q_qmp_client_get_property;
  object_class->set_property = q_qmp_client_set_property;

  /**
   * QQmpClient:stream:
   *
   * The connected stream QMP is spoken over. When it is a
   * [class@Gio.SocketConnection] on a unix socket, commands can carry file
   * descriptors.
   *
   * Since: 1.0
   */
  properties [PROP_STREAM] =
    g_param_spec_object ("stream", NULL, NULL,
                         G_TYPE_IO_STREAM,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  /**
   * QQmpClient:max-message-size:
   *
   * The largest message, in bytes, the client accepts from its peer. A
   * longer one closes the client with `Q_MACHINE_ERROR_PROTOCOL` instead of
   * growing a buffer without bound.
   *
   * Since: 1.0
   */
  properties [PROP_MAX_MESSAGE_SIZE] =
    g_param_spec_uint64 ("max-message-size", NULL, NULL,
                         1, G_MAXUINT32, Q_QMP_CLIENT_DEFAULT_MAX_MESSAGE_SIZE,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * QQmpClient::event:
   * @self: a `QQmpClient`
   * @name: the event name, such as `SHUTDOWN`
   * @event: the whole event object, with `event`, `data` and `timestamp`
   *
   * Emitted for every QMP event, detailed by the event name: connect to
   * `event::STOP` for one kind only. Emitted in the owner's main context, in
   * arrival order.
   *
   * Since: 1.0
   */
  signals [EVENT] =
    g_signal_new ("event",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  JSON_TYPE_OBJECT);

  /**
   * QQmpClient::closed:
   * @self: a `QQmpClient`
   * @error: (nullable): why the connection ended, or %NULL when it was
   *   closed with [method@QMachine.QmpClient.close]
   *
   * Emitted once when the connection ends: EOF, an I/O error, a protocol
   * error or a close we asked for. Every command still pending has failed
   * by then.
   *
   * Since: 1.0
   */
  signals [CLOSED] =
    g_signal_new ("closed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1,
                  G_TYPE_ERROR);
}

static void
q_qmp_client_init (QQmpClient *self)
{
}

/* ------------------------------------------------------------------------ */
/* Public API                                                               */

/**
 * q_qmp_client_new:
 * @stream: a connected `GIOStream`
 *
 * Creates a QMP client on @stream and starts reading from it at once, so
 * nothing the peer sends is lost. Call [method@QMachine.QmpClient.negotiate]
 * next.
 *
 * The client's signals are emitted in the thread-default main context of
 * the calling thread.
 *
 * Returns: (transfer full): a new `QQmpClient`
 *
 * Since: 1.0
 */
QQmpClient *
q_qmp_client_new (GIOStream *stream)
{
  g_return_val_if_fail (G_IS_IO_STREAM (stream), NULL);

  return g_object_new (Q_TYPE_QMP_CLIENT, "stream", stream, NULL);
}

/**
 * q_qmp_client_get_stream:
 * @self: a `QQmpClient`
 *
 * Gets the stream the client speaks over.
 *
 * Returns: (transfer none): the stream
 *
 * Since: 1.0
 */
GIOStream *
q_qmp_client_get_stream (QQmpClient *self)
{
  g_return_val_if_fail (Q_IS_QMP_CLIENT (self), NULL);

  return self->stream;
}

/**
 * q_qmp_client_get_max_message_size:
 * @self: a `QQmpClient`
 *
 * Gets [property@QMachine.QmpClient:max-message-size].
 *
 * Returns: the largest accepted message, in bytes
 *
 * Since: 1.0
 */
guint64
q_qmp_client_get_max_message_size (QQmpClient *self)
{
  guint64 ret;

  g_return_val_if_fail (Q_IS_QMP_CLIENT (self), 0);

  g_mutex_lock (&self->core->mutex);
  ret = self->core->max_message_size;
  g_mutex_unlock (&self->core->mutex);

  return ret;
}

/**
 * q_qmp_client_set_max_message_size:
 * @self: a `QQmpClient`
 * @max_message_size: the largest accepted message, in bytes (at least 1)
 *
 * Sets [property@QMachine.QmpClient:max-message-size]. It applies to the
 * next bytes read.
 *
 * Since: 1.0
 */
void
q_qmp_client_set_max_message_size (QQmpClient *self,
                                   guint64     max_message_size)
{
  gboolean changed;

  g_return_if_fail (Q_IS_QMP_CLIENT (self));
  g_return_if_fail (max_message_size > 0);

  g_mutex_lock (&self->core->mutex);
  changed = self->core->max_message_size != max_message_size;
  self->core->max_message_size = max_message_size;
  g_mutex_unlock (&self->core->mutex);

  if (changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties [PROP_MAX_MESSAGE_SIZE]);
}

/**
 * q_qmp_client_get_greeting:
 * @self: a `QQmpClient`
 *
 * Gets the greeting of the server: the object under its `QMP` key, with
 * `version` and `capabilities`. It is there once
 * [method@QMachine.QmpClient.negotiate] has completed (or earlier, as soon
 * as it has been read).
 *
 * Returns: (transfer none) (nullable): the greeting, or %NULL before it
 *   arrived
 *
 * Since: 1.0
 */
JsonObject *
q_qmp_client_get_greeting (QQmpClient *self)
{
  JsonObject *ret;

  g_return_val_if_fail (Q_IS_QMP_CLIENT (self), NULL);

  /* Set once and never replaced, so returning it unlocked is safe. */
  g_mutex_lock (&self->core->mutex);
  ret = self->core->greeting;
  g_mutex_unlock (&self->core->mutex);

  return ret;
}

/**
 * q_qmp_client_is_closed:
 * @self: a `QQmpClient`
 *
 * Tells whether the connection has ended. Calls on a closed client fail at
 * once.
 *
 * Returns: %TRUE once the connection is closed
 *
 * Since: 1.0
 */
gboolean
q_qmp_client_is_closed (QQmpClient *self)
{
  gboolean ret;

  g_return_val_if_fail (Q_IS_QMP_CLIENT (self), TRUE);

  g_mutex_lock (&self->core->mutex);
  ret = self->core->closed;
  g_mutex_unlock (&self->core->mutex);

  return ret;
}

static void
negotiate_cancelled_cb (GCancellable *cancellable,
                        gpointer      data)
{
  Request *src = data;
  Request *r = request_new (src->core);

  r->task_key = src->task_key;
  q_worker_schedule (core_do_negotiate_cancel, r, (GDestroyNotify)request_free);
}

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
 * task's data, so it is disconnected once the task is done with. */
static void
link_cancellable (GTask        *task,
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

/**
 * q_qmp_client_negotiate_async:
 * @self: a `QQmpClient`
 * @flags: capabilities to enable
 * @cancellable: (nullable): a `GCancellable`, also the way to put a time
 *   limit on the wait for the greeting
 * @callback: (scope async): called when negotiation is done
 * @user_data: closure data for @callback
 *
 * Waits for the server's greeting (tolerating other messages before it),
 * then sends `qmp_capabilities`, enabling out-of-band execution only when
 * @flags asks for it. After this, commands other than `qmp_capabilities`
 * work and events flow.
 *
 * Since: 1.0
 */
void
q_qmp_client_negotiate_async (QQmpClient          *self,
                              QQmpNegotiateFlags   flags,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Request *cr;
  Request *r;

  g_return_if_fail (Q_IS_QMP_CLIENT (self));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, q_qmp_client_negotiate_async);
  g_task_set_name (task, "[qmachine] qmp negotiate");
  g_task_set_task_data (task, GUINT_TO_POINTER (flags), NULL);

  cr = request_new (self->core);
  cr->task_key = task;
  link_cancellable (task, cancellable, cr, G_CALLBACK (negotiate_cancelled_cb));

  r = request_new (self->core);
  r->task = g_steal_pointer (&task);
  q_worker_schedule (core_do_negotiate, r, (GDestroyNotify)request_free);
}

/**
 * q_qmp_client_negotiate_finish:
 * @self: a `QQmpClient`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.QmpClient.negotiate_async].
 *
 * Returns: %TRUE when capabilities were negotiated
 *
 * Since: 1.0
 */
gboolean
q_qmp_client_negotiate_finish (QQmpClient    *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (Q_IS_QMP_CLIENT (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * q_qmp_client_negotiate:
 * @self: a `QQmpClient`
 * @flags: capabilities to enable
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.QmpClient.negotiate_async]. It works
 * without a main loop and does not dispatch the caller's main context.
 *
 * Returns: %TRUE when capabilities were negotiated
 *
 * Since: 1.0
 */
gboolean
q_qmp_client_negotiate (QQmpClient          *self,
                        QQmpNegotiateFlags   flags,
                        GCancellable        *cancellable,
                        GError             **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_QMP_CLIENT (self), FALSE);

  q_sync_call_begin (&call);
  q_qmp_client_negotiate_async (self, flags, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);

  return q_qmp_client_negotiate_finish (self, result, error);
}

static void
execute_common (QQmpClient          *self,
                const char          *command,
                JsonObject          *arguments,
                QQmpExecuteFlags     flags,
                GUnixFDList         *fds,
                gboolean             raw,
                gpointer             source_tag,
                GCancellable        *cancellable,
                GAsyncReadyCallback  callback,
                gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Request *r;
  Request *cr;
  Pending *p;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);
  g_task_set_name (task, raw ? "[qmachine] qmp execute-raw" : "[qmachine] qmp execute");
  /* We return cancellation ourselves, but keep the slot for the reply. */
  g_task_set_check_cancellable (task, FALSE);

  if (fds != NULL && g_unix_fd_list_get_length (fds) > 0 &&
      (self->core->socket == NULL ||
       g_socket_get_family (self->core->socket) != G_SOCKET_FAMILY_UNIX))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                               "Passing file descriptors needs a GSocketConnection "
                               "on a unix socket");
      return;
    }

  p = g_new0 (Pending, 1);
  /* Ids are allocated here (any thread); the counter is atomic. */
  p->id = core_next_id (self->core);
  p->bytes = serialize_command (command, arguments, (flags & Q_QMP_EXECUTE_FLAGS_OOB) != 0, p->id);
  p->fds = (fds && g_unix_fd_list_get_length (fds) > 0) ? g_object_ref (fds) : NULL;
  p->raw = raw;
  p->oob = (flags & Q_QMP_EXECUTE_FLAGS_OOB) != 0;
  p->task = g_object_ref (task);

  cr = request_new (self->core);
  cr->id = g_strdup (p->id);
  if (cancellable != NULL && g_cancellable_is_cancelled (cancellable))
    {
      request_free (cr);
      pending_free (p);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               "The QMP command %s was cancelled", command);
      return;
    }
  link_cancellable (task, cancellable, cr, G_CALLBACK (execute_cancelled_cb));

  r = request_new (self->core);
  r->pending = p;
  q_worker_schedule (core_do_execute, r, (GDestroyNotify)request_free);
}

/**
 * q_qmp_client_execute_async:
 * @self: a `QQmpClient`
 * @command: the QMP command name, such as `query-status`
 * @arguments: (nullable): the command's arguments
 * @flags: execution flags
 * @fds: (nullable): file descriptors to pass with the command, sent with
 *   its bytes in the same `sendmsg()` (needs a unix socket connection)
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called with the reply
 * @user_data: closure data for @callback
 *
 * Sends a QMP command with an id of the client's own and waits for the
 * reply with that id. Many commands can be in flight at once. Cancelling
 * completes the call at once with `G_IO_ERROR_CANCELLED`; if the command
 * was already sent, its late reply is read and dropped so the stream stays
 * in step.
 *
 * Commands that carry file descriptors are never pipelined behind each
 * other: QEMU keeps only the file descriptors of the last message.
 *
 * Since: 1.0
 */
void
q_qmp_client_execute_async (QQmpClient          *self,
                            const char          *command,
                            JsonObject          *arguments,
                            QQmpExecuteFlags     flags,
                            GUnixFDList         *fds,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_return_if_fail (Q_IS_QMP_CLIENT (self));
  g_return_if_fail (command != NULL);
  g_return_if_fail (!fds || G_IS_UNIX_FD_LIST (fds));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  execute_common (self, command, arguments, flags, fds, FALSE,
                  q_qmp_client_execute_async, cancellable, callback, user_data);
}

/**
 * q_qmp_client_execute_finish:
 * @self: a `QQmpClient`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.QmpClient.execute_async].
 *
 * Returns: (transfer full): the command's `return` value (often an empty
 *   object), or %NULL with a `Q_QMP_ERROR` when QEMU refused the command,
 *   or another error when the command could not be run
 *
 * Since: 1.0
 */
JsonNode *
q_qmp_client_execute_finish (QQmpClient    *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (Q_IS_QMP_CLIENT (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == q_qmp_client_execute_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * q_qmp_client_execute:
 * @self: a `QQmpClient`
 * @command: the QMP command name
 * @arguments: (nullable): the command's arguments
 * @flags: execution flags
 * @fds: (nullable): file descriptors to pass with the command
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.QmpClient.execute_async]. It works
 * without a main loop and does not dispatch the caller's main context.
 *
 * Returns: (transfer full): the command's `return` value
 *
 * Since: 1.0
 */
JsonNode *
q_qmp_client_execute (QQmpClient        *self,
                      const char        *command,
                      JsonObject        *arguments,
                      QQmpExecuteFlags   flags,
                      GUnixFDList       *fds,
                      GCancellable      *cancellable,
                      GError           **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_QMP_CLIENT (self), NULL);
  g_return_val_if_fail (command != NULL, NULL);

  q_sync_call_begin (&call);
  q_qmp_client_execute_async (self, command, arguments, flags, fds, cancellable,
                              q_sync_call_done, &call);
  result = q_sync_call_end (&call);

  return q_qmp_client_execute_finish (self, result, error);
}

/**
 * q_qmp_client_execute_raw_async:
 * @self: a `QQmpClient`
 * @command: the QMP command name
 * @arguments: (nullable): the command's arguments
 * @flags: execution flags
 * @fds: (nullable): file descriptors to pass with the command
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called with the reply
 * @user_data: closure data for @callback
 *
 * Like [method@QMachine.QmpClient.execute_async], but completes with the
 * whole response object: an error QEMU returns is inside it, not a
 * `GError`.
 *
 * Since: 1.0
 */
void
q_qmp_client_execute_raw_async (QQmpClient          *self,
                                const char          *command,
                                JsonObject          *arguments,
                                QQmpExecuteFlags     flags,
                                GUnixFDList         *fds,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_return_if_fail (Q_IS_QMP_CLIENT (self));
  g_return_if_fail (command != NULL);
  g_return_if_fail (!fds || G_IS_UNIX_FD_LIST (fds));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  execute_common (self, command, arguments, flags, fds, TRUE,
                  q_qmp_client_execute_raw_async, cancellable, callback, user_data);
}

/**
 * q_qmp_client_execute_raw_finish:
 * @self: a `QQmpClient`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.QmpClient.execute_raw_async].
 *
 * Returns: (transfer full): the whole response, with `return` or `error`
 *   and `id`
 *
 * Since: 1.0
 */
JsonObject *
q_qmp_client_execute_raw_finish (QQmpClient    *self,
                                 GAsyncResult  *result,
                                 GError       **error)
{
  g_return_val_if_fail (Q_IS_QMP_CLIENT (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == q_qmp_client_execute_raw_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * q_qmp_client_execute_raw:
 * @self: a `QQmpClient`
 * @command: the QMP command name
 * @arguments: (nullable): the command's arguments
 * @flags: execution flags
 * @fds: (nullable): file descriptors to pass with the command
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.QmpClient.execute_raw_async].
 *
 * Returns: (transfer full): the whole response
 *
 * Since: 1.0
 */
JsonObject *
q_qmp_client_execute_raw (QQmpClient        *self,
                          const char        *command,
                          JsonObject        *arguments,
                          QQmpExecuteFlags   flags,
                          GUnixFDList       *fds,
                          GCancellable      *cancellable,
                          GError           **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_QMP_CLIENT (self), NULL);
  g_return_val_if_fail (command != NULL, NULL);

  q_sync_call_begin (&call);
  q_qmp_client_execute_raw_async (self, command, arguments, flags, fds, cancellable,
                                  q_sync_call_done, &call);
  result = q_sync_call_end (&call);

  return q_qmp_client_execute_raw_finish (self, result, error);
}

/**
 * q_qmp_client_close_async:
 * @self: a `QQmpClient`
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called once the connection is closed
 * @user_data: closure data for @callback
 *
 * Writes out the commands already queued, then closes the stream. Commands
 * still waiting for a reply fail with `G_IO_ERROR_CLOSED`, and
 * [signal@QMachine.QmpClient::closed] is emitted with a %NULL error.
 * Closing a closed client succeeds.
 *
 * Since: 1.0
 */
void
q_qmp_client_close_async (QQmpClient          *self,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Request *r;

  g_return_if_fail (Q_IS_QMP_CLIENT (self));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, q_qmp_client_close_async);
  g_task_set_name (task, "[qmachine] qmp close");
  /* Closing is not undone by cancelling. */
  g_task_set_check_cancellable (task, FALSE);

  r = request_new (self->core);
  r->task = g_steal_pointer (&task);
  q_worker_schedule (core_do_close, r, (GDestroyNotify)request_free);
}

/**
 * q_qmp_client_close_finish:
 * @self: a `QQmpClient`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.QmpClient.close_async].
 *
 * Returns: %TRUE once closed
 *
 * Since: 1.0
 */
gboolean
q_qmp_client_close_finish (QQmpClient    *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (Q_IS_QMP_CLIENT (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * q_qmp_client_close:
 * @self: a `QQmpClient`
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.QmpClient.close_async].
 *
 * Returns: %TRUE once closed
 *
 * Since: 1.0
 */
gboolean
q_qmp_client_close (QQmpClient    *self,
                    GCancellable  *cancellable,
                    GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_QMP_CLIENT (self), FALSE);

  q_sync_call_begin (&call);
  q_qmp_client_close_async (self, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);

  return q_qmp_client_close_finish (self, result, error);
}

/* ------------------------------------------------------------------------ */
/* Private API                                                              */

void
q_qmp_client_set_hooks (QQmpClient     *self,
                        QQmpEventHook   event_hook,
                        QQmpClosedHook  closed_hook,
                        gpointer        user_data)
{
  g_return_if_fail (Q_IS_QMP_CLIENT (self));

  g_mutex_lock (&self->core->mutex);
  self->core->event_hook = event_hook;
  self->core->closed_hook = closed_hook;
  self->core->hook_data = user_data;
  g_mutex_unlock (&self->core->mutex);
}

/* Signals go to @context instead of the creator's. Call right after
 * q_qmp_client_new() on the worker thread, before it returns to its
 * loop, so that no emission can have been queued yet. */
void
q_qmp_client_set_owner_context (QQmpClient   *self,
                                GMainContext *context)
{
  g_return_if_fail (Q_IS_QMP_CLIENT (self));
  g_assert (q_worker_is_current ());

  g_mutex_lock (&self->core->mutex);
  g_clear_pointer (&self->core->owner_context, g_main_context_unref);
  self->core->owner_context = g_main_context_ref (context);
  g_mutex_unlock (&self->core->mutex);
}

void
q_qmp_client_fail (QQmpClient   *self,
                   const GError *error)
{
  Request *r;

  g_return_if_fail (Q_IS_QMP_CLIENT (self));

  r = request_new (self->core);
  r->error = error ? g_error_copy (error) : NULL;
  if (q_worker_is_current ())
    {
      core_do_fail (r);
      request_free (r);
    }
  else
    q_worker_schedule (core_do_fail, r, (GDestroyNotify)request_free);
}
