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

#define TRANSFER_CHUNK (48 * 1024)
#define MAX_FILE_READ  (256u * 1024 * 1024)
#define EXEC_POLL_FIRST_MSEC 2
#define EXEC_POLL_MAX_MSEC 100

struct _QGuestAgent
{
  GObject    parent_instance;

  /* Set at construction, read-only afterwards. */
  Core      *core;
  QBox      *box;
  GIOStream *stream;

  int        timeout_msec;    /* atomic */
  gboolean   connected;       /* owner's context */
};

G_DEFINE_FINAL_TYPE (QGuestAgent, q_guest_agent, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_STREAM,
  PROP_CONNECTED,
  PROP_TIMEOUT,
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
  self->core = core_new (self->stream, context, self->box, agent_dispatch, TRUE);
}

static void
q_guest_agent_dispose (GObject *object)
{
  QGuestAgent *self = (QGuestAgent *)object;

  if (self->box != NULL)
    q_box_clear (self->box);
  if (self->core != NULL)
    core_dispose (self->core);

  G_OBJECT_CLASS (q_guest_agent_parent_class)->dispose (object);
}

static void
q_guest_agent_finalize (GObject *object)
{
  QGuestAgent *self = (QGuestAgent *)object;

  g_clear_pointer (&self->core, core_unref);
  g_clear_pointer (&self->box, q_box_unref);
  g_clear_object (&self->stream);

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

  g_return_if_fail (G_IS_SOCKET_ADDRESS (address));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

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

  g_mutex_lock (&self->core->mutex);
  ret = self->core->closed;
  g_mutex_unlock (&self->core->mutex);

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
  g_return_if_fail (Q_IS_GUEST_AGENT (self));
  g_return_if_fail (command != NULL);
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

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

  return q_guest_agent_execute_finish (self, result, error);
}

/* One command, its reply converted for a typed helper. */
typedef enum
{
  REPLY_BOOLEAN,      /* any reply: TRUE */
  REPLY_OBJECT,
  REPLY_ARRAY,
  REPLY_INT,
} ReplyKind;

typedef struct
{
  ReplyKind  kind;
  char      *command;
} Simple;

static void
simple_free (Simple *s)
{
  g_free (s->command);
  g_free (s);
}

static void
simple_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Simple *s = g_task_get_task_data (task);
  g_autoptr(JsonNode) node = NULL;
  GError *error = NULL;

  node = g_task_propagate_pointer (G_TASK (result), &error);
  if (node == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  switch (s->kind)
    {
    case REPLY_BOOLEAN:
      g_task_return_boolean (task, TRUE);
      return;

    case REPLY_OBJECT:
      if (JSON_NODE_HOLDS_OBJECT (node))
        {
          g_task_return_pointer (task, json_node_dup_object (node), (GDestroyNotify)json_object_unref);
          return;
        }
      break;

    case REPLY_ARRAY:
      if (JSON_NODE_HOLDS_ARRAY (node))
        {
          g_task_return_pointer (task, json_node_dup_array (node), (GDestroyNotify)json_array_unref);
          return;
        }
      break;

    case REPLY_INT:
      if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64)
        {
          g_task_return_int (task, (gssize)CLAMP (json_node_get_int (node), G_MININT, G_MAXINT));
          return;
        }
      break;

    default:
      g_assert_not_reached ();
    }

  g_task_return_new_error (task, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                           "The guest agent's reply to %s is not what the command returns",
                           s->command);
}

static void
simple_async (QGuestAgent         *self,
              const char          *command,
              JsonObject          *arguments,
              ReplyKind            kind,
              gpointer             source_tag,
              GCancellable        *cancellable,
              GAsyncReadyCallback  callback,
              gpointer             user_data)
{
  GTask *task;
  Simple *s;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);
  s = g_new0 (Simple, 1);
  s->kind = kind;
  s->command = g_strdup (command);
  g_task_set_task_data (task, s, (GDestroyNotify)simple_free);

  core_execute_async (self->core, self, command, arguments, FALSE, NULL,
                      q_guest_agent_get_timeout (self), FALSE, FALSE,
                      q_guest_agent_execute_async, cancellable, simple_cb, task);
}

