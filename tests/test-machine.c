/* test-machine.c: QMachine against Debian's real qemu-system-x86_64
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <glib-unix.h>
#include <gio/gunixsocketaddress.h>

#include "qmachine.h"
#include "machine-test-util.h"
#include "q-machine-private.h"
#include "q-util-private.h"

static const char *
qemu_binary (void)
{
  const char *env = g_getenv ("QMACHINE_TEST_QEMU");
  return env ? env : "qemu-system-x86_64";
}


typedef struct
{
  char     *base;      /* per-test base temp dir: must be empty afterwards */
  QMachine *machine;
  GPtrArray *states;   /* QMachineState seen through notify::state */
  int        exited;   /* times ::exited was emitted */
  int        exit_code;
} Fixture;

static void
state_cb (QMachine *m, GParamSpec *pspec, Fixture *f)
{
  g_ptr_array_add (f->states, GINT_TO_POINTER (q_machine_get_state (m)));
}

static void
exited_cb (QMachine *m, int code, Fixture *f)
{
  f->exited++;
  f->exit_code = code;
}

static QMachine *
new_machine (Fixture *f)
{
  QMachine *m = q_machine_new (qemu_binary ());

  q_machine_set_base_temp_dir (m, f->base);
  q_machine_add_args (m, "-nodefaults", NULL);
  q_machine_set_machine (m, "none");
  return m;
}

static void
setup (Fixture *f, gconstpointer data)
{
  f->base = g_dir_make_tmp ("qm-test-XXXXXX", NULL);
  g_assert_nonnull (f->base);
  f->states = g_ptr_array_new ();
  f->machine = new_machine (f);
  g_signal_connect (f->machine, "notify::state", G_CALLBACK (state_cb), f);
  g_signal_connect (f->machine, "exited", G_CALLBACK (exited_cb), f);
}

