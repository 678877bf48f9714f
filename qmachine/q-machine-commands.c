/* q-machine-commands.c: QMP commands on a running machine
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A command goes to the client of the current run, with the machine's
 * qmp-timeout as its deadline: the client enforces it (a timed-out command
 * fails at once and its late reply is dropped), so nothing here holds a
 * timer or a second cancellable.
 */

#include "config.h"

#include "q-error.h"
#include "q-machine-private.h"

/* Returns a new reference to the client of a running machine. */
static QQmpClient *
machine_dup_client (QMachine  *self,
                    int       *timeout_msec,
                    GError   **error)
{
  QQmpClient *ret = NULL;

  q_leaf_lock (&self->mutex);
  if (self->run == NULL || self->state == Q_MACHINE_STATE_LAUNCHING ||
      self->state == Q_MACHINE_STATE_NOT_LAUNCHED)
    g_set_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_NOT_LAUNCHED,
                 "The machine %s is not launched", self->name);
  else if (self->run->qmp == NULL)
    g_set_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_NO_CONNECTION,
                 "The machine %s has no QMP monitor", self->name);
  else
    ret = g_object_ref (self->run->qmp);
  *timeout_msec = self->qmp_timeout;
  q_leaf_unlock (&self->mutex);

  return ret;
}

static void
machine_command_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  const char *command = g_task_get_task_data (task);
  QMachine *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;
  gboolean raw = g_task_get_source_tag (task) == q_machine_qmp_async;
  gpointer ret;
  gboolean ok;

  if (raw)
    ret = q_qmp_client_execute_raw_finish (Q_QMP_CLIENT (object), result, &error);
  else
    ret = q_qmp_client_execute_finish (Q_QMP_CLIENT (object), result, &error);

  if (ret == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* A successful quit is remembered, so shutdown does not send another. */
  ok = !raw || json_object_has_member (ret, "return");
  if (ok && g_strcmp0 (command, "quit") == 0)
    {
      q_leaf_lock (&self->mutex);
      self->quit_issued = TRUE;
      q_leaf_unlock (&self->mutex);
    }

  /* Machine commands are in-band: their replies carry no id. */
  if (raw)
    g_task_return_pointer (task, ret, (GDestroyNotify)json_object_unref);
  else
    g_task_return_pointer (task, ret, (GDestroyNotify)json_node_unref);
}

static void
machine_command (QMachine            *self,
                 const char          *command,
                 JsonObject          *arguments,
                 GUnixFDList         *fds,
                 gpointer             source_tag,
                 GCancellable        *cancellable,
                 GAsyncReadyCallback  callback,
                 gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(QQmpClient) client = NULL;
  g_autoptr(GError) error = NULL;
  int timeout_msec;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);
  g_task_set_name (task, "[qmachine] qmp command");
  g_task_set_check_cancellable (task, FALSE);

  if (!(client = machine_dup_client (self, &timeout_msec, &error)))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  g_task_set_task_data (task, g_strdup (command), g_free);
  q_qmp_client_execute_full_async (client, command, arguments, Q_QMP_EXECUTE_FLAGS_NONE, fds,
                                   timeout_msec, source_tag == q_machine_qmp_async,
                                   cancellable, machine_command_cb, g_steal_pointer (&task));
}

/**
 * q_machine_qmp_async:
 * @self: a `QMachine`
 * @command: the QMP command
 * @arguments: (nullable): its arguments
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called with the response
 * @user_data: closure data for @callback
 *
 * Runs a QMP command and completes with the whole response: an error QEMU
 * returns is inside it (under `error`), not a `GError`. A `GError` means
 * the command could not be run: not launched (`Q_MACHINE_ERROR_NOT_LAUNCHED`),
 * no monitor (`Q_MACHINE_ERROR_NO_CONNECTION`), no reply within
 * [property@QMachine.Machine:qmp-timeout] (`G_IO_ERROR_TIMED_OUT`) or the
 * connection ended. A successful `quit` is remembered so that shutdown
 * does not send another.
 *
 * Since: 1.0
 */
void
q_machine_qmp_async (QMachine            *self,
                     const char          *command,
                     JsonObject          *arguments,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  q_return_async_if_fail (Q_IS_MACHINE (self), callback, user_data);
  q_return_async_if_fail (command != NULL, callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  machine_command (self, command, arguments, NULL, q_machine_qmp_async,
                   cancellable, callback, user_data);
}

/**
 * q_machine_qmp_finish:
 * @self: a `QMachine`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.Machine.qmp_async].
 *
 * Returns: (transfer full): the whole QMP response
 *
 * Since: 1.0
 */
JsonObject *
q_machine_qmp_finish (QMachine      *self,
                      GAsyncResult  *result,
                      GError       **error)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * q_machine_qmp:
 * @self: a `QMachine`
 * @command: the QMP command
 * @arguments: (nullable): its arguments
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.Machine.qmp_async].
 *
 * Returns: (transfer full): the whole QMP response
 *
 * Since: 1.0
 */