static gboolean
check_result (QGuestAgent  *self,
              GAsyncResult *result,
              gpointer      source_tag)
{
  return g_task_is_valid (result, self) && g_task_get_source_tag (G_TASK (result)) == source_tag;
}

/**
 * q_guest_agent_sync_async:
 * @self: a `QGuestAgent`
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called once in step
 * @user_data: closure data for @callback
 *
 * Resynchronises with the agent now (`guest-sync-delimited` with a fresh
 * random id), within [property@QMachine.GuestAgent:timeout]. Commands do
 * this by themselves when needed; call it to find out whether the agent
 * is there.
 *
 * Since: 1.0
 */
void
q_guest_agent_sync_async (QGuestAgent         *self,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  GTask *task;
  Simple *s;

  g_return_if_fail (Q_IS_GUEST_AGENT (self));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, q_guest_agent_sync_async);
  s = g_new0 (Simple, 1);
  s->kind = REPLY_BOOLEAN;
  s->command = g_strdup ("guest-sync-delimited");
  g_task_set_task_data (task, s, (GDestroyNotify)simple_free);

  core_execute_async (self->core, self, "guest-sync-delimited", NULL, FALSE, NULL,
                      q_guest_agent_get_timeout (self), FALSE, TRUE,
                      q_guest_agent_execute_async, cancellable, simple_cb, task);
}

/**
 * q_guest_agent_sync_finish:
 * @self: a `QGuestAgent`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.GuestAgent.sync_async].
 *
 * Returns: %TRUE once in step with the agent
 *
 * Since: 1.0
 */
gboolean
q_guest_agent_sync_finish (QGuestAgent   *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), FALSE);
  g_return_val_if_fail (check_result (self, result, q_guest_agent_sync_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * q_guest_agent_sync:
 * @self: a `QGuestAgent`
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.GuestAgent.sync_async].
 *
 * Returns: %TRUE once in step with the agent
 *
 * Since: 1.0
 */
gboolean
q_guest_agent_sync (QGuestAgent   *self,
                    GCancellable  *cancellable,
                    GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), FALSE);
  g_return_val_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), FALSE);

  q_sync_call_begin (&call);
  q_guest_agent_sync_async (self, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);

  return q_guest_agent_sync_finish (self, result, error);
}

/**
 * q_guest_agent_ping_async:
 * @self: a `QGuestAgent`
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called with the answer
 * @user_data: closure data for @callback
 *
 * Runs `guest-ping`.
 *
 * Since: 1.0
 */
void
q_guest_agent_ping_async (QGuestAgent         *self,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_return_if_fail (Q_IS_GUEST_AGENT (self));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  simple_async (self, "guest-ping", NULL, REPLY_BOOLEAN, q_guest_agent_ping_async,
                cancellable, callback, user_data);
}

/**
 * q_guest_agent_ping_finish:
 * @self: a `QGuestAgent`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.GuestAgent.ping_async].
 *
 * Returns: %TRUE when the agent answered
 *
 * Since: 1.0
 */
gboolean
q_guest_agent_ping_finish (QGuestAgent   *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), FALSE);
  g_return_val_if_fail (check_result (self, result, q_guest_agent_ping_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * q_guest_agent_ping:
 * @self: a `QGuestAgent`
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.GuestAgent.ping_async].
 *
 * Returns: %TRUE when the agent answered
 *
 * Since: 1.0
 */
gboolean
q_guest_agent_ping (QGuestAgent   *self,
                    GCancellable  *cancellable,
                    GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), FALSE);
  g_return_val_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), FALSE);

  q_sync_call_begin (&call);
  q_guest_agent_ping_async (self, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);

  return q_guest_agent_ping_finish (self, result, error);
}

/**
 * q_guest_agent_info_async:
 * @self: a `QGuestAgent`
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called with the answer
 * @user_data: closure data for @callback
 *
 * Runs `guest-info`: the agent's version and its commands.
 *
 * Since: 1.0
 */
