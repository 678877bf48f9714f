/* q-machine-run.c: the Run record, the end of a QEMU process, shutdown
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A Run lives from launch to the end of cleanup. Everything here runs on
 * the worker thread unless it says otherwise; docs/internals.md has the
 * rule. A run ends on two facts, QEMU reaped and the QMP connection read
 * up to EOF, whichever comes last; then run_finish() cleans up and
 * completes every task that waited for it.
 */

#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "q-enum-types.h"
#include "q-error.h"
#include "q-fs-private.h"
#include "q-machine-private.h"
#include "q-util-private.h"

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */

void
q_close_fd (int *fd)
{
  if (*fd >= 0)
    {
      g_close (*fd, NULL);
      *fd = -1;
    }
}

/* ------------------------------------------------------------------------ */
/* A failed launch (worker thread)                                          */

static gboolean
launch_grace_cb (gpointer data)
{
  Run *run = data;

  g_clear_pointer (&run->launch_timeout, g_source_unref);
  run_kill_process (run, FALSE);
  return G_SOURCE_REMOVE;
}

/* Takes @error. The first failure decides; QEMU is reaped before the
 * launch task returns (run_finish returns it). */
void
run_launch_fail (Run    *run,
                 GError *error)
{
  if (run->launch_task == NULL || run->launch_error != NULL)
    {
      g_error_free (error);
      return;
    }
  run->launch_error = error;

  /* QEMU closing the monitor during launch usually means it is exiting
   * (bad arguments): give it a moment so its own exit status and
   * complaint are what the error reports, then kill it. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) && !run_has_exited (run))
    run_timeout (run, &run->launch_timeout, LAUNCH_GRACE_MSEC, launch_grace_cb);
  else
    run_kill_process (run, FALSE);
  run_finish_maybe (run);
}

/* ------------------------------------------------------------------------ */
/* The record                                                               */

Run *
run_new (QMachine *self)
{
  Run *run = g_new0 (Run, 1);

  g_atomic_ref_count_init (&run->ref_count);
  run->box = q_box_ref (self->box);
  run->owner_context = g_main_context_ref (self->owner_context);
  run->log_fd = run->log_read_fd = run->monitor_theirs = run->console_ours = run->console_theirs = -1;
  run->agent_theirs = run->agent_target = -1;
  run->qtest_theirs = run->qtest_target = -1;
  run->console_log_fd = -1;
  run->monitor_target = run->console_target = -1;
  run->qmp_enabled = self->qmp_enabled;
  run->qmp_timeout = self->qmp_timeout;
  run->extra_fds = g_array_new (FALSE, TRUE, sizeof (ExtraFd));
  run->state = RUN_PREPARED;

  return run;
}

Run *
run_ref (Run *run)
{
  g_atomic_ref_count_inc (&run->ref_count);
  return run;
}

gboolean
run_has_exited (Run *run)
{
  return run->state >= RUN_EXITED;
}

/* Runs whose files exist, for the exit handler below (under live_lock,
 * which is taken alone). */
static GMutex live_lock;
static GList *live_runs;

/* When the program exits with machines still running (no shutdown, or
 * objects never finalized, as at interpreter exit), QEMU dies with it
 * (parent-death signal) but its files would stay: remove them. */
static void
remove_live_run_files (void)
{
  q_leaf_lock (&live_lock);
  for (GList *l = live_runs; l; l = l->next)
    {
      Run *run = l->data;

      if (run->unix_path != NULL)
        q_fs_remove_socket (run->unix_path);
      q_fs_remove_tree (run->temp_dir);
    }
  q_leaf_unlock (&live_lock);
}

void
run_track (Run      *run,
           gboolean  live)
{
  static gsize registered;

  if (g_once_init_enter (&registered))
    {
      atexit (remove_live_run_files);
      g_once_init_leave (&registered, 1);
    }

  q_leaf_lock (&live_lock);
  if (live)
    live_runs = g_list_prepend (live_runs, run);
  else
    live_runs = g_list_remove (live_runs, run);
  q_leaf_unlock (&live_lock);
}

/* Removes files and closes sockets. Idempotent; the caller serialises
 * (the worker, or the last reference). */
static void
run_cleanup_files (Run *run)
{
  if (run->cleaned)
    return;
  run->cleaned = TRUE;
  run_track (run, FALSE);

  q_close_fd (&run->log_fd);
  q_close_fd (&run->log_read_fd);
  q_close_fd (&run->monitor_theirs);
  q_close_fd (&run->console_ours);
  q_close_fd (&run->console_theirs);
  q_close_fd (&run->console_log_fd);
  q_close_fd (&run->agent_theirs);
  q_close_fd (&run->qtest_theirs);
  if (run->console != NULL)
    q_console_close (run->console);
  if (run->agent != NULL)
    {
      g_autoptr(GError) gone = g_error_new (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                            "QEMU is gone");
      q_guest_agent_fail (run->agent, gone);
    }
  if (run->qtest != NULL)
    {
      g_autoptr(GError) gone = g_error_new (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                            "QEMU is gone");
      q_qtest_client_fail (run->qtest, gone);
    }
  if (run->listener != NULL)
    g_socket_close (run->listener, NULL);
  g_clear_object (&run->listener);
  if (run->monitor_ours != NULL)
    g_socket_close (run->monitor_ours, NULL);
  for (guint i = 0; run->extra_fds && i < run->extra_fds->len; i++)
    q_close_fd (&g_array_index (run->extra_fds, ExtraFd, i).fd);
  if (run->unix_path != NULL)
    q_fs_remove_socket (run->unix_path);
  q_fs_remove_tree (run->temp_dir);
}

void
run_unref (Run *run)
{
  if (!g_atomic_ref_count_dec (&run->ref_count))
    return;

  /* Every source and handler holds a reference: none can be left. */
  g_assert (run->launch_task == NULL);
  g_assert (run->launch_cancel_id == 0);
  g_assert (run->drain_timeout == NULL && run->shutdown_timeout == NULL &&
            run->launch_timeout == NULL);

  run_cleanup_files (run);
  g_clear_pointer (&run->box, q_box_unref);
  g_clear_pointer (&run->owner_context, g_main_context_unref);
  g_strfreev (run->argv);
  g_strfreev (run->environ);
  g_free (run->command_line);
  g_free (run->log_path);
  g_clear_object (&run->monitor_ours);
  g_clear_pointer (&run->extra_fds, g_array_unref);
  g_free (run->unix_path);
  g_free (run->temp_dir);
  g_clear_object (&run->subprocess);
  /* The client's hooks held a reference: they are gone by now. */
  g_clear_object (&run->qmp);
  g_clear_object (&run->console);
  g_clear_object (&run->agent);
  g_clear_object (&run->qtest);
  g_clear_error (&run->launch_error);
  g_clear_object (&run->launch_cancellable);
  g_clear_pointer (&run->finish_tasks, g_ptr_array_unref);
  g_clear_error (&run->shutdown_error);
  g_free (run);
}

/* Arms a worker timeout on @run: the source holds a reference to the
 * run, released when it is destroyed (run_finish destroys them all). */
void
run_timeout (Run          *run,
             GSource     **slot,
             int           timeout_msec,
             GSourceFunc   func)
{
  q_destroy_source (slot);
  *slot = q_worker_timeout_source (timeout_msec, func, run_ref (run), (GDestroyNotify)run_unref);
  if (*slot == NULL)
    run_unref (run);    /* no timeout: no source took the reference */
}

/* Disconnects the launch from the caller's cancellable. Worker thread,
 * never from inside that cancellable's handler. */
void
run_disconnect_launch_cancel (Run *run)
{
  if (run->launch_cancel_id != 0)
    {
      g_cancellable_disconnect (run->launch_user_cancellable, run->launch_cancel_id);
      run->launch_cancel_id = 0;
    }
  g_clear_object (&run->launch_user_cancellable);
}

/* ------------------------------------------------------------------------ */
/* The end of a run                                                         */

/* QEMU's output, kept up to this many bytes (its end) in memory. */
#define MAX_LOG_KEPT (4 * 1024 * 1024)

static char *
read_log (int fd)
{
  g_autoptr(GString) contents = NULL;
  struct stat st;
  goffset offset = 0;

  if (fd < 0 || fstat (fd, &st) != 0)
    return NULL;

  contents = g_string_sized_new (MIN (st.st_size, MAX_LOG_KEPT) + 1);
  if (st.st_size > MAX_LOG_KEPT)
    {
      offset = st.st_size - MAX_LOG_KEPT;
      g_string_append_printf (contents, "[qmachine: the first %" G_GOFFSET_FORMAT " bytes of "
                              "QEMU's output are not kept]\n", offset);
    }

  for (;;)
    {
      char buf[16384];
      gssize n = pread (fd, buf, sizeof buf, offset);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      g_string_append_len (contents, buf, n);
      offset += n;
      if (contents->len > MAX_LOG_KEPT + 128)
        break;   /* still growing: something else writes to it */
    }

  /* QEMU's output is text in the locale's encoding; keep it valid UTF-8. */
  if (!g_utf8_validate (contents->str, contents->len, NULL))
    return g_utf8_make_valid (contents->str, contents->len);

  return g_string_free (g_steal_pointer (&contents), FALSE);
}

/* The last non-empty line of QEMU's output, or NULL. */
static char *
last_line (const char *output)
{
  g_auto(GStrv) lines = NULL;

  if (output == NULL)
    return NULL;
  lines = g_strsplit (output, "\n", -1);
  for (int i = (int)g_strv_length (lines) - 1; i >= 0; i--)
    {
      g_strstrip (lines[i]);
      if (*lines[i] != '\0')
        return g_strdup (lines[i]);
    }
  return NULL;
}

/* Debian's package for a qemu-system-ARCH binary. */
static const char *
debian_package_for (const char *binary)
{
  g_autofree char *base = g_path_get_basename (binary);

  if (!g_str_has_prefix (base, "qemu-system-"))
    return NULL;
  {
    const char *arch = base + strlen ("qemu-system-");

    if (g_str_equal (arch, "x86_64") || g_str_equal (arch, "i386"))
      return "qemu-system-x86";
    if (g_str_has_prefix (arch, "aarch64") || g_str_has_prefix (arch, "arm"))
      return "qemu-system-arm";
    if (g_str_has_prefix (arch, "ppc"))
      return "qemu-system-ppc";
    if (g_str_has_prefix (arch, "mips"))
      return "qemu-system-mips";
    if (g_str_has_prefix (arch, "sparc"))
      return "qemu-system-sparc";
    return "qemu-system-misc";
  }
}

/* What to do about a launch failure, when there is something to say. */
static const char *
launch_hint (Run        *run,
             const char *output)
{
  static char hint[256];

  if (run->subprocess == NULL && run->launch_error != NULL &&
      g_error_matches (run->launch_error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_LAUNCH_FAILED) &&
      strstr (run->launch_error->message, "No such file") != NULL &&
      strstr (run->launch_error->message, "spawn helper") == NULL)
    {
      const char *binary = run->argv[0];
      const char *package = debian_package_for (binary);

      if (package != NULL)
        {
          g_snprintf (hint, sizeof hint,
                      "%s is not installed; on Debian: apt-get install %s", binary, package);
          return hint;
        }
      return "check the binary's name and that it is on PATH";
    }
  if (output != NULL && (strstr (output, "/dev/kvm") != NULL ||
                         strstr (output, "failed to initialize kvm") != NULL ||
                         strstr (output, "failed to initialize KVM") != NULL))
    return "KVM is not usable by this user: add the user to the kvm group "
           "(and log in again), or pass -accel tcg";
  return NULL;
}

static GError *
launch_failure_error (Run        *run,
                      const char *output)
{
  const GError *cause = run->launch_error;
  g_autoptr(GString) msg = g_string_new (NULL);
  GQuark domain = Q_MACHINE_ERROR;
  int code = Q_MACHINE_ERROR_LAUNCH_FAILED;
  gboolean ran = run->subprocess != NULL;

  if (cause != NULL && cause->domain == G_IO_ERROR &&
      (cause->code == G_IO_ERROR_TIMED_OUT || cause->code == G_IO_ERROR_CANCELLED))
    {
      domain = cause->domain;
      code = cause->code;
    }

  if (domain == Q_MACHINE_ERROR && ran && !(run->sent & RUN_SENT_KILL))
    {
      /* QEMU went away by itself: its own complaint, not the EOF it
       * caused, is the news, so it comes first. */
      g_autofree char *last = last_line (output);

      if (last != NULL)
        g_string_append_printf (msg, "QEMU failed to launch: %s", last);
      else
        g_string_append (msg, "QEMU failed to launch: QEMU exited before QMP was ready");
    }
  else
    g_string_append_printf (msg, "QEMU failed to launch: %s",
                            cause ? cause->message : "unknown reason");
  if (ran)
    {
      if (run->exit_code < 0)
        g_string_append_printf (msg, "\n\tExit code: %d (killed by signal %d)",
                                run->exit_code, -run->exit_code);
      else
        g_string_append_printf (msg, "\n\tExit code: %d", run->exit_code);
    }
  g_string_append_printf (msg, "\n\tCommand: %s", run->command_line);
  /* The line only when QEMU printed something. */
  if (output != NULL && *output != '\0')
    g_string_append_printf (msg, "\n\tOutput: %s", output);
  {
    const char *hint = launch_hint (run, output);

    if (hint != NULL)
      g_string_append_printf (msg, "\n\tHint: %s", hint);
  }

  return g_error_new_literal (domain, code, msg->str);
}

void
run_finish (Run *run)
{
  /* Callers may hold only the reference that the machine drops below. */
  g_autoptr(Run) hold = run_ref (run);
  g_autoptr(QMachine) self = q_box_dup (run->box);
  g_autoptr(GPtrArray) tasks = g_steal_pointer (&run->finish_tasks);
  g_autoptr(GTask) launch_task = g_steal_pointer (&run->launch_task);
  g_autofree char *output = NULL;
  gboolean state_changed = FALSE;
  gboolean paused_changed = FALSE;
  gboolean ran = run->subprocess != NULL;

  g_assert (run->state != RUN_FINISHED);
  run->state = RUN_FINISHED;

  q_destroy_source (&run->drain_timeout);
  q_destroy_source (&run->shutdown_timeout);
  q_destroy_source (&run->launch_timeout);
  run_disconnect_launch_cancel (run);
  if (run->launch_cancellable != NULL)
    g_cancellable_cancel (run->launch_cancellable);

  if (run->qmp != NULL)
    q_qmp_client_set_hooks (run->qmp, NULL, NULL, NULL, NULL);

  output = read_log (run->log_read_fd);
  run_cleanup_files (run);

  if (self != NULL)
    {
      Run *current = NULL;

      q_leaf_lock (&self->mutex);
      if (self->run == run)
        current = g_steal_pointer (&self->run);
      g_free (self->iolog);
      self->iolog = g_strdup (output);
      /* No exit status when no process ever ran (spawn failed or the
       * launch was cancelled first). */
      self->have_exit_code = ran;
      self->exit_code = run->exit_code;
      self->pid = 0;
      self->quit_issued = FALSE;
      paused_changed = self->paused;
      self->paused = FALSE;
      if (self->temp_dir != NULL && run->temp_dir == NULL)
        q_fs_remove_tree (self->temp_dir);
      g_clear_pointer (&self->temp_dir, g_free);
      state_changed = machine_set_state_locked (self, Q_MACHINE_STATE_NOT_LAUNCHED);
      q_leaf_unlock (&self->mutex);

      if (current != NULL)
        run_unref (current);   /* the machine's reference; ours is `hold` */

      machine_fail_waiters (self, "QEMU exited");

      /* Warn about a signal nobody here sent. */
      if (run->exit_code < 0 &&
          !(run->exit_code == -SIGKILL && (run->sent & (RUN_KILLED_BY_USER | RUN_SENT_KILL))) &&
          !(run->exit_code == -SIGTERM && (run->sent & RUN_SENT_TERM)))
        q_log_later (run->owner_context, G_LOG_LEVEL_MESSAGE,
                     "QEMU received signal %d; command: %s", -run->exit_code, run->command_line);

      if (state_changed)
        machine_notify_later (self, PROP_STATE);
      if (paused_changed)
        machine_notify_later (self, PROP_PAUSED);
      machine_notify_later (self, PROP_PID);
      machine_notify_later (self, PROP_RUNNING);
      if (ran)
        {
          machine_notify_later (self, PROP_EXIT_STATUS);
          machine_exited_later (self, run->exit_code);
        }
    }

  if (launch_task != NULL)
    g_task_return_error (launch_task, launch_failure_error (run, output));

  for (guint i = 0; tasks && i < tasks->len; i++)
    {
      GTask *task = g_ptr_array_index (tasks, i);

      if (run->shutdown_error != NULL)
        g_task_return_error (task, g_error_copy (run->shutdown_error));
      else
        g_task_return_boolean (task, TRUE);
    }
}

void
run_finish_maybe (Run *run)
{
  if (run->state != RUN_EXITED)
    return;
  if (run->qmp != NULL && !run->qmp_closed)
    return;
  run_finish (run);
}

static gboolean
drain_timeout_cb (gpointer data)
{
  Run *run = data;
  g_autoptr(GError) error = NULL;

  g_clear_pointer (&run->drain_timeout, g_source_unref);

  /* Something else keeps the monitor socket open: stop waiting for EOF. */
  error = g_error_new (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                       "QEMU exited (exit code %d)", run->exit_code);
  if (run->qmp != NULL)
    q_qmp_client_fail (run->qmp, error);
  run->qmp_closed = TRUE;
  run_finish_maybe (run);

  return G_SOURCE_REMOVE;
}

/* The QMP client's closed hook: the client holds a reference to the run
 * for as long as the hook is set (see q_qmp_client_set_hooks). */
void
run_qmp_closed_hook (const GError *error,
                     gpointer      user_data)
{
  Run *run = user_data;
  g_autoptr(Run) hold = run_ref (run);

  run->qmp_closed = TRUE;
  if (run->launch_task != NULL && run->launch_error == NULL)
    run_launch_fail (run, error ? g_error_copy (error)
                                : g_error_new (G_IO_ERROR, G_IO_ERROR_CLOSED, "QMP closed"));
  run_finish_maybe (run);
}

void
run_child_exited_cb (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(Run) run = user_data;
  GSubprocess *subprocess = G_SUBPROCESS (object);

  g_subprocess_wait_finish (subprocess, result, NULL);

  run->state = RUN_EXITED;
  if (g_subprocess_get_if_signaled (subprocess))
    run->exit_code = -g_subprocess_get_term_sig (subprocess);
  else
    run->exit_code = g_subprocess_get_exit_status (subprocess);

  g_debug ("QEMU (pid %d) exited with code %d", run->pid, run->exit_code);

  if (run->launch_task != NULL && run->launch_error == NULL)
    run->launch_error = g_error_new (Q_MACHINE_ERROR, Q_MACHINE_ERROR_LAUNCH_FAILED,
                                     "QEMU exited before it was ready");
  if (run->launch_cancellable != NULL)
    g_cancellable_cancel (run->launch_cancellable);

  /* The monitor socket holds QEMU's last words (a `quit` reply, the
   * SHUTDOWN event): let the client read them up to EOF, which is already
   * there since the kernel closed QEMU's end, then finish. */
  if (run->qmp != NULL && !run->qmp_closed)
    {
      if (run->launch_task != NULL)
        {
          /* A launch that failed has nothing left to read: close now
           * (a child of the wrapper may hold the socket open). */
          g_autoptr(GError) error = g_error_new (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                                 "QEMU exited during launch");
          q_qmp_client_fail (run->qmp, error);
        }
      else
        run_timeout (run, &run->drain_timeout, DRAIN_TIMEOUT_MSEC, drain_timeout_cb);
    }

  run_finish_maybe (run);
}

void
run_kill_process (Run      *run,
                  gboolean  user)
{
  if (user)
    run->sent |= RUN_KILLED_BY_USER;
  if (run_has_exited (run) || run->subprocess == NULL || (run->sent & RUN_SENT_KILL))
    return;
  run->sent |= RUN_SENT_KILL;
  g_subprocess_force_exit (run->subprocess);
}

/* ------------------------------------------------------------------------ */
/* Shutdown, kill, wait                                                     */

typedef struct
{
  Run                   *run;
  GTask                 *task;
  QMachineShutdownFlags  flags;
  int                    timeout;
  gboolean               quit_issued;
} ShutdownOp;

static void
shutdown_op_free (ShutdownOp *op)
{
  run_unref (op->run);
  g_clear_object (&op->task);
  g_free (op);
}

static void
shutdown_abnormal (Run    *run,
                   GError *cause)
{
  if (run->shutdown_error == NULL)
    run->shutdown_error = g_error_new (Q_MACHINE_ERROR, Q_MACHINE_ERROR_ABNORMAL_SHUTDOWN,
                                       "Could not shut QEMU down gracefully (%s); it was killed",
                                       cause->message);
  g_error_free (cause);
  run_kill_process (run, FALSE);
}

static gboolean
shutdown_timeout_cb (gpointer data)
{
  Run *run = data;

  g_clear_pointer (&run->shutdown_timeout, g_source_unref);
  shutdown_abnormal (run, g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                       "QEMU did not exit in time"));
  return G_SOURCE_REMOVE;
}

