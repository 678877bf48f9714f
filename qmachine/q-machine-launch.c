/* q-machine-launch.c: from a configured QMachine to a running QEMU
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The owner's thread builds the command line and makes the files and
 * sockets (machine_prepare_run); the worker spawns QEMU, connects the
 * monitor and negotiates QMP, racing QEMU's exit, qmp-timeout and the
 * caller's cancellable. Every source and handler here holds a reference
 * to the Run it uses (docs/internals.md).
 */

#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>

#include "q-enum-types.h"
#include "q-error.h"
#include "q-fs-private.h"
#include "q-machine-private.h"
#include "q-util-private.h"

/* The longest unix socket path taken (see the monitor address check). */

/* ------------------------------------------------------------------------ */
/* Launch (worker thread part)                                              */

static void
launch_succeeded (Run *run)
{
  g_autoptr(QMachine) self = q_box_dup (run->box);
  g_autoptr(GTask) task = g_steal_pointer (&run->launch_task);

  q_destroy_source (&run->launch_timeout);
  run_disconnect_launch_cancel (run);

  if (self != NULL)
    {
      machine_set_state (self, Q_MACHINE_STATE_RUNNING);
      g_task_return_boolean (task, TRUE);
    }
  else
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "The machine was disposed");
      run_kill_process (run, TRUE);
    }
}

static void
negotiate_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(Run) run = user_data;
  g_autoptr(GError) error = NULL;

  if (!q_qmp_client_negotiate_finish (Q_QMP_CLIENT (object), result, &error))
    {
      if (run->launch_task != NULL)
        run_launch_fail (run, g_error_new (error->domain, error->code,
                                           "QMP negotiation failed: %s", error->message));
      return;
    }

  if (run->launch_task != NULL && run->launch_error == NULL)
    launch_succeeded (run);
}

static void
run_start_qmp (Run     *run,
               GSocket *socket)
{
  g_autoptr(GSocketConnection) conn = g_socket_connection_factory_create_connection (socket);
  g_autoptr(QMachine) self = q_box_dup (run->box);
  QQmpClient *client;

  if (self == NULL)
    {
      run_launch_fail (run, g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                         "The machine was disposed"));
      return;
    }

  client = q_qmp_client_new (G_IO_STREAM (conn));

  /* Still on the worker, before the client's first read can run. The
   * hooks hold a reference to the run until run_finish clears them; the
   * signal handler holds the machine's box. */
  q_qmp_client_set_owner_context (client, self->owner_context);
  q_qmp_client_set_max_queued_events (client, self->event_queue_limit);
  q_qmp_client_set_max_queued_event_bytes (client, self->event_queue_bytes);
  {
    g_autofree char *name = NULL;

    /* Copied first: locks are leaves. */
    q_leaf_lock (&self->mutex);
    name = g_strdup (self->name);
    q_leaf_unlock (&self->mutex);
    q_qmp_client_set_log_name (client, name);
  }
  q_qmp_client_set_hooks (client, machine_event_hook, run_qmp_closed_hook,
                          run_ref (run), (GDestroyNotify)run_unref);
  g_signal_connect_data (client, "event", G_CALLBACK (machine_qmp_event_cb),
                         q_box_ref (run->box),
                         (GClosureNotify)(void (*)(void))q_box_unref, 0);

  /* Published for get_qmp_client, cmd and qmp; the machine keeps the last
   * client until the next launch or its finalization. */
  q_leaf_lock (&self->mutex);
  run->qmp = client;
  g_set_object (&self->qmp_client, client);
  q_leaf_unlock (&self->mutex);

  q_qmp_client_negotiate_async (run->qmp, Q_QMP_NEGOTIATE_FLAGS_NONE, run->launch_cancellable,
                                negotiate_cb, run_ref (run));
}

/* ------------------------------------------------------------------------ */
/* Who is on the other end of the monitor                                   */

/* Whether @pid is @ancestor or one of its descendants (a wrapper such as
 * `gdb --args` runs QEMU as its child). */
static gboolean
pid_is_descendant (int pid,
                   int ancestor)
{
  for (guint hops = 0; hops < 64 && pid > 1; hops++)
    {
      g_autofree char *path = g_strdup_printf ("/proc/%d/stat", pid);
      g_autofree char *stat = NULL;
      const char *paren;

      if (pid == ancestor)
        return TRUE;
      /* "pid (comm) state ppid ...": comm may hold anything, so look for
       * the last parenthesis. */
      if (!g_file_get_contents (path, &stat, NULL, NULL) || !(paren = strrchr (stat, ')')))
        return FALSE;
      if (sscanf (paren + 1, " %*c %d", &pid) != 1)
        return FALSE;
    }
  return FALSE;
}

/* The inode of the loopback TCP socket whose local end is @local and whose
 * remote end is @remote, from /proc/net/tcp{,6}; 0 when not found. */
static guint64
tcp_socket_inode (GInetSocketAddress *local,
                  GInetSocketAddress *remote)
{
  GInetAddress *laddr = g_inet_socket_address_get_address (local);
  GInetAddress *raddr = g_inet_socket_address_get_address (remote);
  gboolean v6 = g_inet_address_get_family (laddr) == G_SOCKET_FAMILY_IPV6;
  g_autofree char *table = NULL;
  g_auto(GStrv) lines = NULL;
  char want_local[64], want_remote[64];

  for (int side = 0; side < 2; side++)
    {
      GInetAddress *addr = side == 0 ? laddr : raddr;
      guint port = g_inet_socket_address_get_port (side == 0 ? local : remote);
      const guint8 *bytes = g_inet_address_to_bytes (addr);
      char *out = side == 0 ? want_local : want_remote;
      gsize words = g_inet_address_get_native_size (addr) / 4;
      GString *s = g_string_new (NULL);

      /* The kernel prints each 32-bit word of the address as a native
       * integer, then the port. */
      for (gsize w = 0; w < words; w++)
        {
          guint32 word;
          memcpy (&word, bytes + 4 * w, 4);
          g_string_append_printf (s, "%08X", word);
        }
      g_string_append_printf (s, ":%04X", port);
      g_strlcpy (out, s->str, 64);
      g_string_free (s, TRUE);
    }

  if (!g_file_get_contents (v6 ? "/proc/net/tcp6" : "/proc/net/tcp", &table, NULL, NULL))
    return 0;
  lines = g_strsplit (table, "\n", -1);
  for (guint i = 1; lines[i]; i++)
    {
      char l[64], r[64];
      unsigned long long inode;

      /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
      if (sscanf (lines[i], " %*s %63s %63s %*s %*s %*s %*s %*s %*s %llu", l, r, &inode) == 3 &&
          g_str_equal (l, want_local) && g_str_equal (r, want_remote))
        return inode;
    }
  return 0;
}

