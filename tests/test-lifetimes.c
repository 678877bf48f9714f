/* test-lifetimes.c: one regression test per known lifetime defect, against
 * Debian's real qemu-system-x86_64
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each test names the defect it pins down. Several fail on the old code
 * only as a use-after-free, which the ASan pass of CI (and MALLOC_PERTURB_
 * in the plain pass, often) turns into a crash.
 */

#include "config.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "qmachine.h"
#include "q-worker-private.h"
#include "lifetime-test-util.h"
#include "machine-test-util.h"
#include "qmp-fake-peer.h"

static char *base_dir;

static QMachine *
new_machine (void)
{
  return test_new_machine_none (base_dir);
}

static void
pump (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static gboolean
base_dir_empty (gpointer data)
{
  GDir *dir = g_dir_open (base_dir, 0, NULL);
  gboolean empty;

  g_assert_nonnull (dir);
  empty = g_dir_read_name (dir) == NULL;
  g_dir_close (dir);
  return empty;
}

static void
assert_clean (void)
{
  g_assert_true (wait_until (NULL, base_dir_empty, NULL, 5000));
}

static gboolean
process_gone (gpointer data)
{
  return kill (GPOINTER_TO_INT (data), 0) == -1 && errno == ESRCH;
}

/* Defect 1: the launch connected the caller's cancellable with a borrowed
 * Run and disconnected it only on success: cancelling after a failed
 * launch touched freed memory. */
static void
test_cancel_after_failed_launch (void)
{
  for (guint mode = 0; mode < 3; mode++)
    {
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      g_autoptr(GError) error = NULL;
      g_autoptr(GAsyncResult) result = NULL;
      QMachine *m = new_machine ();

      switch (mode)
        {
        case 0:   /* QEMU refuses its arguments */
          q_machine_add_args (m, "-no-such-option", NULL);
          g_assert_false (q_machine_launch (m, cancellable, &error));
          g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_LAUNCH_FAILED);
          break;

        case 1:   /* a wrapper that never execs QEMU: QMP times out */
          {
            const char *wrapper[] = { "sh", "-c", "exec sleep 30", "sh", NULL };

            q_machine_set_wrapper (m, wrapper);
            q_machine_set_qmp_timeout (m, 300);
            g_assert_false (q_machine_launch (m, cancellable, &error));
            g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
          }
          break;

        case 2:   /* QEMU killed while launching */
          q_machine_launch_async (m, cancellable, test_store_result_cb, &result);
          g_assert_true (q_machine_kill (m, NULL, NULL));
          TEST_WAIT (NULL, result != NULL);
          g_assert_false (q_machine_launch_finish (m, result, &error));
          g_assert_nonnull (error);
          g_clear_object (&result);   /* the task holds the machine */
          break;

        default:
          g_assert_not_reached ();
        }

      g_assert_cmpint (q_machine_get_state (m), ==, Q_MACHINE_STATE_NOT_LAUNCHED);

      /* The launch is over: cancelling now must reach nothing. */
      g_cancellable_cancel (cancellable);
      test_worker_barrier (2);
      pump ();
      g_assert_cmpint (q_machine_get_state (m), ==, Q_MACHINE_STATE_NOT_LAUNCHED);

      wait_finalized (m);
      assert_clean ();
    }
}

/* Defect 2: when QEMU exited while something else held the monitor socket
 * open, the drain timer held a borrowed Run; disposing the machine before
 * it fired freed the Run under it. */