void
q_guest_agent_info_async (QGuestAgent         *self,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_return_if_fail (Q_IS_GUEST_AGENT (self));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  simple_async (self, "guest-info", NULL, REPLY_OBJECT, q_guest_agent_info_async,
                cancellable, callback, user_data);
}

/**
 * q_guest_agent_info_finish:
 * @self: a `QGuestAgent`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.GuestAgent.info_async].
 *
 * Returns: (transfer full): the object `guest-info` returns, with
 *   `version` and `supported_commands`
 *
 * Since: 1.0
 */
JsonObject *
q_guest_agent_info_finish (QGuestAgent   *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), NULL);
  g_return_val_if_fail (check_result (self, result, q_guest_agent_info_async), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * q_guest_agent_info:
 * @self: a `QGuestAgent`
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.GuestAgent.info_async].
 *
 * Returns: (transfer full): the object `guest-info` returns
 *
 * Since: 1.0
 */
JsonObject *
q_guest_agent_info (QGuestAgent   *self,
                    GCancellable  *cancellable,
                    GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), NULL);
  g_return_val_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), NULL);

  q_sync_call_begin (&call);
  q_guest_agent_info_async (self, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);

  return q_guest_agent_info_finish (self, result, error);
}

/**
 * q_guest_agent_shutdown_async:
 * @self: a `QGuestAgent`
 * @mode: (nullable): `powerdown` (the default), `halt` or `reboot`
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when the guest went down
 * @user_data: closure data for @callback
 *
 * Runs `guest-shutdown`. The agent does not reply when it succeeds: the
 * call completes when the machine reports the guest's shutdown or reset,
 * or the channel closes (QEMU exited); an error the agent reports fails
 * it.
 *
 * Since: 1.0
 */
void
q_guest_agent_shutdown_async (QGuestAgent         *self,
                              const char          *mode,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(JsonObject) args = NULL;

  g_return_if_fail (Q_IS_GUEST_AGENT (self));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  if (mode != NULL)
    {
      args = json_object_new ();
      json_object_set_string_member (args, "mode", mode);
    }
  simple_async (self, "guest-shutdown", args, REPLY_BOOLEAN, q_guest_agent_shutdown_async,
                cancellable, callback, user_data);
}

/**
 * q_guest_agent_shutdown_finish:
 * @self: a `QGuestAgent`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.GuestAgent.shutdown_async].
 *
 * Returns: %TRUE when the guest went down
 *
 * Since: 1.0
 */
gboolean
q_guest_agent_shutdown_finish (QGuestAgent   *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), FALSE);
  g_return_val_if_fail (check_result (self, result, q_guest_agent_shutdown_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * q_guest_agent_shutdown:
 * @self: a `QGuestAgent`
 * @mode: (nullable): `powerdown` (the default), `halt` or `reboot`
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.GuestAgent.shutdown_async].
 *
 * Returns: %TRUE when the guest went down
 *
 * Since: 1.0
 */
gboolean
q_guest_agent_shutdown (QGuestAgent   *self,
                        const char    *mode,
                        GCancellable  *cancellable,
                        GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), FALSE);
  g_return_val_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), FALSE);

  q_sync_call_begin (&call);
  q_guest_agent_shutdown_async (self, mode, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);

  return q_guest_agent_shutdown_finish (self, result, error);
}

/**
 * q_guest_agent_fsfreeze_async:
 * @self: a `QGuestAgent`
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called with the answer
 * @user_data: closure data for @callback
 *
 * Runs `guest-fsfreeze-freeze`: the guest's file systems stop taking
 * writes until [method@QMachine.GuestAgent.fsthaw_async] (or the agent's
 * own time limit).
 *
 * Since: 1.0
 */
void
q_guest_agent_fsfreeze_async (QGuestAgent         *self,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_return_if_fail (Q_IS_GUEST_AGENT (self));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  simple_async (self, "guest-fsfreeze-freeze", NULL, REPLY_INT, q_guest_agent_fsfreeze_async,
                cancellable, callback, user_data);
}

