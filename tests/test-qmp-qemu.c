/* test-qmp-qemu.c
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * QQmpClient against a real qemu-system-x86_64 (Debian's), whose monitor is
 * one end of a socketpair passed as fd 3. Not optional: when QEMU is
 * missing the tests fail (CI installs it). QMACHINE_TEST_QEMU names another
 * binary; QMACHINE_TEST_ACCEL replaces "tcg" for the tests that run a guest.
 */

#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "qmachine.h"

#include "qmp-fake-peer.h"

typedef struct
{
  const char *machine;   /* -machine */
  gboolean    accel;     /* add -accel (QMACHINE_TEST_ACCEL or tcg) */
} QemuConfig;

static const QemuConfig machine_none = { "none", FALSE };
static const QemuConfig machine_pc = { "pc", TRUE };

typedef struct
{
  GMainContext      *context;
  GSubprocess       *subprocess;
  GSocketConnection *connection;
  QQmpClient        *client;
  GPtrArray         *event_names;
  GPtrArray         *events;
  guint              closed_count;
  guint              events_at_close;
  GError            *closed_error;
} Fixture;

static char *
find_qemu (void)
{
  const char *env = g_getenv ("QMACHINE_TEST_QEMU");

  if (env != NULL && *env != '\0')
    return g_strdup (env);

  return g_find_program_in_path ("qemu-system-x86_64");
}

static void
child_setup (gpointer data)
{
  /* QEMU must not outlive a crashed test. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static void
on_event (QQmpClient *client,
          const char *name,
          JsonObject *event,
          Fixture    *f)
{
  g_assert_true (g_main_context_is_owner (f->context));
  g_ptr_array_add (f->event_names, g_strdup (name));
  g_ptr_array_add (f->events, json_object_ref (event));
}

static void
on_closed (QQmpClient   *client,
           const GError *error,
           Fixture      *f)
{
  g_assert_true (g_main_context_is_owner (f->context));
  f->closed_count++;
  f->events_at_close = f->events->len;
  g_clear_error (&f->closed_error);
  if (error != NULL)
    f->closed_error = g_error_copy (error);
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  const QemuConfig *config = data;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *qemu = find_qemu ();
  const char *accel = g_getenv ("QMACHINE_TEST_ACCEL");
  int sv[2];
  int devnull;
  int out;

  f->context = g_main_context_new ();
  g_main_context_push_thread_default (f->context);
  f->event_names = g_ptr_array_new_with_free_func (g_free);
  f->events = g_ptr_array_new_with_free_func ((GDestroyNotify)json_object_unref);

  if (qemu == NULL)
    {
      g_test_fail_printf ("qemu-system-x86_64 not found on PATH and QMACHINE_TEST_QEMU not set; "
                          "install qemu-system-x86 (these tests are not optional)");
      return;
    }

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  /* stdout carries TAP: send QEMU's to stderr, and give it no stdin. */
  devnull = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (devnull, >=, 0);
  g_subprocess_launcher_take_stdin_fd (launcher, devnull);
  out = fcntl (STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
  g_assert_cmpint (out, >=, 0);
  g_subprocess_launcher_take_stdout_fd (launcher, out);
  g_subprocess_launcher_take_fd (launcher, sv[1], 3);

  g_ptr_array_add (argv, qemu);
  g_ptr_array_add (argv, "-machine");
  g_ptr_array_add (argv, (char *)config->machine);
  if (config->accel)
    {
      g_ptr_array_add (argv, "-accel");
      g_ptr_array_add (argv, (char *)(accel != NULL && *accel != '\0' ? accel : "tcg"));
      g_ptr_array_add (argv, "-m");
      g_ptr_array_add (argv, "32");
    }
  g_ptr_array_add (argv, "-nodefaults");
  g_ptr_array_add (argv, "-display");
  g_ptr_array_add (argv, "none");
  g_ptr_array_add (argv, "-chardev");
  g_ptr_array_add (argv, "socket,id=mon,fd=3");
  g_ptr_array_add (argv, "-mon");
  g_ptr_array_add (argv, "chardev=mon,mode=control");
  g_ptr_array_add (argv, NULL);

  f->subprocess = g_subprocess_launcher_spawnv (launcher, (const char * const *)argv->pdata, &error);
  g_assert_no_error (error);

  socket = g_socket_new_from_fd (sv[0], &error);
  g_assert_no_error (error);
  f->connection = g_socket_connection_factory_create_connection (socket);

  f->client = q_qmp_client_new (G_IO_STREAM (f->connection));
  g_signal_connect (f->client, "event", G_CALLBACK (on_event), f);
  g_signal_connect (f->client, "closed", G_CALLBACK (on_closed), f);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  if (f->client != NULL)
    {
      if (!q_qmp_client_is_closed (f->client))
        g_assert_true (q_qmp_client_close (f->client, NULL, NULL));
      TEST_WAIT (f->context, f->closed_count > 0);
      g_clear_object (&f->client);
    }

  /* Always reap QEMU, whatever the test did. */
  if (f->subprocess != NULL)
    {
      g_subprocess_force_exit (f->subprocess);
      g_assert_true (g_subprocess_wait (f->subprocess, NULL, NULL));
      g_clear_object (&f->subprocess);
    }

  while (g_main_context_iteration (f->context, FALSE))
    ;
  g_main_context_pop_thread_default (f->context);
  g_clear_pointer (&f->context, g_main_context_unref);

  g_clear_object (&f->connection);
  g_clear_pointer (&f->event_names, g_ptr_array_unref);
  g_clear_pointer (&f->events, g_ptr_array_unref);
  g_clear_error (&f->closed_error);
}

#define REQUIRE_QEMU(f) G_STMT_START { if ((f)->client == NULL) return; } G_STMT_END

static void
negotiate (Fixture            *f,
           QQmpNegotiateFlags  flags)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  q_qmp_client_negotiate_async (f->client, flags, NULL, test_store_result_cb, &result);
  TEST_WAIT (f->context, result != NULL);
  g_assert_true (q_qmp_client_negotiate_finish (f->client, result, &error));
  g_assert_no_error (error);
}

