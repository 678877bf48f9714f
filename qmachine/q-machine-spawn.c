/* q-machine-spawn.c: QEMU's process, started from the spawner thread
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The worker prepares a SpawnJob (machine_spawn) and the spawner thread
 * runs it: through qmachine-spawn-helper when there is one, so that GLib
 * takes its posix_spawn path, or by fork with a child setup otherwise
 * (docs/internals.md, "The spawn helper"). The job holds a reference to
 * the Run and to the machine, and goes back to the worker when done.
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <glib-unix.h>

#include "q-machine-private.h"
#include "q-util-private.h"

static void
child_setup (gpointer data)
{
  pid_t parent = GPOINTER_TO_INT (data);
  unsigned long action[8] = { 0, 0, 0, 0, 0, 0, 0, 0 };
  sigset_t none;

  /* QEMU must not outlive us. The signal follows the thread that forked,
   * which is qmachine's spawner: it lives as long as the process. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (getppid () != parent)
    _exit (127);

  /* GLib resets SIGPIPE, SIGCHLD, SIGINT, SIGTERM and SIGHUP; glibc's own
   * 32 and 33 stay ignored when an ancestor was spawned with glibc's
   * posix_spawn, and the C library refuses to touch them: an all-zero
   * kernel struct sigaction is SIG_DFL. As the spawn helper does. */
  syscall (SYS_rt_sigaction, 32, action, NULL, _NSIG / 8);
  syscall (SYS_rt_sigaction, 33, action, NULL, _NSIG / 8);
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
}

/* How long QEMU may take between spawn and its pid being read: a test
 * fault that makes the reaping race of a QEMU that exits at once certain. */
static void
maybe_delay_after_spawn (void)
{
  if (q_test_fault ("delay-after-spawn"))
    g_usleep (200 * 1000);
}

void
spawn_job_free (SpawnJob *job)
{
  run_unref (job->run);
  g_clear_object (&job->launcher);
  g_strfreev (job->argv);
  g_free (job->program);
  g_free (job->helper);
  q_close_fd (&job->report_fd);
  g_clear_object (&job->subprocess);
  g_clear_error (&job->error);
  g_free (job);
}

static GError *
spawn_exec_error (const char *program,
                  int         code)
{
  /* Worded as GLib words it, which launch_hint knows. */
  return g_error_new (G_IO_ERROR, g_io_error_from_errno (code),
                      "Failed to execute child process \u201c%s\u201d (%s)",
                      program, g_strerror (code));
}

/* Spawner thread, after the helper was spawned: its exec of QEMU either
 * closed the report pipe (success) or wrote the errno down it. A failed
 * exec is a failed spawn, and the helper (which exits at once) is reaped
 * here. */
static void
spawn_job_read_report (SpawnJob *job)
{
  struct pollfd pfd = { job->report_fd, POLLIN, 0 };
  int code = 0;
  gssize got = 0;
  int ready;

  /* A process that another thread forked without exec holds the pipe
   * open as long as it lives: past the timeout the exec is taken to have
   * worked, and a failure shows as QEMU's exit with status 127 and the
   * helper's line in the log. */
  do
    ready = poll (&pfd, 1, 5000);
  while (ready < 0 && errno == EINTR);
  if (ready > 0)
    do
      got = read (job->report_fd, &code, sizeof code);
    while (got < 0 && errno == EINTR);
  q_close_fd (&job->report_fd);
  if (got != (gssize)sizeof code)
    return;

  g_subprocess_wait (job->subprocess, NULL, NULL);
  g_clear_object (&job->subprocess);
  job->error = spawn_exec_error (job->program, code);
}

/* How QEMUs were spawned in this process, for the tests. */
static guint spawned_through_helper;
static guint spawned_by_fork;

void
machine_spawn_counts (guint *through_helper,
                      guint *by_fork)
{
  *through_helper = g_atomic_int_get (&spawned_through_helper);
  *by_fork = g_atomic_int_get (&spawned_by_fork);
}

/* Whether @n descriptors above @floor are free now: GLib's posix_spawn
 * path copies each mapped descriptor above the largest target first, and
 * in 2.74 a failed copy there is taken for a spawned child with pid 0, an
 * assertion that aborts the process. */
static gboolean
spawn_fds_free (int fd,
                int floor,
                int n)
{
  int held[Q_SPAWN_HELPER_MAX_KEEP + 2];
  int got = 0;

  g_return_val_if_fail (n <= (int)G_N_ELEMENTS (held), FALSE);
  while (got < n && (held[got] = fcntl (fd, F_DUPFD_CLOEXEC, floor)) >= 0)
    got++;
  for (int i = 0; i < got; i++)
    close (held[i]);
  return got == n;
}