static void
pump (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
assert_process_gone (int pid)
{
  g_assert_cmpint (pid, >, 0);
  g_assert_cmpint (kill (pid, 0), ==, -1);
  g_assert_cmpint (errno, ==, ESRCH);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  GDir *dir;

  if (f->machine)
    {
      g_assert_true (q_machine_kill (f->machine, NULL, NULL));
      g_signal_handlers_disconnect_by_data (f->machine, f);
      /* Notifications still on their way hold the machine: let them land. */
      wait_finalized (g_steal_pointer (&f->machine));
    }
  pump ();

  /* Nothing left behind in the base temp dir. */
  dir = g_dir_open (f->base, 0, NULL);
  g_assert_nonnull (dir);
  g_assert_null (g_dir_read_name (dir));
  g_dir_close (dir);
  g_rmdir (f->base);
  g_free (f->base);
  g_ptr_array_unref (f->states);
}

/* Async helpers: iterate the default context until the callback ran. */
static void
store_result (GObject *o, GAsyncResult *r, gpointer data)
{
  *(GAsyncResult **)data = g_object_ref (r);
}

static GAsyncResult *
wait_result (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *slot;
}

static void
test_lifecycle (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) status = NULL;
  g_autofree char *temp_dir = NULL;
  int code = 12345;
  int pid;

  g_assert_cmpint (q_machine_get_state (f->machine), ==, Q_MACHINE_STATE_NOT_LAUNCHED);
  g_assert_false (q_machine_get_exit_code (f->machine, &code));

  g_assert_true (q_machine_launch (f->machine, NULL, &error));
  g_assert_no_error (error);
  pump ();
  g_assert_cmpint (q_machine_get_state (f->machine), ==, Q_MACHINE_STATE_RUNNING);
  g_assert_true (q_machine_is_running (f->machine));
  pid = q_machine_get_pid (f->machine);
  g_assert_cmpint (pid, >, 0);
  g_assert_cmpint (kill (pid, 0), ==, 0);
  g_assert_nonnull (q_machine_get_qmp_client (f->machine));
  temp_dir = g_strdup (q_machine_get_temp_dir (f->machine));
  g_assert_true (g_file_test (temp_dir, G_FILE_TEST_IS_DIR));
  {
    /* Whatever the user puts in the temp dir goes with it. */
    g_autofree char *sub = g_build_filename (temp_dir, "sub", NULL);
    g_autofree char *file = g_build_filename (sub, "file", NULL);
    g_assert_cmpint (g_mkdir (sub, 0700), ==, 0);
    g_assert_true (g_file_set_contents (file, "x", 1, NULL));
  }
  g_assert_false (q_machine_get_exit_code (f->machine, NULL));

  status = q_machine_cmd (f->machine, "query-status", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (status), "status"), ==, "running");

  /* Launching twice fails. */
  g_assert_false (q_machine_launch (f->machine, NULL, &error));
  g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_ALREADY_LAUNCHED);
  g_clear_error (&error);

  g_assert_true (q_machine_shutdown (f->machine, Q_MACHINE_SHUTDOWN_FLAGS_NONE, 10000, NULL, &error));
  g_assert_no_error (error);
  assert_process_gone (pid);
  g_assert_cmpint (q_machine_get_state (f->machine), ==, Q_MACHINE_STATE_NOT_LAUNCHED);
  g_assert_false (q_machine_is_running (f->machine));
  g_assert_cmpint (q_machine_get_pid (f->machine), ==, 0);
  g_assert_true (q_machine_get_exit_code (f->machine, &code));
  g_assert_cmpint (code, ==, 0);
  g_assert_nonnull (q_machine_get_log (f->machine));
  g_assert_false (g_file_test (temp_dir, G_FILE_TEST_EXISTS));
  g_assert_null (q_machine_get_qmp_client (f->machine));

  /* Signals arrive in the owner's context. */
  pump ();
  g_assert_cmpint (f->exited, ==, 1);
  g_assert_cmpint (f->exit_code, ==, 0);
  /* Notifications are coalesced until the owner's context dispatches
   * them (so a context that never runs holds nothing): one after the
   * launch (running by then), one after the shutdown (not launched). */
  g_assert_cmpuint (f->states->len, ==, 2);
  g_assert_cmpint (GPOINTER_TO_INT (f->states->pdata[0]), ==, Q_MACHINE_STATE_RUNNING);
  g_assert_cmpint (GPOINTER_TO_INT (f->states->pdata[1]), ==, Q_MACHINE_STATE_NOT_LAUNCHED);

  /* Shutting down again is a no-op; commands fail clearly. */
  g_assert_true (q_machine_shutdown (f->machine, 0, 1000, NULL, &error));
  g_assert_null (q_machine_cmd (f->machine, "query-status", NULL, NULL, &error));
  g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_NOT_LAUNCHED);
  g_clear_error (&error);

  /* The same object launches again. */
  g_assert_true (q_machine_launch (f->machine, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (q_machine_get_pid (f->machine), !=, pid);
  pid = q_machine_get_pid (f->machine);
  g_assert_true (q_machine_kill (f->machine, NULL, &error));
  g_assert_true (q_machine_get_exit_code (f->machine, &code));
  g_assert_cmpint (code, ==, -SIGKILL);
  assert_process_gone (pid);
}

static void
test_full_args (Fixture *f, gconstpointer data)
{
  const char * const *argv;
  g_autofree char *joined = NULL;
  const char *wrapper[] = { "env", NULL };

  q_machine_set_console (f->machine, "isa-serial", 2);
  q_machine_set_wrapper (f->machine, wrapper);
  q_machine_add_monitor_null (f->machine);
  argv = q_machine_get_full_args (f->machine);
  joined = g_strjoinv (" ", (char **)argv);
  g_assert_cmpstr (joined, ==,
                   "env qemu-system-x86_64 -display none -vga none "
                   "-chardev socket,id=mon,fd=3 -mon chardev=mon,mode=control "
                   "-machine none -serial null -serial null "
                   "-chardev socket,id=console,fd=4 -device isa-serial,chardev=console "
                   "-nodefaults -monitor null");
}

static void
run_with_address (Fixture *f, GSocketAddress *address)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;

  q_machine_set_monitor_address (f->machine, address);
  g_assert_true (q_machine_launch (f->machine, NULL, &error));
  g_assert_no_error (error);
  ret = q_machine_cmd (f->machine, "query-version", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (json_object_has_member (json_node_get_object (ret), "qemu"));
  g_assert_true (q_machine_shutdown (f->machine, 0, 10000, NULL, &error));
  g_assert_no_error (error);
}

static void
test_monitor_unix (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = g_dir_make_tmp ("qm-sock-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "mon.sock", NULL);
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (path);

  run_with_address (f, address);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

static void
test_monitor_tcp (Fixture *f, gconstpointer data)
{
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (lo, 0);
  const char * const *argv;
  gboolean found = FALSE;

  q_machine_set_monitor_address (f->machine, address);
  g_assert_true (q_machine_launch (f->machine, NULL, NULL));
  {
    g_autoptr(GError) error = NULL;
    /* Descriptors cannot travel over TCP: a clear error, not a silent loss. */
    g_assert_false (q_machine_send_fd (f->machine, "nope", 0, NULL, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  }
  g_assert_true (q_machine_shutdown (f->machine, 0, 10000, NULL, NULL));
  run_with_address (f, address);
  /* Port 0 became the port the kernel chose. */
  argv = q_machine_get_full_args (f->machine);
  for (guint i = 0; argv[i]; i++)
    found |= g_str_has_prefix (argv[i], "socket,id=mon,host=127.0.0.1,port=") &&
             !g_str_has_suffix (argv[i], "port=0");
  g_assert_true (found);
}

static void
test_no_qmp (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  int code;

  q_machine_set_qmp_monitor (f->machine, FALSE);
  g_assert_true (q_machine_launch (f->machine, NULL, &error));
  g_assert_no_error (error);
  g_assert_null (q_machine_get_qmp_client (f->machine));
  g_assert_null (q_machine_cmd (f->machine, "query-status", NULL, NULL, &error));
  g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_NO_CONNECTION);
  g_clear_error (&error);

  g_assert_true (q_machine_shutdown (f->machine, 0, 10000, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (q_machine_get_exit_code (f->machine, &code));
  /* SIGTERM: QEMU exits 0 after handling it, or dies of it if it came
   * before QEMU installed its handler. */
  g_assert_true (code == 0 || code == -SIGTERM);
}

static void
test_bad_args (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  int code;

  q_machine_add_args (f->machine, "-foo", NULL);
  g_assert_false (q_machine_launch (f->machine, NULL, &error));
  g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_LAUNCH_FAILED);
  g_assert_nonnull (strstr (error->message, "-foo: invalid option"));
  /* QEMU's own complaint is the first line. */
  g_assert_true (g_str_has_prefix (error->message, "QEMU failed to launch: qemu-system-x86_64: -foo: invalid option\n") ||
                 g_getenv ("QMACHINE_TEST_QEMU") != NULL);
  g_assert_nonnull (strstr (error->message, "-mon chardev=mon,mode=control -machine none -nodefaults -foo"));
  g_assert_nonnull (strstr (error->message, "Exit code: 1"));
  g_assert_true (q_machine_get_exit_code (f->machine, &code));
  g_assert_cmpint (code, ==, 1);
  g_assert_nonnull (strstr (q_machine_get_log (f->machine), "-foo: invalid option"));
  g_assert_cmpint (q_machine_get_state (f->machine), ==, Q_MACHINE_STATE_NOT_LAUNCHED);
}

static void
test_agent_launch_fails (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  QGuestAgent *agent;
  gint64 start;

  /* -machine none has no PCI bus for virtio-serial: QEMU refuses. */
  q_machine_add_guest_agent (f->machine, Q_GUEST_AGENT_PORT_VIRTIO_SERIAL);
  g_assert_true (g_strv_contains (q_machine_get_full_args (f->machine),
                                  "virtserialport,bus=qmachine-ga-bus.0,chardev=qmachine-ga,"
                                  "id=qmachine-ga,name=org.qemu.guest_agent.0"));
  g_assert_false (q_machine_launch (f->machine, NULL, &error));
  g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_LAUNCH_FAILED);
  g_assert_nonnull (strstr (error->message, "virtio-serial"));
  g_clear_error (&error);

  /* The run's agent exists and fails at once: its channel is closed. */
  agent = q_machine_get_guest_agent (f->machine);
  g_assert_nonnull (agent);
  start = g_get_monotonic_time ();
  g_assert_false (q_guest_agent_ping (agent, NULL, &error));
  g_assert_true (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) ||
                 g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED));
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
  g_assert_true (q_guest_agent_is_closed (agent));
  g_assert_cmpint (q_machine_get_state (f->machine), ==, Q_MACHINE_STATE_NOT_LAUNCHED);
}

static void
test_missing_binary (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QMachine) m = q_machine_new ("/nonexistent/qemu-system-x86_64");

  q_machine_set_base_temp_dir (m, f->base);
  g_assert_false (q_machine_launch (m, NULL, &error));
  g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_LAUNCH_FAILED);
  g_assert_nonnull (strstr (error->message, "/nonexistent/qemu-system-x86_64"));
  /* It says what to install. */
  g_assert_nonnull (strstr (error->message, "Hint: /nonexistent/qemu-system-x86_64 is not installed; "
                                            "on Debian: apt-get install qemu-system-x86"));
  g_assert_cmpint (q_machine_get_state (m), ==, Q_MACHINE_STATE_NOT_LAUNCHED);
  /* No process ever ran: no exit status. */
  g_assert_false (q_machine_get_exit_code (m, NULL));
}

/* A binary that is there but cannot be executed: the same error from the
 * spawn helper as from a fork, and no line of the helper's in the log. */
static void
test_not_executable (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (f->base, "qemu-system-x86_64", NULL);
  g_autoptr(QMachine) m = q_machine_new (path);
  const char *output;

  g_assert_true (g_file_set_contents (path, "#!/bin/sh\nexit 0\n", -1, NULL));
  g_assert_cmpint (g_chmod (path, 0600), ==, 0);
  q_machine_set_base_temp_dir (m, f->base);
  g_assert_false (q_machine_launch (m, NULL, &error));
  g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_LAUNCH_FAILED);
  g_assert_nonnull (strstr (error->message, "(Permission denied)"));
  g_assert_null (strstr (error->message, "qmachine-spawn-helper"));
  /* QEMU never ran: it printed nothing, and no empty Output: line. */
  output = strstr (error->message, "\tOutput:");
  g_assert_null (output);
  g_assert_cmpint (q_machine_get_state (m), ==, Q_MACHINE_STATE_NOT_LAUNCHED);
  g_unlink (path);
}