static void
quit_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(Run) run = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;

  ret = q_qmp_client_execute_finish (Q_QMP_CLIENT (object), result, &error);
  if (ret != NULL || run->state == RUN_FINISHED)
    return;

  /* EOF before the reply: QEMU quit faster than it answered. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED) ||
      (run_has_exited (run) && error->domain == G_IO_ERROR))
    return;

  shutdown_abnormal (run, g_error_new (error->domain, error->code,
                                       "quit failed: %s", error->message));
}

static gboolean
shutdown_start (gpointer data)
{
  ShutdownOp *op = data;
  Run *run = op->run;

  if (run->state == RUN_FINISHED)
    {
      if (run->shutdown_error != NULL)
        g_task_return_error (op->task, g_error_copy (run->shutdown_error));
      else
        g_task_return_boolean (op->task, TRUE);
      return G_SOURCE_REMOVE;
    }

  if (run->finish_tasks == NULL)
    run->finish_tasks = g_ptr_array_new_with_free_func (g_object_unref);
  g_ptr_array_add (run->finish_tasks, g_steal_pointer (&op->task));

  /* An unread console must never keep QEMU from exiting: close it first,
   * unless it is drained (always read), in which case it keeps reading
   * to the end so the guest's last words are kept. */
  if (run->console != NULL && !run->console_drained)
    q_console_close (run->console);

  if (op->flags & Q_MACHINE_SHUTDOWN_FLAGS_HARD)
    {
      if (run->launch_task != NULL && run->launch_error == NULL)
        run->launch_error = g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                         "The machine was killed while launching");
      /* Not spawned yet: the spawn sees launch_error and finishes. */
      run_kill_process (run, TRUE);
      return G_SOURCE_REMOVE;
    }

  if (op->timeout >= 0 && run->shutdown_timeout == NULL)
    run_timeout (run, &run->shutdown_timeout, op->timeout, shutdown_timeout_cb);

  if (run_has_exited (run) || op->quit_issued)
    return G_SOURCE_REMOVE;

  if (run->qmp != NULL && !run->qmp_closed)
    {
      if (!(run->sent & RUN_SENT_QUIT))
        {
          run->sent |= RUN_SENT_QUIT;
          q_qmp_client_execute_async (run->qmp, "quit", NULL, Q_QMP_EXECUTE_FLAGS_NONE, NULL,
                                      NULL, quit_cb, run_ref (run));
        }
    }
  else if (!(run->sent & RUN_SENT_TERM) && run->subprocess != NULL)
    {
      run->sent |= RUN_SENT_TERM;
      g_subprocess_send_signal (run->subprocess, SIGTERM);
    }

  return G_SOURCE_REMOVE;
}

