/* bench-qmachine.c: numbers, not pass/fail
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Prints, for this machine:
 *   - launch-to-QMP-ready time of `-machine none` through QMachine
 *     (median/min/max over N runs) and the shutdown time;
 *   - QMP round trip (query-status) latency, sync and pipelined async;
 *   - 32 machines launched concurrently from one thread: wall time, and
 *     the controller's RSS growth per machine;
 *   - with QMACHINE_GUEST_KERNEL/_INITRD set: boot-to-marker time of the
 *     test guest through QMachine + QConsole.
 *
 * Usage: bench-qmachine [RUNS]   (default 10)
 */

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmachine.h"

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void
report (const char *what, double *v, int n, const char *unit)
{
  qsort (v, n, sizeof *v, cmp_double);
  printf ("%-44s median %8.2f %s  min %8.2f  max %8.2f  (n=%d)\n",
          what, v[n / 2], unit, v[0], v[n - 1], n);
}

static long
rss_kib (void)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return -1;
  line = strstr (status, "VmRSS:");
  return line ? strtol (line + 6, NULL, 10) : -1;
}

static QMachine *
new_none (void)
{
  QMachine *m = q_machine_new (g_getenv ("QMACHINE_TEST_QEMU") ? g_getenv ("QMACHINE_TEST_QEMU")
                                                               : "qemu-system-x86_64");
  q_machine_set_machine (m, "none");
  q_machine_add_args (m, "-nodefaults", NULL);
  return m;
}

static void
must (gboolean ok, GError *error)
{
  if (!ok)
    {
      g_printerr ("bench-qmachine: %s\n", error ? error->message : "failed");
      exit (1);
    }
}

static void
store_result (GObject *o, GAsyncResult *r, gpointer data)
{
  *(GAsyncResult **)data = g_object_ref (r);
}

static void
bench_launch (int runs)
{
  g_autofree double *launch = g_new0 (double, runs);
  g_autofree double *shut = g_new0 (double, runs);
  g_autofree double *rtt = g_new0 (double, runs);
  GError *error = NULL;

  for (int i = 0; i < runs; i++)
    {
      g_autoptr(QMachine) m = new_none ();
      gint64 t0, t1, t2, t3;

      t0 = g_get_monotonic_time ();
      must (q_machine_launch (m, NULL, &error), error);
      t1 = g_get_monotonic_time ();
      for (int k = 0; k < 100; k++)
        {
          g_autoptr(JsonNode) r = q_machine_cmd (m, "query-status", NULL, NULL, &error);
          must (r != NULL, error);
        }
      t2 = g_get_monotonic_time ();
      must (q_machine_shutdown (m, 0, 10000, NULL, &error), error);
      t3 = g_get_monotonic_time ();

      launch[i] = (t1 - t0) / 1000.0;
      rtt[i] = (t2 - t1) / 100.0;
      shut[i] = (t3 - t2) / 1000.0;
    }
  report ("launch -machine none to QMP ready", launch, runs, "ms");
  report ("query-status round trip (sync)", rtt, runs, "us");
  report ("graceful shutdown (quit, reap, clean up)", shut, runs, "ms");
}

static void
bench_pipelined (void)
{
  enum { N = 1000 };
  g_autoptr(QMachine) m = new_none ();
  GAsyncResult **results = g_new0 (GAsyncResult *, N);
  GError *error = NULL;
  gint64 t0, t1;

  must (q_machine_launch (m, NULL, &error), error);
  t0 = g_get_monotonic_time ();
  for (int i = 0; i < N; i++)
    q_machine_cmd_async (m, "query-status", NULL, NULL, store_result, &results[i]);
  for (int i = 0; i < N; i++)
    {
      g_autoptr(JsonNode) r = NULL;
      while (results[i] == NULL)
        g_main_context_iteration (NULL, TRUE);
      r = q_machine_cmd_finish (m, results[i], &error);
      must (r != NULL, error);
      g_object_unref (results[i]);
    }
  t1 = g_get_monotonic_time ();
  printf ("%-44s %8.2f us per command (%d in flight)\n",
          "query-status pipelined (async)", (t1 - t0) / (double)N, N);
  must (q_machine_shutdown (m, 0, 10000, NULL, &error), error);
  g_free (results);
}

