/* test-console.c: QConsole and QMachine on a real Linux guest
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#include <glib/gstdio.h>

#include "qmachine.h"
#include "machine-test-util.h"

#define MARKER "QMACHINE-GUEST-READY"
#define BOOT_TIMEOUT 120000


typedef struct
{
  char     *base;
  QMachine *machine;
  int       exited;
  int       exit_code;
  guint     output_chunks;
} Fixture;

static void
exited_cb (QMachine *m, int code, Fixture *f)
{
  f->exited++;
  f->exit_code = code;
}

static void
output_cb (QConsole *c, GBytes *chunk, Fixture *f)
{
  g_assert_cmpuint (g_bytes_get_size (chunk), >, 0);
  f->output_chunks++;
}

static void
configure_full (Fixture *f, const char *extra_append, gboolean no_reboot)
{
  const char *accel = g_getenv ("QMACHINE_TEST_ACCEL");
  g_autofree char *append = g_strdup_printf ("console=ttyS0 panic=-1%s%s",
                                             extra_append ? " " : "", extra_append ? extra_append : "");

  q_machine_set_machine (f->machine, "pc");
  q_machine_add_args (f->machine,
                      "-accel", accel ? accel : "tcg",
                      "-m", "256", "-nodefaults",
                      "-kernel", g_getenv ("QMACHINE_GUEST_KERNEL"),
                      "-initrd", g_getenv ("QMACHINE_GUEST_INITRD"),
                      "-append", append,
                      NULL);
  if (no_reboot)
    q_machine_add_args (f->machine, "-no-reboot", NULL);
  q_machine_set_console (f->machine, NULL, 0);
}

static void
configure (Fixture *f, const char *extra_append)
{
  configure_full (f, extra_append, TRUE);
}

static void
setup (Fixture *f, gconstpointer data)
{
  g_assert_nonnull (g_getenv ("QMACHINE_GUEST_KERNEL"));
  g_assert_nonnull (g_getenv ("QMACHINE_GUEST_INITRD"));
  f->base = g_dir_make_tmp ("qm-console-XXXXXX", NULL);
  f->machine = q_machine_new (g_getenv ("QMACHINE_TEST_QEMU") ? g_getenv ("QMACHINE_TEST_QEMU")
                                                              : "qemu-system-x86_64");
  q_machine_set_base_temp_dir (f->machine, f->base);
  q_machine_set_drain_console (f->machine, TRUE);
  g_signal_connect (f->machine, "exited", G_CALLBACK (exited_cb), f);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  GDir *dir;
  const char *name;

  g_assert_true (q_machine_kill (f->machine, NULL, NULL));
  g_signal_handlers_disconnect_by_data (f->machine, f);
  /* Notifications still on their way hold the machine: let them land. */
  wait_finalized (g_steal_pointer (&f->machine));
  while (g_main_context_iteration (NULL, FALSE))
    ;

  /* Only files the test itself asked for may remain. */
  dir = g_dir_open (f->base, 0, NULL);
  while ((name = g_dir_read_name (dir)))
    {
      g_autofree char *path = g_build_filename (f->base, name, NULL);
      g_assert_true (g_str_has_suffix (name, ".console"));
      g_unlink (path);
    }
  g_dir_close (dir);
  g_rmdir (f->base);
  g_free (f->base);
}

static QConsole *
boot (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *seen = NULL;
  QConsole *console;

  g_assert_true (q_machine_launch (f->machine, NULL, &error));
  g_assert_no_error (error);
  console = q_machine_get_console (f->machine);
  g_assert_nonnull (console);
  seen = q_console_wait_for (console, MARKER, 0, BOOT_TIMEOUT, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (seen, ==, MARKER);
  return console;
}

static void
run_shell (QConsole *console, const char *command)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *line = g_strconcat (command, "\n", NULL);

  g_assert_true (q_console_write_text (console, line, NULL, &error));
  g_assert_no_error (error);
}