static void
shutdown_common (QMachine              *self,
                 QMachineShutdownFlags  flags,
                 int                    timeout_msec,
                 gboolean               is_wait,
                 gpointer               source_tag,
                 GCancellable          *cancellable,
                 GAsyncReadyCallback    callback,
                 gpointer               user_data)
{
  g_autoptr(GTask) task = NULL;
  ShutdownOp *op;
  gboolean changed = FALSE;
  gboolean quit_issued;
  Run *run = NULL;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);
  g_task_set_name (task, is_wait ? "[qmachine] wait" : "[qmachine] shutdown");
  /* Once started, a shutdown runs to the end: it cleans up. */
  g_task_set_check_cancellable (task, FALSE);

  q_leaf_lock (&self->mutex);
  if (self->run != NULL)
    {
      if (self->state == Q_MACHINE_STATE_LAUNCHING && !(flags & Q_MACHINE_SHUTDOWN_FLAGS_HARD))
        {
          q_leaf_unlock (&self->mutex);
          g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PENDING,
                                   "The machine %s is still launching; cancel the launch "
                                   "or kill it", self->name);
          return;
        }
      run = run_ref (self->run);
      if (is_wait)
        self->quit_issued = TRUE;
      if (self->state == Q_MACHINE_STATE_RUNNING)
        changed = machine_set_state_locked (self, Q_MACHINE_STATE_SHUTTING_DOWN);
    }
  quit_issued = self->quit_issued;
  q_leaf_unlock (&self->mutex);

  if (run == NULL)
    {
      /* Not launched, or already cleaned up after QEMU exited. */
      g_task_return_boolean (task, TRUE);
      return;
    }

  if (changed)
    machine_notify_later (self, PROP_STATE);

  op = g_new0 (ShutdownOp, 1);
  op->run = run;
  op->task = g_steal_pointer (&task);
  op->flags = flags;
  op->timeout = timeout_msec;
  op->quit_issued = quit_issued;
  q_worker_schedule (shutdown_start, op, (GDestroyNotify)shutdown_op_free);
}

