/* q-guest-agent.c: QGuestAgent, a client for QEMU's guest agent (qemu-ga)
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>

#include "q-error.h"
#include "q-guest-agent-private.h"
#include "q-qmp-core-private.h"
#include "q-util-private.h"

/**
 * QGuestAgent:
 *
 * A client for QEMU's guest agent, `qemu-ga`, which runs inside the guest
 * and acts there on the host's behalf: it runs programs, reads and writes
 * files, freezes file systems, shuts the guest down.
 *
 * Get one from a machine that was given a channel for it with
 * [method@QMachine.Machine.add_guest_agent] (then
 * [method@QMachine.Machine.get_guest_agent] after launch), or connect to a
 * channel QEMU exposes on a socket with [ctor@QMachine.GuestAgent.new_for_address].
 *
 * ## What the class takes care of
 *
 * The agent speaks a dialect of QMP with none of its guarantees: no
 * greeting, no ids, no events, one command at a time, and it restarts
 * with the guest, so a reply can come late, never, or after garbage on
 * the serial line. `QGuestAgent` runs one command at a time and, whenever
 * the channel may be out of step (at first, after a timeout, a cancel, a
 * guest reset or anything it could not read), first resynchronises with
 * `guest-sync-delimited`: it sends the byte 0xFF (the agent drops what it
 * had half read) and a random id, skips what arrives before the agent's
 * own 0xFF and then every message but the one that echoes the id. An
 * agent that does not answer is asked again, waiting 1, 2, 4 then 8
 * seconds, until the command's time limit
 * ([property@QMachine.GuestAgent:timeout]) is up.
 *
 * Commands that never reply when they succeed (`guest-shutdown`,
 * `guest-suspend-*`) complete when the guest shuts down, resets or
 * suspends, or when the channel closes.
 *
 * ## Threads and main contexts
 *
 * As for [class@QMachine.QmpClient]: the I/O runs on qmachine's worker
 * thread; signals and callbacks arrive in the thread-default main context
 * of the thread that created the agent object (callbacks: that started the
 * call); the sync variants wait on a private main context.
 *
 * Since: 1.0
 */


struct _QGuestAgent
{
  GObject    parent_instance;

  /* Set at construction, read-only afterwards. */
  Core      *core;
  QBox      *box;
  GIOStream *stream;
  gboolean   disposed;        /* dispose can run twice (q_dispose_on_owner) */

  int        timeout_msec;    /* atomic */
  gboolean   connected;       /* owner's context */

  GMutex     limits_lock;     /* guards the two limits: read by any thread */
  guint64    max_read_size;
  guint64    max_copy_size;
};

G_DEFINE_FINAL_TYPE (QGuestAgent, q_guest_agent, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_STREAM,
  PROP_CONNECTED,
  PROP_TIMEOUT,
  PROP_MAX_READ_SIZE,
  PROP_MAX_COPY_SIZE,
  N_PROPS
};

enum {
  AGENT_CONNECTED,
  AGENT_DISCONNECTED,
  N_SIGNALS
};

static GParamSpec *properties [N_PROPS];
static guint signals [N_SIGNALS];

/* The owner context q_guest_agent_new_with_context() asks for, read by
 * constructed on the same thread. */
static GPrivate next_owner_context;

static void
agent_set_connected (QGuestAgent *self,
                     gboolean     connected)
{
  if (self->connected == connected)
    return;
  self->connected = connected;
  g_object_notify_by_pspec (G_OBJECT (self), properties [PROP_CONNECTED]);
  g_signal_emit (self, signals [connected ? AGENT_CONNECTED : AGENT_DISCONNECTED], 0);
}

/* Owner's context, from the core's dispatcher. */
static void
agent_dispatch (gpointer object)
{
  QGuestAgent *self = object;
  GQueue items = G_QUEUE_INIT;
  guint dropped;
  Emission *e;

  core_take_emissions (self->core, &items, &dropped);

  while ((e = g_queue_pop_head (&items)))
    {
      if (e->kind == EMIT_AGENT_STATE)
        agent_set_connected (self, e->up);
      else if (e->kind == EMIT_CLOSED)
        agent_set_connected (self, FALSE);
      emission_free (e);
    }
}

/* ------------------------------------------------------------------------ */
/* GObject                                                                  */