/* Whether a process that is QEMU (or below it) holds the socket @inode. */
static gboolean
socket_inode_held_by (guint64 inode,
                      int     qemu_pid)
{
  g_autofree char *want = g_strdup_printf ("socket:[%" G_GUINT64_FORMAT "]", inode);
  g_autoptr(GDir) proc = g_dir_open ("/proc", 0, NULL);
  const char *name;

  while (proc && (name = g_dir_read_name (proc)))
    {
      int pid = atoi (name);
      g_autofree char *fd_dir_path = NULL;
      g_autoptr(GDir) fds = NULL;
      const char *fd;

      if (pid <= 0 || !pid_is_descendant (pid, qemu_pid))
        continue;
      fd_dir_path = g_strdup_printf ("/proc/%d/fd", pid);
      fds = g_dir_open (fd_dir_path, 0, NULL);
      while (fds && (fd = g_dir_read_name (fds)))
        {
          g_autofree char *link_path = g_build_filename (fd_dir_path, fd, NULL);
          g_autofree char *target = g_file_read_link (link_path, NULL);

          if (g_strcmp0 (target, want) == 0)
            return TRUE;
        }
    }
  return FALSE;
}

/* Whether the process that connected to our monitor listener is the QEMU
 * we spawned (or a descendant of it, under a wrapper), and not another
 * local process that connected first. */
static gboolean
peer_is_our_qemu (Run      *run,
                  GSocket  *socket,
                  GError  **error)
{
  if (run->pid <= 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "QEMU's pid is not known yet");
      return FALSE;
    }

  if (g_socket_get_family (socket) == G_SOCKET_FAMILY_UNIX)
    {
      g_autoptr(GCredentials) creds = g_socket_get_credentials (socket, error);
      pid_t pid;

      if (creds == NULL)
        return FALSE;
      pid = g_credentials_get_unix_pid (creds, NULL);
      if (g_credentials_get_unix_user (creds, NULL) != geteuid () ||
          !pid_is_descendant (pid, run->pid))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                       "the peer (pid %d, uid %u) is not the QEMU launched (pid %d)",
                       (int)pid, (guint)g_credentials_get_unix_user (creds, NULL), run->pid);
          return FALSE;
        }
      return TRUE;
    }

  {
    g_autoptr(GSocketAddress) local = g_socket_get_local_address (socket, NULL);
    g_autoptr(GSocketAddress) remote = g_socket_get_remote_address (socket, NULL);
    guint64 inode;

    if (!G_IS_INET_SOCKET_ADDRESS (local) || !G_IS_INET_SOCKET_ADDRESS (remote) ||
        !g_inet_address_get_is_loopback (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote))))
      {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                     "the peer is not on this machine's loopback interface");
        return FALSE;
      }
    /* QEMU's end of this connection: local and remote swapped. */
    inode = tcp_socket_inode (G_INET_SOCKET_ADDRESS (remote), G_INET_SOCKET_ADDRESS (local));
    if (inode == 0 || !socket_inode_held_by (inode, run->pid))
      {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                     "the connecting socket does not belong to the QEMU launched (pid %d)",
                     run->pid);
        return FALSE;
      }
    return TRUE;
  }
}

static gboolean
accept_cb (GSocket      *listener,
           GIOCondition  condition,
           gpointer      user_data)
{
  Run *run = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;

  if (run->launch_task == NULL || run->launch_error != NULL)
    return G_SOURCE_REMOVE;

  socket = g_socket_accept (listener, NULL, &error);
  if (socket == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        return G_SOURCE_CONTINUE;
      run_launch_fail (run, g_error_new (error->domain, error->code,
                                         "Accepting QEMU's monitor connection failed: %s",
                                         error->message));
      return G_SOURCE_REMOVE;
    }

  /* Another local process may connect before QEMU: it is refused and
   * the listener keeps waiting for QEMU itself. */
  if (!peer_is_our_qemu (run, socket, &error))
    {
      q_log_later (run->owner_context, G_LOG_LEVEL_WARNING,
                   "Refused a connection to the monitor of %s: %s", run->command_line,
                   error->message);
      g_socket_close (socket, NULL);
      return G_SOURCE_CONTINUE;
    }

  /* One connection only: stop listening (the socket file goes at cleanup). */
  g_socket_close (listener, NULL);
  g_clear_object (&run->listener);
  run->monitor_ours = g_object_ref (socket);
  run_start_qmp (run, socket);

  return G_SOURCE_REMOVE;
}

static gboolean
launch_timeout_cb (gpointer data)
{
  Run *run = data;

  g_clear_pointer (&run->launch_timeout, g_source_unref);
  run_launch_fail (run, g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                     "QMP was not ready within %d ms", run->qmp_timeout));
  return G_SOURCE_REMOVE;
}

static gboolean
launch_cancelled_idle (gpointer data)
{
  Run *run = data;

  run_launch_fail (run, g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                     "The launch was cancelled"));
  return G_SOURCE_REMOVE;
}

/* Any thread (the caller cancels where it likes). The handler's data is a
 * reference to the run, released when the handler is disconnected, which
 * the end of the launch does whichever way it ends. */
static void
launch_cancelled_cb (GCancellable *cancellable,
                     Run          *run)
{
  q_worker_schedule (launch_cancelled_idle, run_ref (run), (GDestroyNotify)run_unref);
}

