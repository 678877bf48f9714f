/* qmp-version.c - start QEMU, ask it its version and status over QMP, quit
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Usage: qmp-version [QEMU-BINARY]
 *
 * Starts `QEMU-BINARY -machine none -nodefaults -display none` (default
 * binary: qemu-system-x86_64) with its QMP monitor on one end of a
 * socketpair, passed to QEMU as fd 3. The other end becomes a
 * GSocketConnection for a QQmpClient, which negotiates capabilities, runs
 * `query-version` and `query-status`, and sends `quit`. The program then
 * waits for QEMU to exit. Exit status: 0 on success, 1 on any failure.
 *
 * Only the sync API is used: it needs no main loop.
 */

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <qmachine.h>

#define QEMU_FD 3               /* where QEMU finds its end of the socketpair */
#define WATCHDOG_SECONDS 30     /* give up on a QEMU that never answers */

static const char *prog = "qmp-version";

/* A QEMU that starts but never speaks would make the sync calls wait
 * forever. The watchdog cancels the shared GCancellable after a deadline;
 * every sync call below honours it. It waits on a GCond, so it ends as soon
 * as the program is done. */
typedef struct
{
  GMutex        mutex;
  GCond         cond;
  gboolean      done;
  gboolean      fired;
  GCancellable *cancellable;
  GThread      *thread;
} Watchdog;

static gpointer
watchdog_thread (gpointer data)
{
  Watchdog *wd = data;
  gint64 deadline = g_get_monotonic_time () + WATCHDOG_SECONDS * G_TIME_SPAN_SECOND;

  g_mutex_lock (&wd->mutex);
  while (!wd->done)
    {
      if (!g_cond_wait_until (&wd->cond, &wd->mutex, deadline))
        {
          wd->fired = TRUE;
          g_cancellable_cancel (wd->cancellable);
          break;
        }
    }
  g_mutex_unlock (&wd->mutex);

  return NULL;
}

static void
watchdog_start (Watchdog     *wd,
                GCancellable *cancellable)
{
  g_mutex_init (&wd->mutex);
  g_cond_init (&wd->cond);
  wd->done = FALSE;
  wd->fired = FALSE;
  wd->cancellable = cancellable;
  wd->thread = g_thread_new ("qmp-version-watchdog", watchdog_thread, wd);
}

static gboolean
watchdog_stop (Watchdog *wd)
{
  gboolean fired;

  g_mutex_lock (&wd->mutex);
  wd->done = TRUE;
  g_cond_signal (&wd->cond);
  g_mutex_unlock (&wd->mutex);

  g_thread_join (wd->thread);
  fired = wd->fired;
  g_mutex_clear (&wd->mutex);
  g_cond_clear (&wd->cond);

  return fired;
}

/* Wraps one end of a connected socketpair in a GIOStream. */
static GIOStream *
stream_from_fd (int      fd,
                GError **error)
{
  g_autoptr(GSocket) socket = g_socket_new_from_fd (fd, error);

  if (socket == NULL)
    return NULL;

  return G_IO_STREAM (g_socket_connection_factory_create_connection (socket));
}

static const char *
member_string (JsonObject *object,
               const char *name)
{
  JsonNode *node = object ? json_object_get_member (object, name) : NULL;

  if (node == NULL || JSON_NODE_TYPE (node) != JSON_NODE_VALUE ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;

  return json_node_get_string (node);
}

static JsonObject *
member_object (JsonObject *object,
               const char *name)
{
  JsonNode *node = object ? json_object_get_member (object, name) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;

  return json_node_get_object (node);
}

static gint64
member_int (JsonObject *object,
            const char *name)
{
  JsonNode *node = object ? json_object_get_member (object, name) : NULL;

  if (node == NULL || JSON_NODE_TYPE (node) != JSON_NODE_VALUE)
    return -1;

  return json_node_get_int (node);
}

static gboolean
member_bool (JsonObject *object,
             const char *name)
{
  JsonNode *node = object ? json_object_get_member (object, name) : NULL;

  if (node == NULL || JSON_NODE_TYPE (node) != JSON_NODE_VALUE)
    return FALSE;

  return json_node_get_boolean (node);
}

/* Prints the QEMU version from the reply to `query-version`:
 * {"qemu": {"major": 7, "minor": 2, "micro": 22}, "package": "..."} */
static gboolean
print_version (JsonNode  *reply,
               GError   **error)
{
  JsonObject *object = JSON_NODE_HOLDS_OBJECT (reply) ? json_node_get_object (reply) : NULL;
  JsonObject *qemu = member_object (object, "qemu");
  const char *package = member_string (object, "package");

  if (qemu == NULL)
    {
      g_set_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                   "query-version returned no \"qemu\" object");
      return FALSE;
    }

  g_print ("QEMU version: %" G_GINT64_FORMAT ".%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT "%s%s%s\n",
           member_int (qemu, "major"), member_int (qemu, "minor"), member_int (qemu, "micro"),
           package && *package ? " (" : "", package && *package ? package : "",
           package && *package ? ")" : "");
  return TRUE;
}

