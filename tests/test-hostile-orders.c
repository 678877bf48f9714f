/* test-hostile-orders.c: API orders that broke the lifetime rule, run in
 * bounded loops (CI runs this suite under ASan, LSan and UBSan too)
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * QMACHINE_HOSTILE_LOOPS sets how many times each order runs (default 20).
 */

#include "config.h"

#include <signal.h>
#include <sys/types.h>

#include <glib/gstdio.h>

#include "qmachine.h"
#include "lifetime-test-util.h"
#include "machine-test-util.h"
#include "qmp-fake-peer.h"

static char *base_dir;

static guint
loops (void)
{
  const char *env = g_getenv ("QMACHINE_HOSTILE_LOOPS");
  guint64 n = env ? g_ascii_strtoull (env, NULL, 10) : 0;

  return n > 0 ? (guint)MIN (n, 10000) : 20;
}

static QMachine *
new_machine (void)
{
  return test_new_machine_none (base_dir);
}

/* ------------------------------------------------------------------------ */
/* A relaunch dropped the last run's console, agent and QMP client under
 * the machine's mutex: a weak notify that asked the machine anything then
 * hung the process (5 to 9 runs in 14). */

static void
asks_machine_cb (gpointer  data,
                 GObject  *gone)
{
  QMachine *m = data;

  (void)q_machine_get_pid (m);
  (void)q_machine_get_state (m);
  (void)q_machine_is_running (m);
}

static void
test_relaunch_weak_notify_subprocess (void)
{
  const char *accel = g_getenv ("QMACHINE_TEST_ACCEL");
  g_autoptr(QMachine) m = new_machine ();

  /* A PC with no guest (the firmware alone): an ISA bus for the agent. */
  q_machine_set_machine (m, "pc");
  q_machine_add_args (m, "-accel", accel ? accel : "tcg", "-S", NULL);
  q_machine_set_console (m, NULL, 0);
  q_machine_add_guest_agent (m, Q_GUEST_AGENT_PORT_ISA_SERIAL);
  for (guint i = 0; i < loops (); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_true (q_machine_launch (m, NULL, &error));
      g_assert_no_error (error);
      g_object_weak_ref (G_OBJECT (q_machine_get_console (m)), asks_machine_cb, m);
      g_object_weak_ref (G_OBJECT (q_machine_get_guest_agent (m)), asks_machine_cb, m);
      g_object_weak_ref (G_OBJECT (q_machine_get_qmp_client (m)), asks_machine_cb, m);
      cmd_ok (m, "query-status");
      g_assert_true (q_machine_shutdown (m, 0, 10000, NULL, &error));
      g_assert_no_error (error);
    }
}