JsonObject *
q_machine_qmp (QMachine      *self,
               const char    *command,
               JsonObject    *arguments,
               GCancellable  *cancellable,
               GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);
  g_return_val_if_fail (command != NULL, NULL);

  q_sync_call_begin (&call);
  q_machine_qmp_async (self, command, arguments, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return NULL;

  return q_machine_qmp_finish (self, result, error);
}

/**
 * q_machine_cmd_async:
 * @self: a `QMachine`
 * @command: the QMP command
 * @arguments: (nullable): its arguments
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called with the result
 * @user_data: closure data for @callback
 *
 * Runs a QMP command and completes with its `return` value; an error QEMU
 * returns is a `Q_QMP_ERROR` whose code is the QMP class and whose message
 * is QEMU's description. Other errors are those of
 * [method@QMachine.Machine.qmp_async].
 *
 * Since: 1.0
 */
void
q_machine_cmd_async (QMachine            *self,
                     const char          *command,
                     JsonObject          *arguments,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  q_return_async_if_fail (Q_IS_MACHINE (self), callback, user_data);
  q_return_async_if_fail (command != NULL, callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  machine_command (self, command, arguments, NULL, q_machine_cmd_async,
                   cancellable, callback, user_data);
}

/**
 * q_machine_cmd_finish:
 * @self: a `QMachine`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.Machine.cmd_async].
 *
 * Returns: (transfer full): the command's `return` value
 *
 * Since: 1.0
 */
JsonNode *
q_machine_cmd_finish (QMachine      *self,
                      GAsyncResult  *result,
                      GError       **error)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * q_machine_cmd:
 * @self: a `QMachine`
 * @command: the QMP command
 * @arguments: (nullable): its arguments
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.Machine.cmd_async].
 *
 * Returns: (transfer full): the command's `return` value
 *
 * Since: 1.0
 */
JsonNode *
q_machine_cmd (QMachine      *self,
               const char    *command,
               JsonObject    *arguments,
               GCancellable  *cancellable,
               GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);
  g_return_val_if_fail (command != NULL, NULL);

  q_sync_call_begin (&call);
  q_machine_cmd_async (self, command, arguments, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return NULL;

  return q_machine_cmd_finish (self, result, error);
}

/**
 * q_machine_send_fd_async:
 * @self: a `QMachine`
 * @fdname: the name QEMU will know the descriptor by
 * @fd: a file descriptor (the caller keeps it; a duplicate is sent)
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when QEMU has taken it
 * @user_data: closure data for @callback
 *
 * Passes @fd to QEMU with `getfd`, over `SCM_RIGHTS` in the same message as
 * the command.
 *
 * Since: 1.0
 */
void
q_machine_send_fd_async (QMachine            *self,
                         const char          *fdname,
                         int                  fd,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_autoptr(GUnixFDList) fds = g_unix_fd_list_new ();
  g_autoptr(JsonObject) args = json_object_new ();
  g_autoptr(GError) error = NULL;

  q_return_async_if_fail (Q_IS_MACHINE (self), callback, user_data);
  q_return_async_if_fail (fdname != NULL, callback, user_data);
  q_return_async_if_fail (fd >= 0, callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  if (g_unix_fd_list_append (fds, fd, &error) < 0)
    {
      g_task_report_new_error (self, callback, user_data, q_machine_send_fd_async,
                               error->domain, error->code,
                               "Cannot send descriptor %d: %s", fd, error->message);
      return;
    }

  json_object_set_string_member (args, "fdname", fdname);
  machine_command (self, "getfd", args, fds, q_machine_send_fd_async,
                   cancellable, callback, user_data);
}

/**
 * q_machine_send_fd_finish:
 * @self: a `QMachine`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.Machine.send_fd_async].
 *
 * Returns: %TRUE when QEMU took the descriptor
 *
 * Since: 1.0
 */
gboolean
q_machine_send_fd_finish (QMachine      *self,
                          GAsyncResult  *result,
                          GError       **error)
{
  g_autoptr(JsonNode) ret = NULL;

  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  ret = g_task_propagate_pointer (G_TASK (result), error);
  return ret != NULL;
}

/**
 * q_machine_send_fd:
 * @self: a `QMachine`
 * @fdname: the name QEMU will know the descriptor by
 * @fd: a file descriptor
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.Machine.send_fd_async].
 *
 * Returns: %TRUE when QEMU took the descriptor
 *
 * Since: 1.0
 */
gboolean
q_machine_send_fd (QMachine      *self,
                   const char    *fdname,
                   int            fd,
                   GCancellable  *cancellable,
                   GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);
  g_return_val_if_fail (fdname != NULL, FALSE);

  q_sync_call_begin (&call);
  q_machine_send_fd_async (self, fdname, fd, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return FALSE;

  return q_machine_send_fd_finish (self, result, error);
}
