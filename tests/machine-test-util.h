/* machine-test-util.h: helpers shared by the QMachine test programs
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "qmachine.h"

static void
finalized_cb (gpointer data, GObject *where)
{
  g_atomic_int_set ((int *)data, TRUE);
  g_main_context_wakeup (NULL);
}

/* Drops the last reference of ours and waits until the object is gone:
 * notifications still on their way hold it, and the worker thread may
 * drop the very last reference. */
static inline void
wait_finalized (gpointer object)
{
  int gone = FALSE;

  g_object_weak_ref (object, finalized_cb, &gone);
  g_object_unref (object);
  while (!g_atomic_int_get (&gone))
    g_main_context_iteration (NULL, TRUE);
}

/* Runs a QMP command that must succeed, dropping its result. */
static inline void
cmd_ok (QMachine   *machine,
        const char *command)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = q_machine_cmd (machine, command, NULL, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (ret);
}