/**
 * q_machine_shutdown_async:
 * @self: a `QMachine`
 * @flags: %Q_MACHINE_SHUTDOWN_FLAGS_HARD to kill at once
 * @timeout_msec: how long to wait for QEMU to exit, or -1 for ever
 * @cancellable: (nullable): a `GCancellable` (a started shutdown is not
 *   undone; it is accepted for symmetry)
 * @callback: (scope async): called once QEMU is gone and cleaned up after
 * @user_data: closure data for @callback
 *
 * Ends QEMU and cleans up. Gracefully: closes the console unless it is
 * drained (a drained console is read to the end instead), sends `quit` over
 * QMP (SIGTERM without QMP; nothing if `quit` was already sent), and waits
 * up to @timeout_msec. An EOF before the `quit` reply counts as success. On
 * any failure QEMU is killed and the call fails with
 * `Q_MACHINE_ERROR_ABNORMAL_SHUTDOWN` naming the cause. With
 * %Q_MACHINE_SHUTDOWN_FLAGS_HARD, QEMU is killed at once, without a warning.
 *
 * Whatever happens, the machine is back in %Q_MACHINE_STATE_NOT_LAUNCHED
 * when the callback runs: QMP and sockets closed, temporary files removed,
 * the process reaped, its log read. Shutting down a machine that is not
 * launched succeeds at once.
 *
 * Since: 1.0
 */