static gboolean launch_spawned (gpointer data);

static gboolean
launch_spawn (gpointer data)
{
  Run *run = data;
  g_autoptr(QMachine) self = q_box_dup (run->box);
  GCancellable *cancellable = g_task_get_cancellable (run->launch_task);

  if (self == NULL || g_cancellable_is_cancelled (cancellable) || run->launch_error != NULL)
    {
      run->state = RUN_EXITED;
      if (run->launch_error == NULL)
        run->launch_error = g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, "The launch was cancelled");
      run_finish (run);
      return G_SOURCE_REMOVE;
    }

  /* From here until launch_spawned, the run is RUN_STARTED without a
   * subprocess: a kill or a failure in between is acted on there. */
  run->state = RUN_STARTED;
  machine_spawn (run, launch_spawned);

  return G_SOURCE_REMOVE;
}

/* Worker, with the spawn's outcome. */
static gboolean
launch_spawned (gpointer data)
{
  SpawnJob *job = data;
  Run *run = job->run;
  g_autoptr(QMachine) self = q_box_dup (run->box);
  GCancellable *cancellable = g_task_get_cancellable (run->launch_task);
  const char *identifier;

  run->subprocess = g_steal_pointer (&job->subprocess);
  if (run->subprocess == NULL)
    {
      run->state = RUN_EXITED;
      run->exit_code = 127;
      if (run->launch_error == NULL)
        run->launch_error = g_error_new (Q_MACHINE_ERROR, Q_MACHINE_ERROR_LAUNCH_FAILED, "%s",
                                         job->error ? job->error->message : "could not start QEMU");
      run_finish (run);
      return G_SOURCE_REMOVE;
    }

  /* GSubprocess forgets the pid once its child watch (on GLib's own
   * worker) has reaped the process: a QEMU that exited at once has none
   * left. Its exit is on its way to run_child_exited_cb all the same. */
  identifier = g_subprocess_get_identifier (run->subprocess);
  run->pid = identifier ? atoi (identifier) : 0;
  if (run->pid > 0 && self != NULL)
    {
      q_leaf_lock (&self->mutex);
      self->pid = run->pid;
      q_leaf_unlock (&self->mutex);
      machine_notify_later (self, PROP_PID);
      machine_notify_later (self, PROP_RUNNING);
    }

  g_subprocess_wait_async (run->subprocess, NULL, run_child_exited_cb, run_ref (run));

  /* Killed, failed, cancelled or abandoned while it was being spawned. */
  if (run->launch_error != NULL || (run->sent & RUN_KILLED_BY_USER) ||
      g_cancellable_is_cancelled (cancellable) || self == NULL)
    {
      if (run->launch_error == NULL)
        run->launch_error = g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, "The launch was cancelled");
      run_kill_process (run, FALSE);
      run_finish_maybe (run);
      return G_SOURCE_REMOVE;
    }

  if (!run->qmp_enabled)
    {
      launch_succeeded (run);
      return G_SOURCE_REMOVE;
    }

  run->launch_cancellable = g_cancellable_new ();
  run_timeout (run, &run->launch_timeout, run->qmp_timeout, launch_timeout_cb);
  if (cancellable != NULL)
    {
      run->launch_user_cancellable = g_object_ref (cancellable);
      run->launch_cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (launch_cancelled_cb),
                                                     run_ref (run), (GDestroyNotify)run_unref);
    }

  if (run->listener != NULL)
    {
      GSource *source = g_socket_create_source (run->listener, G_IO_IN, run->launch_cancellable);

      g_source_set_callback (source, (GSourceFunc)(void (*)(void))accept_cb,
                             run_ref (run), (GDestroyNotify)run_unref);
      g_source_attach (source, q_worker_get_context ());
      g_source_unref (source);
    }
  else
    run_start_qmp (run, run->monitor_ours);

  return G_SOURCE_REMOVE;
}

/* ------------------------------------------------------------------------ */
/* Launch (caller's thread part): files, sockets and the command line       */

static int
pick_target (GArray *taken,
             int    *next)
{
  for (;;)
    {
      int candidate = (*next)++;
      gboolean used = FALSE;

      for (guint i = 0; i < taken->len; i++)
        used |= g_array_index (taken, ExtraFd, i).target == candidate;
      if (!used)
        return candidate;
    }
}

static gboolean
make_socketpair (int     *ours,
                 int     *theirs,
                 GError **error)
{
  int sv[2];

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "socketpair() failed: %s", g_strerror (errsv));
      return FALSE;
    }
  *ours = sv[0];
  *theirs = sv[1];
  return TRUE;
}

/* Whether @binary offers the qtest accelerator, asked once per binary
 * (`BINARY -accel help`, run to its end on the calling thread: a launch's
 * first, a blocking spawn; no answer means no). The wrapper is not used. Debian's QEMU 7.2 has none: the qtest channel works with
 * TCG, but for the clock commands. */
static gboolean
machine_binary_has_qtest_accel (const char *binary)
{
  static GMutex lock;
  static GHashTable *known;   /* binary -> GINT_TO_POINTER (1 + answer) */
  g_autoptr(GSubprocess) probe = NULL;
  g_autofree char *out = NULL;
  gboolean has = FALSE;
  gpointer cached;

  if (binary == NULL)
    return FALSE;

  g_mutex_lock (&lock);
  cached = known ? g_hash_table_lookup (known, binary) : NULL;
  g_mutex_unlock (&lock);
  if (cached != NULL)
    return GPOINTER_TO_INT (cached) - 1;

  probe = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE |
                            G_SUBPROCESS_FLAGS_STDIN_INHERIT, NULL,
                            binary, "-accel", "help", NULL);
  if (probe != NULL && g_subprocess_communicate_utf8 (probe, NULL, NULL, &out, NULL, NULL) &&
      out != NULL)
    {
      g_auto(GStrv) lines = g_strsplit (out, "\n", -1);

      for (guint i = 0; lines[i] != NULL && !has; i++)
        has = g_strcmp0 (g_strstrip (lines[i]), "qtest") == 0;
    }

  g_mutex_lock (&lock);
  if (known == NULL)
    known = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_hash_table_insert (known, g_strdup (binary), GINT_TO_POINTER (1 + has));
  g_mutex_unlock (&lock);

  return has;
}