/**
 * q_guest_agent_fsfreeze_finish:
 * @self: a `QGuestAgent`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.GuestAgent.fsfreeze_async].
 *
 * Returns: how many file systems were frozen, or -1 with @error set
 *
 * Since: 1.0
 */
int
q_guest_agent_fsfreeze_finish (QGuestAgent   *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), -1);
  g_return_val_if_fail (check_result (self, result, q_guest_agent_fsfreeze_async), -1);

  return (int)g_task_propagate_int (G_TASK (result), error);
}

/**
 * q_guest_agent_fsfreeze:
 * @self: a `QGuestAgent`
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.GuestAgent.fsfreeze_async].
 *
 * Returns: how many file systems were frozen, or -1 with @error set
 *
 * Since: 1.0
 */
int
q_guest_agent_fsfreeze (QGuestAgent   *self,
                        GCancellable  *cancellable,
                        GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), -1);
  g_return_val_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), -1);

  q_sync_call_begin (&call);
  q_guest_agent_fsfreeze_async (self, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);

  return q_guest_agent_fsfreeze_finish (self, result, error);
}

/**
 * q_guest_agent_fsthaw_async:
 * @self: a `QGuestAgent`
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called with the answer
 * @user_data: closure data for @callback
 *
 * Runs `guest-fsfreeze-thaw`.
 *
 * Since: 1.0
 */
void
q_guest_agent_fsthaw_async (QGuestAgent         *self,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_return_if_fail (Q_IS_GUEST_AGENT (self));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  simple_async (self, "guest-fsfreeze-thaw", NULL, REPLY_INT, q_guest_agent_fsthaw_async,
                cancellable, callback, user_data);
}

/**
 * q_guest_agent_fsthaw_finish:
 * @self: a `QGuestAgent`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.GuestAgent.fsthaw_async].
 *
 * Returns: how many file systems were thawed, or -1 with @error set
 *
 * Since: 1.0
 */
int
q_guest_agent_fsthaw_finish (QGuestAgent   *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), -1);
  g_return_val_if_fail (check_result (self, result, q_guest_agent_fsthaw_async), -1);

  return (int)g_task_propagate_int (G_TASK (result), error);
}

/**
 * q_guest_agent_fsthaw:
 * @self: a `QGuestAgent`
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.GuestAgent.fsthaw_async].
 *
 * Returns: how many file systems were thawed, or -1 with @error set
 *
 * Since: 1.0
 */
int
q_guest_agent_fsthaw (QGuestAgent   *self,
                      GCancellable  *cancellable,
                      GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), -1);
  g_return_val_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), -1);

  q_sync_call_begin (&call);
  q_guest_agent_fsthaw_async (self, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);

  return q_guest_agent_fsthaw_finish (self, result, error);
}

/**
 * q_guest_agent_network_interfaces_async:
 * @self: a `QGuestAgent`
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called with the answer
 * @user_data: closure data for @callback
 *
 * Runs `guest-network-get-interfaces`.
 *
 * Since: 1.0
 */
void
q_guest_agent_network_interfaces_async (QGuestAgent         *self,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data)
{
  g_return_if_fail (Q_IS_GUEST_AGENT (self));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  simple_async (self, "guest-network-get-interfaces", NULL, REPLY_ARRAY,
                q_guest_agent_network_interfaces_async, cancellable, callback, user_data);
}

/**
 * q_guest_agent_network_interfaces_finish:
 * @self: a `QGuestAgent`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.GuestAgent.network_interfaces_async].
 *
 * Returns: (transfer full): the guest's interfaces, objects with `name`,
 *   `hardware-address` and `ip-addresses`
 *
 * Since: 1.0
 */
JsonArray *
q_guest_agent_network_interfaces_finish (QGuestAgent   *self,
                                         GAsyncResult  *result,
                                         GError       **error)
{
  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), NULL);
  g_return_val_if_fail (check_result (self, result, q_guest_agent_network_interfaces_async), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * q_guest_agent_network_interfaces:
 * @self: a `QGuestAgent`
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.GuestAgent.network_interfaces_async].
 *
 * Returns: (transfer full): the guest's interfaces
 *
 * Since: 1.0
 */
