/* test-faults.c: launch, command, shutdown, kill, cancel and unref in
 * random orders against real QEMU, checking that every call completes
 * once and that nothing is left behind
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The seed is printed first; QMACHINE_FAULT_SEED replays one and
 * QMACHINE_FAULT_TRIALS sets how many trials run (default 200). Run under
 * ASan by CI's sanitizer pass, where a use-after-free in any of these
 * orders is a failure.
 */

#include "config.h"

#include <errno.h>
#include <signal.h>

#include <glib/gstdio.h>

#include "qmachine.h"
#include "lifetime-test-util.h"

static char *base_dir;

typedef struct
{
  int  pending;          /* async calls whose callback has not run */
  int  finalized;
  GPtrArray *pids;       /* every QEMU pid seen */
} Trial;

static void
done_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  Trial *t = data;
  g_autoptr(GError) error = NULL;
  gpointer ret;

  /* Each operation's own finish, whatever it returns. */
  if (g_async_result_is_tagged (result, q_machine_launch_async))
    q_machine_launch_finish (Q_MACHINE (source), result, &error);
  else if (g_async_result_is_tagged (result, q_machine_cmd_async))
    {
      ret = q_machine_cmd_finish (Q_MACHINE (source), result, &error);
      g_clear_pointer ((JsonNode **)&ret, json_node_unref);
    }
  else if (g_async_result_is_tagged (result, q_machine_shutdown_async))
    q_machine_shutdown_finish (Q_MACHINE (source), result, &error);
  else if (g_async_result_is_tagged (result, q_machine_kill_async))
    q_machine_kill_finish (Q_MACHINE (source), result, &error);
  else if (source != NULL && g_async_result_is_tagged (result, q_machine_event_wait_async))
    {
      ret = q_machine_event_wait_finish (Q_MACHINE (source), result, &error);
      g_clear_pointer ((JsonObject **)&ret, json_object_unref);
    }

  g_assert_cmpint (t->pending, >, 0);
  t->pending--;
}

static gboolean
trial_over (gpointer data)
{
  Trial *t = data;

  if (t->pending > 0 || !g_atomic_int_get (&t->finalized))
    return FALSE;
  for (guint i = 0; i < t->pids->len; i++)
    if (kill (GPOINTER_TO_INT (t->pids->pdata[i]), 0) == 0 || errno != ESRCH)
      return FALSE;
  {
    GDir *dir = g_dir_open (base_dir, 0, NULL);
    gboolean empty = g_dir_read_name (dir) == NULL;
    g_dir_close (dir);
    return empty;
  }
}

static void
spin (GRand *rand)
{
  guint n = g_rand_int_range (rand, 0, 4);

  for (guint i = 0; i < n; i++)
    g_main_context_iteration (NULL, FALSE);
}

static void
run_trial (GRand *rand,
           guint  trial)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  QMachine *m = q_machine_new (test_qemu_binary ());
  Trial t = { 0, };
  guint steps = g_rand_int_range (rand, 2, 9);
  guint flavour = g_rand_int_range (rand, 0, 4);

  t.pids = g_ptr_array_new ();
  q_machine_set_base_temp_dir (m, base_dir);
  q_machine_add_args (m, "-nodefaults", NULL);
  q_machine_set_machine (m, "none");
  q_machine_set_qmp_timeout (m, 400);
  if (flavour == 1)
    q_machine_add_args (m, "-no-such-option", NULL);
  else if (flavour == 2)
    {
      const char *wrapper[] = { "sh", "-c", "exec sleep 30", "sh", NULL };
      q_machine_set_wrapper (m, wrapper);
    }
  g_object_weak_ref (G_OBJECT (m), count_finalized_cb, &t.finalized);

  for (guint step = 0; step < steps; step++)
    {
      guint action = g_rand_int_range (rand, 0, 8);
      int pid = q_machine_get_pid (m);

      if (pid > 0 && !g_ptr_array_find (t.pids, GINT_TO_POINTER (pid), NULL))
        g_ptr_array_add (t.pids, GINT_TO_POINTER (pid));

      switch (action)
        {
        case 0:
        case 1:
          t.pending++;
          q_machine_launch_async (m, g_rand_boolean (rand) ? cancellable : NULL, done_cb, &t);
          break;
        case 2:
          t.pending++;
          q_machine_cmd_async (m, "query-status", NULL, g_rand_boolean (rand) ? cancellable : NULL,
                               done_cb, &t);
          break;
        case 3:
          t.pending++;
          q_machine_shutdown_async (m, 0, g_rand_int_range (rand, 0, 1500), NULL, done_cb, &t);
          break;
        case 4:
          t.pending++;
          q_machine_kill_async (m, NULL, done_cb, &t);
          break;
        case 5:
          if (pid > 0)
            kill (pid, SIGKILL);
          break;
        case 6:
          g_cancellable_cancel (cancellable);
          break;
        case 7:
          t.pending++;
          q_machine_event_wait_async (m, "STOP", NULL, g_rand_int_range (rand, 0, 200),
                                      g_rand_boolean (rand) ? cancellable : NULL, done_cb, &t);
          break;
        default:
          g_assert_not_reached ();
        }
      spin (rand);
    }

  /* Drop the machine in whatever state it is; everything must end. */
  g_object_unref (m);
  if (!wait_until (NULL, trial_over, &t, 15000))
    g_error ("trial %u did not end cleanly: %d calls pending, finalized %d",
             trial, t.pending, t.finalized);
  g_cancellable_cancel (cancellable);
  g_ptr_array_unref (t.pids);
}

static void
test_random_orders (void)
{
  const char *seed_env = g_getenv ("QMACHINE_FAULT_SEED");
  const char *trials_env = g_getenv ("QMACHINE_FAULT_TRIALS");
  guint32 seed = seed_env ? (guint32)g_ascii_strtoull (seed_env, NULL, 10) : 20261202;
  guint trials = trials_env ? (guint)g_ascii_strtoull (trials_env, NULL, 10) : 200;
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);

  /* QEMU killed from outside is warned about: expected here. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_test_message ("seed %u (replay with QMACHINE_FAULT_SEED=%u), %u trials", seed, seed, trials);
  for (guint i = 0; i < trials; i++)
    run_trial (rand, i);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);

  base_dir = g_dir_make_tmp ("qm-faults-XXXXXX", NULL);
  g_assert_nonnull (base_dir);

  g_test_add_func ("/faults/random-orders", test_random_orders);

  ret = g_test_run ();

  g_assert_cmpint (g_rmdir (base_dir), ==, 0);
  g_free (base_dir);
  return ret;
}