static void
test_relaunch_weak_notify (void)
{
  g_test_trap_subprocess ("/hostile-orders/relaunch-weak-notify/subprocess",
                          60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  if (g_test_trap_reached_timeout ())
    g_error ("a relaunch hung (a weak notify found the machine's lock held)");
  g_test_trap_assert_passed ();
}

/* ------------------------------------------------------------------------ */
/* A thread blocked in q_machine_event_wait() while another disposed the
 * machine got NULL with no error, and a critical. */

typedef struct
{
  QMachine   *machine;
  GMutex      lock;
  GCond       cond;
  gboolean    started;
  JsonObject *event;
  GError     *error;
} BlockedWait;

static gpointer
blocked_wait_thread (gpointer data)
{
  BlockedWait *w = data;

  g_mutex_lock (&w->lock);
  w->started = TRUE;
  g_cond_signal (&w->cond);
  g_mutex_unlock (&w->lock);
  w->event = q_machine_event_wait (w->machine, "NEVER", NULL, 20000, NULL, &w->error);
  return NULL;
}

static void
test_wait_disposed (void)
{
  for (guint i = 0; i < loops (); i++)
    {
      g_autoptr(GError) error = NULL;
      BlockedWait w = { 0 };
      GThread *thread;
      gint64 start;

      w.machine = new_machine ();
      g_assert_true (q_machine_launch (w.machine, NULL, &error));
      g_assert_no_error (error);
      g_mutex_init (&w.lock);
      g_cond_init (&w.cond);
      thread = g_thread_new ("waiter", blocked_wait_thread, &w);
      g_mutex_lock (&w.lock);
      while (!w.started)
        g_cond_wait (&w.cond, &w.lock);
      g_mutex_unlock (&w.lock);

      /* Whether the wait is registered yet or not, it ends with an error,
       * long before its timeout. */
      start = g_get_monotonic_time ();
      g_object_run_dispose (G_OBJECT (w.machine));
      g_thread_join (thread);
      g_assert_cmpint (g_get_monotonic_time () - start, <, 10 * G_USEC_PER_SEC);
      g_assert_null (w.event);
      g_assert_error (w.error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_NOT_LAUNCHED);
      g_test_message ("%s", w.error->message);

      g_clear_error (&w.error);
      wait_finalized (w.machine);
      g_mutex_clear (&w.lock);
      g_cond_clear (&w.cond);
    }
}

/* ------------------------------------------------------------------------ */
/* Launch, ::exited with a destroy notify, QEMU killed from outside, the
 * application's last reference dropped at once: in 1 to 11 % of the
 * iterations the machine was finalized on qmachine-worker, so the weak
 * notify and the destroy notify ran there. */

typedef struct
{
  GThread *main_thread;
  int      finalized;
  int      destroyed;
  int      wrong_thread;
} Where;

static void
exited_cb (QMachine *m,
           int       exit_code,
           gpointer  data)
{
}

static void
destroy_notify_cb (gpointer  data,
                   GClosure *closure)
{
  Where *w = data;

  if (g_thread_self () != w->main_thread)
    g_atomic_int_inc (&w->wrong_thread);
  g_atomic_int_inc (&w->destroyed);
}

static void
finalized_where_cb (gpointer  data,
                    GObject  *gone)
{
  Where *w = data;

  if (g_thread_self () != w->main_thread)
    g_atomic_int_inc (&w->wrong_thread);
  g_atomic_int_inc (&w->finalized);
}

static gboolean
all_gone (gpointer data)
{
  Where *w = data;
  return g_atomic_int_get (&w->finalized) == (int)loops () &&
         g_atomic_int_get (&w->destroyed) == (int)loops ();
}

static void
test_finalized_on_owner (void)
{
  Where w = { g_thread_self (), 0, 0, 0 };

  for (guint i = 0; i < loops () * 5; i++)
    {
      g_autoptr(GError) error = NULL;
      QMachine *m = new_machine ();
      int pid;

      if (i >= loops ())
        {
          /* The rest only add pressure: no handlers. */
          g_assert_true (q_machine_launch (m, NULL, &error));
          pid = q_machine_get_pid (m);
          g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
          g_object_unref (m);
          continue;
        }
      g_signal_connect_data (m, "exited", G_CALLBACK (exited_cb), &w, destroy_notify_cb, 0);
      g_object_weak_ref (G_OBJECT (m), finalized_where_cb, &w);
      g_assert_true (q_machine_launch (m, NULL, &error));
      g_assert_no_error (error);
      pid = q_machine_get_pid (m);
      g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
      /* At once: the worker may be in the middle of the run's end. */
      g_object_unref (m);
    }

  g_assert_true (wait_until (NULL, all_gone, &w, 20000));
  g_assert_cmpint (g_atomic_int_get (&w.wrong_thread), ==, 0);
  test_worker_barrier (2);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);

  base_dir = g_dir_make_tmp ("qm-orders-XXXXXX", NULL);
  g_assert_nonnull (base_dir);

  g_test_add_func ("/hostile-orders/relaunch-weak-notify", test_relaunch_weak_notify);
  g_test_add_func ("/hostile-orders/relaunch-weak-notify/subprocess",
                   test_relaunch_weak_notify_subprocess);
  g_test_add_func ("/hostile-orders/wait-disposed", test_wait_disposed);
  g_test_add_func ("/hostile-orders/finalized-on-owner", test_finalized_on_owner);

  ret = g_test_run ();

  g_rmdir (base_dir);
  g_free (base_dir);
  return ret;
}
