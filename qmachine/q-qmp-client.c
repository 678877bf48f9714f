/* q-qmp-client.c: the QQmpClient object and its public API
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "q-error.h"
#include "q-qmp-core-private.h"
#include "q-util-private.h"

/**
 * QQmpClient:
 *
 * The QEMU Machine Protocol over any [class@Gio.IOStream].
 *
 * `QQmpClient` speaks QMP to a QEMU monitor (or anything that talks like
 * one) over a connected stream: a socketpair end, a unix socket or a TCP
 * connection. It reads the greeting, negotiates capabilities, runs
 * commands (many at once: QEMU answers in-band commands in order, and
 * out-of-band ones by id), passes file descriptors
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
 * The client accepts strict JSON (RFC 8259) only, as QEMU writes it: no
 * comments, no single-quoted strings, no text after the message, valid
 * UTF-8. A message longer than
 * [property@QMachine.QmpClient:max-message-size] bytes, holding more than
 * [property@QMachine.QmpClient:max-message-nodes] JSON values, nested
 * deeper than 128 levels, or not strict JSON is a protocol error: the
 * client closes with `Q_MACHINE_ERROR_PROTOCOL` rather than buffering,
 * allocating or recursing without bound. At most
 * [property@QMachine.QmpClient:max-queued-events] events, and
 * [property@QMachine.QmpClient:max-queued-event-bytes] bytes of them, wait
 * for the owner's main context to dispatch them; older ones are then
 * dropped, counted by [method@QMachine.QmpClient.get_dropped_events].
 *
 * ## Numbers
 *
 * json-glib holds an integer as a `gint64` and any other number as a
 * `double`. An integer outside the signed 64-bit range (QEMU writes
 * `uint64` values as they are) or a number whose magnitude a double
 * cannot hold (`1e400`) is never handed on as another value: a reply
 * holding one fails its command with `Q_MACHINE_ERROR_PROTOCOL` and a
 * message naming the number, an event holding one is dropped (and
 * counted), and the connection stays up. A number with a fraction or an
 * exponent is read as the nearest double.
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

struct _QQmpClient
{
  GObject    parent_instance;
  Core      *core;      /* set in constructed, never NULL afterwards */
  QBox      *box;
  GIOStream *stream;
  gboolean   disposed;  /* dispose can run twice (q_dispose_on_owner) */
};

G_DEFINE_FINAL_TYPE (QQmpClient, q_qmp_client, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_STREAM,
  PROP_MAX_MESSAGE_SIZE,
  PROP_MAX_QUEUED_EVENTS,
  PROP_MAX_QUEUED_EVENT_BYTES,
  PROP_MAX_MESSAGE_NODES,
  N_PROPS
};

enum {
  EVENT,
  CLOSED,
  N_SIGNALS
};

static GParamSpec *properties [N_PROPS];
static guint signals [N_SIGNALS];

/* Owner's context, from the core's dispatcher. */
static void
client_dispatch (gpointer object)
{
  QQmpClient *self = object;
  GQueue items = G_QUEUE_INIT;
  guint dropped;
  Emission *e;

  core_take_emissions (self->core, &items, &dropped);

  while ((e = g_queue_pop_head (&items)))
    {
      if (e->kind == EMIT_EVENT)
        g_signal_emit (self, signals [EVENT], g_quark_from_string (e->name), e->name, e->object);
      else
        g_signal_emit (self, signals [CLOSED], 0, e->error);
      emission_free (e);
    }
}

/* ------------------------------------------------------------------------ */
/* GObject                                                                  */

static void
q_qmp_client_constructed (GObject *object)
{
  QQmpClient *self = (QQmpClient *)object;
  g_autoptr(GMainContext) context = g_main_context_ref_thread_default ();

  G_OBJECT_CLASS (q_qmp_client_parent_class)->constructed (object);

  self->box = q_box_new (self);
  self->core = core_new (self->stream, context, self->box, client_dispatch, &core_qmp_dialect);
}