/* Spawner thread: the spawn, nothing else. */
static gboolean
spawn_now (gpointer data)
{
  SpawnJob *job = data;

  /* Checked again here, just before: other threads use descriptors too. */
  if (job->error == NULL && job->helper != NULL &&
      !spawn_fds_free (job->report_fd, job->probe_floor, job->probe_count))
    {
      int errsv = errno;
      job->error = g_error_new (G_IO_ERROR, g_io_error_from_errno (errsv),
                                "Too few free file descriptors to start QEMU: %s",
                                g_strerror (errsv));
    }
  if (job->error == NULL)
    {
      job->subprocess = g_subprocess_launcher_spawnv (job->launcher,
                                                      (const char * const *)job->argv,
                                                      &job->error);
      if (job->subprocess == NULL && job->helper != NULL)
        {
          GError *error = g_steal_pointer (&job->error);

          job->error = g_error_new (error->domain, error->code,
                                    "The spawn helper %s could not be started: %s",
                                    job->helper, error->message);
          g_error_free (error);
        }
      /* Our copy of the report pipe's write end goes with the launcher,
       * before the read that waits for the helper's. */
      g_clear_object (&job->launcher);
      if (job->subprocess != NULL && job->report_fd >= 0)
        spawn_job_read_report (job);
      if (job->subprocess != NULL)
        {
          g_atomic_int_inc (job->helper ? &spawned_through_helper : &spawned_by_fork);
          g_debug ("QEMU (pid %s) spawned %s%s", g_subprocess_get_identifier (job->subprocess),
                   job->helper ? "through " : "by fork", job->helper ? job->helper : "");
        }
    }
  g_clear_object (&job->launcher);
  maybe_delay_after_spawn ();
  q_worker_schedule (job->done, job, (GDestroyNotify)spawn_job_free);
  return G_SOURCE_REMOVE;
}

/* Hands QEMU's descriptors to @launcher at their numbers; @keep gets the
 * list of them. */
static void
spawn_give_fds (Run                 *run,
                GSubprocessLauncher *launcher,
                GString             *keep)
{
#define SPAWN_GIVE(fd, target)                                             \
  G_STMT_START {                                                           \
    g_subprocess_launcher_take_fd (launcher, g_steal_fd (&(fd)), (target)); \
    g_string_append_printf (keep, "%s%d", keep->len ? "," : "", (target)); \
  } G_STMT_END
  if (run->monitor_theirs >= 0)
    SPAWN_GIVE (run->monitor_theirs, run->monitor_target);
  if (run->console_theirs >= 0)
    SPAWN_GIVE (run->console_theirs, run->console_target);
  if (run->agent_theirs >= 0)
    SPAWN_GIVE (run->agent_theirs, run->agent_target);
  if (run->qtest_theirs >= 0)
    SPAWN_GIVE (run->qtest_theirs, run->qtest_target);
  for (guint i = 0; i < run->extra_fds->len; i++)
    {
      ExtraFd *x = &g_array_index (run->extra_fds, ExtraFd, i);
      SPAWN_GIVE (x->fd, x->target);
    }
#undef SPAWN_GIVE
}

/* The numbers QEMU's descriptors get: how many, and the largest (2 when
 * there is none). */
static int
spawn_targets (Run *run,
               int *largest)
{
  int n = 0;

  *largest = 2;
#define SPAWN_TARGET(fd, target)            \
  G_STMT_START {                            \
    if ((fd) >= 0)                          \
      {                                     \
        n++;                                \
        *largest = MAX (*largest, (target)); \
      }                                     \
  } G_STMT_END
  SPAWN_TARGET (run->monitor_theirs, run->monitor_target);
  SPAWN_TARGET (run->console_theirs, run->console_target);
  SPAWN_TARGET (run->agent_theirs, run->agent_target);
  SPAWN_TARGET (run->qtest_theirs, run->qtest_target);
  for (guint i = 0; i < run->extra_fds->len; i++)
    SPAWN_TARGET (g_array_index (run->extra_fds, ExtraFd, i).fd,
                  g_array_index (run->extra_fds, ExtraFd, i).target);
#undef SPAWN_TARGET
  return n;
}

/* Through the helper: descriptors inherited (the helper closes all but
 * QEMU's) and no child setup (the helper sets the parent-death signal),
 * so GLib spawns with posix_spawn instead of fork. The helper execs the
 * program found here, on the controller's PATH as GSubprocess would.
 * FALSE, with nothing taken from @run, when the descriptors it needs are
 * not there: the fork path needs fewer. */