static JsonNode *
execute (Fixture           *f,
         const char        *command,
         const char        *arguments_json,
         QQmpExecuteFlags   flags,
         GUnixFDList       *fds,
         GError           **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) arguments = NULL;

  if (arguments_json != NULL)
    arguments = test_json_object (arguments_json);

  q_qmp_client_execute_async (f->client, command, arguments, flags, fds, NULL,
                              test_store_result_cb, &result);
  TEST_WAIT (f->context, result != NULL);

  return q_qmp_client_execute_finish (f->client, result, error);
}

static gint64
greeting_major (Fixture *f)
{
  JsonObject *greeting = q_qmp_client_get_greeting (f->client);
  JsonObject *version = json_object_get_object_member (greeting, "version");

  return json_object_get_int_member (json_object_get_object_member (version, "qemu"), "major");
}

static void
test_negotiate (Fixture       *f,
                gconstpointer  data)
{
  JsonObject *greeting;
  JsonObject *version;
  JsonNode *caps;

  REQUIRE_QEMU (f);
  negotiate (f, Q_QMP_NEGOTIATE_FLAGS_NONE);

  greeting = q_qmp_client_get_greeting (f->client);
  g_assert_nonnull (greeting);
  version = json_object_get_object_member (greeting, "version");
  g_assert_nonnull (version);
  g_assert_true (json_object_has_member (json_object_get_object_member (version, "qemu"), "major"));
  g_assert_cmpint (greeting_major (f), >=, 2);
  g_assert_nonnull (json_object_get_string_member (version, "package"));
  caps = json_object_get_member (greeting, "capabilities");
  g_assert_nonnull (caps);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (caps));
}

static void
test_negotiate_oob (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;
  g_autoptr(JsonNode) ret2 = NULL;

  REQUIRE_QEMU (f);
  negotiate (f, Q_QMP_NEGOTIATE_FLAGS_OOB);

  /* yank is an out-of-band command; with no instances it does nothing. */
  ret = execute (f, "yank", "{\"instances\": []}", Q_QMP_EXECUTE_FLAGS_OOB, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (ret));

  /* In-band commands still work. */
  ret2 = execute (f, "query-status", NULL, Q_QMP_EXECUTE_FLAGS_NONE, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (ret2));
}