static void
q_guest_agent_constructed (GObject *object)
{
  QGuestAgent *self = (QGuestAgent *)object;
  GMainContext *asked = g_private_get (&next_owner_context);
  g_autoptr(GMainContext) context = asked ? g_main_context_ref (asked) : g_main_context_ref_thread_default ();

  G_OBJECT_CLASS (q_guest_agent_parent_class)->constructed (object);

  self->box = q_box_new (self);
  self->core = core_new (self->stream, context, self->box, agent_dispatch, &core_agent_dialect);
}

static void
q_guest_agent_dispose (GObject *object)
{
  QGuestAgent *self = (QGuestAgent *)object;

  if (self->box != NULL)
    q_box_clear (self->box);
  if (self->core != NULL && !self->disposed)
    core_dispose (self->core);
  self->disposed = TRUE;

  if (q_dispose_on_owner (self, self->core ? self->core->dispatcher : NULL))
    return;
  G_OBJECT_CLASS (q_guest_agent_parent_class)->dispose (object);
}

static void
q_guest_agent_finalize (GObject *object)
{
  QGuestAgent *self = (QGuestAgent *)object;

  g_assert (!q_is_internal_thread ());

  g_clear_pointer (&self->core, core_unref);
  g_clear_pointer (&self->box, q_box_unref);
  g_clear_object (&self->stream);
  g_mutex_clear (&self->limits_lock);

  G_OBJECT_CLASS (q_guest_agent_parent_class)->finalize (object);
}

