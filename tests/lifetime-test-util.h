/* lifetime-test-util.h: counting what a process holds, for the lifetime
 * regression, soak and fault tests
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "qmachine.h"

static inline const char *
test_qemu_binary (void)
{
  const char *env = g_getenv ("QMACHINE_TEST_QEMU");
  return env ? env : "qemu-system-x86_64";
}

/* A machine for the tests that need no guest: -machine none, temporary
 * files under @base_dir. */
static inline QMachine *
test_new_machine_none (const char *base_dir)
{
  QMachine *m = q_machine_new (test_qemu_binary ());

  q_machine_set_base_temp_dir (m, base_dir);
  q_machine_add_args (m, "-nodefaults", NULL);
  q_machine_set_machine (m, "none");
  return m;
}

/* One blocking call, as a script makes: it also drops what qmachine's
 * threads handed back to this thread (a last reference they happened to
 * hold while the script dropped its own). */
static inline void
test_blocking_call (void)
{
  QMachine *probe = q_machine_new (test_qemu_binary ());

  (void) q_machine_wait (probe, 0, NULL, NULL);
  g_object_unref (probe);
}

/* Entries in a /proc/self directory (open fds, threads). */
static inline guint
count_dir (const char *path)
{
  DIR *dir = opendir (path);
  struct dirent *ent;
  guint n = 0;

  g_assert_nonnull (dir);
  while ((ent = readdir (dir)))
    if (ent->d_name[0] != '.')
      n++;
  closedir (dir);
  return n;
}

static inline guint
count_fds (void)
{
  return count_dir ("/proc/self/fd") - 1;   /* minus the one reading it */
}

static inline guint
count_threads (void)
{
  return count_dir ("/proc/self/task");
}

/* Resident set size in KiB. */
static inline guint64
rss_kib (void)
{
  g_autofree char *status = NULL;
  const char *line;

  g_assert_true (g_file_get_contents ("/proc/self/status", &status, NULL, NULL));
  line = strstr (status, "\nVmRSS:");
  g_assert_nonnull (line);
  return g_ascii_strtoull (line + strlen ("\nVmRSS:"), NULL, 10);
}

static inline gboolean
tick_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Iterates @context (woken every 10 ms, since what we wait for may
 * change on another thread without waking it) until @cond returns TRUE
 * or @timeout_ms passes. Returns whether @cond held. */
static inline gboolean
wait_until (GMainContext *context,
            gboolean    (*cond) (gpointer),
            gpointer      data,
            guint         timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;
  GSource *tick = g_timeout_source_new (10);
  gboolean ok;

  g_source_set_callback (tick, tick_cb, NULL, NULL);
  g_source_attach (tick, context);
  while (!(ok = cond (data)) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (tick);
  g_source_unref (tick);

  return ok;
}

static inline gboolean
fds_at_most (gpointer data)
{
  return count_fds () <= GPOINTER_TO_UINT (data);
}

/* What a finished run closes is closed on the worker, a moment after the
 * objects are gone: let it settle before counting. */
static inline guint
settled_fds (GMainContext *context,
             guint         at_most)
{
  wait_until (context, fds_at_most, GUINT_TO_POINTER (at_most), 5000);
  return count_fds ();
}

static inline void
count_finalized_cb (gpointer data,
                    GObject *where)
{
  g_atomic_int_inc ((int *)data);
}

static inline gboolean
int_is_set (gpointer data)
{
  return g_atomic_int_get ((int *)data) != 0;
}