static void
test_dispose_while_draining (void)
{
  /* The wrapper's background child inherits QEMU's end of the monitor
   * and keeps it open after QEMU is gone. */
  const char *wrapper[] = { "sh", "-c", "sleep 4 & exec \"$@\"", "sh", NULL };
  g_autoptr(GError) error = NULL;
  QMachine *m = new_machine ();
  int finalized = 0;
  int pid;

  q_machine_set_wrapper (m, wrapper);
  g_assert_true (q_machine_launch (m, NULL, &error));
  g_assert_no_error (error);
  pid = q_machine_get_pid (m);

  /* QEMU dies; the machine waits (up to 2 s) for an EOF that the sleeper
   * holds back. Drop the machine during that wait. */
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  g_assert_true (wait_until (NULL, process_gone, GINT_TO_POINTER (pid), 5000));
  g_object_weak_ref (G_OBJECT (m), count_finalized_cb, &finalized);
  g_object_unref (m);

  /* The drain timer fires after the machine is gone, then the run ends
   * and removes its files. */
  g_assert_true (wait_until (NULL, int_is_set, &finalized, 5000));
  assert_clean ();
}

/* Defect 3: a QEMU that exits at once can be reaped by GSubprocess before
 * the launch reads its pid; g_subprocess_get_identifier() then returns
 * NULL. The test fault "delay-after-spawn" makes that certain. */
static void
test_reaped_before_pid_read (void)
{
  g_autoptr(GError) error = NULL;
  QMachine *m = q_machine_new ("/bin/false");
  int code = -1;

  g_assert_true (q_test_fault ("delay-after-spawn"));
  q_machine_set_base_temp_dir (m, base_dir);
  g_assert_false (q_machine_launch (m, NULL, &error));
  g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_LAUNCH_FAILED);
  g_assert_nonnull (strstr (error->message, "Exit code: 1"));
  g_assert_true (q_machine_get_exit_code (m, &code));
  g_assert_cmpint (code, ==, 1);
  g_assert_cmpint (q_machine_get_pid (m), ==, 0);

  wait_finalized (m);
  assert_clean ();
}

/* Defect 4: a blocking wrapper whose async call bailed out on a
 * precondition waited forever. Each returns at once, with a critical for
 * a programming error and a GError for a machine that does not run. */
static void
test_sync_preconditions (void)
{
  const char *no_names[] = { NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) launch_error = NULL;
  QMachine *m = new_machine ();

  for (guint round = 0; round < 2; round++)
    {
      /* Programming errors: a critical, and the call returns. */
      g_test_expect_message ("QMachine", G_LOG_LEVEL_CRITICAL, "*timeout_msec >= -1*");
      g_assert_null (q_machine_event_wait (m, "STOP", NULL, -5, NULL, &error));
      g_test_expect_message ("QMachine", G_LOG_LEVEL_CRITICAL, "*names*");
      g_assert_null (q_machine_events_wait (m, no_names, NULL, 100, NULL, &error));
      g_test_expect_message ("QMachine", G_LOG_LEVEL_CRITICAL, "*timeout_msec >= -1*");
      g_assert_false (q_machine_shutdown (m, 0, -7, NULL, &error));
      g_test_expect_message ("QMachine", G_LOG_LEVEL_CRITICAL, "*timeout_msec >= -1*");
      g_assert_false (q_machine_wait (m, -7, NULL, &error));
      g_test_expect_message ("QMachine", G_LOG_LEVEL_CRITICAL, "*command != NULL*");
      g_assert_null (q_machine_cmd (m, NULL, NULL, NULL, &error));
      g_test_expect_message ("QMachine", G_LOG_LEVEL_CRITICAL, "*command != NULL*");
      g_assert_null (q_machine_qmp (m, NULL, NULL, NULL, &error));
      g_test_expect_message ("QMachine", G_LOG_LEVEL_CRITICAL, "*fdname != NULL*");
      g_assert_false (q_machine_send_fd (m, NULL, 0, NULL, &error));
      g_test_assert_expected_messages ();
      g_assert_no_error (error);

      /* Not running (never launched, then shut down): clear errors at once. */
      g_assert_null (q_machine_event_wait (m, "STOP", NULL, -1, NULL, &error));
      g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_NOT_LAUNCHED);
      g_clear_error (&error);
      g_assert_null (q_machine_events_wait (m, (const char *[]) { "STOP", NULL }, NULL, -1, NULL, &error));
      g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_NOT_LAUNCHED);
      g_clear_error (&error);
      g_assert_null (q_machine_cmd (m, "query-status", NULL, NULL, &error));
      g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_NOT_LAUNCHED);
      g_clear_error (&error);
      g_assert_null (q_machine_qmp (m, "query-status", NULL, NULL, &error));
      g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_NOT_LAUNCHED);
      g_clear_error (&error);
      g_assert_false (q_machine_send_fd (m, "x", 0, NULL, &error));
      g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_NOT_LAUNCHED);
      g_clear_error (&error);
      g_assert_true (q_machine_shutdown (m, 0, 1000, NULL, &error));
      g_assert_no_error (error);
      g_assert_true (q_machine_wait (m, 1000, NULL, &error));
      g_assert_no_error (error);

      if (round == 0)
        {
          g_assert_true (q_machine_launch (m, NULL, &launch_error));
          g_assert_no_error (launch_error);
          g_assert_true (q_machine_shutdown (m, 0, 10000, NULL, &launch_error));
          g_assert_no_error (launch_error);
        }
    }

  wait_finalized (m);
  assert_clean ();
}