static void
q_guest_agent_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  QGuestAgent *self = Q_GUEST_AGENT (object);

  switch (prop_id)
    {
    case PROP_STREAM:
      g_value_set_object (value, self->stream);
      break;

    case PROP_CONNECTED:
      g_value_set_boolean (value, self->connected);
      break;

    case PROP_TIMEOUT:
      g_value_set_int (value, q_guest_agent_get_timeout (self));
      break;

    case PROP_MAX_READ_SIZE:
      g_value_set_uint64 (value, q_guest_agent_get_max_read_size (self));
      break;

    case PROP_MAX_COPY_SIZE:
      g_value_set_uint64 (value, q_guest_agent_get_max_copy_size (self));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
q_guest_agent_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  QGuestAgent *self = Q_GUEST_AGENT (object);

  switch (prop_id)
    {
    case PROP_STREAM:
      self->stream = g_value_dup_object (value);
      break;

    case PROP_TIMEOUT:
      q_guest_agent_set_timeout (self, g_value_get_int (value));
      break;

    case PROP_MAX_READ_SIZE:
      q_guest_agent_set_max_read_size (self, g_value_get_uint64 (value));
      break;

    case PROP_MAX_COPY_SIZE:
      q_guest_agent_set_max_copy_size (self, g_value_get_uint64 (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
q_guest_agent_class_init (QGuestAgentClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = q_guest_agent_constructed;
  object_class->dispose = q_guest_agent_dispose;
  object_class->finalize = q_guest_agent_finalize;
  object_class->get_property = q_guest_agent_get_property;
  object_class->set_property = q_guest_agent_set_property;

  /**
   * QGuestAgent:stream:
   *
   * The connected stream to the agent's channel.
   *
   * Since: 1.0
   */
  properties [PROP_STREAM] =
    g_param_spec_object ("stream", NULL, NULL,
                         G_TYPE_IO_STREAM,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  /**
   * QGuestAgent:connected:
   *
   * Whether the agent is believed to be there: it answered the last
   * exchange, or its virtio-serial port was opened by the guest. It turns
   * false when a command or resynchronisation goes unanswered in time,
   * the port is closed, the guest resets or shuts down, or the channel
   * closes. Updated in the owner's main context.
   *
   * Since: 1.0
   */
  properties [PROP_CONNECTED] =
    g_param_spec_boolean ("connected", NULL, NULL, FALSE,
                          (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QGuestAgent:timeout:
   *
   * How long each command may wait for the agent, in milliseconds
   * (including the resynchronisation before it), or -1 for no limit.
   * A command past it fails with `G_IO_ERROR_TIMED_OUT`.
   *
   * Since: 1.0
   */
  properties [PROP_TIMEOUT] =
    g_param_spec_int ("timeout", NULL, NULL, -1, G_MAXINT, Q_GUEST_AGENT_DEFAULT_TIMEOUT,
                      (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QGuestAgent:max-read-size:
   *
   * The most bytes [method@QMachine.GuestAgent.file_read_async] holds in
   * memory, [const@QMachine.GUEST_AGENT_DEFAULT_MAX_READ_SIZE] (256 MiB)
   * by default, at most `G_MAXUINT`. The guest need not ever end a file:
   * past this, the read fails with `G_IO_ERROR_MESSAGE_TOO_LARGE` before
   * more is kept. Calls started afterwards use it.
   *
   * Since: 1.0
   */
  properties [PROP_MAX_READ_SIZE] =
    g_param_spec_uint64 ("max-read-size", NULL, NULL, 0, G_MAXUINT,
                         Q_GUEST_AGENT_DEFAULT_MAX_READ_SIZE,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QGuestAgent:max-copy-size:
   *
   * The most bytes [method@QMachine.GuestAgent.copy_from_guest_async]
   * writes to the local disk for one copy,
   * [const@QMachine.GUEST_AGENT_DEFAULT_MAX_COPY_SIZE] (4 GiB) by
   * default; `G_MAXUINT64` for no limit. The guest need not ever end a
   * file: past this, the copy fails with `G_IO_ERROR_MESSAGE_TOO_LARGE`,
   * its temporary file is removed and the destination is left as it was.
   * Calls started afterwards use it.
   *
   * Since: 1.0
   */
  properties [PROP_MAX_COPY_SIZE] =
    g_param_spec_uint64 ("max-copy-size", NULL, NULL, 0, G_MAXUINT64,
                         Q_GUEST_AGENT_DEFAULT_MAX_COPY_SIZE,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * QGuestAgent::agent-connected:
   * @self: the `QGuestAgent`
   *
   * Emitted when [property@QMachine.GuestAgent:connected] turns true.
   *
   * Since: 1.0
   */
  signals [AGENT_CONNECTED] =
    g_signal_new ("agent-connected",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);

  /**
   * QGuestAgent::agent-disconnected:
   * @self: the `QGuestAgent`
   *
   * Emitted when [property@QMachine.GuestAgent:connected] turns false:
   * the agent stopped answering, its port closed, the guest reset or shut
   * down, or the channel closed. The agent restarts with the guest; the
   * next command waits for it (within its time limit).
   *
   * Since: 1.0
   */
  signals [AGENT_DISCONNECTED] =
    g_signal_new ("agent-disconnected",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);
}

static void
q_guest_agent_init (QGuestAgent *self)
{
  self->timeout_msec = Q_GUEST_AGENT_DEFAULT_TIMEOUT;
  g_mutex_init (&self->limits_lock);
  self->max_read_size = Q_GUEST_AGENT_DEFAULT_MAX_READ_SIZE;
  self->max_copy_size = Q_GUEST_AGENT_DEFAULT_MAX_COPY_SIZE;
}

/* ------------------------------------------------------------------------ */
/* Private API                                                              */

QGuestAgent *
q_guest_agent_new_with_context (GIOStream    *stream,
                                GMainContext *context)
{
  QGuestAgent *self;

  g_private_set (&next_owner_context, context);
  self = q_guest_agent_new (stream);
  g_private_set (&next_owner_context, NULL);

  return self;
}

/* Worker thread. */
void
q_guest_agent_notice (QGuestAgent *self,
                      AgentNotice  notice)
{
  core_agent_notice (self->core, notice);
}

void
q_guest_agent_fail (QGuestAgent  *self,
                    const GError *error)
{
  Request *r = request_new (self->core);

  r->error = error ? g_error_copy (error) : NULL;
  if (q_worker_is_current ())
    {
      core_do_fail (r);
      request_free (r);
    }
  else
    q_worker_schedule (core_do_fail, r, (GDestroyNotify)request_free);
}

/* ------------------------------------------------------------------------ */
/* Construction and state                                                   */

/**
 * q_guest_agent_new:
 * @stream: a connected stream to the agent's channel
 *
 * Creates a guest agent client on @stream (for instance the host end of
 * `-chardev socket,...` behind the agent's port). Nothing is sent until
 * the first command.
 *
 * Returns: (transfer full): a new `QGuestAgent`
 *
 * Since: 1.0
 */
QGuestAgent *
q_guest_agent_new (GIOStream *stream)
{
  g_return_val_if_fail (G_IS_IO_STREAM (stream), NULL);

  return g_object_new (Q_TYPE_GUEST_AGENT, "stream", stream, NULL);
}

static void
connect_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GSocketConnection) connection = NULL;
  GError *error = NULL;

  connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (object), result, &error);
  if (connection == NULL)
    {
      g_prefix_error (&error, "Could not connect to the guest agent's socket: ");
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, q_guest_agent_new (G_IO_STREAM (connection)), g_object_unref);
}

/**
 * q_guest_agent_new_for_address_async:
 * @address: where QEMU serves the agent's channel, such as a
 *   `GUnixSocketAddress` for `-chardev socket,path=...,server=on`
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when connected
 * @user_data: closure data for @callback
 *
 * Connects to a guest agent channel that QEMU serves on a socket.
 *
 * Since: 1.0
 */
void
q_guest_agent_new_for_address_async (GSocketAddress      *address,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GSocketClient) client = NULL;
  GTask *task;
  GError *error = NULL;

  q_return_async_if_fail (G_IS_SOCKET_ADDRESS (address), callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, q_guest_agent_new_for_address_async);
  if (!q_check_socket_address (address, "guest agent socket path", &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  client = g_socket_client_new ();
  g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (address), cancellable,
                                 connect_cb, task);
}

/**
 * q_guest_agent_new_for_address_finish:
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [func@QMachine.GuestAgent.new_for_address_async].
 *
 * Returns: (transfer full): the connected agent client, or %NULL with
 *   @error set
 *
 * Since: 1.0
 */
QGuestAgent *
q_guest_agent_new_for_address_finish (GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == q_guest_agent_new_for_address_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * q_guest_agent_new_for_address:
 * @address: where QEMU serves the agent's channel
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [func@QMachine.GuestAgent.new_for_address_async].
 *
 * Returns: (transfer full): the connected agent client, or %NULL with
 *   @error set
 *
 * Since: 1.0
 */
QGuestAgent *
q_guest_agent_new_for_address (GSocketAddress  *address,
                       GCancellable    *cancellable,
                       GError         **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (G_IS_SOCKET_ADDRESS (address), NULL);
  g_return_val_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), NULL);

  q_sync_call_begin (&call);
  q_guest_agent_new_for_address_async (address, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return NULL;

  return q_guest_agent_new_for_address_finish (result, error);
}

/**
 * q_guest_agent_get_stream:
 * @self: a `QGuestAgent`
 *
 * Gets the stream the agent is spoken to over.
 *
 * Returns: (transfer none) (nullable): the stream
 *
 * Since: 1.0
 */
GIOStream *
q_guest_agent_get_stream (QGuestAgent *self)
{
  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), NULL);
  return self->stream;
}

/**
 * q_guest_agent_is_connected:
 * @self: a `QGuestAgent`
 *
 * Gets [property@QMachine.GuestAgent:connected].
 *
 * Returns: whether the agent is believed to be answering
 *
 * Since: 1.0
 */
gboolean
q_guest_agent_is_connected (QGuestAgent *self)
{
  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), FALSE);
  return self->connected;
}

/**
 * q_guest_agent_is_closed:
 * @self: a `QGuestAgent`
 *
 * Whether the channel is closed (QEMU exited, the machine shut down, or
 * [method@QMachine.GuestAgent.close] was called); every command then fails
 * at once. Any thread.
 *
 * Returns: %TRUE once closed
 *
 * Since: 1.0
 */
gboolean
q_guest_agent_is_closed (QGuestAgent *self)
{
  gboolean ret;

  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), TRUE);

  q_leaf_lock (&self->core->mutex);
  ret = self->core->closed;
  q_leaf_unlock (&self->core->mutex);

  return ret;
}

/**
 * q_guest_agent_get_timeout:
 * @self: a `QGuestAgent`
 *
 * Gets [property@QMachine.GuestAgent:timeout].
 *
 * Returns: the time limit of each command in milliseconds, or -1
 *
 * Since: 1.0
 */
int
q_guest_agent_get_timeout (QGuestAgent *self)
{
  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), -1);
  return g_atomic_int_get (&self->timeout_msec);
}