static void
bench_many (void)
{
  enum { N = 32 };
  QMachine *ms[N];
  GAsyncResult *rs[N];
  GError *error = NULL;
  long rss0, rss1;
  gint64 t0, t1;

  /* Warm up the worker and the libraries before measuring RSS. */
  {
    g_autoptr(QMachine) m = new_none ();
    must (q_machine_launch (m, NULL, &error), error);
    must (q_machine_shutdown (m, 0, 10000, NULL, &error), error);
  }

  rss0 = rss_kib ();
  t0 = g_get_monotonic_time ();
  for (int i = 0; i < N; i++)
    {
      ms[i] = new_none ();
      rs[i] = NULL;
      q_machine_launch_async (ms[i], NULL, store_result, &rs[i]);
    }
  for (int i = 0; i < N; i++)
    {
      while (rs[i] == NULL)
        g_main_context_iteration (NULL, TRUE);
      must (q_machine_launch_finish (ms[i], rs[i], &error), error);
      g_clear_object (&rs[i]);
    }
  t1 = g_get_monotonic_time ();
  rss1 = rss_kib ();
  printf ("%-44s %8.2f ms for %d machines, one thread\n",
          "concurrent launch to QMP ready", (t1 - t0) / 1000.0, N);
  printf ("%-44s %8.1f KiB per running machine (controller side)\n",
          "controller RSS growth", (rss1 - rss0) / (double)N);

  t0 = g_get_monotonic_time ();
  for (int i = 0; i < N; i++)
    q_machine_shutdown_async (ms[i], 0, 20000, NULL, store_result, &rs[i]);
  for (int i = 0; i < N; i++)
    {
      while (rs[i] == NULL)
        g_main_context_iteration (NULL, TRUE);
      must (q_machine_shutdown_finish (ms[i], rs[i], &error), error);
      g_clear_object (&rs[i]);
      g_object_unref (ms[i]);
    }
  t1 = g_get_monotonic_time ();
  printf ("%-44s %8.2f ms for %d machines\n", "concurrent graceful shutdown", (t1 - t0) / 1000.0, N);
}

static void
bench_guest (int runs)
{
  const char *kernel = g_getenv ("QMACHINE_GUEST_KERNEL");
  const char *initrd = g_getenv ("QMACHINE_GUEST_INITRD");
  const char *accel = g_getenv ("QMACHINE_TEST_ACCEL");
  g_autofree double *boot = NULL;
  GError *error = NULL;

  if (kernel == NULL || initrd == NULL)
    {
      printf ("guest boot: skipped (set QMACHINE_GUEST_KERNEL and QMACHINE_GUEST_INITRD)\n");
      return;
    }

  boot = g_new0 (double, runs);
  for (int i = 0; i < runs; i++)
    {
      g_autoptr(QMachine) m = q_machine_new ("qemu-system-x86_64");
      g_autofree char *seen = NULL;
      gint64 t0;

      q_machine_set_machine (m, "pc");
      q_machine_add_args (m, "-accel", accel ? accel : "tcg", "-m", "256", "-nodefaults",
                          "-no-reboot", "-kernel", kernel, "-initrd", initrd,
                          "-append", "console=ttyS0 panic=-1", NULL);
      q_machine_set_console (m, NULL, 0);
      q_machine_set_drain_console (m, TRUE);
      t0 = g_get_monotonic_time ();
      must (q_machine_launch (m, NULL, &error), error);
      seen = q_console_wait_for (q_machine_get_console (m), "QMACHINE-GUEST-READY", 0, 120000,
                                 NULL, &error);
      must (seen != NULL, error);
      boot[i] = (g_get_monotonic_time () - t0) / 1e6;
      must (q_machine_shutdown (m, 0, 20000, NULL, &error), error);
    }
  report ("guest boot to ready marker (TCG)", boot, runs, "s ");
}

int
main (int argc, char *argv[])
{
  int runs = argc > 1 ? atoi (argv[1]) : 10;

  if (runs < 1)
    runs = 1;

  printf ("qmachine %s benchmarks, %d runs each\n", QMACHINE_VERSION_S, runs);
  bench_launch (runs);
  bench_pipelined ();
  bench_many ();
  bench_guest (MIN (runs, 5));

  return 0;
}