static void
test_hang_before_greeting (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  /* The wrapper replaces QEMU with a process that never speaks QMP. */
  const char *wrapper[] = { "/bin/sh", "-c", "exec sleep 600", NULL };
  int pid;

  q_machine_set_wrapper (f->machine, wrapper);
  q_machine_set_qmp_timeout (f->machine, 300);
  g_assert_false (q_machine_launch (f->machine, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_nonnull (strstr (error->message, "Command: /bin/sh -c 'exec sleep 600'"));
  g_assert_true (q_machine_get_exit_code (f->machine, &pid));
  g_assert_cmpint (pid, ==, -SIGKILL);
  g_assert_cmpint (q_machine_get_state (f->machine), ==, Q_MACHINE_STATE_NOT_LAUNCHED);
}

static void
test_launch_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  const char *wrapper[] = { "/bin/sh", "-c", "exec sleep 600", NULL };

  q_machine_set_wrapper (f->machine, wrapper);
  q_machine_launch_async (f->machine, cancellable, store_result, &result);
  g_cancellable_cancel (cancellable);
  g_assert_false (q_machine_launch_finish (f->machine, wait_result (&result), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (q_machine_get_state (f->machine), ==, Q_MACHINE_STATE_NOT_LAUNCHED);
}

static void
test_launch_precancelled (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();

  g_cancellable_cancel (cancellable);
  g_assert_false (q_machine_launch (f->machine, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (q_machine_get_state (f->machine), ==, Q_MACHINE_STATE_NOT_LAUNCHED);
  g_assert_false (q_machine_get_exit_code (f->machine, NULL));
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpint (f->exited, ==, 0);
}

static void
test_killed_outside (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  GAsyncResult *results[3] = { NULL, NULL, NULL };
  int pid;

  g_assert_true (q_machine_launch (f->machine, NULL, &error));
  pid = q_machine_get_pid (f->machine);

  /* Stopped, QEMU cannot answer: the commands stay pending. */
  g_assert_cmpint (kill (pid, SIGSTOP), ==, 0);
  for (guint i = 0; i < 3; i++)
    q_machine_cmd_async (f->machine, "query-status", NULL, NULL, store_result, &results[i]);
  pump ();
  g_assert_null (results[0]);

  g_test_expect_message ("QMachine", G_LOG_LEVEL_MESSAGE, "QEMU received signal 9*");
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(JsonNode) ret = q_machine_cmd_finish (f->machine, wait_result (&results[i]), &error);
      g_assert_null (ret);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
      g_clear_error (&error);
      g_clear_object (&results[i]);
    }
  while (f->exited == 0)
    g_main_context_iteration (NULL, TRUE);
  g_test_assert_expected_messages ();
  g_assert_cmpint (f->exit_code, ==, -SIGKILL);
  g_assert_cmpint (q_machine_get_state (f->machine), ==, Q_MACHINE_STATE_NOT_LAUNCHED);
  assert_process_gone (pid);
  g_assert_true (q_machine_shutdown (f->machine, 0, 1000, NULL, &error));
}

static void
test_stopped_at_shutdown (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  int pid, code;

  g_assert_true (q_machine_launch (f->machine, NULL, &error));
  pid = q_machine_get_pid (f->machine);
  g_assert_cmpint (kill (pid, SIGSTOP), ==, 0);
  g_assert_false (q_machine_shutdown (f->machine, 0, 300, NULL, &error));
  g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_ABNORMAL_SHUTDOWN);
  g_assert_nonnull (strstr (error->message, "did not exit in time"));
  assert_process_gone (pid);
  g_assert_true (q_machine_get_exit_code (f->machine, &code));
  g_assert_cmpint (code, ==, -SIGKILL);
}

static void
test_quit_then_shutdown (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) ret = NULL;
  int code;

  g_assert_true (q_machine_launch (f->machine, NULL, &error));
  ret = q_machine_qmp (f->machine, "quit", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (json_object_has_member (ret, "return"));
  /* wait() sends nothing and collects the exit. */
  g_assert_true (q_machine_wait (f->machine, 10000, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (q_machine_get_exit_code (f->machine, &code));
  g_assert_cmpint (code, ==, 0);
}

static void
test_wait_timeout (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (q_machine_launch (f->machine, NULL, &error));
  g_assert_false (q_machine_wait (f->machine, 200, NULL, &error));
  g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_ABNORMAL_SHUTDOWN);
  g_assert_cmpint (q_machine_get_state (f->machine), ==, Q_MACHINE_STATE_NOT_LAUNCHED);
}

static char *
fd_target (int pid, int fd)
{
  g_autofree char *link = g_strdup_printf ("/proc/%d/fd/%d", pid, fd);
  return g_file_read_link (link, NULL);
}

static void
test_fds (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *marker = g_build_filename (f->base, "marker", NULL);
  g_autofree char *passed = g_build_filename (f->base, "passed", NULL);
  g_autofree char *log_dir = g_build_filename (f->base, "logs", NULL);
  g_autofree char *log = NULL;
  int extra[100];
  int passed_fd;
  int pid;
  GDir *dir;
  const char *name;
  gboolean saw_passed = FALSE;

  g_assert_cmpint (g_mkdir (log_dir, 0700), ==, 0);
  q_machine_set_log_dir (f->machine, log_dir);
  log = g_strdup_printf ("%s/%s.log", log_dir, q_machine_get_name (f->machine));

  /* 100 inheritable descriptors that QEMU must not get. */
  for (guint i = 0; i < G_N_ELEMENTS (extra); i++)
    {
      extra[i] = open (marker, O_RDWR | O_CREAT, 0600);
      g_assert_cmpint (extra[i], >=, 0);
    }
  passed_fd = open (passed, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  g_assert_true (q_machine_add_fd (f->machine, 200, 1, "passed", NULL, &error) == FALSE);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);   /* 200 is not open */
  g_clear_error (&error);
  g_assert_cmpint (dup2 (passed_fd, 200), ==, 200);
  g_assert_true (q_machine_add_fd (f->machine, 200, 1, "passed", NULL, &error));
  g_assert_no_error (error);
  close (200);
  close (passed_fd);
  q_machine_set_console (f->machine, NULL, 0);

  g_assert_true (q_machine_launch (f->machine, NULL, &error));
  g_assert_no_error (error);
  pid = q_machine_get_pid (f->machine);

  {
    g_autofree char *t0 = fd_target (pid, 0);
    g_autofree char *t1 = fd_target (pid, 1);
    g_autofree char *t2 = fd_target (pid, 2);
    g_autofree char *t3 = fd_target (pid, 3);
    g_autofree char *t4 = fd_target (pid, 4);

    g_assert_cmpstr (t0, ==, "/dev/null");
    g_assert_cmpstr (t1, ==, log);
    g_assert_cmpstr (t2, ==, log);
    g_assert_true (g_str_has_prefix (t3, "socket:"));
    g_assert_true (g_str_has_prefix (t4, "socket:"));
  }

  {
    g_autofree char *path = g_strdup_printf ("/proc/%d/fd", pid);
    dir = g_dir_open (path, 0, NULL);
    g_assert_nonnull (dir);
    while ((name = g_dir_read_name (dir)))
      {
        g_autofree char *t = fd_target (pid, atoi (name));
        /* None of our other descriptors leaked in. */
        g_assert_cmpstr (t, !=, marker);
        /* QEMU moves -add-fd descriptors to numbers of its own. */
        saw_passed |= g_strcmp0 (t, passed) == 0;
      }
    g_dir_close (dir);
  }
  g_assert_true (saw_passed);

  {
    g_autoptr(JsonNode) sets = q_machine_cmd (f->machine, "query-fdsets", NULL, NULL, &error);
    g_autoptr(JsonGenerator) gen = json_generator_new ();
    g_autofree char *text = NULL;

    g_assert_no_error (error);
    json_generator_set_root (gen, sets);
    text = json_generator_to_data (gen, NULL);
    g_assert_nonnull (strstr (text, "\"opaque\":\"passed\""));
  }

  g_assert_true (q_machine_shutdown (f->machine, 0, 10000, NULL, &error));
  for (guint i = 0; i < G_N_ELEMENTS (extra); i++)
    close (extra[i]);
  g_unlink (marker);
  g_unlink (passed);
  g_unlink (log);
  g_rmdir (log_dir);
}

/* add_fd numbers that the controller closes before the launch are free
 * for the library's own descriptors (sockets, the log, copies); QEMU
 * still gets each passed descriptor at its number. (A stream's source
 * at a target number once lost a descriptor on GLib's posix_spawn path;
 * the Python suite's reference-style script, which launches twice,
 * caught it.) */
static void
test_fds_colliding (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *passed = g_build_filename (f->base, "passed", NULL);
  g_autoptr(JsonNode) sets = NULL;
  JsonArray *array;
  int numbers[3];
  int gap, pid;

  /* Whatever the library and GLib create once per process exists first,
   * so that the launch below takes the freed numbers in a known order. */
  g_assert_true (q_machine_launch (f->machine, NULL, &error));
  g_assert_true (q_machine_shutdown (f->machine, 0, 10000, NULL, &error));
  g_assert_no_error (error);

  /* A free number below the targets too: the log is opened after the
   * library's copies of the passed descriptors, which fill the numbers
   * before it, and lands on a target's. */
  gap = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (gap, >, 2);
  for (guint i = 0; i < G_N_ELEMENTS (numbers); i++)
    {
      numbers[i] = open (passed, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      g_assert_cmpint (numbers[i], >, gap);
    }
  for (guint i = 0; i < G_N_ELEMENTS (numbers); i++)
    {
      g_assert_true (q_machine_add_fd (f->machine, numbers[i], i + 1, "passed", NULL, &error));
      g_assert_no_error (error);
    }
  close (gap);
  for (guint i = 0; i < G_N_ELEMENTS (numbers); i++)
    close (numbers[i]);
  q_machine_set_console (f->machine, NULL, 0);

  g_assert_true (q_machine_launch (f->machine, NULL, &error));
  g_assert_no_error (error);
  pid = q_machine_get_pid (f->machine);

  sets = q_machine_cmd (f->machine, "query-fdsets", NULL, NULL, &error);
  g_assert_no_error (error);
  array = json_node_get_array (sets);
  g_assert_cmpuint (json_array_get_length (array), ==, G_N_ELEMENTS (numbers));
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonArray *fds = json_object_get_array_member (json_array_get_object_element (array, i), "fds");
      int fd = json_object_get_int_member (json_array_get_object_element (fds, 0), "fd");
      g_autofree char *target = fd_target (pid, fd);

      g_assert_cmpstr (target, ==, passed);
    }

  g_assert_true (q_machine_shutdown (f->machine, 0, 10000, NULL, &error));
  g_assert_no_error (error);
  g_unlink (passed);
}

static void
test_events (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) ev = NULL;
  g_autoptr(GPtrArray) rest = NULL;
  g_autoptr(JsonNode) match = NULL;
  g_autoptr(GAsyncResult) result = NULL;

  g_assert_true (q_machine_launch (f->machine, NULL, &error));

  /* Async wait registered before the command that causes the event. */
  q_machine_event_wait_async (f->machine, "STOP", NULL, 10000, NULL, store_result, &result);
  cmd_ok (f->machine, "stop");
  ev = q_machine_event_wait_finish (f->machine, wait_result (&result), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (ev, "event"), ==, "STOP");
  g_assert_true (json_object_has_member (ev, "timestamp"));
  g_clear_pointer (&ev, json_object_unref);
  g_clear_object (&result);

  /* Non-matching events stay queued, in order. */
  cmd_ok (f->machine, "cont");
  cmd_ok (f->machine, "stop");
  cmd_ok (f->machine, "cont");
  ev = q_machine_event_wait (f->machine, "STOP", NULL, 10000, NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&ev, json_object_unref);
  ev = q_machine_event_wait (f->machine, "RESUME", NULL, 10000, NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&ev, json_object_unref);
  /* The second RESUME arrives after its command's reply, at the latest
   * when the next command is answered. */
  cmd_ok (f->machine, "query-status");
  ev = q_machine_get_event (f->machine);
  g_assert_nonnull (ev);
  g_assert_cmpstr (json_object_get_string_member (ev, "event"), ==, "RESUME");
  g_clear_pointer (&ev, json_object_unref);
  g_assert_null (q_machine_get_event (f->machine));

  /* A match that fails times out and leaves the queue alone. */
  cmd_ok (f->machine, "stop");
  match = json_from_string ("{\"data\": {\"nope\": null}}", NULL);
  g_assert_null (q_machine_event_wait (f->machine, "STOP", match, 200, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  rest = q_machine_get_events (f->machine);
  g_assert_cmpuint (rest->len, ==, 1);
  g_assert_cmpstr (json_object_get_string_member (rest->pdata[0], "event"), ==, "STOP");
}

static void
count_event (QMachine *m, const char *name, JsonObject *event, guint *count)
{
  g_assert_cmpstr (name, ==, json_object_get_string_member (event, "event"));
  (*count)++;
}

/* The queue is bounded in bytes as well as in number: with room for two
 * of QEMU's STOP and RESUME events (about 80 bytes and 5 JSON values each,
 * so about 1040 bytes charged), six leave the last two, far below the
 * count limit; the emissions waiting for the context have the same bound. */
static void
test_event_queue_bytes (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) events = NULL;
  guint all = 0;

  g_assert_cmpuint (q_machine_get_event_queue_bytes (f->machine), ==,
                    Q_MACHINE_DEFAULT_EVENT_QUEUE_BYTES);
  q_machine_set_event_queue_bytes (f->machine, 2500);
  g_assert_cmpuint (q_machine_get_event_queue_bytes (f->machine), ==, 2500);
  g_signal_connect (f->machine, "event", G_CALLBACK (count_event), &all);
  g_assert_true (q_machine_launch (f->machine, NULL, &error));
  g_assert_cmpuint (q_qmp_client_get_max_queued_event_bytes (q_machine_get_qmp_client (f->machine)),
                    ==, 2500);

  g_test_expect_message ("QMachine", G_LOG_LEVEL_WARNING, "*event queue full*");
  for (guint i = 0; i < 3; i++)
    {
      cmd_ok (f->machine, "stop");
      cmd_ok (f->machine, "cont");
    }
  cmd_ok (f->machine, "query-status");
  while (all < 2)
    g_main_context_iteration (NULL, TRUE);
  pump ();
  g_test_assert_expected_messages ();
  g_assert_cmpuint (all, ==, 2);
  g_assert_cmpuint (q_machine_get_event_queue_limit (f->machine), >, 6);
  g_assert_cmpuint (q_machine_get_dropped_events (f->machine), ==, 8);
  events = q_machine_get_events (f->machine);
  g_assert_cmpuint (events->len, ==, 2);
  g_assert_cmpstr (json_object_get_string_member (events->pdata[0], "event"), ==, "STOP");
  g_assert_cmpstr (json_object_get_string_member (events->pdata[1], "event"), ==, "RESUME");
}

static void
test_event_signal_and_limit (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) events = NULL;
  guint stops = 0, all = 0;

  q_machine_set_event_queue_limit (f->machine, 2);
  g_signal_connect (f->machine, "event::STOP", G_CALLBACK (count_event), &stops);
  g_signal_connect (f->machine, "event", G_CALLBACK (count_event), &all);
  g_assert_true (q_machine_launch (f->machine, NULL, &error));

  g_test_expect_message ("QMachine", G_LOG_LEVEL_WARNING, "*event queue full*");
  for (guint i = 0; i < 3; i++)
    {
      cmd_ok (f->machine, "stop");
      cmd_ok (f->machine, "cont");
    }
  /* Flush: the last RESUME is queued once the next reply came. */
  cmd_ok (f->machine, "query-status");
  /* The limit bounds the emissions waiting for this (undispatched)
   * context too: only the last two events are emitted, and the four
   * others are counted twice, as dropped from the queue and as signals
   * not emitted. */
  while (all < 2)
    g_main_context_iteration (NULL, TRUE);
  pump ();
  g_test_assert_expected_messages ();
  g_assert_cmpuint (all, ==, 2);
  g_assert_cmpuint (stops, ==, 1);
  g_assert_cmpuint (q_machine_get_dropped_events (f->machine), ==, 8);
  g_assert_cmpuint (q_qmp_client_get_dropped_events (q_machine_get_qmp_client (f->machine)), ==, 4);
  events = q_machine_get_events (f->machine);
  g_assert_cmpuint (events->len, ==, 2);
  g_assert_cmpstr (json_object_get_string_member (events->pdata[0], "event"), ==, "STOP");
  g_assert_cmpstr (json_object_get_string_member (events->pdata[1], "event"), ==, "RESUME");
}

static void
count_notify (GObject *object, GParamSpec *pspec, guint *count)
{
  (*count)++;
}

/* `running` and `exit-status` follow the process, with notifications. */
static void
test_running_property (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  guint running_notes = 0, exit_notes = 0;
  gboolean running = TRUE;
  int status = 1;

  g_signal_connect (f->machine, "notify::running", G_CALLBACK (count_notify), &running_notes);
  g_signal_connect (f->machine, "notify::exit-status", G_CALLBACK (count_notify), &exit_notes);
  g_object_get (f->machine, "running", &running, "exit-status", &status, NULL);
  g_assert_false (running);
  g_assert_cmpint (status, ==, 0);

  g_assert_true (q_machine_launch (f->machine, NULL, &error));
  pump ();
  g_object_get (f->machine, "running", &running, NULL);
  g_assert_true (running);
  g_assert_cmpuint (running_notes, ==, 1);

  g_assert_true (q_machine_kill (f->machine, NULL, &error));
  pump ();
  g_object_get (f->machine, "running", &running, "exit-status", &status, NULL);
  g_assert_false (running);
  g_assert_cmpint (status, ==, -SIGKILL);
  g_assert_cmpuint (running_notes, ==, 2);
  g_assert_cmpuint (exit_notes, ==, 1);
  g_signal_handlers_disconnect_by_func (f->machine, count_notify, &running_notes);
  g_signal_handlers_disconnect_by_func (f->machine, count_notify, &exit_notes);
}

static void
test_event_match (void)
{
  struct { const char *match, *event; gboolean expected; } cases[] = {
    { NULL, "{\"foo\": 1}", TRUE },
    { "{\"foo\": null}", "{\"foo\": {\"bar\": 1}}", TRUE },
    { "{\"foo\": null}", "{\"foo\": 5}", TRUE },
    { "{\"foo\": {\"abc\": null}}", "{\"foo\": {\"bar\": 1}}", FALSE },
    { "{\"foo\": {\"rab\": 2}}", "{\"foo\": {\"bar\": 1, \"rab\": 2}}", TRUE },
    { "{\"foo\": {\"rab\": 3}}", "{\"foo\": {\"bar\": 1, \"rab\": 2}}", FALSE },
    { "{\"data\": {\"guest\": true}}", "{\"event\": \"SHUTDOWN\", \"data\": {\"guest\": true}}", TRUE },
    { "{\"data\": {\"guest\": true}}", "{\"event\": \"SHUTDOWN\", \"data\": {\"guest\": false}}", FALSE },
    { "{\"foo\": 1}", "5", FALSE },
    { "\"abc\"", "\"abc\"", TRUE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(JsonNode) match = cases[i].match ? json_from_string (cases[i].match, NULL) : NULL;
      g_autoptr(JsonNode) event = json_from_string (cases[i].event, NULL);

      g_assert_cmpint (q_event_match (event, match), ==, cases[i].expected);
    }
}

static void
test_many_machines (Fixture *f, gconstpointer data)
{
  enum { N = 32 };
  QMachine *machines[N];
  GAsyncResult *results[N];
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < N; i++)
    {
      machines[i] = new_machine (f);
      results[i] = NULL;
      q_machine_launch_async (machines[i], NULL, store_result, &results[i]);
    }
  for (guint i = 0; i < N; i++)
    {
      g_assert_true (q_machine_launch_finish (machines[i], wait_result (&results[i]), &error));
      g_assert_no_error (error);
      g_clear_object (&results[i]);
      q_machine_cmd_async (machines[i], "query-status", NULL, NULL, store_result, &results[i]);
    }
  for (guint i = 0; i < N; i++)
    {
      g_autoptr(JsonNode) ret = q_machine_cmd_finish (machines[i], wait_result (&results[i]), &error);
      g_assert_no_error (error);
      g_assert_nonnull (ret);
      g_clear_object (&results[i]);
      q_machine_shutdown_async (machines[i], 0, 20000, NULL, store_result, &results[i]);
    }
  for (guint i = 0; i < N; i++)
    {
      int code;
      g_assert_true (q_machine_shutdown_finish (machines[i], wait_result (&results[i]), &error));
      g_assert_no_error (error);
      g_assert_true (q_machine_get_exit_code (machines[i], &code));
      g_assert_cmpint (code, ==, 0);
      g_clear_object (&results[i]);
      g_object_unref (machines[i]);
    }
}

/* The sync contract: inside a running loop, a sync call completes and
 * does not dispatch the application's unrelated sources. */
typedef struct
{
  Fixture   *f;
  GMainLoop *loop;
  gboolean   idle_ran;
  gboolean   idle_ran_during_call;
  gboolean   call_ok;
} SyncInLoop;

static gboolean
unrelated_idle (gpointer data)
{
  SyncInLoop *s = data;
  s->idle_ran = TRUE;
  return G_SOURCE_REMOVE;
}

static gboolean
do_sync_calls (gpointer data)
{
  SyncInLoop *s = data;
  g_autoptr(JsonNode) ret = NULL;

  g_idle_add (unrelated_idle, s);
  s->call_ok = q_machine_launch (s->f->machine, NULL, NULL);
  ret = q_machine_cmd (s->f->machine, "query-status", NULL, NULL, NULL);
  s->call_ok &= ret != NULL;
  s->call_ok &= q_machine_shutdown (s->f->machine, 0, 10000, NULL, NULL);
  s->idle_ran_during_call = s->idle_ran;
  g_main_loop_quit (s->loop);
  return G_SOURCE_REMOVE;
}

static void
test_sync_in_loop (Fixture *f, gconstpointer data)
{
  SyncInLoop s = { f, g_main_loop_new (NULL, FALSE), FALSE, FALSE, FALSE };

  g_idle_add (do_sync_calls, &s);
  g_main_loop_run (s.loop);
  g_assert_true (s.call_ok);
  g_assert_false (s.idle_ran_during_call);
  pump ();
  g_assert_true (s.idle_ran);
  g_main_loop_unref (s.loop);
}

/* The controller dies: QEMU must follow within a second. */
static void
test_controller_dies (Fixture *f, gconstpointer data)
{
  g_autofree char *pidfile = g_build_filename (f->base, "pid", NULL);
  g_autofree char *contents = NULL;
  struct pollfd pfd;
  int pid, pidfd;

  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *text = NULL;
      const char *path = g_getenv ("QMACHINE_TEST_PIDFILE");

      g_assert_true (q_machine_launch (f->machine, NULL, &error));
      text = g_strdup_printf ("%d", q_machine_get_pid (f->machine));
      g_assert_true (g_file_set_contents (path, text, -1, NULL));
      _exit (0);   /* no cleanup at all: as if killed */
    }

  g_setenv ("QMACHINE_TEST_PIDFILE", pidfile, TRUE);
  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
  g_assert_true (g_file_get_contents (pidfile, &contents, NULL, NULL));
  g_unlink (pidfile);
  pid = atoi (contents);
  g_assert_cmpint (pid, >, 0);

  pidfd = syscall (SYS_pidfd_open, pid, 0);
  if (pidfd < 0 && errno == ENOSYS)
    {
      /* valgrind 3.19 does not know pidfd_open: the process must be
       * gone or going; wait for it the old way. */
      while (kill (pid, 0) == 0)
        g_main_context_iteration (NULL, FALSE), g_thread_yield ();
      g_assert_cmpint (errno, ==, ESRCH);
      return;
    }
  if (pidfd < 0)
    {
      g_assert_cmpint (errno, ==, ESRCH);   /* already gone */
      return;
    }
  pfd.fd = pidfd;
  pfd.events = POLLIN;
  g_assert_cmpint (poll (&pfd, 1, 1000), ==, 1);
  close (pidfd);

  /* The subprocess's temp dir was left behind by _exit(): not ours to
   * judge here, remove it so teardown checks only this process. */
  {
    GDir *dir = g_dir_open (f->base, 0, NULL);
    const char *name;
    while ((name = g_dir_read_name (dir)))
      {
        g_autofree char *p = g_build_filename (f->base, name, NULL);
        g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", p);
        g_assert_cmpint (system (cmd), ==, 0);
      }
    g_dir_close (dir);
  }
}

/* The program exits without shutting the machine down: QEMU dies with it
 * and the machine's files go too. */
static void
test_exit_without_shutdown (Fixture *f, gconstpointer data)
{
  g_autofree char *pidfile = g_build_filename (f->base, "pid", NULL);
  g_autofree char *contents = NULL;
  struct pollfd pfd;
  int pid, pidfd;

  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *text = NULL;

      g_assert_true (q_machine_launch (f->machine, NULL, &error));
      g_assert_nonnull (q_machine_get_temp_dir (f->machine));
      text = g_strdup_printf ("%d", q_machine_get_pid (f->machine));
      g_assert_true (g_file_set_contents (g_getenv ("QMACHINE_TEST_PIDFILE"), text, -1, NULL));
      exit (0);   /* atexit handlers run; the machine is never finalized */
    }

  g_setenv ("QMACHINE_TEST_PIDFILE", pidfile, TRUE);
  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
  g_assert_true (g_file_get_contents (pidfile, &contents, NULL, NULL));
  g_unlink (pidfile);
  pid = atoi (contents);

  pidfd = syscall (SYS_pidfd_open, pid, 0);
  if (pidfd >= 0)
    {
      pfd.fd = pidfd;
      pfd.events = POLLIN;
      g_assert_cmpint (poll (&pfd, 1, 1000), ==, 1);
      close (pidfd);
    }
  else
    g_assert_cmpint (errno, ==, ESRCH);
  /* teardown checks that the base temp dir is empty. */
}

/* The QMP traffic in the debug log is structured: QMACHINE_QMP says the
 * direction and QMACHINE_NAME names the machine, for journald and custom
 * log writers; the message names the machine too. Run in a subprocess
 * (a log writer can be set once per process), whose stdout is checked. */
static GLogWriterOutput
fields_writer (GLogLevelFlags   level,
               const GLogField *fields,
               gsize            n_fields,
               gpointer         user_data)
{
  gboolean ours = FALSE;

  for (gsize i = 0; i < n_fields; i++)
    ours |= g_str_equal (fields[i].key, "QMACHINE_QMP");
  if (!ours)
    return g_log_writer_default (level, fields, n_fields, user_data);

  for (gsize i = 0; i < n_fields; i++)
    if (g_str_has_prefix (fields[i].key, "QMACHINE_") || g_str_equal (fields[i].key, "MESSAGE"))
      g_print ("%s=%s\n", fields[i].key, (const char *)fields[i].value);
  return G_LOG_WRITER_HANDLED;
}

static void
test_structured_log (Fixture *f, gconstpointer data)
{
  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) ret = NULL;

      g_log_set_writer_func (fields_writer, NULL, NULL);
      g_log_set_debug_enabled (TRUE);
      q_machine_set_name (f->machine, "logged-vm");
      g_assert_true (q_machine_launch (f->machine, NULL, &error));
      ret = q_machine_cmd (f->machine, "query-status", NULL, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (q_machine_shutdown (f->machine, 0, 10000, NULL, &error));
      return;
    }

  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout ("*QMACHINE_QMP=sent\nMESSAGE=logged-vm: QMP -> {\"execute\":\"query-status\"}\n"
                             "QMACHINE_NAME=logged-vm\n*");
  g_test_trap_assert_stdout ("*QMACHINE_QMP=received\nMESSAGE=logged-vm: QMP <- {\"return\":{\"status\":*");
}