/**
 * q_guest_agent_set_timeout:
 * @self: a `QGuestAgent`
 * @timeout_msec: the time limit of each command in milliseconds, or -1
 *   for none
 *
 * Sets [property@QMachine.GuestAgent:timeout]; commands started afterwards
 * use it.
 *
 * Since: 1.0
 */
void
q_guest_agent_set_timeout (QGuestAgent *self,
                           int          timeout_msec)
{
  g_return_if_fail (Q_IS_GUEST_AGENT (self));
  g_return_if_fail (timeout_msec >= -1);

  if (g_atomic_int_exchange (&self->timeout_msec, timeout_msec) != timeout_msec)
    g_object_notify_by_pspec (G_OBJECT (self), properties [PROP_TIMEOUT]);
}

/* Sets *@field to @value under the lock; whether it changed. */
static gboolean
agent_set_limit (QGuestAgent *self,
                 guint64     *field,
                 guint64      value)
{
  gboolean changed;

  q_leaf_lock (&self->limits_lock);
  changed = *field != value;
  *field = value;
  q_leaf_unlock (&self->limits_lock);
  return changed;
}

static guint64
agent_get_limit (QGuestAgent   *self,
                 const guint64 *field)
{
  guint64 value;

  q_leaf_lock (&self->limits_lock);
  value = *field;
  q_leaf_unlock (&self->limits_lock);
  return value;
}

