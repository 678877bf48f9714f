/* test-soak.c: many launch/shutdown cycles, through the blocking API with
 * no main loop and through the async API from one; what the process holds
 * must stay flat
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * In the `slow` suite. QMACHINE_SOAK_CYCLES and QMACHINE_SOAK_ASYNC_CYCLES
 * change the counts (1000 and 200).
 */

#include "config.h"

#include <glib/gstdio.h>

#include "qmachine.h"
#include "lifetime-test-util.h"
#include "machine-test-util.h"

#define WARMUP 10
/* RSS may grow a little as allocator arenas settle; a leak of the size
 * this test exists for (a machine or a QMP buffer per cycle) is far above. */
#define RSS_SLACK_KIB 4096

static char *base_dir;

static guint
env_count (const char *name,
           guint       fallback)
{
  const char *v = g_getenv (name);
  return v ? (guint)g_ascii_strtoull (v, NULL, 10) : fallback;
}

static QMachine *
new_machine (void)
{
  return test_new_machine_none (base_dir);
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

typedef struct
{
  guint   fds;
  guint   threads;
  guint64 rss;
} Usage;

static void
usage_take (Usage *u)
{
  u->fds = count_fds ();
  u->threads = count_threads ();
  u->rss = rss_kib ();
}

static void
usage_assert_flat (GMainContext *context,
                   const char   *what,
                   const Usage  *before,
                   guint         cycles)
{
  Usage after;

  settled_fds (context, before->fds);
  usage_take (&after);
  g_test_message ("%s: %u cycles; fds %u -> %u, threads %u -> %u, RSS %" G_GUINT64_FORMAT
                  " -> %" G_GUINT64_FORMAT " KiB", what, cycles, before->fds, after.fds,
                  before->threads, after.threads, before->rss, after.rss);
  g_assert_cmpuint (after.fds, <=, before->fds);
  g_assert_cmpuint (after.threads, <=, before->threads);
#ifndef __SANITIZE_ADDRESS__
  /* Under ASan freed memory sits in its quarantine, so RSS says nothing
   * there; LeakSanitizer checks for leaks instead. */
  g_assert_cmpuint (after.rss, <=, before->rss + RSS_SLACK_KIB);
#endif
}

/* The blocking API only; the default main context is never iterated. */
static void
test_sync_subprocess (void)
{
  guint cycles = env_count ("QMACHINE_SOAK_CYCLES", 1000);
  GMainContext *tick = g_main_context_new ();
  int finalized = 0;
  Usage before = { 0, };

  for (guint i = 0; i < WARMUP + cycles; i++)
    {
      g_autoptr(GError) error = NULL;
      QMachine *m = new_machine ();

      if (i == WARMUP)
        {
          Count w = { &finalized, WARMUP };

          g_assert_true (wait_until (tick, count_reached_after_blocking_call, &w, 10000));
          usage_take (&before);
        }
      g_object_weak_ref (G_OBJECT (m), count_finalized_cb, &finalized);
      g_assert_true (q_machine_launch (m, NULL, &error));
      g_assert_no_error (error);
      cmd_ok (m, "query-status");
      g_assert_true (q_machine_shutdown (m, 0, 10000, NULL, &error));
      g_assert_no_error (error);
      g_object_unref (m);
    }

  {
    Count c = { &finalized, (int)(WARMUP + cycles) };
    g_assert_true (wait_until (tick, count_reached_after_blocking_call, &c, 10000));
  }
  usage_assert_flat (tick, "sync", &before, cycles);
  g_main_context_unref (tick);
}

static void
test_sync (void)
{
  g_test_trap_subprocess ("/soak/sync/subprocess", 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

/* The async API from a running main loop: each machine launches, runs a
 * command and shuts down, one callback after the other. */
typedef struct
{
  GMainLoop *loop;
  QMachine  *machine;
  guint      left;
  int        finalized;
} AsyncSoak;

static void async_next (AsyncSoak *s);

static void
shutdown_cb (GObject *object, GAsyncResult *result, gpointer data)
{
  AsyncSoak *s = data;
  g_autoptr(GError) error = NULL;

  g_assert_true (q_machine_shutdown_finish (Q_MACHINE (object), result, &error));
  g_assert_no_error (error);
  g_clear_object (&s->machine);
  async_next (s);
}

static void
cmd_cb (GObject *object, GAsyncResult *result, gpointer data)
{
  AsyncSoak *s = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = q_machine_cmd_finish (Q_MACHINE (object), result, &error);

  g_assert_no_error (error);
  g_assert_nonnull (ret);
  q_machine_shutdown_async (s->machine, 0, 10000, NULL, shutdown_cb, s);
}

static void
launch_cb (GObject *object, GAsyncResult *result, gpointer data)
{
  AsyncSoak *s = data;
  g_autoptr(GError) error = NULL;

  g_assert_true (q_machine_launch_finish (Q_MACHINE (object), result, &error));
  g_assert_no_error (error);
  q_machine_cmd_async (s->machine, "query-status", NULL, NULL, cmd_cb, s);
}

static void
async_next (AsyncSoak *s)
{
  if (s->left == 0)
    {
      g_main_loop_quit (s->loop);
      return;
    }
  s->left--;
  s->machine = new_machine ();
  g_object_weak_ref (G_OBJECT (s->machine), count_finalized_cb, &s->finalized);
  q_machine_launch_async (s->machine, NULL, launch_cb, s);
}

static void
test_async (void)
{
  guint cycles = env_count ("QMACHINE_SOAK_ASYNC_CYCLES", 200);
  AsyncSoak s = { 0, };
  Usage before;

  s.loop = g_main_loop_new (NULL, FALSE);
  s.left = WARMUP;
  async_next (&s);
  g_main_loop_run (s.loop);

  {
    Count w = { &s.finalized, WARMUP };
    g_assert_true (wait_until (NULL, count_reached, &w, 10000));
  }
  usage_take (&before);
  s.left = cycles;
  async_next (&s);
  g_main_loop_run (s.loop);

  {
    Count c = { &s.finalized, (int)(WARMUP + cycles) };
    g_assert_true (wait_until (NULL, count_reached, &c, 10000));
  }
  usage_assert_flat (NULL, "async", &before, cycles);
  g_main_loop_unref (s.loop);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);

  base_dir = g_dir_make_tmp ("qm-soak-XXXXXX", NULL);
  g_assert_nonnull (base_dir);

  g_test_add_func ("/soak/sync", test_sync);
  g_test_add_func ("/soak/sync/subprocess", test_sync_subprocess);
  g_test_add_func ("/soak/async", test_async);

  ret = g_test_run ();

  /* Every run removed its files. */
  g_assert_cmpint (g_rmdir (base_dir), ==, 0);
  g_free (base_dir);
  return ret;
}
