/* test-security.c: what a hostile local process, a planted file or a bad
 * value can do to a launch, against Debian's real qemu-system-x86_64
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>

#include "qmachine.h"
#include "lifetime-test-util.h"
#include "machine-test-util.h"
#include "qmp-fake-peer.h"

typedef struct
{
  char     *base;
  QMachine *machine;
} Fixture;

/* Removes what a test planted: links are removed, not followed. */
static void
remove_planted (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const char *name;

  g_assert_nonnull (dir);
  g_chmod (path, 0700);
  while ((name = g_dir_read_name (dir)))
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_planted (child);
      else
        g_assert_cmpint (g_unlink (child), ==, 0);
    }
  g_dir_close (dir);
  g_assert_cmpint (g_rmdir (path), ==, 0);
}

static void
setup (Fixture *f, gconstpointer data)
{
  f->base = g_dir_make_tmp ("qm-security-XXXXXX", NULL);
  f->machine = q_machine_new (test_qemu_binary ());
  q_machine_set_base_temp_dir (f->machine, f->base);
  q_machine_add_args (f->machine, "-nodefaults", NULL);
  q_machine_set_machine (f->machine, "none");
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_assert_true (q_machine_kill (f->machine, NULL, NULL));
  wait_finalized (g_steal_pointer (&f->machine));
  /* What the tests planted is theirs to remove; the machine left nothing. */
  remove_planted (f->base);
  g_free (f->base);
}

/* QEMU comes late (the wrapper waits), and another local process connects
 * to the monitor first: it is refused (it reads EOF, never a greeting
 * and never a command), and QEMU still gets its monitor. */
static void
impostor_connects_first (Fixture        *f,
                         GSocketAddress *address,
                         GSocketAddress *(*connect_to) (Fixture *f))
{
  const char *wrapper[] = { "sh", "-c", "sleep 1; exec \"$@\"", "sh", NULL };
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) impostor = NULL;
  g_autoptr(GSocketAddress) target = NULL;
  g_autoptr(GError) error = NULL;
  char buf[256];
  gssize n;

  q_machine_set_wrapper (f->machine, wrapper);
  q_machine_set_monitor_address (f->machine, address);
  g_test_expect_message ("QMachine", G_LOG_LEVEL_WARNING, "*Refused a connection to the monitor*");
  q_machine_launch_async (f->machine, NULL, test_store_result_cb, &result);

  target = connect_to (f);
  impostor = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (target), NULL, &error);
  g_assert_no_error (error);
  n = g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM (impostor)), buf, sizeof buf,
                           NULL, &error);
  /* Closed on it: no greeting relayed, nothing of ours read. */
  g_assert_cmpint (n, <=, 0);

  TEST_WAIT (NULL, result != NULL);
  g_assert_true (q_machine_launch_finish (f->machine, result, &error));
  g_assert_no_error (error);
  g_test_assert_expected_messages ();
  cmd_ok (f->machine, "query-status");
}

static GSocketAddress *
unix_target (Fixture *f)
{
  g_autofree char *path = g_build_filename (f->base, "mon.sock", NULL);
  struct stat st;

  /* Only this user may even connect. */
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  return g_unix_socket_address_new (path);
}

static void
test_impostor_unix (Fixture *f, gconstpointer data)
{
  g_autofree char *path = g_build_filename (f->base, "mon.sock", NULL);
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (path);

  impostor_connects_first (f, address, unix_target);
}

static GSocketAddress *
tcp_target (Fixture *f)
{
  const char * const *args = q_machine_get_full_args (f->machine);
  guint port = 0;

  for (guint i = 0; args[i] && port == 0; i++)
    {
      const char *p = strstr (args[i], ",port=");
      if (g_str_has_prefix (args[i], "socket,id=mon,") && p != NULL)
        port = (guint)g_ascii_strtoull (p + strlen (",port="), NULL, 10);
    }
  g_assert_cmpuint (port, >, 0);
  return g_inet_socket_address_new_from_string ("127.0.0.1", port);
}

static void
test_impostor_tcp (Fixture *f, gconstpointer data)
{
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new_from_string ("127.0.0.1", 0);

  impostor_connects_first (f, address, tcp_target);
}

/* A symbolic link planted where the log goes: the launch fails clearly
 * and the link's target is untouched. */