/**
 * q_guest_agent_get_max_read_size:
 * @self: a `QGuestAgent`
 *
 * Gets [property@QMachine.GuestAgent:max-read-size].
 *
 * Returns: the most bytes a file read holds
 *
 * Since: 1.0
 */
guint64
q_guest_agent_get_max_read_size (QGuestAgent *self)
{
  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), 0);
  return agent_get_limit (self, &self->max_read_size);
}

/**
 * q_guest_agent_set_max_read_size:
 * @self: a `QGuestAgent`
 * @max_read_size: the most bytes a file read holds, at most `G_MAXUINT`
 *
 * Sets [property@QMachine.GuestAgent:max-read-size]; reads started
 * afterwards use it.
 *
 * Since: 1.0
 */
void
q_guest_agent_set_max_read_size (QGuestAgent *self,
                                 guint64      max_read_size)
{
  g_return_if_fail (Q_IS_GUEST_AGENT (self));
  g_return_if_fail (max_read_size <= G_MAXUINT);

  if (agent_set_limit (self, &self->max_read_size, max_read_size))
    g_object_notify_by_pspec (G_OBJECT (self), properties [PROP_MAX_READ_SIZE]);
}

/**
 * q_guest_agent_get_max_copy_size:
 * @self: a `QGuestAgent`
 *
 * Gets [property@QMachine.GuestAgent:max-copy-size].
 *
 * Returns: the most bytes a copy from the guest writes
 *
 * Since: 1.0
 */
guint64
q_guest_agent_get_max_copy_size (QGuestAgent *self)
{
  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), 0);
  return agent_get_limit (self, &self->max_copy_size);
}

/**
 * q_guest_agent_set_max_copy_size:
 * @self: a `QGuestAgent`
 * @max_copy_size: the most bytes a copy from the guest writes, or
 *   `G_MAXUINT64` for no limit
 *
 * Sets [property@QMachine.GuestAgent:max-copy-size]; copies started
 * afterwards use it.
 *
 * Since: 1.0
 */
void
q_guest_agent_set_max_copy_size (QGuestAgent *self,
                                 guint64      max_copy_size)
{
  g_return_if_fail (Q_IS_GUEST_AGENT (self));

  if (agent_set_limit (self, &self->max_copy_size, max_copy_size))
    g_object_notify_by_pspec (G_OBJECT (self), properties [PROP_MAX_COPY_SIZE]);
}

/**
 * q_guest_agent_close:
 * @self: a `QGuestAgent`
 *
 * Closes the channel: commands waiting fail with `G_IO_ERROR_CLOSED`, and
 * later ones fail at once. Dropping the last reference does the same.
 *
 * Since: 1.0
 */
void
q_guest_agent_close (QGuestAgent *self)
{
  g_return_if_fail (Q_IS_GUEST_AGENT (self));

  q_guest_agent_fail (self, NULL);
}