/* Prints the VM status from the reply to `query-status`:
 * {"status": "prelaunch", "running": false, ...} */
static gboolean
print_status (JsonNode  *reply,
              GError   **error)
{
  JsonObject *object = JSON_NODE_HOLDS_OBJECT (reply) ? json_node_get_object (reply) : NULL;
  const char *status = member_string (object, "status");

  if (status == NULL)
    {
      g_set_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                   "query-status returned no \"status\" string");
      return FALSE;
    }

  g_print ("VM status:    %s (running: %s)\n",
           status, member_bool (object, "running") ? "yes" : "no");
  return TRUE;
}

static void
print_capabilities (QQmpClient *client)
{
  JsonObject *greeting = q_qmp_client_get_greeting (client);
  JsonNode *node = greeting ? json_object_get_member (greeting, "capabilities") : NULL;
  g_autoptr(GString) caps = g_string_new (NULL);

  if (node != NULL && JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *cap = json_array_get_element (array, i);

          if (JSON_NODE_TYPE (cap) == JSON_NODE_VALUE &&
              json_node_get_value_type (cap) == G_TYPE_STRING)
            g_string_append_printf (caps, "%s%s", caps->len ? ", " : "",
                                    json_node_get_string (cap));
        }
    }

  g_print ("QMP capabilities offered: %s\n", caps->len ? caps->str : "(none)");
}

/* Describes how QEMU ended, e.g. "exited with status 1". */
static char *
describe_exit (GSubprocess *process)
{
  if (g_subprocess_get_if_exited (process))
    return g_strdup_printf ("exited with status %d", g_subprocess_get_exit_status (process));
  if (g_subprocess_get_if_signaled (process))
    return g_strdup_printf ("was killed by signal %d (%s)", g_subprocess_get_term_sig (process),
                            g_strsignal (g_subprocess_get_term_sig (process)));
  return g_strdup ("ended");
}

/* Runs the QMP conversation. On failure QEMU may still be running; the
 * caller kills it. */
static gboolean
talk_to_qemu (QQmpClient    *client,
              GCancellable  *cancellable,
              GError       **error)
{
  g_autoptr(JsonNode) version = NULL;
  g_autoptr(JsonNode) status = NULL;
  g_autoptr(JsonNode) quit = NULL;
  g_autoptr(GError) local_error = NULL;

  if (!q_qmp_client_negotiate (client, Q_QMP_NEGOTIATE_FLAGS_NONE, cancellable, error))
    {
      g_prefix_error (error, "QMP handshake failed: ");
      return FALSE;
    }
  print_capabilities (client);

  version = q_qmp_client_execute (client, "query-version", NULL, Q_QMP_EXECUTE_FLAGS_NONE,
                                  NULL, cancellable, error);
  if (version == NULL)
    {
      g_prefix_error (error, "query-version failed: ");
      return FALSE;
    }
  if (!print_version (version, error))
    return FALSE;

  status = q_qmp_client_execute (client, "query-status", NULL, Q_QMP_EXECUTE_FLAGS_NONE,
                                 NULL, cancellable, error);
  if (status == NULL)
    {
      g_prefix_error (error, "query-status failed: ");
      return FALSE;
    }
  if (!print_status (status, error))
    return FALSE;

  /* QEMU answers `quit`, then closes the monitor. Should the close win the
   * race with the reply, the quit still happened: not an error. */
  quit = q_qmp_client_execute (client, "quit", NULL, Q_QMP_EXECUTE_FLAGS_NONE,
                               NULL, cancellable, &local_error);
  if (quit == NULL &&
      !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED))
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "quit failed: ");
      return FALSE;
    }
  g_print ("Sent quit; waiting for QEMU to exit\n");

  return TRUE;
}