JsonArray *
q_guest_agent_network_interfaces (QGuestAgent   *self,
                                  GCancellable  *cancellable,
                                  GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), NULL);
  g_return_val_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), NULL);

  q_sync_call_begin (&call);
  q_guest_agent_network_interfaces_async (self, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);

  return q_guest_agent_network_interfaces_finish (self, result, error);
}

/* ------------------------------------------------------------------------ */
/* exec                                                                     */

typedef struct
{
  char    *program;
  gint64   pid;
  int      timeout_msec;
  gint64   deadline;       /* monotonic µs, 0 = none */
  guint    delay_msec;
  int      exit_status;
  GBytes  *out;
  GBytes  *err;
} Exec;

static void
exec_free (Exec *x)
{
  g_free (x->program);
  g_clear_pointer (&x->out, g_bytes_unref);
  g_clear_pointer (&x->err, g_bytes_unref);
  g_free (x);
}

/* Type-checked members of the guest's replies. */
static gboolean
json_get_boolean (JsonObject *object,
                  const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == G_TYPE_BOOLEAN && json_node_get_boolean (node);
}

static gboolean
json_get_int (JsonObject *object,
              const char *name,
              gint64     *value)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  *value = json_node_get_int (node);
  return TRUE;
}

static GBytes *
decode_member (JsonObject *object,
               const char *member)
{
  const char *text = q_json_get_string (object, member);
  guchar *data;
  gsize len;

  if (text == NULL)
    return g_bytes_new (NULL, 0);
  data = g_base64_decode (text, &len);
  return g_bytes_new_take (data, len);
}

static void exec_poll (GTask *task);

static gboolean
exec_timer_cb (gpointer data)
{
  GTask *task = data;

  if (!g_task_return_error_if_cancelled (task))
    exec_poll (task);
  return G_SOURCE_REMOVE;
}

static void
exec_status_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Exec *x = g_task_get_task_data (task);
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GSource) timer = NULL;
  JsonObject *status;
  GError *error = NULL;

  node = g_task_propagate_pointer (G_TASK (result), &error);
  if (node == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_task_return_new_error (task, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                               "The guest agent's guest-exec-status reply is not an object");
      return;
    }
  status = json_node_get_object (node);

  if (json_get_boolean (status, "exited"))
    {
      gint64 code;

      /* Whatever the guest says, a status in the range a process has. */
      if (json_get_int (status, "exitcode", &code))
        x->exit_status = (int)CLAMP (code, 0, 255);
      else if (json_get_int (status, "signal", &code))
        x->exit_status = 128 + (int)CLAMP (code, 0, 127);
      else
        x->exit_status = 255;
      x->out = decode_member (status, "out-data");
      x->err = decode_member (status, "err-data");
      if (json_get_boolean (status, "out-truncated") || json_get_boolean (status, "err-truncated"))
        g_debug ("Guest agent: the output of %s was cut short by the agent", x->program);
      g_task_return_boolean (task, TRUE);
      return;
    }

  if (x->deadline != 0 && g_get_monotonic_time () >= x->deadline)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                               "%s (guest pid %" G_GINT64_FORMAT ") did not exit within %d ms; "
                               "it goes on running in the guest",
                               x->program, x->pid, x->timeout_msec);
      return;
    }

  /* Polled with back-off: quick commands finish in a few milliseconds,
   * long ones cost a status request every 100 ms. */
  timer = g_timeout_source_new (x->delay_msec);
  x->delay_msec = MIN (x->delay_msec * 2, EXEC_POLL_MAX_MSEC);
  g_source_set_callback (timer, exec_timer_cb, g_object_ref (task), g_object_unref);
  g_source_set_static_name (timer, "[qmachine] guest exec poll");
  g_source_attach (timer, g_task_get_context (task));
}