/* ------------------------------------------------------------------------ */
/* Commands                                                                 */

/**
 * q_guest_agent_execute_async:
 * @self: a `QGuestAgent`
 * @command: the agent command, such as `guest-get-time`
 * @arguments: (nullable): its arguments
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called with the reply
 * @user_data: closure data for @callback
 *
 * Runs any agent command. Commands run one at a time, in the order they
 * were started, each behind a resynchronisation when the channel may be
 * out of step. Cancelling completes the call at once with
 * `G_IO_ERROR_CANCELLED`; the next command resynchronises, so a late reply
 * cannot be taken for its own.
 *
 * Since: 1.0
 */
void
q_guest_agent_execute_async (QGuestAgent         *self,
                             const char          *command,
                             JsonObject          *arguments,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  q_return_async_if_fail (Q_IS_GUEST_AGENT (self), callback, user_data);
  q_return_async_if_fail (command != NULL, callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  core_execute_async (self->core, self, command, arguments, FALSE, NULL,
                      q_guest_agent_get_timeout (self), FALSE, FALSE,
                      q_guest_agent_execute_async, cancellable, callback, user_data);
}

/**
 * q_guest_agent_execute_finish:
 * @self: a `QGuestAgent`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.GuestAgent.execute_async].
 *
 * Returns: (transfer full): the command's `return` value (JSON null for a
 *   command that does not reply on success), or %NULL with a
 *   `Q_QMP_ERROR` when the agent refused the command, `G_IO_ERROR_TIMED_OUT`
 *   when it did not answer in time, or another error
 *
 * Since: 1.0
 */
JsonNode *
q_guest_agent_execute_finish (QGuestAgent   *self,
                              GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == q_guest_agent_execute_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * q_guest_agent_execute:
 * @self: a `QGuestAgent`
 * @command: the agent command
 * @arguments: (nullable): its arguments
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.GuestAgent.execute_async].
 *
 * Returns: (transfer full): the command's `return` value
 *
 * Since: 1.0
 */
JsonNode *
q_guest_agent_execute (QGuestAgent   *self,
                       const char    *command,
                       JsonObject    *arguments,
                       GCancellable  *cancellable,
                       GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), NULL);
  g_return_val_if_fail (command != NULL, NULL);
  g_return_val_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), NULL);

  q_sync_call_begin (&call);
  q_guest_agent_execute_async (self, command, arguments, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return NULL;

  return q_guest_agent_execute_finish (self, result, error);
}

/* ------------------------------------------------------------------------ */
/* Shared with the helpers' files (q-guest-agent-private.h)                 */

gboolean
q_guest_agent_check_result (QGuestAgent  *self,
                            GAsyncResult *result,
                            gpointer      source_tag)
{
  return g_task_is_valid (result, self) && g_task_get_source_tag (G_TASK (result)) == source_tag;
}

/* A resynchronisation now, whether or not the stream is in step; completes
 * as execute_async does (source tag q_guest_agent_execute_async). */
void
q_guest_agent_resync_async (QGuestAgent         *self,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  core_execute_async (self->core, self, "guest-sync-delimited", NULL, FALSE, NULL,
                      q_guest_agent_get_timeout (self), FALSE, TRUE,
                      q_guest_agent_execute_async, cancellable, callback, user_data);
}

/* A command nobody waits for. Its task has no source object: nothing it
 * leaves in a main context holds the agent. */
void
q_guest_agent_execute_detached (QGuestAgent *self,
                                const char  *command,
                                JsonObject  *arguments)
{
  core_execute_async (self->core, NULL, command, arguments, FALSE, NULL,
                      q_guest_agent_get_timeout (self), FALSE, FALSE,
                      q_guest_agent_execute_async, NULL, NULL, NULL);
}

/* ------------------------------------------------------------------------ */
/* Strict base64 (q-guest-agent-private.h)                                  */

/* The value of each base64 character, 64 for '=', 255 for any other. */
static const guint8 b64_values[256] = {
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,  62, 255, 255, 255,  63,
   52,  53,  54,  55,  56,  57,  58,  59,  60,  61, 255, 255, 255,  64, 255, 255,
  255,   0,   1,   2,   3,   4,   5,   6,   7,   8,   9,  10,  11,  12,  13,  14,
   15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25, 255, 255, 255, 255, 255,
  255,  26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,
   41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
};