static void
paused_cb (QMachine *m, GParamSpec *pspec, GPtrArray *seen)
{
  g_ptr_array_add (seen, GINT_TO_POINTER (q_machine_is_paused (m) ? 1 : 2));
}

static void
paused_order_cb (QMachine *m, GParamSpec *pspec, GString *order)
{
  g_string_append_c (order, q_machine_is_paused (m) ? 'P' : 'U');
}

static void
stop_resume_order_cb (QMachine *m, const char *name, JsonObject *event, GString *order)
{
  if (g_str_equal (name, "STOP") || g_str_equal (name, "RESUME"))
    g_string_append_c (order, name[0]);
}

/* Iterates the owner's context until the n-th notify::paused, and
 * returns what it said (1: paused, 2: not). */
static int
nth_paused (GPtrArray *seen, guint n)
{
  while (seen->len < n)
    g_main_context_iteration (NULL, TRUE);
  return GPOINTER_TO_INT (seen->pdata[n - 1]);
}

static void
test_paused (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) seen = g_ptr_array_new ();
  g_autoptr(JsonObject) event = NULL;
  g_autoptr(GString) order = g_string_new (NULL);

  g_signal_connect (f->machine, "notify::paused", G_CALLBACK (paused_cb), seen);
  g_signal_connect (f->machine, "notify::paused", G_CALLBACK (paused_order_cb), order);
  g_signal_connect (f->machine, "event", G_CALLBACK (stop_resume_order_cb), order);
  q_machine_add_args (f->machine, "-S", NULL);
  g_assert_false (q_machine_is_paused (f->machine));
  g_assert_true (q_machine_launch (f->machine, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (q_machine_is_paused (f->machine));
  g_assert_cmpint (nth_paused (seen, 1), ==, 1);

  cmd_ok (f->machine, "cont");
  event = q_machine_event_wait (f->machine, "RESUME", NULL, 10000, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (q_machine_is_paused (f->machine));
  g_assert_cmpint (nth_paused (seen, 2), ==, 2);
  g_clear_pointer (&event, json_object_unref);

  cmd_ok (f->machine, "stop");
  event = q_machine_event_wait (f->machine, "STOP", NULL, 10000, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (q_machine_is_paused (f->machine));
  g_assert_cmpint (nth_paused (seen, 3), ==, 1);

  g_assert_true (q_machine_shutdown (f->machine, Q_MACHINE_SHUTDOWN_FLAGS_NONE, 10000, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (q_machine_is_paused (f->machine));
  g_assert_cmpint (nth_paused (seen, 4), ==, 2);
  g_signal_handlers_disconnect_by_data (f->machine, seen);
  g_signal_handlers_disconnect_by_data (f->machine, order);

  /* Paused at launch (-S); cont: the notification, then RESUME; stop:
   * the notification, then STOP; not paused once QEMU is gone. */
  g_assert_cmpstr (order->str, ==, "PURPSU");
}

/* The spawn helper, run directly as the library runs it: it keeps the
 * descriptors it is told to and closes the rest (its report pipe too, on
 * exec), says why a failed exec failed down that pipe, and refuses a call
 * that is not the library's or a controller that is gone. */
typedef struct
{
  int   status;
  int   report;      /* the errno reported, or 0 */
  char *out;
  char *err;
} HelperRun;

static void
helper_run_clear (HelperRun *r)
{
  g_free (r->out);
  g_free (r->err);
}

static void
run_spawn_helper (const char * const *args,
                  HelperRun          *r)
{
  g_autofree char *helper = g_test_build_filename (G_TEST_BUILT, "..", "qmachine",
                                                   "qmachine-spawn-helper", NULL);
  g_autofree char *parent = g_strdup_printf ("%d", (int)getpid ());
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) helper_process = NULL;
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) argv = NULL;
  g_autoptr(GError) error = NULL;
  int report[2], kept;
  gssize got;

  /* Descriptor 20 is not kept, 21 is; 22 is the report pipe. */
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_take_fd (launcher, open ("/dev/null", O_RDONLY | O_CLOEXEC), 20);
  kept = open ("/dev/zero", O_RDONLY | O_CLOEXEC);
  g_subprocess_launcher_take_fd (launcher, kept, 21);
  g_assert_true (g_unix_open_pipe (report, FD_CLOEXEC, NULL));
  g_subprocess_launcher_take_fd (launcher, report[1], 22);

  g_strv_builder_add (builder, helper);
  for (guint i = 0; args[i] != NULL; i++)
    g_strv_builder_add (builder, g_str_equal (args[i], "PARENT") ? parent : args[i]);
  argv = g_strv_builder_end (builder);

  helper_process = g_subprocess_launcher_spawnv (launcher, (const char * const *)argv, &error);
  g_assert_no_error (error);
  g_clear_object (&launcher);   /* our copy of the pipe's write end */
  g_assert_true (g_subprocess_communicate_utf8 (helper_process, NULL, NULL, &r->out, &r->err, &error));
  g_assert_no_error (error);
  r->status = g_subprocess_get_if_exited (helper_process) ? g_subprocess_get_exit_status (helper_process) : -1;
  r->report = 0;
  got = read (report[0], &r->report, sizeof r->report);
  g_assert_true (got == 0 || got == sizeof r->report);
  close (report[0]);
}

static void
test_spawn_helper (Fixture *f, gconstpointer data)
{
  const char *env = g_getenv ("QMACHINE_SPAWN_HELPER");
  HelperRun r;

  guint helper_before, fork_before, helper_after, fork_after;
  g_autoptr(GError) error = NULL;
  /* How the helper fails: its exit status is 127 each time; the errno
   * reported, and its line on stderr (NULL: none). */
  const struct
  {
    const char *args[8];
    int         report;
    const char *err;
  } failures[] = {
    /* The errno goes to the library, nothing to the log. */
    { { Q_SPAWN_HELPER_MAGIC, "PARENT", "22", "", "/nonexistent/qemu", "qemu" }, ENOENT, NULL },
    /* Nobody to report to (21 is read-only): the log says it. */
    { { Q_SPAWN_HELPER_MAGIC, "PARENT", "21", "", "/nonexistent/qemu", "qemu" },
      0, "cannot execute: /nonexistent/qemu" },
    /* A parent that no process has: as if the controller died first. */
    { { Q_SPAWN_HELPER_MAGIC, "2147483647", "22", "", "/bin/true", "true" },
      0, "the controller is gone" },
    { { "qmachine-spawn-0", "PARENT", "22", "", "/bin/true", "true" },
      0, "not called the way qmachine calls it" },
    { { Q_SPAWN_HELPER_MAGIC, "PARENT", "22", "21,x", "/bin/true", "true" },
      0, "bad descriptor list" },
  };

  /* The library uses the helper it was told to, or none, and a launch
   * goes that way. */
  if (g_strcmp0 (env, "none") == 0)
    g_assert_null (q_spawn_helper_path ());
  else if (env != NULL)
    g_assert_cmpstr (q_spawn_helper_path (), ==, env);
  machine_spawn_counts (&helper_before, &fork_before);
  g_assert_true (q_machine_launch (f->machine, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (q_machine_shutdown (f->machine, 0, 10000, NULL, &error));
  g_assert_no_error (error);
  machine_spawn_counts (&helper_after, &fork_after);
  if (q_spawn_helper_path () != NULL)
    {
      g_assert_cmpuint (helper_after, ==, helper_before + 1);
      g_assert_cmpuint (fork_after, ==, fork_before);
    }
  else
    {
      g_assert_cmpuint (helper_after, ==, helper_before);
      g_assert_cmpuint (fork_after, ==, fork_before + 1);
    }

  {
    const char *args[] = { Q_SPAWN_HELPER_MAGIC, "PARENT", "22", "21", "/bin/sh", "sh", "-c",
                           "for fd in 20 21 22; do test -e /proc/self/fd/$fd && echo $fd; done; exit 5",
                           NULL };
    run_spawn_helper (args, &r);
    g_assert_cmpint (r.status, ==, 5);
    g_assert_cmpstr (r.out, ==, "21\n");
    g_assert_cmpint (r.report, ==, 0);
    helper_run_clear (&r);
  }
  for (guint i = 0; i < G_N_ELEMENTS (failures); i++)
    {
      run_spawn_helper (failures[i].args, &r);
      g_assert_cmpint (r.status, ==, 127);
      g_assert_cmpint (r.report, ==, failures[i].report);
      if (failures[i].err == NULL)
        g_assert_cmpstr (r.err, ==, "");
      else
        g_assert_nonnull (strstr (r.err, failures[i].err));
      helper_run_clear (&r);
    }
}

/* QEMU (here its wrapper) starts with the signal dispositions a program
 * expects, whichever way it was spawned: the controller ignores SIGPIPE
 * (GSocket does that), glibc's posix_spawn leaves its own signals 32 and
 * 33 ignored, and neither may reach the child; nothing is blocked. The
 * wrapper is a shell script without "#!", which execve refuses and the
 * shell runs, as with GLib's fork path. */
static void
test_child_signals (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *script = g_build_filename (f->base, "wrapper", NULL);
  const char *wrapper[] = { script, NULL };
  const char *log, *ign, *blk;
  guint64 ignored, blocked;
  const int reset[] = { SIGHUP, SIGINT, SIGPIPE, SIGTERM, SIGCHLD, 32, 33 };

  /* The controller ignores them all, as one whose ancestor glibc's
   * posix_spawn started does (32, 33) and as GSocket makes it (SIGPIPE).
   * A handler of 1 is SIG_IGN in the kernel's struct sigaction. */
  unsigned long ignore[8] = { 1, 0, 0, 0, 0, 0, 0, 0 };
  unsigned long saved[2][8];

  g_assert_cmpint (syscall (SYS_rt_sigaction, 32, ignore, saved[0], _NSIG / 8), ==, 0);
  g_assert_cmpint (syscall (SYS_rt_sigaction, 33, ignore, saved[1], _NSIG / 8), ==, 0);

  g_assert_true (g_file_set_contents (script,
                                      "grep -E '^Sig(Ign|Blk):' /proc/self/status >&2\n"
                                      "exec \"$@\"\n", -1, NULL));
  g_assert_cmpint (g_chmod (script, 0700), ==, 0);
  q_machine_set_wrapper (f->machine, wrapper);

  g_assert_true (q_machine_launch (f->machine, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (q_machine_shutdown (f->machine, 0, 10000, NULL, &error));
  g_assert_no_error (error);

  log = q_machine_get_log (f->machine);
  g_assert_nonnull (log);
  ign = strstr (log, "SigIgn:");
  blk = strstr (log, "SigBlk:");
  g_assert_nonnull (ign);
  g_assert_nonnull (blk);
  ignored = g_ascii_strtoull (ign + strlen ("SigIgn:"), NULL, 16);
  blocked = g_ascii_strtoull (blk + strlen ("SigBlk:"), NULL, 16);
  for (guint i = 0; i < G_N_ELEMENTS (reset); i++)
    g_assert_cmpuint (ignored & (G_GUINT64_CONSTANT (1) << (reset[i] - 1)), ==, 0);
  g_assert_cmpuint (blocked, ==, 0);
  g_unlink (script);
  g_assert_cmpint (syscall (SYS_rt_sigaction, 32, saved[0], NULL, _NSIG / 8), ==, 0);
  g_assert_cmpint (syscall (SYS_rt_sigaction, 33, saved[1], NULL, _NSIG / 8), ==, 0);
}

/* A controller short of descriptors: every number below the limit is
 * taken but a few. A launch works or fails with a GError; it never takes
 * the process down (GLib 2.74's posix_spawn path asserts when it cannot
 * copy a descriptor). First with QEMU's usual descriptors, then with 70
 * more from add_fd, which widens the range of counts where that copy
 * fails (GLib copies each of them). Run in a subprocess: the limit is
 * lowered. */
static guint
launch_with_spare (QMachine *machine,
                   GArray   *fillers,
                   guint     most,
                   guint     step)
{
  g_autoptr(GError) error = NULL;
  guint launched = 0;

  for (;;)
    {
      int fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        break;
      g_array_append_val (fillers, fd);
    }
  for (guint spare = 0; spare <= most; spare += step)
    {
      for (guint i = 0; i < step && spare > 0 && fillers->len > 0; i++)
        {
          close (g_array_index (fillers, int, fillers->len - 1));
          g_array_set_size (fillers, fillers->len - 1);
        }
      if (q_machine_launch (machine, NULL, &error))
        {
          launched++;
          g_assert_true (q_machine_shutdown (machine, 0, 10000, NULL, &error));
          g_assert_no_error (error);
        }
      else
        {
          g_assert_nonnull (error);
          g_clear_error (&error);
          g_assert_cmpint (q_machine_get_state (machine), ==, Q_MACHINE_STATE_NOT_LAUNCHED);
        }
    }
  for (guint i = 0; i < fillers->len; i++)
    close (g_array_index (fillers, int, i));
  g_array_set_size (fillers, 0);
  return launched;
}

static void
test_few_descriptors (Fixture *f, gconstpointer data)
{
  if (g_test_subprocess ())
    {
      struct rlimit limit = { 400, 400 };
      g_autoptr(GArray) fillers = g_array_new (FALSE, FALSE, sizeof (int));
      g_autoptr(GError) error = NULL;
      int passed[70];

      /* Everything the library keeps for the process exists first. */
      g_assert_true (q_machine_launch (f->machine, NULL, &error));
      g_assert_true (q_machine_shutdown (f->machine, 0, 10000, NULL, &error));
      g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &limit), ==, 0);

      /* With 14 spare descriptors a launch works. */
      g_assert_cmpuint (launch_with_spare (f->machine, fillers, 14, 1), >, 0);

      for (guint i = 0; i < G_N_ELEMENTS (passed); i++)
        {
          passed[i] = open ("/dev/null", O_RDONLY | O_CLOEXEC);
          g_assert_true (q_machine_add_fd (f->machine, passed[i], i + 1, "passed", NULL, &error));
          g_assert_no_error (error);
        }
      for (guint i = 0; i < G_N_ELEMENTS (passed); i++)
        close (passed[i]);
      g_assert_cmpuint (launch_with_spare (f->machine, fillers, 180, 4), >, 0);
      return;
    }

  g_test_trap_subprocess (NULL, 120 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, setup, fn, teardown)
  ADD ("/qmachine/machine/lifecycle", test_lifecycle);
  ADD ("/qmachine/machine/paused", test_paused);
  ADD ("/qmachine/machine/structured-log", test_structured_log);
  ADD ("/qmachine/machine/full-args", test_full_args);
  ADD ("/qmachine/machine/monitor-unix", test_monitor_unix);
  ADD ("/qmachine/machine/monitor-tcp", test_monitor_tcp);
  ADD ("/qmachine/machine/no-qmp", test_no_qmp);
  ADD ("/qmachine/machine/bad-args", test_bad_args);
  ADD ("/qmachine/machine/missing-binary", test_missing_binary);
  ADD ("/qmachine/machine/not-executable", test_not_executable);
  ADD ("/qmachine/machine/spawn-helper", test_spawn_helper);
  ADD ("/qmachine/machine/child-signals", test_child_signals);
  ADD ("/qmachine/machine/few-descriptors", test_few_descriptors);
  ADD ("/qmachine/machine/agent-launch-fails", test_agent_launch_fails);
  ADD ("/qmachine/machine/hang-before-greeting", test_hang_before_greeting);
  ADD ("/qmachine/machine/launch-cancel", test_launch_cancel);
  ADD ("/qmachine/machine/launch-precancelled", test_launch_precancelled);
  ADD ("/qmachine/machine/killed-outside", test_killed_outside);
  ADD ("/qmachine/machine/stopped-at-shutdown", test_stopped_at_shutdown);
  ADD ("/qmachine/machine/quit-then-wait", test_quit_then_shutdown);
  ADD ("/qmachine/machine/wait-timeout", test_wait_timeout);
  ADD ("/qmachine/machine/fds", test_fds);
  ADD ("/qmachine/machine/fds-colliding", test_fds_colliding);
  ADD ("/qmachine/machine/events", test_events);
  ADD ("/qmachine/machine/event-signal-and-limit", test_event_signal_and_limit);
  ADD ("/qmachine/machine/event-queue-bytes", test_event_queue_bytes);
  ADD ("/qmachine/machine/many-machines", test_many_machines);
  ADD ("/qmachine/machine/sync-in-loop", test_sync_in_loop);
  ADD ("/qmachine/machine/controller-dies", test_controller_dies);
  ADD ("/qmachine/machine/exit-without-shutdown", test_exit_without_shutdown);
  ADD ("/qmachine/machine/running-property", test_running_property);
#undef ADD
  g_test_add_func ("/qmachine/machine/event-match", test_event_match);

  return g_test_run ();
}