static void
test_query_version (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;
  JsonObject *qemu;

  REQUIRE_QEMU (f);
  negotiate (f, Q_QMP_NEGOTIATE_FLAGS_NONE);

  ret = execute (f, "query-version", NULL, Q_QMP_EXECUTE_FLAGS_NONE, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (ret));
  qemu = json_object_get_object_member (json_node_get_object (ret), "qemu");
  g_assert_nonnull (qemu);
  g_assert_cmpint (json_object_get_int_member (qemu, "major"), ==, greeting_major (f));
}

static void
test_query_commands (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;
  JsonArray *commands;
  gboolean found = FALSE;

  REQUIRE_QEMU (f);
  negotiate (f, Q_QMP_NEGOTIATE_FLAGS_NONE);

  ret = execute (f, "query-commands", NULL, Q_QMP_EXECUTE_FLAGS_NONE, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (ret));
  commands = json_node_get_array (ret);
  g_assert_cmpuint (json_array_get_length (commands), >, 10);
  for (guint i = 0; i < json_array_get_length (commands); i++)
    {
      JsonObject *c = json_array_get_object_element (commands, i);

      if (g_strcmp0 (json_object_get_string_member (c, "name"), "query-status") == 0)
        found = TRUE;
    }
  g_assert_true (found);
}

static void
test_unknown_command (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;

  REQUIRE_QEMU (f);
  negotiate (f, Q_QMP_NEGOTIATE_FLAGS_NONE);

  ret = execute (f, "no-such-command", NULL, Q_QMP_EXECUTE_FLAGS_NONE, NULL, &error);
  g_assert_null (ret);
  g_assert_error (error, Q_QMP_ERROR, Q_QMP_ERROR_COMMAND_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "no-such-command"));

  /* The connection carries on. */
  g_assert_false (q_qmp_client_is_closed (f->client));
}

static void
test_getfd_closefd (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GUnixFDList) fds = g_unix_fd_list_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;
  g_autofree char *path = NULL;
  int fd;

  REQUIRE_QEMU (f);
  negotiate (f, Q_QMP_NEGOTIATE_FLAGS_NONE);

  /* getfd without an fd is refused: the fd below is what makes it work. */
  ret = execute (f, "getfd", "{\"fdname\": \"testfd\"}", Q_QMP_EXECUTE_FLAGS_NONE, NULL, &error);
  g_assert_null (ret);
  g_assert_error (error, Q_QMP_ERROR, Q_QMP_ERROR_GENERIC_ERROR);
  g_clear_error (&error);

  fd = g_file_open_tmp ("qmp-qemu-fd-XXXXXX", &path, &error);
  g_assert_no_error (error);
  g_unix_fd_list_append (fds, fd, &error);
  g_assert_no_error (error);
  close (fd);
  g_unlink (path);

  ret = execute (f, "getfd", "{\"fdname\": \"testfd\"}", Q_QMP_EXECUTE_FLAGS_NONE, fds, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (ret));
  g_clear_pointer (&ret, json_node_unref);

  ret = execute (f, "closefd", "{\"fdname\": \"testfd\"}", Q_QMP_EXECUTE_FLAGS_NONE, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (ret));
  g_clear_pointer (&ret, json_node_unref);

  /* Gone now, and an unknown name never existed. */
  ret = execute (f, "closefd", "{\"fdname\": \"testfd\"}", Q_QMP_EXECUTE_FLAGS_NONE, NULL, &error);
  g_assert_null (ret);
  g_assert_error (error, Q_QMP_ERROR, Q_QMP_ERROR_GENERIC_ERROR);
  g_clear_error (&error);

  ret = execute (f, "closefd", "{\"fdname\": \"unknown\"}", Q_QMP_EXECUTE_FLAGS_NONE, NULL, &error);
  g_assert_null (ret);
  g_assert_error (error, Q_QMP_ERROR, Q_QMP_ERROR_GENERIC_ERROR);
}

typedef struct
{
  guint stops;
  guint resumes;
} StopResume;

