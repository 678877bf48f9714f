/* test-preconditions.c: every public blocking call, given each invalid
 * argument, returns at once with a critical (it never waits for a
 * callback that its _async function will never call)
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each case runs in a subprocess with criticals made non-fatal, under a
 * two-second watchdog: the case passes when the call returns its failure
 * value, the process exits by itself, and a critical was logged.
 */

#include "config.h"

#include <math.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gunixfdlist.h>
#include <gio/gunixsocketaddress.h>

#include "qmachine.h"
#include "lifetime-test-util.h"

typedef struct
{
  QMachine     *machine;     /* never launched */
  QConsole     *console;     /* of a launched machine, when the case needs one */
  QQmpClient   *client;      /* on a socketpair nobody answers */
  QGuestAgent  *agent;       /* the same */
  QQtestClient *qtest;       /* the same */
  GCancellable *bad_cancellable;  /* not a GCancellable */
  GObject      *object;
} Objects;

typedef gboolean (*CaseFunc) (Objects *o, GError **error);

static GIOStream *
stream_nobody_answers (int *peer)
{
  g_autoptr(GSocket) socket = NULL;
  int sv[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  socket = g_socket_new_from_fd (sv[0], NULL);
  g_assert_nonnull (socket);
  *peer = sv[1];
  return G_IO_STREAM (g_socket_connection_factory_create_connection (socket));
}

/* Each case returns whether the call gave its failure value. */
#define CASE(name, ...) \
  static gboolean case_##name (Objects *o, GError **error) { __VA_ARGS__ }

/* QMachine */
CASE (launch_null, return !q_machine_launch (NULL, NULL, error);)
CASE (launch_cancellable, return !q_machine_launch (o->machine, o->bad_cancellable, error);)
CASE (launch_not_machine, return !q_machine_launch ((QMachine *)o->object, NULL, error);)
CASE (shutdown_timeout, return !q_machine_shutdown (o->machine, 0, -2, NULL, error);)
CASE (shutdown_cancellable, return !q_machine_shutdown (o->machine, 0, 100, o->bad_cancellable, error);)
CASE (kill_null, return !q_machine_kill (NULL, NULL, error);)
CASE (kill_cancellable, return !q_machine_kill (o->machine, o->bad_cancellable, error);)
CASE (wait_timeout, return !q_machine_wait (o->machine, -2, NULL, error);)
CASE (wait_cancellable, return !q_machine_wait (o->machine, 100, o->bad_cancellable, error);)
CASE (qmp_command, return q_machine_qmp (o->machine, NULL, NULL, NULL, error) == NULL;)
CASE (qmp_cancellable, return q_machine_qmp (o->machine, "query-status", NULL, o->bad_cancellable, error) == NULL;)
CASE (cmd_command, return q_machine_cmd (o->machine, NULL, NULL, NULL, error) == NULL;)
CASE (cmd_cancellable, return q_machine_cmd (o->machine, "query-status", NULL, o->bad_cancellable, error) == NULL;)
CASE (send_fd_name, return !q_machine_send_fd (o->machine, NULL, 0, NULL, error);)
CASE (send_fd_fd, return !q_machine_send_fd (o->machine, "x", -1, NULL, error);)
CASE (send_fd_cancellable, return !q_machine_send_fd (o->machine, "x", 0, o->bad_cancellable, error);)
CASE (event_wait_timeout, return q_machine_event_wait (o->machine, "STOP", NULL, -2, NULL, error) == NULL;)
CASE (event_wait_cancellable, return q_machine_event_wait (o->machine, "STOP", NULL, 100, o->bad_cancellable, error) == NULL;)
CASE (events_wait_names, return q_machine_events_wait (o->machine, NULL, NULL, 100, NULL, error) == NULL;)
CASE (events_wait_empty, const char *none[] = { NULL };
      return q_machine_events_wait (o->machine, none, NULL, 100, NULL, error) == NULL;)
CASE (events_wait_timeout, const char *names[] = { "STOP", NULL };
      return q_machine_events_wait (o->machine, names, NULL, -2, NULL, error) == NULL;)
CASE (events_wait_cancellable, const char *names[] = { "STOP", NULL };
      return q_machine_events_wait (o->machine, names, NULL, 100, o->bad_cancellable, error) == NULL;)
CASE (screendump_head, return q_machine_screendump (o->machine, NULL, -1, NULL, error) == NULL;)
CASE (screendump_cancellable, return q_machine_screendump (o->machine, NULL, 0, o->bad_cancellable, error) == NULL;)
CASE (send_keys_combo, return !q_machine_send_keys (o->machine, NULL, 0, NULL, error);)
CASE (send_keys_hold, return !q_machine_send_keys (o->machine, "a", -5, NULL, error);)
CASE (send_keys_cancellable, return !q_machine_send_keys (o->machine, "a", 0, o->bad_cancellable, error);)
CASE (send_text_text, return !q_machine_send_text (o->machine, NULL, NULL, error);)
CASE (send_text_cancellable, return !q_machine_send_text (o->machine, "a", o->bad_cancellable, error);)
CASE (pointer_move_nan, return !q_machine_pointer_move (o->machine, NAN, 0.5, NULL, error);)
CASE (pointer_move_range, return !q_machine_pointer_move (o->machine, 0.5, 2.0, NULL, error);)
CASE (pointer_move_cancellable, return !q_machine_pointer_move (o->machine, 0.5, 0.5, o->bad_cancellable, error);)
CASE (pointer_click_button, return !q_machine_pointer_click (o->machine, NULL, NULL, error);)
CASE (pointer_click_cancellable, return !q_machine_pointer_click (o->machine, "left", o->bad_cancellable, error);)

/* QConsole */
CASE (read_line_null, return q_console_read_line (NULL, 100, NULL, error) == NULL;)
CASE (read_line_timeout, return q_console_read_line (o->console, -2, NULL, error) == NULL;)
CASE (read_line_cancellable, return q_console_read_line (o->console, 100, o->bad_cancellable, error) == NULL;)
CASE (wait_for_pattern, return q_console_wait_for (o->console, NULL, 0, 100, NULL, error) == NULL;)
CASE (wait_for_timeout, return q_console_wait_for (o->console, "x", 0, -2, NULL, error) == NULL;)
CASE (wait_for_cancellable, return q_console_wait_for (o->console, "x", 0, 100, o->bad_cancellable, error) == NULL;)
CASE (write_data, return !q_console_write (o->console, NULL, NULL, error);)
CASE (write_cancellable, g_autoptr(GBytes) b = g_bytes_new_static ("x", 1);
      return !q_console_write (o->console, b, o->bad_cancellable, error);)
CASE (write_text_text, return !q_console_write_text (o->console, NULL, NULL, error);)
CASE (write_text_cancellable, return !q_console_write_text (o->console, "x", o->bad_cancellable, error);)

/* QQmpClient */
CASE (negotiate_null, return !q_qmp_client_negotiate (NULL, 0, NULL, error);)
CASE (negotiate_cancellable, return !q_qmp_client_negotiate (o->client, 0, o->bad_cancellable, error);)
CASE (execute_command, return q_qmp_client_execute (o->client, NULL, NULL, 0, NULL, NULL, error) == NULL;)
CASE (execute_fds, return q_qmp_client_execute (o->client, "x", NULL, 0, (GUnixFDList *)o->object, NULL, error) == NULL;)
CASE (execute_cancellable, return q_qmp_client_execute (o->client, "x", NULL, 0, NULL, o->bad_cancellable, error) == NULL;)
CASE (execute_raw_command, return q_qmp_client_execute_raw (o->client, NULL, NULL, 0, NULL, NULL, error) == NULL;)
CASE (execute_raw_fds, return q_qmp_client_execute_raw (o->client, "x", NULL, 0, (GUnixFDList *)o->object, NULL, error) == NULL;)
CASE (execute_raw_cancellable, return q_qmp_client_execute_raw (o->client, "x", NULL, 0, NULL, o->bad_cancellable, error) == NULL;)
CASE (close_null, return !q_qmp_client_close (NULL, NULL, error);)
CASE (close_cancellable, return !q_qmp_client_close (o->client, o->bad_cancellable, error);)

/* QGuestAgent */
CASE (agent_new_address, return q_guest_agent_new_for_address (NULL, NULL, error) == NULL;)
CASE (agent_new_cancellable, g_autoptr(GSocketAddress) a = g_unix_socket_address_new ("/nonexistent");
      return q_guest_agent_new_for_address (a, o->bad_cancellable, error) == NULL;)
CASE (agent_execute_command, return q_guest_agent_execute (o->agent, NULL, NULL, NULL, error) == NULL;)
CASE (agent_execute_cancellable, return q_guest_agent_execute (o->agent, "x", NULL, o->bad_cancellable, error) == NULL;)
CASE (agent_sync_null, return !q_guest_agent_sync (NULL, NULL, error);)
CASE (agent_sync_cancellable, return !q_guest_agent_sync (o->agent, o->bad_cancellable, error);)
CASE (agent_ping_cancellable, return !q_guest_agent_ping (o->agent, o->bad_cancellable, error);)
CASE (agent_info_cancellable, return q_guest_agent_info (o->agent, o->bad_cancellable, error) == NULL;)
CASE (agent_file_read_path, return q_guest_agent_file_read (o->agent, NULL, NULL, error) == NULL;)
CASE (agent_file_read_cancellable, return q_guest_agent_file_read (o->agent, "/x", o->bad_cancellable, error) == NULL;)
CASE (agent_file_write_path, g_autoptr(GBytes) b = g_bytes_new_static ("x", 1);
      return !q_guest_agent_file_write (o->agent, NULL, b, NULL, error);)
CASE (agent_file_write_data, return !q_guest_agent_file_write (o->agent, "/x", NULL, NULL, error);)
CASE (agent_copy_to_source, return !q_guest_agent_copy_to_guest (o->agent, NULL, "/x", NULL, error);)
CASE (agent_copy_to_path, g_autoptr(GFile) f = g_file_new_for_path ("/dev/null");
      return !q_guest_agent_copy_to_guest (o->agent, f, NULL, NULL, error);)
CASE (agent_copy_to_cancellable, g_autoptr(GFile) f = g_file_new_for_path ("/dev/null");
      return !q_guest_agent_copy_to_guest (o->agent, f, "/x", o->bad_cancellable, error);)
CASE (agent_copy_from_path, g_autoptr(GFile) f = g_file_new_for_path ("/nonexistent/x");
      return !q_guest_agent_copy_from_guest (o->agent, NULL, f, NULL, error);)
CASE (agent_copy_from_destination, return !q_guest_agent_copy_from_guest (o->agent, "/x", NULL, NULL, error);)
CASE (agent_copy_from_cancellable, g_autoptr(GFile) f = g_file_new_for_path ("/nonexistent/x");
      return !q_guest_agent_copy_from_guest (o->agent, "/x", f, o->bad_cancellable, error);)
CASE (agent_shutdown_cancellable, return !q_guest_agent_shutdown (o->agent, NULL, o->bad_cancellable, error);)
CASE (agent_fsfreeze_cancellable, return q_guest_agent_fsfreeze (o->agent, o->bad_cancellable, error) < 0;)
CASE (agent_fsthaw_cancellable, return q_guest_agent_fsthaw (o->agent, o->bad_cancellable, error) < 0;)
CASE (agent_network_cancellable, return q_guest_agent_network_interfaces (o->agent, o->bad_cancellable, error) == NULL;)
CASE (agent_exec_argv, return !q_guest_agent_exec (o->agent, NULL, NULL, NULL, 100, NULL, NULL, NULL, NULL, error);)
CASE (agent_exec_empty, const char *none[] = { NULL };
      return !q_guest_agent_exec (o->agent, none, NULL, NULL, 100, NULL, NULL, NULL, NULL, error);)
CASE (agent_exec_timeout, const char *argv[] = { "true", NULL };
      return !q_guest_agent_exec (o->agent, argv, NULL, NULL, -2, NULL, NULL, NULL, NULL, error);)
CASE (agent_exec_cancellable, const char *argv[] = { "true", NULL };
      return !q_guest_agent_exec (o->agent, argv, NULL, NULL, 100, NULL, NULL, NULL, o->bad_cancellable, error);)

/* QQtestClient */
CASE (qtest_command_null, return q_qtest_client_command (o->qtest, NULL, NULL, error) == NULL;)
CASE (qtest_command_client, return q_qtest_client_command ((QQtestClient *)o->object, "x", NULL, error) == NULL;)
CASE (qtest_command_cancellable, return q_qtest_client_command (o->qtest, "x", o->bad_cancellable, error) == NULL;)
CASE (qtest_in_width, return !q_qtest_client_in (o->qtest, Q_QTEST_WIDTH_QUAD, 0x71, NULL, NULL, error);)
CASE (qtest_in_cancellable, return !q_qtest_client_in (o->qtest, Q_QTEST_WIDTH_BYTE, 0x71, NULL, o->bad_cancellable, error);)
CASE (qtest_out_width, return !q_qtest_client_out (o->qtest, 3, 0x70, 0, NULL, error);)
CASE (qtest_out_value, return !q_qtest_client_out (o->qtest, Q_QTEST_WIDTH_BYTE, 0x70, 0x100, NULL, error);)
CASE (qtest_read_value_width, return !q_qtest_client_read_value (o->qtest, 0, 0, NULL, NULL, error);)
CASE (qtest_read_value_cancellable, return !q_qtest_client_read_value (o->qtest, Q_QTEST_WIDTH_BYTE, 0, NULL, o->bad_cancellable, error);)
CASE (qtest_write_value_value, return !q_qtest_client_write_value (o->qtest, Q_QTEST_WIDTH_WORD, 0, 0x10000, NULL, error);)
CASE (qtest_read_memory_cancellable, return q_qtest_client_read_memory (o->qtest, 0, 1, o->bad_cancellable, error) == NULL;)
CASE (qtest_write_memory_data, return !q_qtest_client_write_memory (o->qtest, 0, NULL, NULL, error);)
CASE (qtest_memset_cancellable, return !q_qtest_client_memset (o->qtest, 0, 1, 0, o->bad_cancellable, error);)
CASE (qtest_clock_step_ns, return !q_qtest_client_clock_step (o->qtest, -2, NULL, NULL, error);)
CASE (qtest_clock_set_ns, return !q_qtest_client_clock_set (o->qtest, -1, NULL, NULL, error);)
CASE (qtest_intercept_in_path, return !q_qtest_client_irq_intercept_in (o->qtest, NULL, NULL, error);)
CASE (qtest_intercept_out_path, return !q_qtest_client_irq_intercept_out (o->qtest, NULL, NULL, error);)
CASE (qtest_set_irq_in_line, return !q_qtest_client_set_irq_in (o->qtest, "ioapic", NULL, -1, 1, NULL, error);)
CASE (qtest_set_irq_in_path, return !q_qtest_client_set_irq_in (o->qtest, NULL, NULL, 1, 1, NULL, error);)

typedef struct
{
  const char *name;
  CaseFunc    func;
  gboolean    console;
} Case;

#define C(name) { #name, case_##name, FALSE }
#define CC(name) { #name, case_##name, TRUE }

static const Case cases[] = {
  C (launch_null), C (launch_cancellable), C (launch_not_machine),
  C (shutdown_timeout), C (shutdown_cancellable), C (kill_null), C (kill_cancellable),
  C (wait_timeout), C (wait_cancellable), C (qmp_command), C (qmp_cancellable),
  C (cmd_command), C (cmd_cancellable), C (send_fd_name), C (send_fd_fd),
  C (send_fd_cancellable), C (event_wait_timeout), C (event_wait_cancellable),
  C (events_wait_names), C (events_wait_empty), C (events_wait_timeout),
  C (events_wait_cancellable), C (screendump_head), C (screendump_cancellable),
  C (send_keys_combo), C (send_keys_hold), C (send_keys_cancellable), C (send_text_text),
  C (send_text_cancellable), C (pointer_move_nan), C (pointer_move_range),
  C (pointer_move_cancellable), C (pointer_click_button), C (pointer_click_cancellable),
  C (read_line_null), CC (read_line_timeout), CC (read_line_cancellable),
  CC (wait_for_pattern), CC (wait_for_timeout), CC (wait_for_cancellable),
  CC (write_data), CC (write_cancellable), CC (write_text_text), CC (write_text_cancellable),
  C (negotiate_null), C (negotiate_cancellable), C (execute_command), C (execute_fds),
  C (execute_cancellable), C (execute_raw_command), C (execute_raw_fds),
  C (execute_raw_cancellable), C (close_null), C (close_cancellable),
  C (agent_new_address), C (agent_new_cancellable), C (agent_execute_command),
  C (agent_execute_cancellable), C (agent_sync_null), C (agent_sync_cancellable),
  C (agent_ping_cancellable), C (agent_info_cancellable), C (agent_file_read_path),
  C (agent_file_read_cancellable), C (agent_file_write_path), C (agent_file_write_data),
  C (agent_copy_to_source), C (agent_copy_to_path), C (agent_copy_to_cancellable),
  C (agent_copy_from_path), C (agent_copy_from_destination), C (agent_copy_from_cancellable),
  C (agent_shutdown_cancellable), C (agent_fsfreeze_cancellable), C (agent_fsthaw_cancellable),
  C (agent_network_cancellable), C (agent_exec_argv), C (agent_exec_empty),
  C (agent_exec_timeout), C (agent_exec_cancellable),
  C (qtest_command_null), C (qtest_command_client), C (qtest_command_cancellable),
  C (qtest_in_width), C (qtest_in_cancellable), C (qtest_out_width), C (qtest_out_value),
  C (qtest_read_value_width), C (qtest_read_value_cancellable), C (qtest_write_value_value),
  C (qtest_read_memory_cancellable), C (qtest_write_memory_data), C (qtest_memset_cancellable),
  C (qtest_clock_step_ns), C (qtest_clock_set_ns), C (qtest_intercept_in_path),
  C (qtest_intercept_out_path), C (qtest_set_irq_in_line), C (qtest_set_irq_in_path),
};

static GLogWriterOutput
record_criticals (GLogLevelFlags   level,
                  const GLogField *fields,
                  gsize            n_fields,
                  gpointer         user_data)
{
  if (level & G_LOG_LEVEL_CRITICAL)
    g_printerr ("REFUSED with a critical\n");
  return g_log_writer_standard_streams (level, fields, n_fields, user_data);
}

static void
run_case (const Case *c)
{
  Objects o = { 0 };
  g_autoptr(GIOStream) client_stream = NULL;
  g_autoptr(GIOStream) agent_stream = NULL;
  g_autoptr(GIOStream) qtest_stream = NULL;
  g_autoptr(GError) error = NULL;
  int client_peer, agent_peer, qtest_peer;
  gboolean failed;

  o.object = g_object_new (G_TYPE_OBJECT, NULL);
  o.bad_cancellable = (GCancellable *)o.object;
  o.machine = q_machine_new (test_qemu_binary ());
  q_machine_set_machine (o.machine, "none");
  q_machine_add_args (o.machine, "-nodefaults", NULL);
  client_stream = stream_nobody_answers (&client_peer);
  o.client = q_qmp_client_new (client_stream);
  agent_stream = stream_nobody_answers (&agent_peer);
  o.agent = q_guest_agent_new (agent_stream);
  qtest_stream = stream_nobody_answers (&qtest_peer);
  o.qtest = q_qtest_client_new (qtest_stream);

  if (c->console)
    {
      QMachine *m = q_machine_new (test_qemu_binary ());

      q_machine_set_machine (m, "none");
      q_machine_add_args (m, "-nodefaults", NULL);
      q_machine_set_console (m, NULL, 0);
      g_assert_true (q_machine_launch (m, NULL, &error));
      g_assert_no_error (error);
      o.console = q_machine_dup_console (m);
      g_assert_nonnull (o.console);
    }

  /* From here a critical is reported, not fatal: what is tested is that
   * the call comes back. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK);
  g_log_set_writer_func (record_criticals, NULL, NULL);
  g_log_set_fatal_mask ("QMachine", G_LOG_FATAL_MASK);
  failed = c->func (&o, &error);
  g_assert_true (failed);
  /* Refused with a critical, or with an error of its own. */
  if (error != NULL)
    g_printerr ("REFUSED with an error: %s\n", error->message);
  /* Exit at once: the machines die with the process. */
  _exit (0);
}

static void
test_case (gconstpointer data)
{
  const Case *c = data;

  if (g_test_subprocess ())
    {
      run_case (c);
      return;
    }

  g_test_trap_subprocess (NULL, 2 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  if (g_test_trap_reached_timeout ())
    g_error ("%s: the blocking call did not return within 2 seconds", c->name);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*REFUSED*");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/preconditions/%s", cases[i].name);
      g_test_add_data_func (path, &cases[i], test_case);
    }

  return g_test_run ();
}