void
q_machine_shutdown_async (QMachine              *self,
                          QMachineShutdownFlags  flags,
                          int                    timeout_msec,
                          GCancellable          *cancellable,
                          GAsyncReadyCallback    callback,
                          gpointer               user_data)
{
  q_return_async_if_fail (Q_IS_MACHINE (self), callback, user_data);
  q_return_async_if_fail (timeout_msec >= -1, callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  shutdown_common (self, flags, timeout_msec, FALSE, q_machine_shutdown_async,
                   cancellable, callback, user_data);
}

/**
 * q_machine_shutdown_finish:
 * @self: a `QMachine`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.Machine.shutdown_async].
 *
 * Returns: %TRUE on a graceful (or hard, when asked) shutdown
 *
 * Since: 1.0
 */
gboolean
q_machine_shutdown_finish (QMachine      *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * q_machine_shutdown:
 * @self: a `QMachine`
 * @flags: %Q_MACHINE_SHUTDOWN_FLAGS_HARD to kill at once
 * @timeout_msec: how long to wait for QEMU to exit, or -1 for ever
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.Machine.shutdown_async].
 *
 * Returns: %TRUE on a graceful (or hard, when asked) shutdown
 *
 * Since: 1.0
 */
gboolean
q_machine_shutdown (QMachine               *self,
                    QMachineShutdownFlags   flags,
                    int                     timeout_msec,
                    GCancellable           *cancellable,
                    GError                **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);
  g_return_val_if_fail (timeout_msec >= -1, FALSE);

  q_sync_call_begin (&call);
  q_machine_shutdown_async (self, flags, timeout_msec, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return FALSE;

  return q_machine_shutdown_finish (self, result, error);
}

/**
 * q_machine_kill_async:
 * @self: a `QMachine`
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called once QEMU is gone and cleaned up after
 * @user_data: closure data for @callback
 *
 * A hard shutdown: [method@QMachine.Machine.shutdown_async] with
 * %Q_MACHINE_SHUTDOWN_FLAGS_HARD. It also aborts a launch in progress.
 *
 * Since: 1.0
 */
void
q_machine_kill_async (QMachine            *self,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  q_return_async_if_fail (Q_IS_MACHINE (self), callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  shutdown_common (self, Q_MACHINE_SHUTDOWN_FLAGS_HARD, -1, FALSE, q_machine_kill_async,
                   cancellable, callback, user_data);
}

/**
 * q_machine_kill_finish:
 * @self: a `QMachine`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.Machine.kill_async].
 *
 * Returns: %TRUE once QEMU is gone
 *
 * Since: 1.0
 */
gboolean
q_machine_kill_finish (QMachine      *self,
                       GAsyncResult  *result,
                       GError       **error)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * q_machine_kill:
 * @self: a `QMachine`
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.Machine.kill_async].
 *
 * Returns: %TRUE once QEMU is gone
 *
 * Since: 1.0
 */
gboolean
q_machine_kill (QMachine      *self,
                GCancellable  *cancellable,
                GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);

  q_sync_call_begin (&call);
  q_machine_kill_async (self, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return FALSE;

  return q_machine_kill_finish (self, result, error);
}

/**
 * q_machine_wait_async:
 * @self: a `QMachine`
 * @timeout_msec: how long to wait, or -1 for ever
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called once QEMU is gone and cleaned up after
 * @user_data: closure data for @callback
 *
 * Waits for QEMU to exit by itself (the guest powered off, or `quit` was
 * sent earlier) without asking it to, then cleans up. If it does not exit
 * within @timeout_msec it is killed and the call fails with
 * `Q_MACHINE_ERROR_ABNORMAL_SHUTDOWN`.
 *
 * Since: 1.0
 */
void
q_machine_wait_async (QMachine            *self,
                      int                  timeout_msec,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  q_return_async_if_fail (Q_IS_MACHINE (self), callback, user_data);
  q_return_async_if_fail (timeout_msec >= -1, callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  shutdown_common (self, Q_MACHINE_SHUTDOWN_FLAGS_NONE, timeout_msec, TRUE, q_machine_wait_async,
                   cancellable, callback, user_data);
}

/**
 * q_machine_wait_finish:
 * @self: a `QMachine`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.Machine.wait_async].
 *
 * Returns: %TRUE when QEMU exited in time
 *
 * Since: 1.0
 */
gboolean
q_machine_wait_finish (QMachine      *self,
                       GAsyncResult  *result,
                       GError       **error)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * q_machine_wait:
 * @self: a `QMachine`
 * @timeout_msec: how long to wait, or -1 for ever
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.Machine.wait_async].
 *
 * Returns: %TRUE when QEMU exited in time
 *
 * Since: 1.0
 */
gboolean
q_machine_wait (QMachine      *self,
                int            timeout_msec,
                GCancellable  *cancellable,
                GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);
  g_return_val_if_fail (timeout_msec >= -1, FALSE);

  q_sync_call_begin (&call);
  q_machine_wait_async (self, timeout_msec, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return FALSE;

  return q_machine_wait_finish (self, result, error);
}

/* Worker: the machine was disposed with this run current. Its reference
 * came with the request. */
gboolean
run_abandon (gpointer data)
{
  Run *run = data;

  if (run->state == RUN_FINISHED)
    return G_SOURCE_REMOVE;

  if (run->launch_task != NULL && run->launch_error == NULL)
    run->launch_error = g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, "The machine was disposed");
  run_kill_process (run, TRUE);
  if (run->qmp != NULL)
    q_qmp_client_fail (run->qmp, NULL);
  return G_SOURCE_REMOVE;
}