static void
q_qmp_client_dispose (GObject *object)
{
  QQmpClient *self = (QQmpClient *)object;

  if (self->box != NULL)
    q_box_clear (self->box);
  if (self->core != NULL && !self->disposed)
    core_dispose (self->core);
  self->disposed = TRUE;

  if (q_dispose_on_owner (self, self->core ? self->core->dispatcher : NULL))
    return;
  G_OBJECT_CLASS (q_qmp_client_parent_class)->dispose (object);
}

static void
q_qmp_client_finalize (GObject *object)
{
  QQmpClient *self = (QQmpClient *)object;

  g_assert (!q_is_internal_thread ());

  g_clear_pointer (&self->core, core_unref);
  g_clear_pointer (&self->box, q_box_unref);
  g_clear_object (&self->stream);

  G_OBJECT_CLASS (q_qmp_client_parent_class)->finalize (object);
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

    case PROP_MAX_QUEUED_EVENTS:
      g_value_set_uint (value, q_qmp_client_get_max_queued_events (self));
      break;

    case PROP_MAX_QUEUED_EVENT_BYTES:
      g_value_set_uint64 (value, q_qmp_client_get_max_queued_event_bytes (self));
      break;

    case PROP_MAX_MESSAGE_NODES:
      g_value_set_uint (value, q_qmp_client_get_max_message_nodes (self));
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

    case PROP_MAX_QUEUED_EVENTS:
      q_qmp_client_set_max_queued_events (self, g_value_get_uint (value));
      break;

    case PROP_MAX_QUEUED_EVENT_BYTES:
      q_qmp_client_set_max_queued_event_bytes (self, g_value_get_uint64 (value));
      break;

    case PROP_MAX_MESSAGE_NODES:
      q_qmp_client_set_max_message_nodes (self, g_value_get_uint (value));
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
  object_class->finalize = q_qmp_client_finalize;
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

  /**
   * QQmpClient:max-queued-events:
   *
   * How many events may wait for the owner's main context to emit them as
   * [signal@QMachine.QmpClient::event]. When the context does not dispatch
   * (a script that only makes blocking calls, say), the oldest are dropped
   * beyond this and counted by
   * [method@QMachine.QmpClient.get_dropped_events], so memory stays
   * bounded. A [class@QMachine.Machine] sets it to its
   * [property@QMachine.Machine:event-queue-limit].
   *
   * Since: 1.0
   */
  properties [PROP_MAX_QUEUED_EVENTS] =
    g_param_spec_uint ("max-queued-events", NULL, NULL,
                       1, G_MAXUINT, MAX_QUEUED_EMISSIONS,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QQmpClient:max-queued-event-bytes:
   *
   * How much memory the events waiting for the owner's main context may
   * hold, in bytes, besides their number
   * ([property@QMachine.QmpClient:max-queued-events]). An event counts
   * for its message's size as received plus 192 bytes for each JSON value
   * in it: about what json-glib's tree of it costs, so that a message
   * dense in values (`[{},{},…]`, a hundred times its size once parsed)
   * cannot hold more than its share. When an event would go over the
   * budget, the oldest waiting events are dropped and counted by
   * [method@QMachine.QmpClient.get_dropped_events]; the newest event is
   * always kept. A [class@QMachine.Machine] sets it to its
   * [property@QMachine.Machine:event-queue-bytes].
   *
   * Since: 1.0
   */
  properties [PROP_MAX_QUEUED_EVENT_BYTES] =
    g_param_spec_uint64 ("max-queued-event-bytes", NULL, NULL,
                         1, G_MAXUINT64, Q_QMP_CLIENT_DEFAULT_MAX_QUEUED_EVENT_BYTES,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QQmpClient:max-message-nodes:
   *
   * The most JSON values (objects, arrays, strings, numbers, literals) one
   * message from the peer may hold. The strict checker counts them before
   * json-glib parses anything, and a message with more is a protocol
   * error: the client closes with `Q_MACHINE_ERROR_PROTOCOL`, as for a
   * message over [property@QMachine.QmpClient:max-message-size]. json-glib
   * needs 80 to 300 bytes for each value, so this bounds the memory one
   * message costs (a 10 MiB `[0,0,…]` has five million values and would
   * need 400 MB). The default is 16 times the largest reply of QEMU 7.2,
   * `query-qmp-schema`.
   *
   * Since: 1.0
   */
  properties [PROP_MAX_MESSAGE_NODES] =
    g_param_spec_uint ("max-message-nodes", NULL, NULL,
                       1, G_MAXUINT, Q_QMP_CLIENT_DEFAULT_MAX_MESSAGE_NODES,
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
 * Returns: (transfer none) (nullable): the stream, or %NULL for a client
 *   made without one
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

  q_leaf_lock (&self->core->mutex);
  ret = self->core->max_message_size;
  q_leaf_unlock (&self->core->mutex);

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

  q_leaf_lock (&self->core->mutex);
  changed = self->core->max_message_size != max_message_size;
  self->core->max_message_size = max_message_size;
  q_leaf_unlock (&self->core->mutex);

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
  q_leaf_lock (&self->core->mutex);
  ret = self->core->greeting;
  q_leaf_unlock (&self->core->mutex);

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

  q_leaf_lock (&self->core->mutex);
  ret = self->core->closed;
  q_leaf_unlock (&self->core->mutex);

  return ret;
}

/**
 * q_qmp_client_get_max_queued_events:
 * @self: a `QQmpClient`
 *
 * Gets [property@QMachine.QmpClient:max-queued-events].
 *
 * Returns: how many events may wait for the owner's main context
 *
 * Since: 1.0
 */
guint
q_qmp_client_get_max_queued_events (QQmpClient *self)
{
  guint ret;

  g_return_val_if_fail (Q_IS_QMP_CLIENT (self), 0);

  q_leaf_lock (&self->core->mutex);
  ret = self->core->max_queued_events;
  q_leaf_unlock (&self->core->mutex);

  return ret;
}

/**
 * q_qmp_client_set_max_queued_events:
 * @self: a `QQmpClient`
 * @max_queued_events: how many events may wait (at least 1)
 *
 * Sets [property@QMachine.QmpClient:max-queued-events].
 *
 * Since: 1.0
 */
void
q_qmp_client_set_max_queued_events (QQmpClient *self,
                                    guint       max_queued_events)
{
  gboolean changed;

  g_return_if_fail (Q_IS_QMP_CLIENT (self));
  g_return_if_fail (max_queued_events > 0);

  q_leaf_lock (&self->core->mutex);
  changed = self->core->max_queued_events != max_queued_events;
  self->core->max_queued_events = max_queued_events;
  q_leaf_unlock (&self->core->mutex);

  if (changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties [PROP_MAX_QUEUED_EVENTS]);
}

/**
 * q_qmp_client_get_max_queued_event_bytes:
 * @self: a `QQmpClient`
 *
 * Gets [property@QMachine.QmpClient:max-queued-event-bytes].
 *
 * Returns: how many bytes the waiting events may hold
 *
 * Since: 1.0
 */
guint64
q_qmp_client_get_max_queued_event_bytes (QQmpClient *self)
{
  guint64 ret;

  g_return_val_if_fail (Q_IS_QMP_CLIENT (self), 0);

  q_leaf_lock (&self->core->mutex);
  ret = self->core->max_queued_event_bytes;
  q_leaf_unlock (&self->core->mutex);

  return ret;
}

/**
 * q_qmp_client_set_max_queued_event_bytes:
 * @self: a `QQmpClient`
 * @max_queued_event_bytes: how many bytes the waiting events may hold (at
 *   least 1)
 *
 * Sets [property@QMachine.QmpClient:max-queued-event-bytes]. It applies
 * to the next event.
 *
 * Since: 1.0
 */
void
q_qmp_client_set_max_queued_event_bytes (QQmpClient *self,
                                         guint64     max_queued_event_bytes)
{
  gboolean changed;

  g_return_if_fail (Q_IS_QMP_CLIENT (self));
  g_return_if_fail (max_queued_event_bytes > 0);

  q_leaf_lock (&self->core->mutex);
  changed = self->core->max_queued_event_bytes != max_queued_event_bytes;
  self->core->max_queued_event_bytes = max_queued_event_bytes;
  q_leaf_unlock (&self->core->mutex);

  if (changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties [PROP_MAX_QUEUED_EVENT_BYTES]);
}

/**
 * q_qmp_client_get_max_message_nodes:
 * @self: a `QQmpClient`
 *
 * Gets [property@QMachine.QmpClient:max-message-nodes].
 *
 * Returns: the most JSON values one message may hold
 *
 * Since: 1.0
 */
guint
q_qmp_client_get_max_message_nodes (QQmpClient *self)
{
  guint ret;

  g_return_val_if_fail (Q_IS_QMP_CLIENT (self), 0);

  q_leaf_lock (&self->core->mutex);
  ret = self->core->max_message_nodes;
  q_leaf_unlock (&self->core->mutex);

  return ret;
}

/**
 * q_qmp_client_set_max_message_nodes:
 * @self: a `QQmpClient`
 * @max_message_nodes: the most JSON values one message may hold (at
 *   least 1)
 *
 * Sets [property@QMachine.QmpClient:max-message-nodes]. It applies to the
 * next bytes read.
 *
 * Since: 1.0
 */
void
q_qmp_client_set_max_message_nodes (QQmpClient *self,
                                    guint       max_message_nodes)
{
  gboolean changed;

  g_return_if_fail (Q_IS_QMP_CLIENT (self));
  g_return_if_fail (max_message_nodes > 0);

  q_leaf_lock (&self->core->mutex);
  changed = self->core->max_message_nodes != max_message_nodes;
  self->core->max_message_nodes = max_message_nodes;
  q_leaf_unlock (&self->core->mutex);

  if (changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties [PROP_MAX_MESSAGE_NODES]);
}

/**
 * q_qmp_client_get_dropped_events:
 * @self: a `QQmpClient`
 *
 * Gets how many events were not emitted as
 * [signal@QMachine.QmpClient::event]: dropped because more than
 * [property@QMachine.QmpClient:max-queued-events] (or
 * [property@QMachine.QmpClient:max-queued-event-bytes]) waited for the
 * owner's main context, or because they held a number json-glib cannot
 * hold exactly (an integer outside the signed 64-bit range, a magnitude
 * beyond a double).
 *
 * Returns: the number of events not emitted
 *
 * Since: 1.0
 */
guint
q_qmp_client_get_dropped_events (QQmpClient *self)
{
  guint ret;

  g_return_val_if_fail (Q_IS_QMP_CLIENT (self), 0);

  q_leaf_lock (&self->core->mutex);
  ret = self->core->dropped_events;
  q_leaf_unlock (&self->core->mutex);

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

  q_return_async_if_fail (Q_IS_QMP_CLIENT (self), callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, q_qmp_client_negotiate_async);
  g_task_set_name (task, "[qmachine] qmp negotiate");
  g_task_set_task_data (task, GUINT_TO_POINTER (flags), NULL);

  cr = request_new (self->core);
  cr->task_key = task;
  core_link_cancellable (task, cancellable, cr, G_CALLBACK (negotiate_cancelled_cb));

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
  if (result == NULL)
    return FALSE;

  return q_qmp_client_negotiate_finish (self, result, error);
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
 * Sends a QMP command and waits for its reply. Many commands can be in
 * flight at once: in-band commands go without an id (QEMU answers them in
 * order, and every byte sent costs QEMU time), out-of-band ones with an id
 * of the client's own, because their replies can overtake. A command QEMU
 * could not read as one message (a string that is not valid UTF-8,
 * nesting deeper than 128 levels, more than 2 million JSON tokens or
 * 64 MiB) fails at once with `G_IO_ERROR_INVALID_ARGUMENT` and is not
 * sent. Cancelling
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
  q_return_async_if_fail (Q_IS_QMP_CLIENT (self), callback, user_data);
  q_return_async_if_fail (command != NULL, callback, user_data);
  q_return_async_if_fail (!fds || G_IS_UNIX_FD_LIST (fds), callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  core_execute_async (self->core, self, command, arguments, (flags & Q_QMP_EXECUTE_FLAGS_OOB) != 0,
                      fds, -1, FALSE, FALSE, q_qmp_client_execute_async,
                      cancellable, callback, user_data);
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
  if (result == NULL)
    return NULL;

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
  q_return_async_if_fail (Q_IS_QMP_CLIENT (self), callback, user_data);
  q_return_async_if_fail (command != NULL, callback, user_data);
  q_return_async_if_fail (!fds || G_IS_UNIX_FD_LIST (fds), callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  core_execute_async (self->core, self, command, arguments, (flags & Q_QMP_EXECUTE_FLAGS_OOB) != 0,
                      fds, -1, TRUE, FALSE,
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
 *   (and, for an out-of-band command, the client's `id`)
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
  if (result == NULL)
    return NULL;

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

  q_return_async_if_fail (Q_IS_QMP_CLIENT (self), callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

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
  if (result == NULL)
    return FALSE;

  return q_qmp_client_close_finish (self, result, error);
}

/* ------------------------------------------------------------------------ */
/* Private API                                                              */

/* Worker thread only (where the hooks are called). @destroy is called on
 * @user_data when the hooks are replaced or the client closes. */
void
q_qmp_client_set_hooks (QQmpClient     *self,
                        QQmpEventHook   event_hook,
                        QQmpClosedHook  closed_hook,
                        gpointer        user_data,
                        GDestroyNotify  destroy)
{
  Core *core;
  gpointer old_data;
  GDestroyNotify old_destroy;

  g_return_if_fail (Q_IS_QMP_CLIENT (self));
  g_assert (q_worker_is_current ());

  core = self->core;
  old_data = core->hook_data;
  old_destroy = core->hook_destroy;
  if (core->closed)
    {
      /* Too late: the closed hook has run (or never will). */
      core->event_hook = NULL;
      core->closed_hook = NULL;
      core->hook_data = NULL;
      core->hook_destroy = NULL;
      if (destroy != NULL)
        destroy (user_data);
    }
  else
    {
      core->event_hook = event_hook;
      core->closed_hook = closed_hook;
      core->hook_data = user_data;
      core->hook_destroy = destroy;
    }
  if (old_destroy != NULL)
    old_destroy (old_data);
}

/* Signals go to @context instead of the creator's. Call right after
 * q_qmp_client_new() on the worker thread, before it returns to its
 * loop, so that no emission can have been queued yet. */
void
q_qmp_client_set_owner_context (QQmpClient   *self,
                                GMainContext *context)
{
  g_return_if_fail (Q_IS_QMP_CLIENT (self));

  core_set_owner_context (self->core, context, self->box, client_dispatch);
}

void
q_qmp_client_set_log_name (QQmpClient *self,
                           const char *name)
{
  g_return_if_fail (Q_IS_QMP_CLIENT (self));

  q_leaf_lock (&self->core->mutex);
  g_free (self->core->log_name);
  self->core->log_name = g_strdup (name);
  q_leaf_unlock (&self->core->mutex);
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

/* execute_async or execute_raw_async (@raw) with a deadline: past
 * @timeout_msec (-1: none) the call fails with G_IO_ERROR_TIMED_OUT and a
 * late reply is dropped. */
void
q_qmp_client_execute_full_async (QQmpClient          *self,
                                 const char          *command,
                                 JsonObject          *arguments,
                                 QQmpExecuteFlags     flags,
                                 GUnixFDList         *fds,
                                 int                  timeout_msec,
                                 gboolean             raw,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  q_return_async_if_fail (Q_IS_QMP_CLIENT (self), callback, user_data);
  q_return_async_if_fail (command != NULL, callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  core_execute_async (self->core, self, command, arguments, (flags & Q_QMP_EXECUTE_FLAGS_OOB) != 0,
                      fds, timeout_msec, raw, FALSE,
                      raw ? (gpointer)q_qmp_client_execute_raw_async : (gpointer)q_qmp_client_execute_async,
                      cancellable, callback, user_data);
}
