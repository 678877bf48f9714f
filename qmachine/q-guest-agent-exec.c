/* q-guest-agent-exec.c: QGuestAgent's exec (guest-exec, then status polls)
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

#define EXEC_POLL_FIRST_MSEC 2
#define EXEC_POLL_MAX_MSEC 100

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

static void exec_poll (GTask *task);

static gboolean
exec_timer_cb (gpointer data)
{
  GTask *task = data;

  if (!g_task_return_error_if_cancelled (task))
    exec_poll (task);
  return G_SOURCE_REMOVE;
}

/* An integer member: FALSE when missing; an error (set in @error, TRUE
 * returned) when present but not an integer. */
static gboolean
exec_get_int (JsonObject  *status,
              const char  *name,
              gint64      *value,
              GError     **error)
{
  JsonNode *node = json_object_get_member (status, name);

  if (node == NULL)
    return FALSE;
  if (!q_json_get_int (status, name, value))
    g_set_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                 "its \"%s\" is not an integer", name);
  return TRUE;
}

/* The exit status as the agent reports it, never another value: an exit
 * code in the range of an int (qemu-ga on Linux sends WEXITSTATUS, 0-255;
 * on Windows, GetExitCodeProcess's value as a signed int, so NTSTATUS codes
 * are negative), or 128 plus a signal number from 1 to 127. Anything else
 * is an error. */
static gboolean
exec_read_status (Exec        *x,
                  JsonObject  *status,
                  GError     **error)
{
  GError *local = NULL;
  gint64 code;

  if (exec_get_int (status, "exitcode", &code, &local))
    {
      if (local == NULL && (code < G_MININT || code > G_MAXINT))
        g_set_error (&local, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                     "its exit code %" G_GINT64_FORMAT " is out of range", code);
      else if (local == NULL)
        x->exit_status = (int)code;
    }
  else if (exec_get_int (status, "signal", &code, &local))
    {
      if (local == NULL && (code < 1 || code > 127))
        g_set_error (&local, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                     "its signal number %" G_GINT64_FORMAT " is out of range", code);
      else if (local == NULL)
        x->exit_status = 128 + (int)code;
    }
  else
    g_set_error (&local, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                 "it has neither an exit code nor a signal");

  if (local != NULL)
    {
      g_propagate_prefixed_error (error, local,
                                  "The guest agent's status of %s (guest pid %" G_GINT64_FORMAT "): ",
                                  x->program, x->pid);
      return FALSE;
    }
  return TRUE;
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
  JsonNode *exited;
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

  exited = json_object_get_member (status, "exited");
  if (exited == NULL || !JSON_NODE_HOLDS_VALUE (exited) ||
      json_node_get_value_type (exited) != G_TYPE_BOOLEAN)
    {
      g_task_return_new_error (task, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                               "The guest agent's guest-exec-status reply for %s has no "
                               "\"exited\" boolean", x->program);
      return;
    }

  if (json_node_get_boolean (exited))
    {
      if (!exec_read_status (x, status, &error))
        {
          g_task_return_error (task, error);
          return;
        }
      x->out = q_guest_agent_get_base64 (status, "out-data", "output (out-data)", &error);
      if (x->out != NULL)
        x->err = q_guest_agent_get_base64 (status, "err-data", "error output (err-data)", &error);
      if (error != NULL)
        {
          g_prefix_error (&error, "%s: ", x->program);
          g_task_return_error (task, error);
          return;
        }
      if (q_json_get_boolean (status, "out-truncated") || q_json_get_boolean (status, "err-truncated"))
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
 * The exit status is the agent's, never a value made up for it: a status
 * reply without an exit code or a signal, with an exit code outside the
 * range of an `int` or a signal number outside 1–127, or with output that
 * is not valid base64 fails the call with `Q_MACHINE_ERROR_PROTOCOL`.
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

  q_return_async_if_fail (Q_IS_GUEST_AGENT (self), callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);
  q_return_async_if_fail (timeout_msec >= -1, callback, user_data);

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
 * @exit_status: (out) (optional): the program's exit code as the agent
 *   reports it (0–255 from a Linux guest; a Windows guest's can be any
 *   int, negative for NTSTATUS codes), or 128 plus the signal number when
 *   a signal ended it
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
  g_return_val_if_fail (q_guest_agent_check_result (self, result, q_guest_agent_exec_async), FALSE);

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
  if (result == NULL)
    return FALSE;

  return q_guest_agent_exec_finish (self, result, exit_status, stdout_data, stderr_data, error);
}
