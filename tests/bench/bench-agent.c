/* bench-agent.c: what QGuestAgent costs against the real qemu-ga in the
 * test guest: command round trips, exec, file throughput.
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Usage: bench-agent [--rounds N] [--json]
 *
 * Needs QMACHINE_GUEST_KERNEL and QMACHINE_GUEST_INITRD (the guest that
 * build-aux/make-guest.sh builds); QMACHINE_TEST_QEMU and
 * QMACHINE_TEST_ACCEL as for the tests. Prints medians; a number, not a
 * verdict (docs/guest-agent.md quotes them).
 */

#include <stdio.h>
#include <stdlib.h>

#include "qmachine.h"

typedef struct
{
  const char *name;
  const char *unit;
  double      value;
} Row;

static Row rows[16];
static guint n_rows;

static int
cmp_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double
median (GArray *samples)
{
  g_array_sort (samples, cmp_double);
  return g_array_index (samples, double, samples->len / 2);
}

static void
add_row (const char *name, const char *unit, double value)
{
  g_assert (n_rows < G_N_ELEMENTS (rows));
  rows[n_rows++] = (Row) { name, unit, value };
}

static void
check (gboolean ok, GError *error)
{
  if (!ok)
    {
      g_printerr ("bench-agent: %s\n", error ? error->message : "failed");
      exit (1);
    }
}

int
main (int argc, char *argv[])
{
  g_autoptr(QMachine) vm = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *seen = NULL;
  g_autoptr(GArray) samples = g_array_new (FALSE, FALSE, sizeof (double));
  const char *qemu = g_getenv ("QMACHINE_TEST_QEMU");
  const char *accel = g_getenv ("QMACHINE_TEST_ACCEL");
  const char *kernel = g_getenv ("QMACHINE_GUEST_KERNEL");
  const char *initrd = g_getenv ("QMACHINE_GUEST_INITRD");
  const gsize file_size = 4 * 1024 * 1024;
  g_autoptr(GBytes) data = NULL;
  gboolean json = FALSE;
  int rounds = 5;
  QGuestAgent *agent;

  for (int i = 1; i < argc; i++)
    {
      if (g_str_equal (argv[i], "--json"))
        json = TRUE;
      else if (g_str_equal (argv[i], "--rounds") && i + 1 < argc)
        {
          rounds = atoi (argv[++i]);
          rounds = MAX (rounds, 1);
        }
      else
        {
          g_printerr ("Usage: bench-agent [--rounds N] [--json]\n");
          return 2;
        }
    }
  if (kernel == NULL || initrd == NULL)
    {
      g_printerr ("bench-agent: set QMACHINE_GUEST_KERNEL and QMACHINE_GUEST_INITRD\n");
      return 77;
    }

  vm = q_machine_new (qemu ? qemu : "qemu-system-x86_64");
  q_machine_set_machine (vm, "pc");
  q_machine_add_args (vm, "-accel", accel ? accel : "tcg", "-m", "256", "-nodefaults", "-no-reboot",
                      "-kernel", kernel, "-initrd", initrd, "-append", "console=ttyS0 panic=-1", NULL);
  q_machine_set_console (vm, NULL, 0);
  q_machine_set_drain_console (vm, TRUE);
  q_machine_add_guest_agent (vm, Q_GUEST_AGENT_PORT_VIRTIO_SERIAL);
  check (q_machine_launch (vm, NULL, &error), error);
  seen = q_console_wait_for (q_machine_get_console (vm), "QMACHINE-GUEST-READY", 0, 180000, NULL, &error);
  check (seen != NULL, error);
  agent = q_machine_get_guest_agent (vm);
  q_guest_agent_set_timeout (agent, 60000);
  check (q_guest_agent_ping (agent, NULL, &error), error);

  /* guest-ping, in step. */
  for (int i = 0; i < 50 * rounds; i++)
    {
      gint64 start = g_get_monotonic_time ();
      double us;

      check (q_guest_agent_ping (agent, NULL, &error), error);
      us = (double)(g_get_monotonic_time () - start);
      g_array_append_val (samples, us);
    }
  add_row ("ping round trip", "us", median (samples));
  g_array_set_size (samples, 0);

  /* guest-sync-delimited: what a resynchronisation costs. */
  for (int i = 0; i < 10 * rounds; i++)
    {
      gint64 start = g_get_monotonic_time ();
      double us;

      check (q_guest_agent_sync (agent, NULL, &error), error);
      us = (double)(g_get_monotonic_time () - start);
      g_array_append_val (samples, us);
    }
  add_row ("sync round trip", "us", median (samples));
  g_array_set_size (samples, 0);

  /* exec of a program that does nothing: guest-exec plus status polls. */
  for (int i = 0; i < 4 * rounds; i++)
    {
      const char *true_argv[] = { "true", NULL };
      gint64 start = g_get_monotonic_time ();
      int status = -1;
      double ms;

      check (q_guest_agent_exec (agent, true_argv, NULL, NULL, 30000, &status, NULL, NULL, NULL, &error),
             error);
      ms = (g_get_monotonic_time () - start) / 1000.0;
      g_array_append_val (samples, ms);
    }
  add_row ("exec true", "ms", median (samples));
  g_array_set_size (samples, 0);

  /* Files: 4 MiB each way. */
  {
    guint8 *buf = g_malloc (file_size);
    for (gsize i = 0; i < file_size; i++)
      buf[i] = (guint8)(i * 2654435761u >> 24);
    data = g_bytes_new_take (buf, file_size);
  }
  for (int i = 0; i < rounds; i++)
    {
      gint64 start = g_get_monotonic_time ();
      double mibs;

      check (q_guest_agent_file_write (agent, "/tmp/bench", data, NULL, &error), error);
      mibs = (file_size / 1048576.0) / ((g_get_monotonic_time () - start) / 1e6);
      g_array_append_val (samples, mibs);
    }
  add_row ("file_write 4 MiB", "MiB/s", median (samples));
  g_array_set_size (samples, 0);
  for (int i = 0; i < rounds; i++)
    {
      g_autoptr(GBytes) back = NULL;
      gint64 start = g_get_monotonic_time ();
      double mibs;

      back = q_guest_agent_file_read (agent, "/tmp/bench", NULL, &error);
      check (back != NULL, error);
      mibs = (file_size / 1048576.0) / ((g_get_monotonic_time () - start) / 1e6);
      check (g_bytes_equal (back, data), NULL);
      g_array_append_val (samples, mibs);
    }
  add_row ("file_read 4 MiB", "MiB/s", median (samples));

  check (q_machine_shutdown (vm, Q_MACHINE_SHUTDOWN_FLAGS_NONE, 30000, NULL, &error), error);

  if (json)
    {
      g_print ("{\"rounds\": %d, \"rows\": [", rounds);
      for (guint i = 0; i < n_rows; i++)
        g_print ("%s{\"name\": \"%s\", \"unit\": \"%s\", \"median\": %.1f}",
                 i ? ", " : "", rows[i].name, rows[i].unit, rows[i].value);
      g_print ("]}\n");
    }
  else
    {
      g_print ("QGuestAgent against qemu-ga in the test guest (virtio-serial), %d rounds, medians\n",
               rounds);
      for (guint i = 0; i < n_rows; i++)
        g_print ("  %-20s %10.1f %s\n", rows[i].name, rows[i].value, rows[i].unit);
    }

  return 0;
}