static void
on_stop (QQmpClient *client,
         const char *name,
         JsonObject *event,
         StopResume *sr)
{
  g_assert_cmpstr (name, ==, "STOP");
  g_assert_true (json_object_has_member (event, "timestamp"));
  sr->stops++;
}

static void
on_resume (QQmpClient *client,
           const char *name,
           JsonObject *event,
           StopResume *sr)
{
  g_assert_cmpstr (name, ==, "RESUME");
  g_assert_true (json_object_has_member (event, "timestamp"));
  sr->resumes++;
}

static gboolean
query_running (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;

  ret = execute (f, "query-status", NULL, Q_QMP_EXECUTE_FLAGS_NONE, NULL, &error);
  g_assert_no_error (error);

  return json_object_get_boolean_member (json_node_get_object (ret), "running");
}

static void
test_stop_cont_events (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;
  StopResume sr = { 0, 0 };

  REQUIRE_QEMU (f);
  g_signal_connect (f->client, "event::STOP", G_CALLBACK (on_stop), &sr);
  g_signal_connect (f->client, "event::RESUME", G_CALLBACK (on_resume), &sr);
  negotiate (f, Q_QMP_NEGOTIATE_FLAGS_NONE);
  g_assert_true (query_running (f));

  ret = execute (f, "stop", NULL, Q_QMP_EXECUTE_FLAGS_NONE, NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&ret, json_node_unref);
  TEST_WAIT (f->context, sr.stops == 1);
  g_assert_cmpuint (sr.resumes, ==, 0);
  g_assert_false (query_running (f));

  ret = execute (f, "cont", NULL, Q_QMP_EXECUTE_FLAGS_NONE, NULL, &error);
  g_assert_no_error (error);
  TEST_WAIT (f->context, sr.resumes == 1);
  g_assert_cmpuint (sr.stops, ==, 1);
  g_assert_true (query_running (f));

  g_signal_handlers_disconnect_by_data (f->client, &sr);
}

static void
test_quit (Fixture       *f,
           gconstpointer  data)
{
  g_autoptr(GAsyncResult) quit_result = NULL;
  g_autoptr(GAsyncResult) wait_result = NULL;
  g_autoptr(GAsyncResult) later = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;
  JsonObject *shutdown = NULL;

  REQUIRE_QEMU (f);
  negotiate (f, Q_QMP_NEGOTIATE_FLAGS_NONE);

  g_subprocess_wait_async (f->subprocess, NULL, test_store_result_cb, &wait_result);
  q_qmp_client_execute_async (f->client, "quit", NULL, Q_QMP_EXECUTE_FLAGS_NONE, NULL, NULL,
                              test_store_result_cb, &quit_result);

  /* QEMU answers quit before it hangs up. */
  TEST_WAIT (f->context, quit_result != NULL);
  ret = q_qmp_client_execute_finish (f->client, quit_result, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (ret));

  /* Then the connection ends: EOF from the peer, after the SHUTDOWN event. */
  TEST_WAIT (f->context, f->closed_count == 1);
  g_assert_error (f->closed_error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_assert_true (q_qmp_client_is_closed (f->client));
  for (guint i = 0; i < f->events_at_close; i++)
    if (g_strcmp0 (g_ptr_array_index (f->event_names, i), "SHUTDOWN") == 0)
      shutdown = g_ptr_array_index (f->events, i);
  g_assert_nonnull (shutdown);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (shutdown, "data"),
                                                  "reason"), ==, "host-qmp-quit");

  /* QEMU exits cleanly. */
  TEST_WAIT (f->context, wait_result != NULL);
  g_assert_true (g_subprocess_wait_finish (f->subprocess, wait_result, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (f->subprocess));
  g_assert_cmpint (g_subprocess_get_exit_status (f->subprocess), ==, 0);

  /* Later calls fail at once. */
  q_qmp_client_execute_async (f->client, "query-status", NULL, Q_QMP_EXECUTE_FLAGS_NONE, NULL,
                              NULL, test_store_result_cb, &later);
  TEST_WAIT (f->context, later != NULL);
  g_clear_pointer (&ret, json_node_unref);
  ret = q_qmp_client_execute_finish (f->client, later, &error);
  g_assert_null (ret);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
}

