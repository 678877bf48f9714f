/* q-guest-agent-commands.c: QGuestAgent's one-command helpers (sync, ping, info,
 * shutdown, fsfreeze, fsthaw, network interfaces)
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

  q_guest_agent_execute_async (self, command, arguments, cancellable, simple_cb, task);
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

  q_return_async_if_fail (Q_IS_GUEST_AGENT (self), callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, q_guest_agent_sync_async);
  s = g_new0 (Simple, 1);
  s->kind = REPLY_BOOLEAN;
  s->command = g_strdup ("guest-sync-delimited");
  g_task_set_task_data (task, s, (GDestroyNotify)simple_free);

  q_guest_agent_resync_async (self, cancellable, simple_cb, task);
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
  g_return_val_if_fail (q_guest_agent_check_result (self, result, q_guest_agent_sync_async), FALSE);

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
  if (result == NULL)
    return FALSE;

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
  q_return_async_if_fail (Q_IS_GUEST_AGENT (self), callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

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
  g_return_val_if_fail (q_guest_agent_check_result (self, result, q_guest_agent_ping_async), FALSE);

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
  if (result == NULL)
    return FALSE;

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
  q_return_async_if_fail (Q_IS_GUEST_AGENT (self), callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

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
  g_return_val_if_fail (q_guest_agent_check_result (self, result, q_guest_agent_info_async), NULL);

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
  if (result == NULL)
    return NULL;

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

  q_return_async_if_fail (Q_IS_GUEST_AGENT (self), callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

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
  g_return_val_if_fail (q_guest_agent_check_result (self, result, q_guest_agent_shutdown_async), FALSE);

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
  if (result == NULL)
    return FALSE;

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
  q_return_async_if_fail (Q_IS_GUEST_AGENT (self), callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

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
  g_return_val_if_fail (q_guest_agent_check_result (self, result, q_guest_agent_fsfreeze_async), -1);

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
  if (result == NULL)
    return -1;

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
  q_return_async_if_fail (Q_IS_GUEST_AGENT (self), callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

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
  g_return_val_if_fail (q_guest_agent_check_result (self, result, q_guest_agent_fsthaw_async), -1);

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
  if (result == NULL)
    return -1;

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
  q_return_async_if_fail (Q_IS_GUEST_AGENT (self), callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

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
  g_return_val_if_fail (q_guest_agent_check_result (self, result, q_guest_agent_network_interfaces_async), NULL);

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
  if (result == NULL)
    return NULL;

  return q_guest_agent_network_interfaces_finish (self, result, error);
}