static void
exec_poll (GTask *task)
{
  QGuestAgent *self = g_task_get_source_object (task);
  Exec *x = g_task_get_task_data (task);
  g_autoptr(JsonObject) args = json_object_new ();

  json_object_set_int_member (args, "pid", x->pid);
  q_guest_agent_execute_async (self, "guest-exec-status", args, g_task_get_cancellable (task),
                               exec_status_cb, g_object_ref (task));
}

static void
exec_started_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Exec *x = g_task_get_task_data (task);
  g_autoptr(JsonNode) node = NULL;
  GError *error = NULL;
  JsonNode *pid;

  node = g_task_propagate_pointer (G_TASK (result), &error);
  if (node == NULL)
    {
      g_prefix_error (&error, "Could not run %s in the guest: ", x->program);
      g_task_return_error (task, error);
      return;
    }
  pid = JSON_NODE_HOLDS_OBJECT (node) ? json_object_get_member (json_node_get_object (node), "pid") : NULL;
  if (pid == NULL || !JSON_NODE_HOLDS_VALUE (pid) || json_node_get_value_type (pid) != G_TYPE_INT64)
    {
      g_task_return_new_error (task, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                               "The guest agent's guest-exec reply has no pid");
      return;
    }
  x->pid = json_node_get_int (pid);
  exec_poll (task);
}

/**
 * q_guest_agent_exec_async:
 * @self: a `QGuestAgent`
 * @argv: (array zero-terminated=1): the program (looked up in the guest's
 *   `PATH` by the agent) and its arguments
 * @envp: (array zero-terminated=1) (nullable): the environment as
 *   `NAME=value` strings, or %NULL for the agent's
 * @input: (nullable): bytes for the program's standard input (which is
 *   then closed)
 * @timeout_msec: how long to wait for the program to exit, in
 *   milliseconds, or -1 for no limit
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when the program exited
 * @user_data: closure data for @callback
 *
 * Runs a program in the guest with `guest-exec`, capturing its output,
 * and polls `guest-exec-status` (after 2 ms, then twice as long each
 * time, at most every 100 ms) until it exits. The agent keeps at most
 * 16 MiB of each output stream.
 *
 * Past @timeout_msec the call fails with `G_IO_ERROR_TIMED_OUT`; the
 * program goes on running (the agent cannot stop it).
 *
 * Since: 1.0
 */
void
q_guest_agent_exec_async (QGuestAgent         *self,
                          const char * const  *argv,
                          const char * const  *envp,
                          GBytes              *input,
                          int                  timeout_msec,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(JsonObject) args = NULL;
  GTask *task;
  Exec *x;

  g_return_if_fail (Q_IS_GUEST_AGENT (self));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));
  g_return_if_fail (timeout_msec >= -1);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, q_guest_agent_exec_async);
  g_task_set_name (task, "[qmachine] guest exec");

  if (argv == NULL || argv[0] == NULL || argv[0][0] == '\0')
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "No program to run in the guest");
      g_object_unref (task);
      return;
    }

  x = g_new0 (Exec, 1);
  x->program = g_strdup (argv[0]);
  x->timeout_msec = timeout_msec;
  if (timeout_msec >= 0)
    x->deadline = g_get_monotonic_time () + (gint64)timeout_msec * 1000;
  x->delay_msec = EXEC_POLL_FIRST_MSEC;
  g_task_set_task_data (task, x, (GDestroyNotify)exec_free);

  args = json_object_new ();
  json_object_set_string_member (args, "path", argv[0]);
  if (argv[1] != NULL)
    {
      JsonArray *arg = json_array_new ();
      for (guint i = 1; argv[i]; i++)
        json_array_add_string_element (arg, argv[i]);
      json_object_set_array_member (args, "arg", arg);
    }
  if (envp != NULL)
    {
      JsonArray *env = json_array_new ();
      for (guint i = 0; envp[i]; i++)
        json_array_add_string_element (env, envp[i]);
      json_object_set_array_member (args, "env", env);
    }
  if (input != NULL)
    {
      gsize len;
      const guchar *data = g_bytes_get_data (input, &len);
      g_autofree char *b64 = g_base64_encode (data, len);
      json_object_set_string_member (args, "input-data", b64);
    }
  json_object_set_boolean_member (args, "capture-output", TRUE);

  q_guest_agent_execute_async (self, "guest-exec", args, cancellable, exec_started_cb, task);
}