const char *
machine_ensure_temp_dir_locked (QMachine  *self,
                                GError   **error)
{
  if (self->temp_dir == NULL)
    self->temp_dir = q_fs_make_temp_dir (self->base_temp_dir, "qmachine", error);

  return self->temp_dir;
}

static char **
machine_build_argv (QMachine *self,
                    Run      *run,
                    char    **monitor_chardev)
{
  GPtrArray *argv = g_ptr_array_new ();

  for (guint i = 0; self->wrapper && self->wrapper[i]; i++)
    g_ptr_array_add (argv, g_strdup (self->wrapper[i]));
  g_ptr_array_add (argv, g_strdup (self->binary));
  g_ptr_array_add (argv, g_strdup ("-display"));
  g_ptr_array_add (argv, g_strdup ("none"));
  g_ptr_array_add (argv, g_strdup ("-vga"));
  g_ptr_array_add (argv, g_strdup ("none"));

  if (self->qmp_enabled && *monitor_chardev != NULL)
    {
      g_ptr_array_add (argv, g_strdup ("-chardev"));
      g_ptr_array_add (argv, g_strdup (*monitor_chardev));
      g_ptr_array_add (argv, g_strdup ("-mon"));
      g_ptr_array_add (argv, g_strdup ("chardev=mon,mode=control"));
    }
  if (self->machine_type != NULL)
    {
      g_ptr_array_add (argv, g_strdup ("-machine"));
      g_ptr_array_add (argv, g_strdup (self->machine_type));
    }
  for (guint i = 0; i < self->console_index; i++)
    {
      g_ptr_array_add (argv, g_strdup ("-serial"));
      g_ptr_array_add (argv, g_strdup ("null"));
    }
  if (self->console_set)
    {
      g_ptr_array_add (argv, g_strdup ("-chardev"));
      g_ptr_array_add (argv, g_strdup_printf ("socket,id=console,fd=%d", run ? run->console_target : 4));
      if (self->console_device_type == NULL)
        {
          g_ptr_array_add (argv, g_strdup ("-serial"));
          g_ptr_array_add (argv, g_strdup ("chardev:console"));
        }
      else
        {
          /* Checked when the run was prepared; a preview shows what
           * cannot be passed as it was given. */
          g_autofree char *quoted = q_qemu_opt_quote_implied (self->console_device_type,
                                                              "console device type", NULL);

          g_ptr_array_add (argv, g_strdup ("-device"));
          g_ptr_array_add (argv, g_strdup_printf ("%s,chardev=console",
                                                  quoted ? quoted : self->console_device_type));
        }
    }
  if (self->agent_set)
    {
      g_ptr_array_add (argv, g_strdup ("-chardev"));
      g_ptr_array_add (argv, g_strdup_printf ("socket,id=" Q_AGENT_DEVICE_ID ",fd=%d",
                                              run ? run->agent_target : 5));
      g_ptr_array_add (argv, g_strdup ("-device"));
      if (self->agent_port == Q_GUEST_AGENT_PORT_ISA_SERIAL)
        g_ptr_array_add (argv, g_strdup ("isa-serial,chardev=" Q_AGENT_DEVICE_ID));
      else
        {
          g_ptr_array_add (argv, g_strdup ("virtio-serial,id=" Q_AGENT_DEVICE_ID "-bus"));
          g_ptr_array_add (argv, g_strdup ("-device"));
          g_ptr_array_add (argv, g_strdup ("virtserialport,bus=" Q_AGENT_DEVICE_ID "-bus.0,"
                                           "chardev=" Q_AGENT_DEVICE_ID ",id=" Q_AGENT_DEVICE_ID ","
                                           "name=org.qemu.guest_agent.0"));
        }
    }
  if (self->qtest_set)
    {
      /* QEMU 7.2's -qtest finds its chardev by the id "qtest" only. Its
       * log of every command goes to stderr, QEMU's log, unless
       * -qtest-log /dev/null (q_machine_set_qtest_log). */
      g_ptr_array_add (argv, g_strdup ("-chardev"));
      g_ptr_array_add (argv, g_strdup_printf ("socket,id=" Q_QTEST_DEVICE_ID ",fd=%d",
                                              run ? run->qtest_target : 6));
      g_ptr_array_add (argv, g_strdup ("-qtest"));
      g_ptr_array_add (argv, g_strdup ("chardev:" Q_QTEST_DEVICE_ID));
      if (!self->qtest_log)
        {
          g_ptr_array_add (argv, g_strdup ("-qtest-log"));
          g_ptr_array_add (argv, g_strdup ("/dev/null"));
        }
      if (run != NULL && run->qtest_accel)
        {
          g_ptr_array_add (argv, g_strdup ("-accel"));
          g_ptr_array_add (argv, g_strdup ("qtest"));
        }
    }
  for (guint i = 0; i + 1 < self->args->len; i++)
    g_ptr_array_add (argv, g_strdup (g_ptr_array_index (self->args, i)));
  g_ptr_array_add (argv, NULL);

  return (char **)g_ptr_array_free (argv, FALSE);
}

/* Decides where the monitor and console go; returns the -chardev value. */
static char *
machine_plan_monitor (QMachine *self,
                      int       monitor_target)
{
  if (self->monitor_address == NULL)
    return g_strdup_printf ("socket,id=mon,fd=%d", monitor_target);

  if (G_IS_UNIX_SOCKET_ADDRESS (self->monitor_address))
    {
      const char *path = g_unix_socket_address_get_path (G_UNIX_SOCKET_ADDRESS (self->monitor_address));
      g_autofree char *quoted = q_qemu_opt_quote (path, "monitor socket path", NULL);

      return quoted ? g_strdup_printf ("socket,id=mon,path=%s", quoted) : NULL;
    }

  if (G_IS_INET_SOCKET_ADDRESS (self->monitor_address))
    {
      GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (self->monitor_address);
      g_autofree char *host = g_inet_address_to_string (g_inet_socket_address_get_address (inet));

      return g_strdup_printf ("socket,id=mon,host=%s,port=%u", host,
                              g_inet_socket_address_get_port (inet));
    }

  return NULL;
}