int
main (int   argc,
      char *argv[])
{
  const char *binary = argc > 1 ? argv[1] : "qemu-system-x86_64";
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) wait_error = NULL;
  g_autoptr(GCancellable) cancellable = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GIOStream) stream = NULL;
  g_autoptr(QQmpClient) client = NULL;
  g_autofree char *how = NULL;
  Watchdog watchdog;
  gboolean ok;
  gboolean timed_out;
  int fds[2];

  if (argc > 2 || (argc == 2 && (strcmp (argv[1], "-h") == 0 || strcmp (argv[1], "--help") == 0)))
    {
      g_printerr ("Usage: %s [QEMU-BINARY]\n"
                  "Starts QEMU (default: qemu-system-x86_64) with -machine none, prints its\n"
                  "version and status over QMP, and quits it.\n", prog);
      return argc > 2 ? 2 : 0;
    }

  /* fds[0] is ours; fds[1] goes to QEMU as fd 3. Both are close-on-exec:
   * GSubprocessLauncher dup2()s fds[1] into place in the child, which
   * clears the flag on fd 3 only. */
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    {
      g_printerr ("%s: socketpair() failed: %s\n", prog, g_strerror (errno));
      return 1;
    }

  stream = stream_from_fd (fds[0], &error);
  if (stream == NULL)
    {
      g_printerr ("%s: cannot wrap the socket: %s\n", prog, error->message);
      close (fds[0]);
      close (fds[1]);
      return 1;
    }

  /* stdin is /dev/null; stdout and stderr are inherited, so QEMU's own
   * complaints reach the terminal. */
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_take_fd (launcher, fds[1], QEMU_FD);

  g_print ("Starting %s -machine none -nodefaults -display none "
           "-chardev socket,id=mon,fd=%d -mon chardev=mon,mode=control\n", binary, QEMU_FD);
  process = g_subprocess_launcher_spawn (launcher, &error,
                                         binary,
                                         "-machine", "none",
                                         "-nodefaults",
                                         "-display", "none",
                                         "-chardev", "socket,id=mon,fd=3",
                                         "-mon", "chardev=mon,mode=control",
                                         NULL);
  /* The launcher owns QEMU's end of the socketpair: drop it now, so that
   * when QEMU exits our end sees EOF instead of waiting forever. */
  g_clear_object (&launcher);
  if (process == NULL)
    {
      g_printerr ("%s: cannot start %s: %s\n", prog, binary, error->message);
      return 1;
    }

  cancellable = g_cancellable_new ();
  watchdog_start (&watchdog, cancellable);

  client = q_qmp_client_new (stream);
  ok = talk_to_qemu (client, cancellable, &error);

  if (!ok)
    g_subprocess_force_exit (process);

  if (!g_subprocess_wait (process, cancellable, &wait_error))
    {
      /* Only a cancellation (the watchdog) gets here: kill and reap. */
      g_subprocess_force_exit (process);
      g_subprocess_wait (process, NULL, NULL);
      if (ok)
        {
          ok = FALSE;
          g_propagate_prefixed_error (&error, g_steal_pointer (&wait_error),
                                      "QEMU did not exit after quit: ");
        }
    }

  timed_out = watchdog_stop (&watchdog);
  q_qmp_client_close (client, NULL, NULL);
  how = describe_exit (process);

  if (!ok)
    {
      if (timed_out)
        g_printerr ("%s: QEMU did not answer within %d seconds (%s)\n",
                    prog, WATCHDOG_SECONDS, error->message);
      else
        g_printerr ("%s: %s\n", prog, error->message);
      g_printerr ("%s: QEMU %s\n", prog, how);
      return 1;
    }

  if (!g_subprocess_get_successful (process))
    {
      g_printerr ("%s: QEMU %s after quit\n", prog, how);
      return 1;
    }

  g_print ("QEMU %s\n", how);
  return 0;
}