typedef struct
{
  int *count;
  int  want;
} Count;

static gboolean
count_reached (gpointer data)
{
  Count *c = data;
  return g_atomic_int_get (c->count) >= c->want;
}

static gboolean
count_reached_after_blocking_call (gpointer data)
{
  test_blocking_call ();
  return count_reached (data);
}

/* Defect 5: a program that only makes blocking calls never iterates its
 * main context; notifications queued there held every machine forever.
 * Run in a subprocess so that no other test iterates the context. */
static void
test_blocking_only_subprocess (void)
{
  const guint warmup = 5, cycles = 60;
  GMainContext *tick_context = g_main_context_new ();
  guint fds = 0, threads = 0;
  guint64 rss = 0;
  int finalized = 0;

  for (guint i = 0; i < warmup + cycles; i++)
    {
      g_autoptr(GError) error = NULL;
      QMachine *m = new_machine ();

      if (i == warmup)
        {
          Count w = { &finalized, (int)warmup };

          g_assert_true (wait_until (tick_context, count_reached_after_blocking_call, &w, 10000));
          fds = count_fds ();
          threads = count_threads ();
          rss = rss_kib ();
        }
      g_object_weak_ref (G_OBJECT (m), count_finalized_cb, &finalized);
      g_assert_true (q_machine_launch (m, NULL, &error));
      g_assert_no_error (error);
      cmd_ok (m, "stop");
      cmd_ok (m, "cont");
      g_assert_true (q_machine_shutdown (m, 0, 10000, NULL, &error));
      g_assert_no_error (error);
      g_object_unref (m);
    }

  /* Nothing iterates the default context. A last reference that the
   * worker happened to hold comes back to this thread, whose next
   * blocking call drops it: never on the worker. */
  {
    Count c = { &finalized, (int)(warmup + cycles) };
    wait_until (tick_context, count_reached_after_blocking_call, &c, 10000);
  }

  g_test_message ("finalized %d of %u machines; fds %u -> %u, threads %u -> %u, "
                  "RSS %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT " KiB",
                  g_atomic_int_get (&finalized), warmup + cycles, fds, count_fds (),
                  threads, count_threads (), rss, rss_kib ());
  g_assert_cmpint (g_atomic_int_get (&finalized), ==, (int)(warmup + cycles));
  g_assert_cmpuint (settled_fds (tick_context, fds), <=, fds);
  g_assert_cmpuint (count_threads (), <=, threads);
  assert_clean ();
  g_main_context_unref (tick_context);
}