/* Called without the machine mutex (it takes it for the temporary
 * directory): what it makes may run code that asks the machine. */
static Run *
machine_prepare_run (QMachine  *self,
                     GError   **error)
{
  g_autoptr(Run) run = run_new (self);
  g_autofree char *monitor_chardev = NULL;
  const char *log_dir;
  int next_target = 3;

  /* QEMU receives dups of add_fd's descriptors at the numbers the user
   * named; ours take the lowest numbers left free. */
  for (guint i = 0; i < self->extra_fds->len; i++)
    {
      ExtraFd x = g_array_index (self->extra_fds, ExtraFd, i);

      x.fd = fcntl (x.fd, F_DUPFD_CLOEXEC, 3);
      if (x.fd < 0)
        {
          int errsv = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                       "Could not duplicate the descriptor for -add-fd fd=%d: %s",
                       x.target, g_strerror (errsv));
          return NULL;
        }
      g_array_append_val (run->extra_fds, x);
    }

  /* Without a log directory, QEMU's log is an unnamed file: nothing to
   * create a directory for, nothing to remove (on ext4, creating and
   * removing a named log and its directory costs about a millisecond of
   * each launch and shutdown). File systems without unnamed files get a
   * named log in the temporary directory. */
  if (self->log_dir == NULL)
    {
      g_autoptr(GError) local_error = NULL;

      run->log_fd = q_fs_open_anonymous_file (self->base_temp_dir, "log file", &local_error);
      if (local_error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
    }

  if (run->log_fd < 0)
    {
      if (self->log_dir == NULL)
        {
          q_leaf_lock (&self->mutex);
          log_dir = machine_ensure_temp_dir_locked (self, error);
          run->log_path = log_dir ? g_strdup_printf ("%s/%s.log", log_dir, self->name) : NULL;
          q_leaf_unlock (&self->mutex);
          if (log_dir == NULL)
            return NULL;
        }
      else
        run->log_path = g_strdup_printf ("%s/%s.log", self->log_dir, self->name);

      run->log_fd = q_fs_open_private_file (run->log_path, "log file", error);
      if (run->log_fd < 0)
        return NULL;
    }

  run->log_read_fd = fcntl (run->log_fd, F_DUPFD_CLOEXEC, 3);
  if (run->log_read_fd < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "Could not duplicate the log file's descriptor: %s", g_strerror (errsv));
      return NULL;
    }

  q_leaf_lock (&self->mutex);
  if (self->temp_dir != NULL)
    run->temp_dir = g_strdup (self->temp_dir);
  q_leaf_unlock (&self->mutex);

  if (self->qmp_enabled)
    {
      if (self->monitor_address == NULL)
        {
          int ours;

          if (!make_socketpair (&ours, &run->monitor_theirs, error))
            return NULL;
          run->monitor_ours = g_socket_new_from_fd (ours, error);
          if (run->monitor_ours == NULL)
            {
              close (ours);
              return NULL;
            }
          run->monitor_target = pick_target (run->extra_fds, &next_target);
        }
      else
        {
          GSocketFamily family = g_socket_address_get_family (self->monitor_address);
          g_autoptr(GSocketAddress) bound = NULL;

          if (!G_IS_UNIX_SOCKET_ADDRESS (self->monitor_address) &&
              !G_IS_INET_SOCKET_ADDRESS (self->monitor_address))
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           "The monitor address must be a unix or inet socket address");
              return NULL;
            }

          if (!q_check_socket_address (self->monitor_address, "monitor socket path", error))
            return NULL;
          /* QEMU connects to the path without knowing who listens there:
           * only a directory where nobody else can remove our socket and
           * bind theirs in its place will do. */
          if (G_IS_UNIX_SOCKET_ADDRESS (self->monitor_address) &&
              g_unix_socket_address_get_address_type (G_UNIX_SOCKET_ADDRESS (self->monitor_address)) !=
              G_UNIX_SOCKET_ADDRESS_PATH)
            {
              /* Anyone can bind an abstract name once ours is gone. */
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           "The monitor address must be a unix socket path: abstract and "
                           "anonymous unix addresses are not supported");
              return NULL;
            }
          if (G_IS_UNIX_SOCKET_ADDRESS (self->monitor_address) &&
              !q_fs_check_socket_path (g_unix_socket_address_get_path (G_UNIX_SOCKET_ADDRESS (self->monitor_address)),
                                       "monitor socket", error))
            return NULL;

          run->listener = g_socket_new (family, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, error);
          if (run->listener == NULL)
            return NULL;
          g_socket_set_blocking (run->listener, FALSE);
          if (!g_socket_bind (run->listener, self->monitor_address, TRUE, error) ||
              !g_socket_listen (run->listener, error))
            {
              g_prefix_error (error, "Could not listen for QEMU's monitor: ");
              return NULL;
            }
          if (G_IS_UNIX_SOCKET_ADDRESS (self->monitor_address))
            {
              run->unix_path = g_strdup (g_unix_socket_address_get_path (G_UNIX_SOCKET_ADDRESS (self->monitor_address)));
              /* Only this user may connect (QEMU runs as this user); the
               * peer is checked as well when it connects. */
              if (g_chmod (run->unix_path, 0600) != 0)
                {
                  int errsv = errno;
                  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                               "Could not restrict the monitor socket %s: %s",
                               run->unix_path, g_strerror (errsv));
                  return NULL;
                }
            }

          /* With port 0 the kernel picked one: QEMU must use that. */
          bound = g_socket_get_local_address (run->listener, NULL);
          if (bound != NULL && G_IS_INET_SOCKET_ADDRESS (bound))
            {
              GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (bound);
              g_autofree char *host = g_inet_address_to_string (g_inet_socket_address_get_address (inet));
              monitor_chardev = g_strdup_printf ("socket,id=mon,host=%s,port=%u", host,
                                                 g_inet_socket_address_get_port (inet));
            }
        }
    }

  if (self->console_set)
    {
      g_autoptr(GSocket) socket = NULL;

      if (self->console_device_type != NULL)
        {
          g_autofree char *quoted = q_qemu_opt_quote_implied (self->console_device_type,
                                                              "console device type", error);
          if (quoted == NULL)
            return NULL;
        }
      if (!make_socketpair (&run->console_ours, &run->console_theirs, error))
        return NULL;
      run->console_target = pick_target (run->extra_fds, &next_target);
      if (self->console_log != NULL)
        {
          run->console_log_fd = q_fs_open_private_file (self->console_log, "console log", error);
          if (run->console_log_fd < 0)
            return NULL;
        }
      socket = g_socket_new_from_fd (run->console_ours, error);
      if (socket == NULL)
        return NULL;
      run->console_ours = -1;   /* the socket owns it now */
      run->console_drained = self->drain_console || self->console_log != NULL;
      run->console = q_console_new (socket, self->owner_context,
                                    run->console_drained,
                                    self->console_buffer_size,
                                    g_steal_fd (&run->console_log_fd));
    }

  if (self->agent_set)
    {
      g_autoptr(GSocket) socket = NULL;
      g_autoptr(GSocketConnection) connection = NULL;
      int ours = -1;

      if (!make_socketpair (&ours, &run->agent_theirs, error))
        return NULL;
      run->agent_target = pick_target (run->extra_fds, &next_target);
      socket = g_socket_new_from_fd (ours, error);
      if (socket == NULL)
        {
          q_close_fd (&ours);
          return NULL;
        }
      connection = g_socket_connection_factory_create_connection (socket);
      run->agent = q_guest_agent_new_with_context (G_IO_STREAM (connection), self->owner_context);
    }

  if (self->qtest_set)
    {
      g_autoptr(GSocket) socket = NULL;
      g_autoptr(GSocketConnection) connection = NULL;
      int ours = -1;

      run->qtest_accel = machine_binary_has_qtest_accel (self->binary);
      if (!make_socketpair (&ours, &run->qtest_theirs, error))
        return NULL;
      run->qtest_target = pick_target (run->extra_fds, &next_target);
      socket = g_socket_new_from_fd (ours, error);
      if (socket == NULL)
        {
          q_close_fd (&ours);
          return NULL;
        }
      connection = g_socket_connection_factory_create_connection (socket);
      run->qtest = q_qtest_client_new_with_context (G_IO_STREAM (connection), self->owner_context);
    }

  if (self->qmp_enabled && monitor_chardev == NULL)
    monitor_chardev = machine_plan_monitor (self, run->monitor_target);
  if (self->qmp_enabled && monitor_chardev == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "The monitor socket path cannot be passed to QEMU (a control character)");
      return NULL;
    }

  run->environ = g_strdupv (self->environ);
  run->argv = machine_build_argv (self, run, &monitor_chardev);
  if (run->environ != NULL && !g_path_is_absolute (run->argv[0]))
    {
      /* Found with the controller's PATH: QEMU's own environment may have
       * none. */
      char *found = g_find_program_in_path (run->argv[0]);

      if (found != NULL)
        {
          g_free (run->argv[0]);
          run->argv[0] = found;
        }
    }
  run->command_line = q_shell_join ((const char * const *)run->argv);
  run_track (run, TRUE);

  return g_steal_pointer (&run);
}