static void
test_boot_and_shell (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *answer = NULL;
  g_autofree char *regex = NULL;
  g_autofree char *missing = NULL;
  QConsole *console;

  configure (f, NULL);
  console = boot (f);
  g_signal_connect (console, "output", G_CALLBACK (output_cb), f);

  run_shell (console, "echo $((6*7))");
  /* The shell echoes the command; only the result is on a line of its own. */
  answer = q_console_wait_for (console, "\n42\r?\n", Q_CONSOLE_MATCH_FLAGS_REGEX, 30000, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (answer, "42"));

  run_shell (console, "uname -r; echo done-$((1+1))");
  regex = q_console_wait_for (console, "done-[0-9]", Q_CONSOLE_MATCH_FLAGS_REGEX, 30000, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (regex, ==, "done-2");

  missing = q_console_wait_for (console, "NEVER-PRINTED", 0, 300, NULL, &error);
  g_assert_null (missing);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_nonnull (strstr (error->message, "NEVER-PRINTED"));
  g_assert_nonnull (strstr (error->message, "last output"));
  g_clear_error (&error);

  g_assert_null (q_console_wait_for (console, "(unclosed", Q_CONSOLE_MATCH_FLAGS_REGEX, 100, NULL, &error));
  g_assert_error (error, G_REGEX_ERROR, G_REGEX_ERROR_UNMATCHED_PARENTHESIS);
  g_clear_error (&error);

  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (f->output_chunks, >, 0);
}

static void
test_guest_poweroff (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) event = NULL;
  g_autoptr(JsonNode) match = json_from_string ("{\"data\": {\"guest\": true}}", NULL);
  g_autofree char *log_path = g_build_filename (f->base, "boot.console", NULL);
  g_autofree char *log = NULL;
  g_autoptr(GBytes) output = NULL;
  g_autofree char *text = NULL;
  QConsole *console;
  int code;

  q_machine_set_console_log (f->machine, log_path);
  configure (f, NULL);
  console = boot (f);

  run_shell (console, "poweroff -f");
  event = q_machine_event_wait (f->machine, "SHUTDOWN", match, 60000, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (json_object_get_boolean_member (json_object_get_object_member (event, "data"), "guest"));

  g_assert_true (q_machine_wait (f->machine, 30000, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (q_machine_get_exit_code (f->machine, &code));
  g_assert_cmpint (code, ==, 0);
  while (f->exited == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (f->exit_code, ==, 0);

  /* The log file holds the whole boot, from the kernel's first line. */
  g_assert_true (g_file_get_contents (log_path, &log, NULL, NULL));
  g_assert_nonnull (strstr (log, "Linux version"));
  g_assert_nonnull (strstr (log, MARKER));
  g_assert_nonnull (strstr (log, "poweroff -f"));

  /* The console stays readable after shutdown, and is closed. */
  g_assert_true (q_console_is_closed (console));
  output = q_console_get_output (console);
  text = g_strndup (g_bytes_get_data (output, NULL), g_bytes_get_size (output));
  g_assert_cmpstr (text, ==, log);
}

/* A drained console keeps reading through wait(): the guest's last words
 * before it powers off are kept. */
static void
test_last_words (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) output = NULL;
  QConsole *console;

  configure (f, NULL);
  console = boot (f);
  run_shell (console, "echo last-$((20+22)); poweroff -f");
  g_assert_true (q_machine_wait (f->machine, 60000, NULL, &error));
  g_assert_no_error (error);
  output = q_console_get_output (console);
  g_assert_nonnull (g_strstr_len (g_bytes_get_data (output, NULL), g_bytes_get_size (output), "last-42"));
}

static void
test_first_line_kept (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) output = NULL;
  g_autoptr(JsonObject) reset = NULL;
  g_autofree char *again = NULL;
  const char *text;
  const char *linux_version;
  QConsole *console;

  /* Without -no-reboot, so that system_reset reboots instead of exiting. */
  configure_full (f, NULL, FALSE);
  g_assert_true (q_machine_launch (f->machine, NULL, &error));
  console = q_machine_get_console (f->machine);
  g_signal_connect (console, "output", G_CALLBACK (output_cb), f);

  /* Nobody waits on the console while it boots: the drain alone fills
   * the buffer. Each drained chunk is an `output` emission in this
   * context (a handler is connected), which wakes the loop; the buffer is
   * then checked without waiting (timeout 0). */
  while (TRUE)
    {
      g_autofree char *seen = NULL;
      g_autoptr(GError) e = NULL;

      g_main_context_iteration (NULL, TRUE);
      seen = q_console_wait_for (console, MARKER, 0, 0, NULL, &e);
      if (seen != NULL)
        break;
      g_assert_error (e, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
    }

  /* The rest runs with sync calls only: stop listening. */
  g_signal_handlers_disconnect_by_func (console, output_cb, f);

  output = q_console_get_output (console);
  text = g_bytes_get_data (output, NULL);
  linux_version = g_strstr_len (text, g_bytes_get_size (output), "Linux version");
  g_assert_nonnull (linux_version);
  /* It is the kernel's first message: nothing was lost before it. */
  g_assert_cmpint (linux_version - text, <, 64);
  g_assert_cmpuint (q_console_get_dropped_bytes (console), ==, 0);

  /* system_reset: a RESET event and a second boot. */
  cmd_ok (f->machine, "system_reset");
  g_assert_no_error (error);
  reset = q_machine_event_wait (f->machine, "RESET", NULL, 30000, NULL, &error);
  g_assert_no_error (error);
  again = q_console_wait_for (console, MARKER, 0, BOOT_TIMEOUT, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (again, ==, MARKER);
}

static void
count_bytes (QConsole *c, GBytes *chunk, guint64 *bytes)
{
  *bytes += g_bytes_get_size (chunk);
}

static void
test_flood_drained (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *seen = NULL;
  QConsole *console;
  guint64 bytes = 0;

  /* 20000 lines of 100 bytes (2 MB) before the marker, nobody reading
   * until the marker, and a buffer of 64 KiB. */
  configure (f, "qmachine.flood=20000");
  q_machine_set_console_buffer_size (f->machine, 65536);
  g_assert_true (q_machine_launch (f->machine, NULL, &error));
  console = q_machine_get_console (f->machine);
  /* A listener whose context is not iterated (sync calls only): the
   * signals waiting for it are bounded by the buffer size too. */
  g_signal_connect (console, "output", G_CALLBACK (count_bytes), &bytes);
  g_test_expect_message ("QMachine", G_LOG_LEVEL_WARNING, "*not dispatching*");
  seen = q_console_wait_for (console, MARKER, 0, BOOT_TIMEOUT, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (q_console_get_dropped_bytes (console), >, 1900000);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_test_assert_expected_messages ();
  /* Signalled: what waited (at most 64 KiB) plus what came after the
   * marker, far from the 2 MB printed. */
  g_assert_cmpuint (bytes, >, 0);
  g_assert_cmpuint (bytes, <, 2 * 65536);
  g_signal_handlers_disconnect_by_func (console, count_bytes, &bytes);
  {
    g_autoptr(GBytes) output = q_console_get_output (console);
    g_assert_cmpuint (g_bytes_get_size (output), <=, 65536);
  }
  g_assert_true (q_machine_shutdown (f->machine, 0, 20000, NULL, &error));
  g_assert_no_error (error);
}

static void
test_unread_console_shutdown (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  int pid;

  /* No draining and nobody reading: QEMU's serial output backs up. */
  q_machine_set_drain_console (f->machine, FALSE);
  configure (f, "qmachine.flood=50000");
  g_assert_true (q_machine_launch (f->machine, NULL, &error));
  pid = q_machine_get_pid (f->machine);
  cmd_ok (f->machine, "query-status");
  g_assert_true (q_machine_shutdown (f->machine, 0, 20000, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (kill (pid, 0), ==, -1);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, setup, fn, teardown)
  ADD ("/qmachine/console/boot-and-shell", test_boot_and_shell);
  ADD ("/qmachine/console/guest-poweroff", test_guest_poweroff);
  ADD ("/qmachine/console/last-words", test_last_words);
  ADD ("/qmachine/console/first-line-and-reset", test_first_line_kept);
  ADD ("/qmachine/console/flood-drained", test_flood_drained);
  ADD ("/qmachine/console/unread-console-shutdown", test_unread_console_shutdown);
#undef ADD

  return g_test_run ();
}