static void
test_blocking_only (void)
{
  g_test_trap_subprocess ("/lifetimes/blocking-only/subprocess", 120 * G_USEC_PER_SEC,
                          G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

/* Defect 6: get_full_args freed the array it had returned before. */
static void
test_full_args_twice (void)
{
  QMachine *m = new_machine ();
  const char * const *first;
  const char * const *again;
  const char * const *changed;

  first = q_machine_get_full_args (m);
  again = q_machine_get_full_args (m);
  g_assert_true (first == again);
  q_machine_add_args (m, "-S", NULL);
  changed = q_machine_get_full_args (m);
  g_assert_true (g_strv_contains (changed, "-S"));
  /* What the first call returned is still there, unchanged. */
  g_assert_cmpstr (first[0], ==, test_qemu_binary ());
  g_assert_false (g_strv_contains (first, "-S"));
  {
    g_auto(GStrv) copy = q_machine_dup_full_args (m);
    g_assert_true (g_strv_equal ((const char * const *)copy, changed));
  }

  wait_finalized (m);
}

/* Defect 7: the client get_qmp_client returned (transfer none) was freed
 * when the run ended, while the caller still held it. */
static void
test_qmp_client_outlives_run (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;
  QMachine *m = new_machine ();
  QQmpClient *client;

  g_assert_true (q_machine_launch (m, NULL, &error));
  client = q_machine_get_qmp_client (m);
  g_assert_nonnull (client);
  g_assert_true (q_machine_shutdown (m, 0, 10000, NULL, &error));
  g_assert_no_error (error);
  pump ();

  /* Kept by the machine until the next launch: usable, and closed. */
  g_assert_true (G_IS_OBJECT (client));
  g_assert_true (q_qmp_client_is_closed (client));
  ret = q_qmp_client_execute (client, "query-status", NULL, 0, NULL, NULL, &error);
  g_assert_null (ret);
  g_assert_nonnull (error);
  g_assert_null (q_machine_get_qmp_client (m));

  wait_finalized (m);
  assert_clean ();
}

/* Defect 8: an event wait that was never finished pinned the machine (and
 * its QEMU) forever. */
static void
event_wait_abandoned_cb (GObject      *source,
                         GAsyncResult *result,
                         gpointer      data)
{
  g_autoptr(GError) error = NULL;

  /* The machine went while it waited: no source object, nothing to finish. */
  g_assert_null (source);
  g_assert_null (g_task_propagate_pointer (G_TASK (result), &error));
  g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_NOT_LAUNCHED);
  g_atomic_int_set ((int *)data, TRUE);
}

static void
test_abandoned_event_wait (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  QMachine *m = new_machine ();
  int finalized = 0;
  int called = 0;
  int pid;

  g_assert_true (q_machine_launch (m, NULL, &error));
  pid = q_machine_get_pid (m);
  /* Never finished, with a cancellable that outlives the machine. */
  q_machine_event_wait_async (m, "NEVER", NULL, -1, cancellable, event_wait_abandoned_cb, &called);

  g_object_weak_ref (G_OBJECT (m), count_finalized_cb, &finalized);
  g_object_unref (m);
  g_assert_true (wait_until (NULL, int_is_set, &finalized, 5000));
  g_assert_true (wait_until (NULL, int_is_set, &called, 5000));
  g_assert_true (wait_until (NULL, process_gone, GINT_TO_POINTER (pid), 5000));
  assert_clean ();

  /* Cancelling now reaches nothing. */
  g_cancellable_cancel (cancellable);
  test_worker_barrier (2);
  pump ();
}

/* Defect 9: types made from introspection, with no properties, crashed. */
static void
test_default_construction (void)
{
  g_autoptr(GError) error = NULL;
  QQmpClient *client = g_object_new (Q_TYPE_QMP_CLIENT, NULL);
  QConsole *console = g_object_new (Q_TYPE_CONSOLE, NULL);
  QMachine *machine = g_object_new (Q_TYPE_MACHINE, NULL);
  g_autoptr(JsonNode) ret = NULL;
  g_autoptr(GBytes) output = NULL;
  g_autofree char *line = NULL;

  g_assert_null (q_qmp_client_get_stream (client));
  g_assert_true (q_qmp_client_is_closed (client));
  g_assert_false (q_qmp_client_negotiate (client, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED);
  g_clear_error (&error);
  ret = q_qmp_client_execute (client, "query-status", NULL, 0, NULL, NULL, &error);
  g_assert_null (ret);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED);
  g_clear_error (&error);
  g_assert_true (q_qmp_client_close (client, NULL, &error));
  g_assert_no_error (error);

  g_assert_null (q_console_get_stream (console));
  g_assert_true (q_console_is_closed (console));
  line = q_console_read_line (console, 100, NULL, &error);
  g_assert_null (line);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_false (q_console_write_text (console, "x", NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&error);
  output = q_console_get_output (console);
  g_assert_cmpuint (g_bytes_get_size (output), ==, 0);

  g_assert_false (q_machine_launch (machine, NULL, &error));
  g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_LAUNCH_FAILED);
  g_clear_error (&error);

  wait_finalized (client);
  wait_finalized (console);
  wait_finalized (machine);
}

/* Defect 10: events the owner's context did not dispatch were kept
 * without bound. The event queue limit bounds them, and the dropped count
 * says how many were lost. */
static void
test_undelivered_events_bounded (void)
{
  const guint limit = 64, rounds = 500;
  g_autoptr(GError) error = NULL;
  QMachine *m = new_machine ();
  QQmpClient *client;
  guint all = 0;

  q_machine_set_event_queue_limit (m, limit);
  g_signal_connect_swapped (m, "event", G_CALLBACK (g_atomic_int_inc), &all);
  g_assert_true (q_machine_launch (m, NULL, &error));
  client = q_machine_get_qmp_client (m);
  g_assert_cmpuint (q_qmp_client_get_max_queued_events (client), ==, limit);

  g_test_expect_message ("QMachine", G_LOG_LEVEL_WARNING, "*event queue full*");
  for (guint i = 0; i < rounds; i++)
    {
      cmd_ok (m, "stop");
      cmd_ok (m, "cont");
    }
  cmd_ok (m, "query-status");

  /* 2 * rounds events; `limit` wait to be emitted, the rest were dropped. */
  g_assert_cmpuint (q_qmp_client_get_dropped_events (client), ==, 2 * rounds - limit);
  g_assert_cmpuint (q_machine_get_dropped_events (m), ==, 2 * (2 * rounds - limit));
  pump ();
  g_assert_cmpuint (all, ==, limit);
  /* Logged in the owner's context too, never on the worker. */
  g_test_assert_expected_messages ();

  g_assert_true (q_machine_shutdown (m, 0, 10000, NULL, &error));
  wait_finalized (m);
  assert_clean ();
}

int
main (int argc, char **argv)
{
  int ret;

  /* Makes the spawn/reap race of defect 3 certain (200 ms per launch). */
  g_setenv ("QMACHINE_TEST_FAULTS", "delay-after-spawn", TRUE);

  g_test_init (&argc, &argv, NULL);

  base_dir = g_dir_make_tmp ("qm-lifetimes-XXXXXX", NULL);
  g_assert_nonnull (base_dir);

  g_test_add_func ("/lifetimes/cancel-after-failed-launch", test_cancel_after_failed_launch);
  g_test_add_func ("/lifetimes/dispose-while-draining", test_dispose_while_draining);
  g_test_add_func ("/lifetimes/reaped-before-pid-read", test_reaped_before_pid_read);
  g_test_add_func ("/lifetimes/sync-preconditions", test_sync_preconditions);
  g_test_add_func ("/lifetimes/blocking-only", test_blocking_only);
  g_test_add_func ("/lifetimes/blocking-only/subprocess", test_blocking_only_subprocess);
  g_test_add_func ("/lifetimes/full-args-twice", test_full_args_twice);
  g_test_add_func ("/lifetimes/qmp-client-outlives-run", test_qmp_client_outlives_run);
  g_test_add_func ("/lifetimes/abandoned-event-wait", test_abandoned_event_wait);
  g_test_add_func ("/lifetimes/default-construction", test_default_construction);
  g_test_add_func ("/lifetimes/undelivered-events-bounded", test_undelivered_events_bounded);

  ret = g_test_run ();

  g_rmdir (base_dir);
  g_free (base_dir);
  return ret;
}
