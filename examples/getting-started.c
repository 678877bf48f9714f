/* getting-started.c: the program of docs/getting-started-c.md
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Boots a Linux guest, waits for its console to print a ready marker,
 * runs a QMP command, reacts to an event and shuts the guest down, all
 * from one GLib main loop with the async API.
 *
 * Usage: getting-started KERNEL INITRD [MARKER]
 */

#include <qmachine.h>

typedef struct
{
  GMainLoop *loop;
  QMachine  *vm;
  int        status;
} App;

static void
fail (App *app, const char *what, const GError *error)
{
  g_printerr ("%s: %s\n", what, error->message);
  app->status = 1;
  g_main_loop_quit (app->loop);
}

static void
shutdown_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  App *app = data;
  g_autoptr(GError) error = NULL;

  if (!q_machine_shutdown_finish (Q_MACHINE (source), result, &error))
    fail (app, "shutdown", error);
  else
    g_print ("shut down cleanly\n");
  g_main_loop_quit (app->loop);
}

/* 4. React to an event: STOP comes after the `stop` command below. */
static void
stop_event_cb (QMachine *vm, const char *name, JsonObject *event, App *app)
{
  JsonObject *when = json_object_get_object_member (event, "timestamp");

  g_print ("event %s at %" G_GINT64_FORMAT " s: the guest is paused; shutting down\n", name,
           json_object_get_int_member (when, "seconds"));
  q_machine_shutdown_async (vm, Q_MACHINE_SHUTDOWN_FLAGS_NONE, 10000, NULL, shutdown_cb, app);
}

/* 3. Run a QMP command and look at its result. */
static void
status_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  App *app = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = q_machine_cmd_finish (Q_MACHINE (source), result, &error);

  if (ret == NULL)
    return fail (app, "query-status", error);
  g_print ("query-status: %s\n",
           json_object_get_string_member (json_node_get_object (ret), "status"));
  q_machine_cmd_async (app->vm, "stop", NULL, NULL, NULL, NULL);
}

/* 2. Wait for the guest's console to say it is ready. */
static void
marker_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  App *app = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *seen = q_console_wait_for_finish (Q_CONSOLE (source), result, &error);

  if (seen == NULL)
    return fail (app, "waiting for the guest", error);
  g_print ("console: %s\n", seen);
  q_machine_cmd_async (app->vm, "query-status", NULL, NULL, status_cb, app);
}

static void
launch_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  App *app = data;
  const char *marker = g_object_get_data (source, "marker");
  g_autoptr(GError) error = NULL;

  if (!q_machine_launch_finish (Q_MACHINE (source), result, &error))
    return fail (app, "launch", error);
  g_print ("QEMU runs (pid %d)\n", q_machine_get_pid (app->vm));
  q_console_wait_for_async (q_machine_get_console (app->vm), marker,
                            Q_CONSOLE_MATCH_FLAGS_NONE, 120000, NULL, marker_cb, app);
}

int
main (int argc, char **argv)
{
  const char *accel = g_getenv ("QMACHINE_ACCEL");
  App app = { 0, };

  if (argc < 3)
    {
      g_printerr ("usage: %s KERNEL INITRD [MARKER]\n", argv[0]);
      return 2;
    }

  /* 1. Configure and launch. */
  app.loop = g_main_loop_new (NULL, FALSE);
  app.vm = q_machine_new ("qemu-system-x86_64");
  q_machine_set_machine (app.vm, "pc");
  q_machine_add_args (app.vm,
                      "-accel", accel ? accel : "tcg",
                      "-m", "256", "-nodefaults", "-no-reboot",
                      "-kernel", argv[1], "-initrd", argv[2],
                      "-append", "console=ttyS0 panic=-1",
                      NULL);
  q_machine_set_console (app.vm, NULL, 0);
  q_machine_set_drain_console (app.vm, TRUE);
  g_object_set_data_full (G_OBJECT (app.vm), "marker",
                          g_strdup (argc > 3 ? argv[3] : "QMACHINE-GUEST-READY"), g_free);
  g_signal_connect (app.vm, "event::STOP", G_CALLBACK (stop_event_cb), &app);

  q_machine_launch_async (app.vm, NULL, launch_cb, &app);
  g_main_loop_run (app.loop);

  g_object_unref (app.vm);
  g_main_loop_unref (app.loop);
  return app.status;
}
