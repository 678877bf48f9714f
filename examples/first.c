/* first.c: the first program of docs/getting-started-c.md
 *
 * Copyright 2026 The qmachine authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Starts an empty machine (-machine none: no guest to fetch), asks QEMU
 * its version over QMP and shuts it down, with the blocking API.
 */

#include <qmachine.h>

int
main (void)
{
  g_autoptr(QMachine) vm = q_machine_new ("qemu-system-x86_64");
  g_autoptr(JsonNode) version = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *qemu;

  q_machine_set_machine (vm, "none");
  if (!q_machine_launch (vm, NULL, &error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }

  version = q_machine_cmd (vm, "query-version", NULL, NULL, &error);
  if (version == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  qemu = json_object_get_object_member (json_node_get_object (version), "qemu");
  g_print ("QEMU %" G_GINT64_FORMAT ".%" G_GINT64_FORMAT " runs (pid %d)\n",
           json_object_get_int_member (qemu, "major"),
           json_object_get_int_member (qemu, "minor"), q_machine_get_pid (vm));

  if (!q_machine_shutdown (vm, Q_MACHINE_SHUTDOWN_FLAGS_NONE, 10000, NULL, &error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  g_print ("shut down cleanly\n");
  return 0;
}