/* Replies to in-band commands are matched by order, which holds only if
 * QEMU reads each command as one message. A command QEMU would read as
 * several (invalid UTF-8, nesting deeper than its limit) fails at once
 * with G_IO_ERROR_INVALID_ARGUMENT and is never sent, and the commands
 * pipelined around it still get their own replies. */
static void
test_unsendable_command (Fixture       *f,
                         gconstpointer  data)
{
  static const char * const names[] = { "query-name", "query-uuid", "query-status", "query-kvm",
                                        "query-version", "query-name", "query-uuid" };
  GAsyncResult *results[G_N_ELEMENTS (names)] = { NULL, };
  g_autoptr(GAsyncResult) bad_result = NULL;
  g_autoptr(GAsyncResult) deep_result = NULL;
  g_autoptr(JsonObject) bad = json_object_new ();
  g_autoptr(JsonObject) deep = json_object_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;
  JsonObject *level = deep;

  REQUIRE_QEMU (f);
  negotiate (f, Q_QMP_NEGOTIATE_FLAGS_NONE);

  json_object_set_string_member (bad, "x", "a\xff" "b");
  for (int i = 0; i < 200; i++)
    {
      JsonObject *inner = json_object_new ();
      json_object_set_object_member (level, "n", inner);
      level = inner;
    }

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      q_qmp_client_execute_async (f->client, names[i], NULL, Q_QMP_EXECUTE_FLAGS_NONE, NULL,
                                  NULL, test_store_result_cb, &results[i]);
      if (i == 1)
        q_qmp_client_execute_async (f->client, "query-status", bad, Q_QMP_EXECUTE_FLAGS_NONE,
                                    NULL, NULL, test_store_result_cb, &bad_result);
      if (i == 3)
        q_qmp_client_execute_async (f->client, "query-status", deep, Q_QMP_EXECUTE_FLAGS_NONE,
                                    NULL, NULL, test_store_result_cb, &deep_result);
    }

  TEST_WAIT (f->context, bad_result != NULL && deep_result != NULL);
  ret = q_qmp_client_execute_finish (f->client, bad_result, &error);
  g_assert_null (ret);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "UTF-8"));
  g_clear_error (&error);
  ret = q_qmp_client_execute_finish (f->client, deep_result, &error);
  g_assert_null (ret);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      JsonObject *obj;

      TEST_WAIT (f->context, results[i] != NULL);
      g_clear_pointer (&ret, json_node_unref);
      ret = q_qmp_client_execute_finish (f->client, results[i], &error);
      g_assert_no_error (error);
      g_clear_object (&results[i]);
      obj = json_node_get_object (ret);
      /* Each reply is the one its command asks for. */
      if (g_str_equal (names[i], "query-uuid"))
        g_assert_true (json_object_has_member (obj, "UUID"));
      else if (g_str_equal (names[i], "query-status"))
        g_assert_true (json_object_has_member (obj, "running"));
      else if (g_str_equal (names[i], "query-kvm"))
        g_assert_true (json_object_has_member (obj, "enabled"));
      else if (g_str_equal (names[i], "query-version"))
        g_assert_true (json_object_has_member (obj, "qemu"));
      else
        g_assert_false (json_object_has_member (obj, "running"));
    }
}

#define ADD(path, func, config) \
  g_test_add ("/qmachine/qmp/qemu/" path, Fixture, &(config), \
              fixture_setup, func, fixture_teardown)

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  ADD ("negotiate", test_negotiate, machine_none);
  ADD ("negotiate-oob", test_negotiate_oob, machine_none);
  ADD ("query-version", test_query_version, machine_none);
  ADD ("query-commands", test_query_commands, machine_none);
  ADD ("unknown-command", test_unknown_command, machine_none);
  ADD ("unsendable-command", test_unsendable_command, machine_none);
  ADD ("getfd-closefd", test_getfd_closefd, machine_none);
  ADD ("stop-cont-events", test_stop_cont_events, machine_pc);
  ADD ("quit", test_quit, machine_none);

  return g_test_run ();
}