/* Machine mutex held. Takes @argv. An array handed out before is kept
 * (get_full_args returns it transfer none) unless the new one is equal,
 * in which case the old one stays current. */
static void
machine_set_full_args_locked (QMachine  *self,
                              char     **argv)
{
  if (self->full_args != NULL && g_strv_equal ((const char * const *)self->full_args,
                                               (const char * const *)argv))
    {
      g_strfreev (argv);
      return;
    }
  if (self->full_args != NULL)
    g_ptr_array_add (self->old_full_args, g_steal_pointer (&self->full_args));
  self->full_args = argv;
}

/* ------------------------------------------------------------------------ */
/* Public API                                                               */

/**
 * q_machine_get_environ:
 * @self: a `QMachine`
 *
 * Gets the environment QEMU is started with.
 *
 * Returns: (transfer none) (nullable) (array zero-terminated=1): the
 *   environment, or %NULL when QEMU inherits the controller's (the
 *   default)
 *
 * Since: 1.0
 */
const char * const *
q_machine_get_environ (QMachine *self)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);
  return (const char * const *)self->environ;
}

/**
 * q_machine_set_environ:
 * @self: a `QMachine`
 * @env: (nullable) (array zero-terminated=1): `NAME=value` strings, or
 *   %NULL to inherit the controller's environment
 *
 * Sets the whole environment of the QEMU processes launched from now on.
 * By default QEMU inherits the controller's environment, as
 * `qemu.machine` does; an empty array starts it with none at all, which
 * keeps secrets in the controller's environment away from it (QEMU itself
 * needs no variable to run). Takes effect at the next launch.
 *
 * Since: 1.0
 */
void
q_machine_set_environ (QMachine           *self,
                       const char * const *env)
{
  g_return_if_fail (Q_IS_MACHINE (self));

  g_strfreev (self->environ);
  self->environ = g_strdupv ((char **)env);
}

/**
 * q_machine_setenv:
 * @self: a `QMachine`
 * @variable: the variable's name (no `=`)
 * @value: its value
 *
 * Sets one variable in QEMU's environment (starting from a copy of the
 * controller's when none was set).
 *
 * Since: 1.0
 */