static void
test_symlink_log (Fixture *f, gconstpointer data)
{
  g_autofree char *target = g_build_filename (f->base, "precious", NULL);
  g_autofree char *link = NULL;
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_set_contents (target, "precious", -1, NULL));
  q_machine_set_name (f->machine, "vm");
  q_machine_set_log_dir (f->machine, f->base);
  link = g_build_filename (f->base, "vm.log", NULL);
  g_assert_cmpint (symlink (target, link), ==, 0);

  g_assert_false (q_machine_launch (f->machine, NULL, &error));
  g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_LAUNCH_FAILED);
  g_assert_nonnull (strstr (error->message, "symbolic link"));
  g_assert_true (g_file_get_contents (target, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "precious");
  g_clear_error (&error);

  /* The same for the console log. */
  g_unlink (link);
  q_machine_set_console (f->machine, NULL, 0);
  q_machine_set_console_log (f->machine, link);
  g_assert_cmpint (symlink (target, link), ==, 0);
  q_machine_set_log_dir (f->machine, NULL);
  g_assert_false (q_machine_launch (f->machine, NULL, &error));
  g_assert_nonnull (strstr (error->message, "symbolic link"));
  g_clear_pointer (&contents, g_free);
  g_assert_true (g_file_get_contents (target, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "precious");
}

/* Files qmachine creates are 0600, its directories 0700. */
static void
test_file_modes (Fixture *f, gconstpointer data)
{
  g_autofree char *log = g_build_filename (f->base, "vm.log", NULL);
  g_autofree char *console_log = g_build_filename (f->base, "console.log", NULL);
  g_autoptr(GError) error = NULL;
  struct stat st;

  /* A world-readable file already there (a previous run's, say). */
  g_assert_true (g_file_set_contents (log, "old", -1, NULL));
  g_assert_cmpint (g_chmod (log, 0644), ==, 0);
  q_machine_set_name (f->machine, "vm");
  q_machine_set_log_dir (f->machine, f->base);
  q_machine_set_console (f->machine, NULL, 0);
  q_machine_set_console_log (f->machine, console_log);
  g_assert_true (q_machine_launch (f->machine, NULL, &error));
  g_assert_no_error (error);

  g_assert_cmpint (g_stat (log, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_cmpint (g_stat (console_log, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_cmpint (g_stat (q_machine_get_temp_dir (f->machine), &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);
}

/* Names that would reach outside the log directory are refused. */
static void
test_bad_names (Fixture *f, gconstpointer data)
{
  const char *bad[] = { "..", ".", "../x", "a/b", "a\nb", "" };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_test_expect_message ("QMachine", G_LOG_LEVEL_CRITICAL, "*q_machine_name_is_valid*");
      q_machine_set_name (f->machine, bad[i]);
      g_test_assert_expected_messages ();
    }
  g_assert_true (g_str_has_prefix (q_machine_get_name (f->machine), "qmachine-"));
}

/* The -add-fd opaque string stays one value: commas, '=', spaces. */
static void
test_opaque_escaped (Fixture *f, gconstpointer data)
{
  const char *opaque = "x,set=9 y=z,,";
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;
  JsonArray *sets;
  JsonObject *set;
  JsonObject *fd0;
  int fd = g_open ("/dev/null", O_RDONLY, 0);
  int high = fcntl (fd, F_DUPFD, 20);

  close (fd);
  g_assert_true (q_machine_add_fd (f->machine, high, 5, opaque, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (q_machine_add_fd (f->machine, high + 1, 6, "bad\nvalue", NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  close (high);

  g_assert_true (q_machine_launch (f->machine, NULL, &error));
  g_assert_no_error (error);
  ret = q_machine_cmd (f->machine, "query-fdsets", NULL, NULL, &error);
  g_assert_no_error (error);
  sets = json_node_get_array (ret);
  g_assert_cmpuint (json_array_get_length (sets), ==, 1);
  set = json_array_get_object_element (sets, 0);
  g_assert_cmpint (json_object_get_int_member (set, "fdset-id"), ==, 5);
  fd0 = json_array_get_object_element (json_object_get_array_member (set, "fds"), 0);
  g_assert_cmpstr (json_object_get_string_member (fd0, "opaque"), ==, opaque);
}

/* QEMU's environment is the machine's to choose. */
static void
test_environment (Fixture *f, gconstpointer data)
{
  const char *wrapper[] = { "sh", "-c", "echo \"env:${QM_TEST-unset}:${HOME-unset}\"; exec \"$@\"", "sh", NULL };
  const char *env[] = { "QM_TEST=1", NULL };
  g_autoptr(GError) error = NULL;

  g_assert_null (q_machine_get_environ (f->machine));
  q_machine_set_wrapper (f->machine, wrapper);
  q_machine_set_environ (f->machine, env);
  g_assert_true (q_machine_launch (f->machine, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (q_machine_shutdown (f->machine, 0, 10000, NULL, &error));
  g_assert_nonnull (strstr (q_machine_get_log (f->machine), "env:1:unset"));

  q_machine_unsetenv (f->machine, "QM_TEST");
  q_machine_setenv (f->machine, "HOME", "/nowhere");
  g_assert_true (q_machine_launch (f->machine, NULL, &error));
  g_assert_true (q_machine_shutdown (f->machine, 0, 10000, NULL, &error));
  g_assert_nonnull (strstr (q_machine_get_log (f->machine), "env:unset:/nowhere"));
}

/* A uid no account has: what another local user would own. */
#define OTHER_UID 4242

static void
assert_contents (const char *path,
                 const char *expected)
{
  g_autofree char *contents = NULL;

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, expected);
}

static char *
make_dir (const char *parent,
          const char *name,
          int         mode)
{
  char *path = g_build_filename (parent, name, NULL);

  g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
  g_assert_cmpint (g_chmod (path, mode), ==, 0);
  return path;
}

/* A monitor socket in a directory others can write: one of them could
 * remove qmachine's socket and bind their own, and QEMU, which connects
 * to the path, would take commands from them. Refused before anything
 * is made; a sticky directory (as /tmp) keeps the socket ours. */
static void
test_socket_shared_dir (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = make_dir (f->base, "shared", 0777);
  g_autofree char *path = g_build_filename (dir, "mon.sock", NULL);
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr(GSocketAddress) abstract = NULL;
  g_autoptr(GError) error = NULL;

  q_machine_set_monitor_address (f->machine, address);
  g_assert_false (q_machine_launch (f->machine, NULL, &error));
  g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_LAUNCH_FAILED);
  g_assert_nonnull (strstr (error->message, "can be written by other users"));
  g_assert_nonnull (strstr (error->message, "not sticky"));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_false (q_machine_is_running (f->machine));
  g_clear_error (&error);

  /* Something planted at the path is not bound over. */
  g_assert_cmpint (g_chmod (dir, 01777), ==, 0);
  g_assert_true (g_file_set_contents (path, "planted", -1, NULL));
  g_assert_false (q_machine_launch (f->machine, NULL, &error));
  g_assert_nonnull (strstr (error->message, "exists there already"));
  assert_contents (path, "planted");
  g_assert_cmpint (g_unlink (path), ==, 0);
  g_clear_error (&error);

  g_assert_true (q_machine_launch (f->machine, NULL, &error));
  g_assert_no_error (error);
  cmd_ok (f->machine, "query-status");
  g_assert_true (q_machine_shutdown (f->machine, 0, 10000, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));

  /* An abstract name can be taken by anyone. */
  abstract = g_unix_socket_address_new_with_type ("qmachine-test", -1, G_UNIX_SOCKET_ADDRESS_ABSTRACT);
  q_machine_set_monitor_address (f->machine, abstract);
  g_assert_false (q_machine_launch (f->machine, NULL, &error));
  g_assert_nonnull (strstr (error->message, "abstract"));
}

/* A symbolic link in the middle of a path (a directory "logs" that is a
 * link to somewhere else): no file is made or truncated through it, for
 * the log directory, the console log and the monitor socket. */
static void
test_symlinked_parent (Fixture *f, gconstpointer data)
{
  g_autofree char *real = make_dir (f->base, "real", 0700);
  g_autofree char *victim = g_build_filename (real, "vm.log", NULL);
  g_autofree char *link = g_build_filename (f->base, "logs", NULL);
  g_autofree char *via_link = g_build_filename (link, "vm.log", NULL);
  g_autofree char *socket_path = g_build_filename (link, "mon.sock", NULL);
  g_autofree char *real_socket = g_build_filename (real, "mon.sock", NULL);
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (socket_path);
  g_autoptr(GError) error = NULL;
  struct stat st;

  g_assert_true (g_file_set_contents (victim, "precious", -1, NULL));
  g_assert_cmpint (g_chmod (victim, 0644), ==, 0);
  g_assert_cmpint (symlink (real, link), ==, 0);

  q_machine_set_name (f->machine, "vm");
  q_machine_set_log_dir (f->machine, link);
  g_assert_false (q_machine_launch (f->machine, NULL, &error));
  g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_LAUNCH_FAILED);
  g_assert_nonnull (strstr (error->message, "is a symbolic link"));
  g_clear_error (&error);

  q_machine_set_log_dir (f->machine, NULL);
  q_machine_set_console (f->machine, NULL, 0);
  q_machine_set_console_log (f->machine, via_link);
  g_assert_false (q_machine_launch (f->machine, NULL, &error));
  g_assert_nonnull (strstr (error->message, "is a symbolic link"));
  g_clear_error (&error);

  q_machine_set_console_log (f->machine, NULL);
  q_machine_set_monitor_address (f->machine, address);
  g_assert_false (q_machine_launch (f->machine, NULL, &error));
  g_assert_nonnull (strstr (error->message, "is a symbolic link"));
  g_assert_false (g_file_test (real_socket, G_FILE_TEST_EXISTS));

  assert_contents (victim, "precious");
  g_assert_cmpint (g_stat (victim, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0644);
}

/* Another user's directory, even in a sticky one such as /tmp (they made
 * /tmp/mytest-logs before us), and a directory of ours inside theirs (they
 * can rename it and put their own in its place): refused. */
static void
test_other_users_dir (Fixture *f, gconstpointer data)
{
  g_autofree char *sticky = NULL;
  g_autofree char *theirs = NULL;
  g_autofree char *ours = NULL;
  g_autofree char *victim = NULL;
  g_autoptr(GError) error = NULL;

  if (geteuid () != 0)
    {
      g_test_skip ("Giving a directory to another user needs root");
      return;
    }

  sticky = make_dir (f->base, "tmp", 01777);
  theirs = make_dir (sticky, "mytest-logs", 0755);
  ours = make_dir (theirs, "ours", 0700);
  victim = g_build_filename (theirs, "vm.log", NULL);
  g_assert_true (g_file_set_contents (victim, "precious", -1, NULL));
  g_assert_cmpint (chown (theirs, OTHER_UID, OTHER_UID), ==, 0);

  q_machine_set_name (f->machine, "vm");
  q_machine_set_log_dir (f->machine, theirs);
  g_assert_false (q_machine_launch (f->machine, NULL, &error));
  g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_LAUNCH_FAILED);
  g_assert_nonnull (strstr (error->message, "belongs to another user"));
  assert_contents (victim, "precious");
  g_clear_error (&error);

  q_machine_set_log_dir (f->machine, ours);
  g_assert_false (q_machine_launch (f->machine, NULL, &error));
  g_assert_nonnull (strstr (error->message, "belongs to another user"));
  g_clear_error (&error);

  /* Theirs as the base of the temporary directory: nothing made in it. */
  q_machine_set_log_dir (f->machine, NULL);
  q_machine_set_base_temp_dir (f->machine, theirs);
  g_assert_false (q_machine_launch (f->machine, NULL, &error));
  g_assert_nonnull (strstr (error->message, "belongs to another user"));
  g_clear_error (&error);

  /* Ours in the sticky directory is fine. */
  g_assert_cmpint (chown (theirs, 0, 0), ==, 0);
  g_assert_cmpint (g_chmod (theirs, 0700), ==, 0);
  q_machine_set_base_temp_dir (f->machine, f->base);
  q_machine_set_log_dir (f->machine, theirs);
  g_assert_true (q_machine_launch (f->machine, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (q_machine_kill (f->machine, NULL, &error));
  g_assert_no_error (error);
}

/* The temporary directory renamed and a link to another directory put in
 * its place: removing it at shutdown touches nothing through the link.
 * And a base directory others can write is refused. */
static void
test_temp_dir_swap (Fixture *f, gconstpointer data)
{
  g_autofree char *victim = make_dir (f->base, "victim", 0700);
  g_autofree char *victim_sub = make_dir (victim, "sub", 0700);
  g_autofree char *keep = g_build_filename (victim, "keep", NULL);
  g_autofree char *keep_sub = g_build_filename (victim_sub, "keep", NULL);
  g_autofree char *moved = g_build_filename (f->base, "moved", NULL);
  g_autofree char *shared = make_dir (f->base, "shared", 0777);
  g_autofree char *temp = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_set_contents (keep, "keep", -1, NULL));
  g_assert_true (g_file_set_contents (keep_sub, "keep", -1, NULL));

  g_assert_true (q_machine_launch (f->machine, NULL, &error));
  g_assert_no_error (error);
  temp = g_strdup (q_machine_get_temp_dir (f->machine));
  g_assert_nonnull (temp);
  g_assert_cmpint (g_rename (temp, moved), ==, 0);
  g_assert_cmpint (symlink (victim, temp), ==, 0);
  g_assert_true (q_machine_shutdown (f->machine, 0, 10000, NULL, &error));
  g_assert_no_error (error);
  assert_contents (keep, "keep");
  assert_contents (keep_sub, "keep");
  g_assert_true (g_file_test (temp, G_FILE_TEST_IS_SYMLINK));
  g_assert_cmpint (g_unlink (temp), ==, 0);

  /* Planted as a directory of another owner's: left alone too. */
  if (geteuid () == 0)
    {
      g_autofree char *temp2 = NULL;

      g_assert_true (q_machine_launch (f->machine, NULL, &error));
      temp2 = g_strdup (q_machine_get_temp_dir (f->machine));
      g_assert_cmpint (g_rmdir (temp2), ==, 0);
      g_assert_cmpint (g_rename (victim, temp2), ==, 0);
      g_assert_cmpint (chown (temp2, OTHER_UID, OTHER_UID), ==, 0);
      g_assert_true (q_machine_shutdown (f->machine, 0, 10000, NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpint (g_rename (temp2, victim), ==, 0);
      assert_contents (keep, "keep");
      assert_contents (keep_sub, "keep");
    }

  q_machine_set_base_temp_dir (f->machine, shared);
  g_test_expect_message ("QMachine", G_LOG_LEVEL_WARNING, "*can be written by other users*");
  g_assert_null (q_machine_get_temp_dir (f->machine));
  g_test_assert_expected_messages ();
  g_assert_false (q_machine_launch (f->machine, NULL, &error));
  g_assert_nonnull (strstr (error->message, "can be written by other users"));
}

/* The monitor socket's path is one value of -chardev: a comma in a
 * directory name is quoted, and QEMU connects to the real path. */
static void
test_socket_path_quoted (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = make_dir (f->base, "a,server=on,b", 0700);
  g_autofree char *path = g_build_filename (dir, "mon.sock", NULL);
  g_autofree char *expected = NULL;
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr(GError) error = NULL;
  const char * const *args;
  gboolean found = FALSE;

  q_machine_set_monitor_address (f->machine, address);
  g_assert_true (q_machine_launch (f->machine, NULL, &error));
  g_assert_no_error (error);
  cmd_ok (f->machine, "query-status");
  expected = g_strdup_printf ("socket,id=mon,path=%s/a,,server=on,,b/mon.sock", f->base);
  args = q_machine_get_full_args (f->machine);
  for (guint i = 0; args[i]; i++)
    found |= g_str_equal (args[i], expected);
  g_assert_true (found);
  g_assert_true (q_machine_shutdown (f->machine, 0, 10000, NULL, &error));
  g_assert_no_error (error);
}

/* The console's device type is one value of QEMU's -device option: a
 * comma cannot add properties, '{' cannot turn it into JSON, a control
 * character is refused. */
static void
test_device_type_quoted (Fixture *f, gconstpointer data)
{
  const char *refused[] = { "{\"driver\":\"isa-serial\"}", "isa-serial\nx", "" };
  g_autoptr(GError) error = NULL;
  const char * const *args;
  gboolean found = FALSE;

  q_machine_set_console (f->machine, "isa-serial,iobase=0x2f8", 0);
  g_assert_false (q_machine_launch (f->machine, NULL, &error));
  g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_LAUNCH_FAILED);
  args = q_machine_get_full_args (f->machine);
  for (guint i = 0; args[i]; i++)
    found |= g_str_equal (args[i], "isa-serial,,iobase=0x2f8,chardev=console");
  g_assert_true (found);
  /* QEMU was asked for a device of that (odd) name, and said no. */
  g_assert_nonnull (strstr (error->message, "iobase"));
  g_clear_error (&error);

  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      q_machine_set_console (f->machine, refused[i], 0);
      g_assert_false (q_machine_launch (f->machine, NULL, &error));
      g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_LAUNCH_FAILED);
      g_assert_nonnull (strstr (error->message, "console device type"));
      g_assert_cmpint (q_machine_get_pid (f->machine), ==, 0);
      g_clear_error (&error);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add ("/security/" path, Fixture, NULL, setup, fn, teardown)
  ADD ("monitor/impostor-unix", test_impostor_unix);
  ADD ("monitor/impostor-tcp", test_impostor_tcp);
  ADD ("files/symlink-log", test_symlink_log);
  ADD ("files/modes", test_file_modes);
  ADD ("files/bad-names", test_bad_names);
  ADD ("options/opaque-escaped", test_opaque_escaped);
  ADD ("options/device-type-quoted", test_device_type_quoted);
  ADD ("options/socket-path-quoted", test_socket_path_quoted);
  ADD ("dirs/socket-shared-dir", test_socket_shared_dir);
  ADD ("dirs/symlinked-parent", test_symlinked_parent);
  ADD ("dirs/other-users-dir", test_other_users_dir);
  ADD ("dirs/temp-dir-swap", test_temp_dir_swap);
  ADD ("environment", test_environment);

  return g_test_run ();
}