/**
 * q_guest_agent_exec_finish:
 * @self: a `QGuestAgent`
 * @result: the `GAsyncResult`
 * @exit_status: (out) (optional): the program's exit code (0–255), or 128
 *   plus the signal number when a signal ended it
 * @stdout_data: (out) (optional) (transfer full): what it wrote to its
 *   standard output
 * @stderr_data: (out) (optional) (transfer full): what it wrote to its
 *   standard error
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.GuestAgent.exec_async]. A program that ran
 * and failed is a success here: look at @exit_status.
 *
 * Returns: %TRUE when the program ran and exited
 *
 * Since: 1.0
 */
gboolean
q_guest_agent_exec_finish (QGuestAgent   *self,
                           GAsyncResult  *result,
                           int           *exit_status,
                           GBytes       **stdout_data,
                           GBytes       **stderr_data,
                           GError       **error)
{
  Exec *x;

  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), FALSE);
  g_return_val_if_fail (check_result (self, result, q_guest_agent_exec_async), FALSE);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;

  x = g_task_get_task_data (G_TASK (result));
  if (exit_status != NULL)
    *exit_status = x->exit_status;
  if (stdout_data != NULL)
    *stdout_data = g_bytes_ref (x->out);
  if (stderr_data != NULL)
    *stderr_data = g_bytes_ref (x->err);
  return TRUE;
}

/**
 * q_guest_agent_exec:
 * @self: a `QGuestAgent`
 * @argv: (array zero-terminated=1): the program and its arguments
 * @envp: (array zero-terminated=1) (nullable): the environment, or %NULL
 * @input: (nullable): bytes for the program's standard input
 * @timeout_msec: how long to wait for the program, or -1
 * @exit_status: (out) (optional): the exit code, or 128 plus the signal
 * @stdout_data: (out) (optional) (transfer full): its standard output
 * @stderr_data: (out) (optional) (transfer full): its standard error
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.GuestAgent.exec_async].
 *
 * Returns: %TRUE when the program ran and exited
 *
 * Since: 1.0
 */
gboolean
q_guest_agent_exec (QGuestAgent         *self,
                    const char * const  *argv,
                    const char * const  *envp,
                    GBytes              *input,
                    int                  timeout_msec,
                    int                 *exit_status,
                    GBytes             **stdout_data,
                    GBytes             **stderr_data,
                    GCancellable        *cancellable,
                    GError             **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_GUEST_AGENT (self), FALSE);
  g_return_val_if_fail (timeout_msec >= -1, FALSE);
  g_return_val_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), FALSE);

  q_sync_call_begin (&call);
  q_guest_agent_exec_async (self, argv, envp, input, timeout_msec, cancellable,
                            q_sync_call_done, &call);
  result = q_sync_call_end (&call);

  return q_guest_agent_exec_finish (self, result, exit_status, stdout_data, stderr_data, error);
}

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
  core_execute_async (self->core, NULL, "guest-file-close", args, FALSE, NULL,
                      q_guest_agent_get_timeout (self), FALSE, FALSE,
                      q_guest_agent_execute_async, NULL, NULL, NULL);
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
  chunk = decode_member (reply, "buf-b64");
  t->at_end = json_get_boolean (reply, "eof");

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
  g_return_val_if_fail (check_result (self, result, q_guest_agent_file_read_async), NULL);

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
  g_return_val_if_fail (check_result (self, result, q_guest_agent_file_write_async), FALSE);

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
  g_return_val_if_fail (check_result (self, result, q_guest_agent_copy_to_guest_async), FALSE);

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
  g_return_val_if_fail (check_result (self, result, q_guest_agent_copy_from_guest_async), FALSE);

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