void
q_machine_setenv (QMachine   *self,
                  const char *variable,
                  const char *value)
{
  g_return_if_fail (Q_IS_MACHINE (self));
  g_return_if_fail (variable != NULL && *variable != '\0' && strchr (variable, '=') == NULL);
  g_return_if_fail (value != NULL);

  if (self->environ == NULL)
    self->environ = g_get_environ ();
  self->environ = g_environ_setenv (self->environ, variable, value, TRUE);
}

/**
 * q_machine_unsetenv:
 * @self: a `QMachine`
 * @variable: the variable's name
 *
 * Removes one variable from QEMU's environment (starting from a copy of
 * the controller's when none was set).
 *
 * Since: 1.0
 */
void
q_machine_unsetenv (QMachine   *self,
                    const char *variable)
{
  g_return_if_fail (Q_IS_MACHINE (self));
  g_return_if_fail (variable != NULL);

  if (self->environ == NULL)
    self->environ = g_get_environ ();
  self->environ = g_environ_unsetenv (self->environ, variable);
}

/**
 * q_machine_add_monitor_null:
 * @self: a `QMachine`
 *
 * Adds `-monitor null`: an unused human monitor, so QEMU does not create a
 * default one.
 *
 * Since: 1.0
 */
void
q_machine_add_monitor_null (QMachine *self)
{
  g_return_if_fail (Q_IS_MACHINE (self));

  machine_append_arg (self, "-monitor");
  machine_append_arg (self, "null");
  machine_notify_now (self, PROP_ARGS);
}

/**
 * q_machine_add_fd:
 * @self: a `QMachine`
 * @fd: a file descriptor of the caller (greater than 2)
 * @fdset: the fd set id
 * @opaque: a free-form string QEMU shows in `query-fdsets`
 * @opts: (nullable): more `-add-fd` options
 *
 * Passes @fd to QEMU as `-add-fd fd=FD,set=FDSET,opaque=OPAQUE[,OPTS]`.
 * @opaque is quoted for QEMU's option syntax (its commas doubled), so it
 * stays one value whatever it holds; a control character in it is an
 * error. @opts is passed as written.
 * The machine keeps its own duplicate of @fd (the caller may close @fd) and
 * QEMU receives it under the number @fd.
 *
 * Returns: %TRUE, or %FALSE with @error set when @fd is not usable
 *
 * Since: 1.0
 */
gboolean
q_machine_add_fd (QMachine    *self,
                  int          fd,
                  int          fdset,
                  const char  *opaque,
                  const char  *opts,
                  GError     **error)
{
  g_autofree char *arg = NULL;
  g_autofree char *quoted_opaque = NULL;
  ExtraFd x;

  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);
  g_return_val_if_fail (opaque != NULL, FALSE);

  if (fd <= 2)
    {
      g_set_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_ADD_DEVICE,
                   "-add-fd needs a descriptor above 2, not %d", fd);
      return FALSE;
    }
  for (guint i = 0; i < self->extra_fds->len; i++)
    {
      if (g_array_index (self->extra_fds, ExtraFd, i).target == fd)
        {
          g_set_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_ADD_DEVICE,
                       "Descriptor %d was already added", fd);
          return FALSE;
        }
    }

  /* The opaque string is a value: `x,set=9` must not become an option. */
  if (!(quoted_opaque = q_qemu_opt_quote (opaque, "-add-fd opaque string", error)))
    return FALSE;

  x.target = fd;
  x.fd = fcntl (fd, F_DUPFD_CLOEXEC, 3);
  if (x.fd < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "Descriptor %d cannot be passed: %s", fd, g_strerror (errsv));
      return FALSE;
    }
  g_array_append_val (self->extra_fds, x);

  arg = g_strdup_printf ("fd=%d,set=%d,opaque=%s%s%s", fd, fdset, quoted_opaque,
                         opts && *opts ? "," : "", opts && *opts ? opts : "");
  machine_append_arg (self, "-add-fd");
  machine_append_arg (self, arg);
  machine_notify_now (self, PROP_ARGS);

  return TRUE;
}

/**
 * q_machine_get_full_args:
 * @self: a `QMachine`
 *
 * Gets the exact command line of the current or last launch: wrapper,
 * binary, the arguments qmachine adds (`-display none -vga none`, the
 * monitor, `-machine`, the console) and the extra arguments. Before the
 * first launch, the command line the current configuration would give.
 *
 * The array stays valid as long as the machine lives: a later call that
 * gives a different command line returns a new array and keeps the old
 * one, so calling this twice never invalidates what the first call
 * returned.
 *
 * Returns: (transfer none) (array zero-terminated=1): the command line
 *
 * Since: 1.0
 */
const char * const *
q_machine_get_full_args (QMachine *self)
{
  const char * const *ret;
  gboolean qtest_accel;

  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);

  /* Asked before the lock: it may run the binary. */
  qtest_accel = self->qtest_set && machine_binary_has_qtest_accel (self->binary);

  q_leaf_lock (&self->mutex);
  if (self->run == NULL && self->state == Q_MACHINE_STATE_NOT_LAUNCHED && !self->have_exit_code)
    {
      g_autofree char *chardev = NULL;
      GArray *taken = self->extra_fds;
      int next = 3;
      int mon = self->monitor_address ? -1 : pick_target (taken, &next);
      Run preview = { 0 };

      preview.console_target = self->console_set ? pick_target (taken, &next) : -1;
      preview.agent_target = self->agent_set ? pick_target (taken, &next) : -1;
      preview.qtest_target = self->qtest_set ? pick_target (taken, &next) : -1;
      preview.qtest_accel = qtest_accel;
      chardev = machine_plan_monitor (self, mon);
      machine_set_full_args_locked (self, machine_build_argv (self, &preview, &chardev));
    }
  ret = (const char * const *)self->full_args;
  q_leaf_unlock (&self->mutex);

  return ret;
}

/**
 * q_machine_dup_full_args:
 * @self: a `QMachine`
 *
 * Like [method@QMachine.Machine.get_full_args], as a copy: for a caller
 * in another thread, or one that keeps it past a later launch.
 *
 * Returns: (transfer full) (array zero-terminated=1): the command line
 *
 * Since: 1.0
 */