static inline guint8
b64_value (guint8 c)
{
  return b64_values[c];
}

static gboolean
b64_fail (GError     **error,
          const char  *what,
          const char  *why,
          gsize        at)
{
  g_set_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
               "The guest agent sent %s that is not valid base64: %s (at byte %" G_GSIZE_FORMAT ")",
               what, why, at);
  return FALSE;
}

gboolean
q_guest_agent_base64_check (const char   *text,
                            gsize         len,
                            gsize        *decoded_len,
                            const char   *what,
                            GError      **error)
{
  const guint8 *p = (const guint8 *)text;
  gsize pad = 0;

  if (len % 4 != 0)
    return b64_fail (error, what, "its length is not a multiple of 4", len);

  /* All but the last quartet: alphabet only (one test for the lot). */
  if (len > 4)
    {
      guint8 any = 0;

      for (gsize i = 0; i < len - 4; i++)
        any |= b64_value (p[i]);
      if (any & 0xC0)
        for (gsize i = 0; i < len - 4; i++)
          if (b64_value (p[i]) > 63)
            return b64_fail (error, what, b64_value (p[i]) == 64 ? "padding before the end" :
                             "a character outside the base64 alphabet", i);
    }
  for (gsize i = len >= 4 ? len - 4 : 0; i < len; i++)
    {
      guint8 v = b64_value (p[i]);

      if (v == 0xFF)
        return b64_fail (error, what, "a character outside the base64 alphabet", i);
      if (v == 64)
        {
          /* '=' only as the last one or two characters. */
          if (i < len - 2 || (i == len - 2 && p[len - 1] != '='))
            return b64_fail (error, what, "padding before the end", i);
          pad++;
        }
    }

  if (pad > 0)
    {
      /* The bits after the last byte must be zero: anything else means
       * another encoder or other data. */
      guint8 last = b64_value (p[len - pad - 1]);

      if ((pad == 1 && (last & 0x03) != 0) || (pad == 2 && (last & 0x0F) != 0))
        return b64_fail (error, what, "bits set after the last byte", len - pad - 1);
    }

  *decoded_len = len / 4 * 3 - pad;
  return TRUE;
}

void
q_guest_agent_base64_decode (const char *text,
                             gsize       len,
                             guint8     *out)
{
  const guint8 *p = (const guint8 *)text;
  gsize i;

  if (len == 0)
    return;

  /* Whole quartets, then the last, which may be padded. */
  for (i = 0; i + 4 < len; i += 4)
    {
      guint32 v = ((guint32)b64_value (p[i]) << 18) | ((guint32)b64_value (p[i + 1]) << 12) |
                  ((guint32)b64_value (p[i + 2]) << 6) | b64_value (p[i + 3]);

      out[0] = v >> 16;
      out[1] = (v >> 8) & 0xFF;
      out[2] = v & 0xFF;
      out += 3;
    }

  {
    guint32 v = ((guint32)b64_value (p[i]) << 18) | ((guint32)b64_value (p[i + 1]) << 12);

    *out++ = v >> 16;
    if (p[i + 2] != '=')
      {
        v |= (guint32)b64_value (p[i + 2]) << 6;
        *out++ = (v >> 8) & 0xFF;
        if (p[i + 3] != '=')
          *out = (v | b64_value (p[i + 3])) & 0xFF;
      }
  }
}

GBytes *
q_guest_agent_get_base64 (JsonObject  *object,
                          const char  *name,
                          const char  *what,
                          GError     **error)
{
  JsonNode *node = json_object_get_member (object, name);
  const char *text;
  gsize len, size;
  guint8 *data;

  if (node == NULL)
    return g_bytes_new (NULL, 0);
  text = q_json_get_string (object, name);
  if (text == NULL)
    {
      g_set_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                   "The guest agent sent %s that is not a string", what);
      return NULL;
    }
  len = strlen (text);
  if (!q_guest_agent_base64_check (text, len, &size, what, error))
    return NULL;
  data = g_malloc (MAX (size, 1));
  q_guest_agent_base64_decode (text, len, data);
  return g_bytes_new_take (data, size);
}