static gboolean
spawn_prepare_helper (Run        *run,
                      const char *helper,
                      SpawnJob   *job)
{
  g_autoptr(GString) keep = g_string_new (NULL);
  g_autoptr(GStrvBuilder) argv = g_strv_builder_new ();
  g_autofree char *path = NULL;
  g_autofree char *parent = g_strdup_printf ("%d", (int)getpid ());
  g_autofree char *report_number = NULL;
  int stdio[3] = { -1, -1, -1 };
  int report[2] = { -1, -1 };
  int largest, n_targets, report_target, null_fd;

  n_targets = spawn_targets (run, &largest);
  report_target = largest + 1;
  /* The helper keeps at most Q_SPAWN_HELPER_MAX_KEEP descriptors. */
  if (n_targets + 1 > Q_SPAWN_HELPER_MAX_KEEP)
    return FALSE;

  /* A program that is not on PATH, or not executable there: GLib's fork
   * path says why, in its words (Permission denied, or not found). */
  if (strchr (job->program, '/') != NULL)
    path = g_strdup (job->program);
  else
    path = g_find_program_in_path (job->program);
  if (path == NULL)
    return FALSE;

  /* On its posix_spawn path GLib 2.74 closes the child's copies of the
   * standard streams' sources after moving them to 0, 1 and 2: a source
   * that is also a target number (or 1, with STDERR_MERGE) is lost. So
   * each stream gets a descriptor of its own above every target. */
  null_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd >= 0)
    stdio[0] = fcntl (null_fd, F_DUPFD_CLOEXEC, report_target + 1);
  q_close_fd (&null_fd);
  stdio[1] = fcntl (run->log_fd, F_DUPFD_CLOEXEC, report_target + 1);
  stdio[2] = fcntl (run->log_fd, F_DUPFD_CLOEXEC, report_target + 1);
  if (stdio[0] < 0 || stdio[1] < 0 || stdio[2] < 0 ||
      !g_unix_open_pipe (report, FD_CLOEXEC, NULL) ||
      !spawn_fds_free (run->log_fd, report_target + 1, n_targets + 3))
    {
      g_debug ("Too few free descriptors to spawn through the helper: forking");
      for (guint i = 0; i < G_N_ELEMENTS (stdio); i++)
        q_close_fd (&stdio[i]);
      q_close_fd (&report[0]);
      q_close_fd (&report[1]);
      return FALSE;
    }

  job->launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_INHERIT_FDS);
  spawn_give_fds (run, job->launcher, keep);
  q_close_fd (&run->log_fd);
  g_subprocess_launcher_take_stdin_fd (job->launcher, stdio[0]);
  g_subprocess_launcher_take_stdout_fd (job->launcher, stdio[1]);
  g_subprocess_launcher_take_stderr_fd (job->launcher, stdio[2]);
  job->report_fd = report[0];
  g_subprocess_launcher_take_fd (job->launcher, report[1], report_target);

  report_number = g_strdup_printf ("%d", report_target);
  g_strv_builder_add_many (argv, helper, Q_SPAWN_HELPER_MAGIC, parent, report_number,
                           keep->str, path, NULL);
  g_strv_builder_addv (argv, (const char **)run->argv);
  job->argv = g_strv_builder_end (argv);
  job->helper = g_strdup (helper);
  /* GLib copies each mapped descriptor (the targets and the report pipe)
   * above the largest target; one more for good measure. */
  job->probe_floor = report_target + 1;
  job->probe_count = n_targets + 2;
  return TRUE;
}

/* Without the helper: GLib forks, closes what QEMU must not get, and
 * runs child_setup. */
static void
spawn_prepare_fork (Run      *run,
                    SpawnJob *job)
{
  g_autoptr(GString) keep = g_string_new (NULL);

  job->launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_take_stdout_fd (job->launcher, g_steal_fd (&run->log_fd));
  g_subprocess_launcher_set_child_setup (job->launcher, child_setup,
                                         GINT_TO_POINTER (getpid ()), NULL);
  spawn_give_fds (run, job->launcher, keep);
  job->argv = g_strdupv (run->argv);
}

/* Worker: hands @run's spawn to the spawner thread; @done runs on the
 * worker with the SpawnJob (freed after it). The job holds the run, not
 * the machine: a machine disposed meanwhile is found gone by @done. */
void
machine_spawn (Run         *run,
               GSourceFunc  done)
{
  const char *helper = q_spawn_helper_path ();
  SpawnJob *job = g_new0 (SpawnJob, 1);

  job->run = run_ref (run);
  job->done = done;
  job->program = g_strdup (run->argv[0]);
  job->report_fd = -1;
  /* Looked up once per process; it may have gone since (an upgrade). */
  if (helper == NULL || access (helper, X_OK) != 0 || !spawn_prepare_helper (run, helper, job))
    spawn_prepare_fork (run, job);
  if (run->environ != NULL && job->launcher != NULL)
    g_subprocess_launcher_set_environ (job->launcher, run->environ);

  q_spawner_schedule (spawn_now, job, NULL);
}