char **
q_machine_dup_full_args (QMachine *self)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);

  return g_strdupv ((char **)q_machine_get_full_args (self));
}

/**
 * q_machine_launch_async:
 * @self: a `QMachine`
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called once QEMU runs and QMP is ready
 * @user_data: closure data for @callback
 *
 * Starts QEMU and, unless QMP is disabled, connects and negotiates QMP.
 *
 * The wait for QMP races QEMU's exit and
 * [property@QMachine.Machine:qmp-timeout]: a QEMU that exits early fails
 * with `Q_MACHINE_ERROR_LAUNCH_FAILED`, one that does not answer in time
 * with `G_IO_ERROR_TIMED_OUT`; either message holds the exit status, the
 * shell-quoted command line and QEMU's output, which also stay readable
 * with [method@QMachine.Machine.get_exit_code],
 * [method@QMachine.Machine.get_full_args] and
 * [method@QMachine.Machine.get_log]. On failure, everything the launch made
 * is removed and the process is reaped before the callback runs.
 *
 * Launching a launched machine fails with
 * `Q_MACHINE_ERROR_ALREADY_LAUNCHED`.
 *
 * Since: 1.0
 */
void
q_machine_launch_async (QMachine            *self,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *temp_dir = NULL;
  QConsole *old_console = NULL;
  QGuestAgent *old_agent = NULL;
  QQtestClient *old_qtest = NULL;
  QQmpClient *old_client = NULL;
  gboolean paused, paused_changed;
  Run *run;

  q_return_async_if_fail (Q_IS_MACHINE (self), callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, q_machine_launch_async);
  g_task_set_name (task, "[qmachine] launch");
  /* Cancellation is handled by hand: QEMU must be reaped first. */
  g_task_set_check_cancellable (task, FALSE);

  if (self->binary == NULL || *self->binary == '\0')
    {
      g_task_return_new_error (task, Q_MACHINE_ERROR, Q_MACHINE_ERROR_LAUNCH_FAILED,
                               "QEMU failed to launch: the machine has no binary");
      return;
    }

  q_leaf_lock (&self->mutex);
  if (self->state != Q_MACHINE_STATE_NOT_LAUNCHED || self->run != NULL || self->preparing)
    {
      q_leaf_unlock (&self->mutex);
      g_task_return_new_error (task, Q_MACHINE_ERROR, Q_MACHINE_ERROR_ALREADY_LAUNCHED,
                               "The machine %s is already launched", self->name);
      return;
    }
  /* Files, sockets and objects are made without the lock (nothing they
   * run may find it held); the flag keeps a second launch out meanwhile. */
  self->preparing = TRUE;
  q_leaf_unlock (&self->mutex);

  run = machine_prepare_run (self, &error);

  q_leaf_lock (&self->mutex);
  self->preparing = FALSE;
  if (run == NULL)
    {
      /* Nothing ran: undo what was made and report it. */
      temp_dir = g_steal_pointer (&self->temp_dir);
      q_leaf_unlock (&self->mutex);
      q_fs_remove_tree (temp_dir);
      g_task_return_new_error (task, Q_MACHINE_ERROR, Q_MACHINE_ERROR_LAUNCH_FAILED,
                               "QEMU failed to launch: %s", error->message);
      return;
    }

  /* The previous run's objects are dropped after the unlock: their last
   * reference may go here, and their dispose and the application's weak
   * notifies must not run under the machine's lock. */
  self->run = run;
  old_console = g_steal_pointer (&self->console);
  self->console = run->console ? g_object_ref (run->console) : NULL;
  old_agent = g_steal_pointer (&self->agent);
  self->agent = run->agent ? g_object_ref (run->agent) : NULL;
  old_qtest = g_steal_pointer (&self->qtest);
  self->qtest = run->qtest ? g_object_ref (run->qtest) : NULL;
  if (self->qmp_client != NULL)
    self->dropped_signals += q_qmp_client_get_dropped_events (self->qmp_client);
  old_client = g_steal_pointer (&self->qmp_client);
  machine_set_full_args_locked (self, g_strdupv (run->argv));
  self->have_exit_code = FALSE;
  g_clear_pointer (&self->iolog, g_free);
  machine_clear_events_locked (self);
  self->quit_issued = FALSE;
  /* QEMU starts with stopped CPUs when told -S; no command asks. */
  paused = FALSE;
  for (guint i = 0; i + 1 < self->args->len; i++)
    if (g_strcmp0 (g_ptr_array_index (self->args, i), "-S") == 0)
      paused = TRUE;
  paused_changed = self->paused != paused;
  self->paused = paused;
  machine_set_state_locked (self, Q_MACHINE_STATE_LAUNCHING);
  run->launch_task = g_steal_pointer (&task);
  q_leaf_unlock (&self->mutex);

  g_clear_object (&old_console);
  g_clear_object (&old_agent);
  g_clear_object (&old_qtest);
  g_clear_object (&old_client);

  machine_notify_later (self, PROP_STATE);
  if (paused_changed)
    machine_notify_later (self, PROP_PAUSED);
  g_debug ("Launching: %s", run->command_line);
  q_worker_schedule (launch_spawn, run_ref (run), (GDestroyNotify)run_unref);
}

/**
 * q_machine_launch_finish:
 * @self: a `QMachine`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.Machine.launch_async].
 *
 * Returns: %TRUE when QEMU runs and QMP is ready
 *
 * Since: 1.0
 */
gboolean
q_machine_launch_finish (QMachine      *self,
                         GAsyncResult  *result,
                         GError       **error)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * q_machine_launch:
 * @self: a `QMachine`
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.Machine.launch_async].
 *
 * Returns: %TRUE when QEMU runs and QMP is ready
 *
 * Since: 1.0
 */
gboolean
q_machine_launch (QMachine      *self,
                  GCancellable  *cancellable,
                  GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);

  q_sync_call_begin (&call);
  q_machine_launch_async (self, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return FALSE;

  return q_machine_launch_finish (self, result, error);
}
