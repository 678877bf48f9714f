/* test-qmp-client.c
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * QQmpClient against a scripted QMP peer on the other end of a
 * socketpair. The client does all its I/O on the qmachine worker thread,
 * so the test thread can play the peer with blocking reads and writes and
 * then iterate its own main context to collect callbacks and signals.
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "qmachine.h"
#include "q-qmp-client-private.h"
#include "q-worker-private.h"

#include "qmp-fake-peer.h"

/* ------------------------------------------------------------------------ */
/* A stream whose reads return one byte at a time                           */

#define TYPE_ONE_BYTE_INPUT_STREAM (one_byte_input_stream_get_type ())
G_DECLARE_FINAL_TYPE (OneByteInputStream, one_byte_input_stream, ONE, BYTE_INPUT_STREAM, GFilterInputStream)

struct _OneByteInputStream
{
  GFilterInputStream parent_instance;
  int                reads;   /* atomic: successful reads */
};

G_DEFINE_FINAL_TYPE (OneByteInputStream, one_byte_input_stream, G_TYPE_FILTER_INPUT_STREAM)

static gssize
one_byte_input_stream_read (GInputStream  *stream,
                            void          *buffer,
                            gsize          count,
                            GCancellable  *cancellable,
                            GError       **error)
{
  OneByteInputStream *self = ONE_BYTE_INPUT_STREAM (stream);
  GInputStream *base = g_filter_input_stream_get_base_stream (G_FILTER_INPUT_STREAM (stream));
  gssize n;

  n = g_input_stream_read (base, buffer, MIN (count, 1), cancellable, error);
  if (n > 0)
    g_atomic_int_inc (&self->reads);

  return n;
}

static void
one_byte_input_stream_class_init (OneByteInputStreamClass *klass)
{
  G_INPUT_STREAM_CLASS (klass)->read_fn = one_byte_input_stream_read;
}

static void
one_byte_input_stream_init (OneByteInputStream *self)
{
}

/* ------------------------------------------------------------------------ */
/* A stream that counts what goes through it                                */

#define TYPE_COUNTING_OUTPUT_STREAM (counting_output_stream_get_type ())
G_DECLARE_FINAL_TYPE (CountingOutputStream, counting_output_stream, COUNTING, OUTPUT_STREAM,
                      GFilterOutputStream)

struct _CountingOutputStream
{
  GFilterOutputStream parent_instance;
  gsize               bytes;   /* atomic: bytes written through */
};

G_DEFINE_FINAL_TYPE (CountingOutputStream, counting_output_stream, G_TYPE_FILTER_OUTPUT_STREAM)

static gssize
counting_output_stream_write (GOutputStream  *stream,
                              const void     *buffer,
                              gsize           count,
                              GCancellable   *cancellable,
                              GError        **error)
{
  CountingOutputStream *self = COUNTING_OUTPUT_STREAM (stream);
  GOutputStream *base = g_filter_output_stream_get_base_stream (G_FILTER_OUTPUT_STREAM (stream));
  gssize n;

  n = g_output_stream_write (base, buffer, count, cancellable, error);
  if (n > 0)
    g_atomic_pointer_add (&self->bytes, n);

  return n;
}

static void
counting_output_stream_class_init (CountingOutputStreamClass *klass)
{
  G_OUTPUT_STREAM_CLASS (klass)->write_fn = counting_output_stream_write;
}

static void
counting_output_stream_init (CountingOutputStream *self)
{
}

/* ------------------------------------------------------------------------ */
/* Fixture                                                                  */

enum {
  FIXTURE_PRIVATE_CONTEXT,   /* a new context, pushed as thread-default */
  FIXTURE_DEFAULT_CONTEXT,   /* the global default context */
  FIXTURE_NO_CLIENT,         /* like PRIVATE_CONTEXT; the test makes the client */
};

typedef struct
{
  GMainContext      *context;
  gboolean           pushed;
  GThread           *main_thread;
  FakePeer          *peer;
  GSocketConnection *connection;
  QQmpClient        *client;
  GPtrArray         *events;        /* JsonObject, as emitted */
  GPtrArray         *event_names;   /* the name argument, as emitted */
  guint              closed_count;
  GError            *closed_error;
} Fixture;

static void
on_event (QQmpClient *client,
          const char *name,
          JsonObject *event,
          Fixture    *f)
{
  /* Contract: signals come in the owner's thread and context. */
  g_assert_true (g_thread_self () == f->main_thread);
  g_assert_true (g_main_context_is_owner (f->context));

  g_assert_nonnull (name);
  g_assert_nonnull (event);
  g_assert_cmpstr (json_object_get_string_member (event, "event"), ==, name);
  g_ptr_array_add (f->events, json_object_ref (event));
  g_ptr_array_add (f->event_names, g_strdup (name));
}

static void
on_closed (QQmpClient   *client,
           const GError *error,
           Fixture      *f)
{
  g_assert_true (g_thread_self () == f->main_thread);
  g_assert_true (g_main_context_is_owner (f->context));
  g_assert_true (q_qmp_client_is_closed (client));

  f->closed_count++;
  g_clear_error (&f->closed_error);
  if (error != NULL)
    f->closed_error = g_error_copy (error);
}

static void
fixture_attach_client (Fixture   *f,
                       GIOStream *stream)
{
  g_assert_null (f->client);

  f->client = q_qmp_client_new (stream);
  g_assert_true (Q_IS_QMP_CLIENT (f->client));
  g_assert_true (q_qmp_client_get_stream (f->client) == stream);
  g_signal_connect (f->client, "event", G_CALLBACK (on_event), f);
  g_signal_connect (f->client, "closed", G_CALLBACK (on_closed), f);
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  int mode = GPOINTER_TO_INT (data);

  f->main_thread = g_thread_self ();
  if (mode == FIXTURE_DEFAULT_CONTEXT)
    {
      f->context = g_main_context_ref (g_main_context_default ());
    }
  else
    {
      f->context = g_main_context_new ();
      g_main_context_push_thread_default (f->context);
      f->pushed = TRUE;
    }

  f->events = g_ptr_array_new_with_free_func ((GDestroyNotify)json_object_unref);
  f->event_names = g_ptr_array_new_with_free_func (g_free);
  f->peer = fake_peer_new (&f->connection);

  if (mode != FIXTURE_NO_CLIENT)
    fixture_attach_client (f, G_IO_STREAM (f->connection));
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  if (f->client != NULL)
    {
      if (!q_qmp_client_is_closed (f->client))
        {
          g_autoptr(GError) error = NULL;

          g_assert_true (q_qmp_client_close (f->client, NULL, &error));
          g_assert_no_error (error);
        }
      TEST_WAIT (f->context, f->closed_count > 0);
      g_clear_object (&f->client);
    }

  /* Leave nothing queued on the context: callbacks and emissions hold
   * references. */
  while (g_main_context_iteration (f->context, FALSE))
    ;
  if (f->closed_count > 0)
    g_assert_cmpuint (f->closed_count, ==, 1);

  if (f->pushed)
    g_main_context_pop_thread_default (f->context);
  g_clear_pointer (&f->context, g_main_context_unref);

  g_clear_object (&f->connection);
  g_clear_pointer (&f->peer, fake_peer_free);
  g_clear_pointer (&f->events, g_ptr_array_unref);
  g_clear_pointer (&f->event_names, g_ptr_array_unref);
  g_clear_error (&f->closed_error);
}

/* Lets the worker do what it would, then dispatches what it sent us, so
 * that "has not happened" assertions are meaningful. */
static void
fixture_settle (Fixture *f)
{
  test_worker_barrier (8);
  while (g_main_context_iteration (f->context, FALSE))
    ;
}

static void
fixture_negotiate_flags (Fixture            *f,
                         QQmpNegotiateFlags  flags)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) caps = NULL;
  g_autoptr(GError) error = NULL;

  q_qmp_client_negotiate_async (f->client, flags, NULL, test_store_result_cb, &result);
  caps = fake_peer_negotiate (f->peer,
                              (flags & Q_QMP_NEGOTIATE_FLAGS_OOB) ? "[\"oob\"]" : "[]");
  TEST_WAIT (f->context, result != NULL);
  g_assert_true (q_qmp_client_negotiate_finish (f->client, result, &error));
  g_assert_no_error (error);
}

static void
fixture_negotiate (Fixture *f)
{
  fixture_negotiate_flags (f, Q_QMP_NEGOTIATE_FLAGS_NONE);
}

static void
start_execute (Fixture       *f,
               const char    *command,
               const char    *arguments_json,
               GCancellable  *cancellable,
               GAsyncResult **result)
{
  g_autoptr(JsonObject) arguments = NULL;

  if (arguments_json != NULL)
    arguments = test_json_object (arguments_json);

  *result = NULL;
  q_qmp_client_execute_async (f->client, command, arguments, Q_QMP_EXECUTE_FLAGS_NONE,
                              NULL, cancellable, test_store_result_cb, result);
}

static JsonNode *
finish_execute (Fixture       *f,
                GAsyncResult **result,
                GError       **error)
{
  JsonNode *ret;

  TEST_WAIT (f->context, *result != NULL);
  ret = q_qmp_client_execute_finish (f->client, *result, error);
  g_clear_object (result);

  return ret;
}

/* Asserts a return value of the form {"marker": <expected>}. */
static void
assert_marker (JsonNode   *ret,
               const char *expected)
{
  JsonObject *obj;

  g_assert_nonnull (ret);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (ret));
  obj = json_node_get_object (ret);
  g_assert_cmpstr (json_object_get_string_member (obj, "marker"), ==, expected);
}

/* Replies to @command with {"marker": <its arguments' marker>}. */
static char *
format_echo_reply (JsonObject *command)
{
  JsonObject *arguments = json_object_get_object_member (command, "arguments");
  g_autofree char *marker = NULL;

  g_assert_nonnull (arguments);
  marker = json_to_string (json_object_get_member (arguments, "marker"), FALSE);

  {
    g_autofree char *ret = g_strdup_printf ("{\"marker\": %s}", marker);
    return fake_peer_format_reply (command, ret);
  }
}

static void
write_take (FakePeer *peer,
            char     *data)
{
  fake_peer_write (peer, data, -1);
  g_free (data);
}

static void
append_take (GString *s,
             char    *data)
{
  g_string_append (s, data);
  g_free (data);
}

/* ------------------------------------------------------------------------ */
/* Negotiation                                                              */

static void
test_negotiate (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) caps = NULL;
  g_autoptr(JsonObject) cmd = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;
  JsonObject *greeting;
  JsonNode *args;

  q_qmp_client_negotiate_async (f->client, Q_QMP_NEGOTIATE_FLAGS_NONE, NULL,
                                test_store_result_cb, &result);
  g_assert_null (q_qmp_client_get_greeting (f->client));

  /* The server offers OOB; the client must not take it unasked. */
  fake_peer_send_greeting (f->peer, "[\"oob\"]");
  caps = fake_peer_read_command (f->peer);
  g_assert_nonnull (caps);
  g_assert_cmpstr (test_command_name (caps), ==, "qmp_capabilities");
  g_assert_true (json_object_has_member (caps, "execute"));
  /* In-band commands carry no id: QEMU answers them in order. */
  g_assert_null (test_command_id (caps));
  args = json_object_get_member (caps, "arguments");
  if (args != NULL)
    {
      g_assert_true (JSON_NODE_HOLDS_OBJECT (args));
      g_assert_false (json_object_has_member (json_node_get_object (args), "enable"));
    }

  /* Not done until qmp_capabilities is answered. */
  fixture_settle (f);
  g_assert_null (result);

  fake_peer_reply (f->peer, caps, "{}");
  TEST_WAIT (f->context, result != NULL);
  g_assert_true (q_qmp_client_negotiate_finish (f->client, result, &error));
  g_assert_no_error (error);

  greeting = q_qmp_client_get_greeting (f->client);
  g_assert_nonnull (greeting);
  g_assert_true (json_object_has_member (greeting, "capabilities"));
  g_assert_cmpint (json_object_get_int_member (
                     json_object_get_object_member (
                       json_object_get_object_member (greeting, "version"), "qemu"),
                     "major"), ==, 7);
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (greeting, "version"), "package"),
                   ==, "fake-peer");

  /* Commands work now. */
  g_clear_object (&result);
  start_execute (f, "query-status", NULL, NULL, &result);
  cmd = fake_peer_read_command (f->peer);
  g_assert_cmpstr (test_command_name (cmd), ==, "query-status");
  g_assert_false (json_object_has_member (cmd, "arguments"));
  g_assert_null (test_command_id (cmd));
  fake_peer_reply (f->peer, cmd, "{\"status\": \"running\", \"running\": true}");
  ret = finish_execute (f, &result, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (ret));
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (ret), "status"),
                   ==, "running");
}

static void
test_negotiate_oob (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) caps = NULL;
  g_autoptr(JsonObject) cmd = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;
  JsonObject *args;
  JsonArray *enable;

  q_qmp_client_negotiate_async (f->client, Q_QMP_NEGOTIATE_FLAGS_OOB, NULL,
                                test_store_result_cb, &result);
  fake_peer_send_greeting (f->peer, "[\"oob\"]");
  caps = fake_peer_read_command (f->peer);
  g_assert_cmpstr (test_command_name (caps), ==, "qmp_capabilities");
  g_assert_null (test_command_id (caps));
  args = json_object_get_object_member (caps, "arguments");
  g_assert_nonnull (args);
  enable = json_object_get_array_member (args, "enable");
  g_assert_nonnull (enable);
  g_assert_cmpuint (json_array_get_length (enable), ==, 1);
  g_assert_cmpstr (json_array_get_string_element (enable, 0), ==, "oob");
  fake_peer_reply (f->peer, caps, "{}");

  TEST_WAIT (f->context, result != NULL);
  g_assert_true (q_qmp_client_negotiate_finish (f->client, result, &error));
  g_assert_no_error (error);

  /* An OOB command goes out as exec-oob. */
  g_clear_object (&result);
  q_qmp_client_execute_async (f->client, "x-oob-test", NULL, Q_QMP_EXECUTE_FLAGS_OOB,
                              NULL, NULL, test_store_result_cb, &result);
  cmd = fake_peer_read_command (f->peer);
  g_assert_cmpstr (json_object_get_string_member (cmd, "exec-oob"), ==, "x-oob-test");
  g_assert_false (json_object_has_member (cmd, "execute"));
  /* Out-of-band replies can overtake: this one needs an id. */
  g_assert_nonnull (test_command_id (cmd));
  fake_peer_reply (f->peer, cmd, "{}");
  ret = finish_execute (f, &result, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (ret));
}

static void
test_negotiate_oob_not_offered (Fixture       *f,
                                gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) caps = NULL;
  g_autoptr(GError) error = NULL;

  q_qmp_client_negotiate_async (f->client, Q_QMP_NEGOTIATE_FLAGS_OOB, NULL,
                                test_store_result_cb, &result);
  fake_peer_send_greeting (f->peer, "[]");
  TEST_WAIT (f->context, result != NULL);
  g_assert_false (q_qmp_client_negotiate_finish (f->client, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);
  g_clear_object (&result);

  /* Nothing was sent for it; the caller can fall back to plain QMP, and the
   * first qmp_capabilities the server sees is that one. */
  q_qmp_client_negotiate_async (f->client, Q_QMP_NEGOTIATE_FLAGS_NONE, NULL,
                                test_store_result_cb, &result);
  caps = fake_peer_read_command (f->peer);
  g_assert_cmpstr (test_command_name (caps), ==, "qmp_capabilities");
  g_assert_false (json_object_has_member (caps, "arguments") &&
                  json_object_has_member (json_object_get_object_member (caps, "arguments"),
                                          "enable"));
  fake_peer_reply (f->peer, caps, "{}");
  TEST_WAIT (f->context, result != NULL);
  g_assert_true (q_qmp_client_negotiate_finish (f->client, result, &error));
  g_assert_no_error (error);
}

static void
count_event_cb (QQmpClient *client,
                const char *name,
                JsonObject *event,
                guint      *count)
{
  (*count)++;
}

static void
test_events_before_greeting (Fixture       *f,
                             gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) caps = NULL;
  g_autoptr(GError) error = NULL;
  guint early = 0;

  /* A detailed handler: only EARLY. */
  g_signal_connect (f->client, "event::EARLY", G_CALLBACK (count_event_cb), &early);

  q_qmp_client_negotiate_async (f->client, Q_QMP_NEGOTIATE_FLAGS_NONE, NULL,
                                test_store_result_cb, &result);

  /* Two events and the greeting in a single write. */
  fake_peer_write (f->peer,
                   "{\"event\": \"EARLY\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}\r\n"
                   "{\"event\": \"OTHER\", \"data\": {\"n\": 1}, "
                   "\"timestamp\": {\"seconds\": 1, \"microseconds\": 3}}\r\n"
                   "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, "
                   "\"package\": \"\"}, \"capabilities\": []}}\r\n",
                   -1);
  caps = fake_peer_read_command (f->peer);
  g_assert_cmpstr (test_command_name (caps), ==, "qmp_capabilities");
  fake_peer_reply (f->peer, caps, "{}");

  TEST_WAIT (f->context, result != NULL);
  g_assert_true (q_qmp_client_negotiate_finish (f->client, result, &error));
  g_assert_no_error (error);
  g_assert_nonnull (q_qmp_client_get_greeting (f->client));

  TEST_WAIT (f->context, f->events->len == 2);
  g_assert_cmpstr (g_ptr_array_index (f->event_names, 0), ==, "EARLY");
  g_assert_cmpstr (g_ptr_array_index (f->event_names, 1), ==, "OTHER");
  g_assert_cmpuint (early, ==, 1);
  g_signal_handlers_disconnect_by_func (f->client, count_event_cb, &early);
}

static void
test_eof_before_greeting (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  q_qmp_client_negotiate_async (f->client, Q_QMP_NEGOTIATE_FLAGS_NONE, NULL,
                                test_store_result_cb, &result);
  fake_peer_shutdown (f->peer);

  TEST_WAIT (f->context, result != NULL);
  g_assert_false (q_qmp_client_negotiate_finish (f->client, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);

  TEST_WAIT (f->context, f->closed_count == 1);
  g_assert_error (f->closed_error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_assert_true (q_qmp_client_is_closed (f->client));
  g_assert_null (q_qmp_client_get_greeting (f->client));
}

static void
test_negotiate_cancel (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) caps = NULL;
  g_autoptr(GError) error = NULL;

  q_qmp_client_negotiate_async (f->client, Q_QMP_NEGOTIATE_FLAGS_NONE, cancellable,
                                test_store_result_cb, &result);
  /* Make sure the client is really waiting for the greeting. */
  fixture_settle (f);
  g_assert_null (result);

  g_cancellable_cancel (cancellable);
  TEST_WAIT (f->context, result != NULL);
  g_assert_false (q_qmp_client_negotiate_finish (f->client, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_clear_object (&result);

  /* A cancelled wait leaves the client usable. */
  g_assert_false (q_qmp_client_is_closed (f->client));
  q_qmp_client_negotiate_async (f->client, Q_QMP_NEGOTIATE_FLAGS_NONE, NULL,
                                test_store_result_cb, &result);
  caps = fake_peer_negotiate (f->peer, "[]");
  TEST_WAIT (f->context, result != NULL);
  g_assert_true (q_qmp_client_negotiate_finish (f->client, result, &error));
  g_assert_no_error (error);
}

/* ------------------------------------------------------------------------ */
/* Framing                                                                  */

static void
write_bytewise (FakePeer   *peer,
                const char *data)
{
  for (const char *p = data; *p; p++)
    fake_peer_write (peer, p, 1);
}

static void
test_split_reads (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GInputStream) one_byte = NULL;
  g_autoptr(GIOStream) stream = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) caps = NULL;
  g_autoptr(JsonObject) cmd = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;
  g_autofree char *reply = NULL;
  const char *greeting =
    "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, "
    "\"package\": \"split\"}, \"capabilities\": []}}\r\n";
  const char *event =
    "{\"event\": \"SPLIT\", \"data\": {\"text\": \"a\\nb \\\"}\"}, "
    "\"timestamp\": {\"seconds\": 5, \"microseconds\": 6}}\r\n";
  gsize total;

  one_byte = g_object_new (TYPE_ONE_BYTE_INPUT_STREAM,
                           "base-stream", g_io_stream_get_input_stream (G_IO_STREAM (f->connection)),
                           "close-base-stream", TRUE,
                           NULL);
  stream = g_simple_io_stream_new (one_byte,
                                   g_io_stream_get_output_stream (G_IO_STREAM (f->connection)));
  fixture_attach_client (f, stream);

  q_qmp_client_negotiate_async (f->client, Q_QMP_NEGOTIATE_FLAGS_NONE, NULL,
                                test_store_result_cb, &result);
  write_bytewise (f->peer, greeting);
  caps = fake_peer_read_command (f->peer);
  g_assert_cmpstr (test_command_name (caps), ==, "qmp_capabilities");
  reply = fake_peer_format_reply (caps, "{}");
  write_bytewise (f->peer, reply);
  TEST_WAIT (f->context, result != NULL);
  g_assert_true (q_qmp_client_negotiate_finish (f->client, result, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (q_qmp_client_get_greeting (f->client),
                                                    "version"), "package"), ==, "split");
  g_clear_object (&result);

  start_execute (f, "echo", "{\"marker\": \"split-marker\"}", NULL, &result);
  cmd = fake_peer_read_command (f->peer);
  g_clear_pointer (&reply, g_free);
  reply = format_echo_reply (cmd);
  write_bytewise (f->peer, event);
  write_bytewise (f->peer, reply);
  ret = finish_execute (f, &result, &error);
  g_assert_no_error (error);
  assert_marker (ret, "split-marker");

  TEST_WAIT (f->context, f->events->len == 1);
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (g_ptr_array_index (f->events, 0), "data"),
                     "text"), ==, "a\nb \"}");

  /* The setup really did deliver one byte per read. */
  total = strlen (greeting) + strlen (event) + strlen (reply);
  g_assert_cmpint (g_atomic_int_get (&ONE_BYTE_INPUT_STREAM (one_byte)->reads), >=, (int)total);

  g_assert_true (q_qmp_client_close (f->client, NULL, &error));
  g_assert_no_error (error);
  g_io_stream_close (G_IO_STREAM (f->connection), NULL, NULL);
}

static void
test_fds_need_socket (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GIOStream) stream = NULL;
  g_autoptr(GUnixFDList) fds = g_unix_fd_list_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;

  /* Not a GSocketConnection: fds cannot be passed. */
  stream = g_simple_io_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (f->connection)),
                                   g_io_stream_get_output_stream (G_IO_STREAM (f->connection)));
  fixture_attach_client (f, stream);
  fixture_negotiate (f);

  g_unix_fd_list_append (fds, 0, &error);
  g_assert_no_error (error);
  q_qmp_client_execute_async (f->client, "getfd", NULL, Q_QMP_EXECUTE_FLAGS_NONE, fds,
                              NULL, test_store_result_cb, &result);
  ret = finish_execute (f, &result, &error);
  g_assert_null (ret);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);

  g_assert_true (q_qmp_client_close (f->client, NULL, NULL));
  g_io_stream_close (G_IO_STREAM (f->connection), NULL, NULL);
}

static void
test_coalesced_messages (Fixture       *f,
                         gconstpointer  data)
{
  GAsyncResult *results[3] = { NULL, };
  JsonObject *cmds[3];
  g_autoptr(GString) all = g_string_new (NULL);

  fixture_negotiate (f);

  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *args = g_strdup_printf ("{\"marker\": \"m%u\"}", i);
      start_execute (f, "echo", args, NULL, &results[i]);
    }
  for (guint i = 0; i < 3; i++)
    {
      cmds[i] = fake_peer_read_command (f->peer);
      g_assert_nonnull (cmds[i]);
    }

  /* Replies and events between them, in one write. */
  g_string_append (all, "{\"event\": \"A\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 0}}\r\n");
  append_take (all, fake_peer_format_reply (cmds[0], "{\"marker\": \"m0\"}"));
  g_string_append (all, "{\"event\": \"B\", \"timestamp\": {\"seconds\": 2, \"microseconds\": 0}}\n");
  append_take (all, fake_peer_format_reply (cmds[1], "{\"marker\": \"m1\"}"));
  append_take (all, fake_peer_format_reply (cmds[2], "{\"marker\": \"m2\"}"));
  fake_peer_write (f->peer, all->str, all->len);

  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) ret = finish_execute (f, &results[i], &error);
      g_autofree char *expected = g_strdup_printf ("m%u", i);

      g_assert_no_error (error);
      assert_marker (ret, expected);
      json_object_unref (cmds[i]);
    }

  TEST_WAIT (f->context, f->events->len == 2);
  g_assert_cmpstr (g_ptr_array_index (f->event_names, 0), ==, "A");
  g_assert_cmpstr (g_ptr_array_index (f->event_names, 1), ==, "B");
}

/* ------------------------------------------------------------------------ */
/* Protocol violations                                                      */

/* After a protocol error: the pending command failed, closed was emitted
 * with the error, the peer sees EOF, and new commands fail at once. */
static void
assert_closed_with_protocol_error (Fixture       *f,
                                   GAsyncResult **pending)
{
  g_autoptr(GAsyncResult) later = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;

  if (pending != NULL)
    {
      ret = finish_execute (f, pending, &error);
      g_assert_null (ret);
      g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL);
      g_clear_error (&error);
    }

  TEST_WAIT (f->context, f->closed_count == 1);
  g_assert_error (f->closed_error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL);
  g_assert_true (q_qmp_client_is_closed (f->client));

  fake_peer_drain_available (f->peer);
  g_byte_array_set_size (f->peer->buf, 0);
  fake_peer_expect_eof (f->peer);

  start_execute (f, "query-status", NULL, NULL, &later);
  ret = finish_execute (f, &later, &error);
  g_assert_null (ret);
  g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL);
}

static void
test_malformed_json (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) cmd = NULL;

  fixture_negotiate (f);
  start_execute (f, "query-status", NULL, NULL, &result);
  cmd = fake_peer_read_command (f->peer);
  fake_peer_write (f->peer, "{\"return\": {], \"id\": \"x\"}\r\n", -1);
  /* The real reply follows: it must not rescue the command. */
  fake_peer_reply (f->peer, cmd, "{}");

  assert_closed_with_protocol_error (f, &result);
}

static void
test_not_an_object (Fixture       *f,
                    gconstpointer  data)
{
  const char *message = data;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) cmd = NULL;

  /* The fixture data is the message; the fixture itself uses the default
   * mode through fixture_setup_private(). */
  fixture_negotiate (f);
  start_execute (f, "query-status", NULL, NULL, &result);
  cmd = fake_peer_read_command (f->peer);
  fake_peer_writef (f->peer, "%s\r\n", message);
  fake_peer_reply (f->peer, cmd, "{}");

  assert_closed_with_protocol_error (f, &result);
}

static void
fixture_setup_private (Fixture       *f,
                       gconstpointer  data)
{
  fixture_setup (f, GINT_TO_POINTER (FIXTURE_PRIVATE_CONTEXT));
}

static char *
make_event_line (const char *name,
                 gsize       total_len,
                 gboolean    newline)
{
  GString *s = g_string_new (NULL);
  const char *tail = "\"}}";

  /* {"event": "NAME", "data": {"pad": "xxxx…"}}\r\n, total_len bytes in all. */
  g_string_append_printf (s, "{\"event\": \"%s\", \"data\": {\"pad\": \"", name);
  while (s->len + strlen (tail) + (newline ? 2 : 0) < total_len)
    g_string_append_c (s, 'x');
  g_string_append (s, tail);
  if (newline)
    g_string_append (s, "\r\n");
  g_assert_cmpuint (s->len, ==, total_len);

  return g_string_free (s, FALSE);
}

static void
test_oversized_message (Fixture       *f,
                        gconstpointer  data)
{
  gboolean with_newline = GPOINTER_TO_INT (data);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) cmd = NULL;
  g_autofree char *fits = NULL;
  g_autofree char *big = NULL;

  g_assert_cmpuint (q_qmp_client_get_max_message_size (f->client), ==,
                    Q_QMP_CLIENT_DEFAULT_MAX_MESSAGE_SIZE);
  q_qmp_client_set_max_message_size (f->client, 1024);
  g_assert_cmpuint (q_qmp_client_get_max_message_size (f->client), ==, 1024);

  fixture_negotiate (f);
  start_execute (f, "query-status", NULL, NULL, &result);
  cmd = fake_peer_read_command (f->peer);

  /* Just under the limit: accepted. */
  fits = make_event_line ("FITS", 1000, TRUE);
  fake_peer_write (f->peer, fits, -1);
  TEST_WAIT (f->context, f->events->len == 1);
  g_assert_cmpstr (g_ptr_array_index (f->event_names, 0), ==, "FITS");

  /* Four times the limit: a valid message, but too big. */
  big = make_event_line ("BIG", 4096, with_newline);
  if (!with_newline)
    big[4096 - 3] = '\0';   /* cut before the closing braces as well */
  fake_peer_write (f->peer, big, -1);
  fake_peer_reply (f->peer, cmd, "{}");

  assert_closed_with_protocol_error (f, &result);
  g_assert_cmpuint (f->events->len, ==, 1);
}

typedef struct
{
  guint    depth;
  gboolean closed;   /* a well-formed event, or only opening brackets */
} Nesting;

static const Nesting nesting_unclosed = { 2000, FALSE };
static const Nesting nesting_valid = { 2000, TRUE };
static const Nesting nesting_huge = { 100000, TRUE };
static const Nesting nesting_just_over = { 127, TRUE };

static void
append_nested_event (GString    *s,
                     const char *name,
                     guint       depth,
                     gboolean    closed)
{
  g_string_append_printf (s, "{\"event\": \"%s\", \"data\": {\"x\": ", name);
  for (guint i = 0; i < depth; i++)
    g_string_append_c (s, '[');
  if (closed)
    {
      for (guint i = 0; i < depth; i++)
        g_string_append_c (s, ']');
      g_string_append (s, "}, \"timestamp\": {\"seconds\": 1, \"microseconds\": 1}}");
    }
  g_string_append (s, "\r\n");
}

static void
test_deep_nesting (Fixture       *f,
                   gconstpointer  data)
{
  const Nesting *nesting = data;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) cmd = NULL;
  g_autoptr(GString) ok = g_string_new (NULL);
  g_autoptr(GString) evil = g_string_new (NULL);
  JsonNode *node;
  guint depth = 0;

  fixture_negotiate (f);
  start_execute (f, "query-status", NULL, NULL, &result);
  cmd = fake_peer_read_command (f->peer);

  /* 120 levels inside the event (122 in all) are within the limit (128). */
  append_nested_event (ok, "DEEP", 120, TRUE);
  fake_peer_write (f->peer, ok->str, ok->len);
  TEST_WAIT (f->context, f->events->len == 1);
  node = json_object_get_member (json_object_get_object_member (g_ptr_array_index (f->events, 0),
                                                                "data"), "x");
  while (node != NULL && JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);
      depth++;
      node = json_array_get_length (array) > 0 ? json_array_get_element (array, 0) : NULL;
    }
  g_assert_cmpuint (depth, ==, 120);

  /* Deeper: refused before the recursive parser sees it, well-formed or
   * not, and not delivered. */
  if (nesting->closed)
    append_nested_event (evil, "TOO_DEEP", nesting->depth, TRUE);
  else
    {
      for (guint i = 0; i < nesting->depth; i++)
        g_string_append_c (evil, '[');
      g_string_append (evil, "\r\n");
    }
  fake_peer_write (f->peer, evil->str, evil->len);
  fake_peer_reply (f->peer, cmd, "{}");

  assert_closed_with_protocol_error (f, &result);
  g_assert_cmpuint (f->events->len, ==, 1);
}

/* Lines that json-glib would take, or recurse on, but that are not the
 * strict JSON QEMU sends: each closes the client with a protocol error,
 * and none is delivered. The deep ones hide a million brackets inside
 * every quoting context a lenient pre-check could be fooled by. */
typedef struct
{
  const char *name;
  char       *(*make) (void);
  const char *line;
} HostileLine;

static char *
deep_after (const char *prefix)
{
  GString *s = g_string_new ("{\"event\": \"X\", \"data\": ");
  g_string_append (s, prefix);
  for (guint i = 0; i < 1000000; i++)
    g_string_append_c (s, '[');
  g_string_append (s, "\r\n");
  return g_string_free (s, FALSE);
}

static char *deep_in_comment (void) { return deep_after ("/* \" */ "); }
static char *deep_after_single_quote (void) { return deep_after ("'\"' "); }
static char *deep_after_line_comment (void) { return deep_after ("// \" "); }
static char *deep_after_escaped_quote (void) { return deep_after ("\"\\\"\" "); }
static char *deep_plain (void) { return deep_after (""); }

static char *
nul_in_string (void)
{
  /* {"event": "A<NUL>B"} */
  return g_strdup ("{\"event\": \"A");
}

static const HostileLine hostile_lines[] = {
  { "c-comment", NULL, "{\"event\": /* hi */ \"X\"}" },
  { "line-comment", NULL, "{\"event\": \"X\"} // hi" },
  { "single-quotes", NULL, "{'event': 'X'}" },
  { "trailing-garbage", NULL, "{\"event\": \"X\"} x" },
  { "two-values", NULL, "{\"event\": \"X\"} {}" },
  { "trailing-comma", NULL, "{\"event\": \"X\",}" },
  { "bare-word", NULL, "{\"event\": X}" },
  { "leading-zero", NULL, "{\"event\": \"X\", \"n\": 01}" },
  { "plus-number", NULL, "{\"event\": \"X\", \"n\": +1}" },
  { "nan", NULL, "{\"event\": \"X\", \"n\": NaN}" },
  { "control-in-string", NULL, "{\"event\": \"X\ty\"}" },
  { "bad-escape", NULL, "{\"event\": \"X\\q\"}" },
  { "nul-escape", NULL, "{\"event\": \"X\\u0000Y\"}" },
  { "invalid-utf8", NULL, "{\"event\": \"X\xff\xfe\"}" },
  { "truncated-utf8", NULL, "{\"event\": \"X\xe2\x82\"}" },
  { "non-string-key", NULL, "{event: \"X\"}" },
  { "deep-plain", deep_plain, NULL },
  { "deep-in-comment", deep_in_comment, NULL },
  { "deep-after-single-quote", deep_after_single_quote, NULL },
  { "deep-after-line-comment", deep_after_line_comment, NULL },
  { "deep-after-escaped-quote", deep_after_escaped_quote, NULL },
  { "nul-in-string", nul_in_string, NULL },
};

static void
test_hostile_line (Fixture       *f,
                   gconstpointer  data)
{
  const HostileLine *h = data;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) cmd = NULL;
  g_autofree char *made = h->make ? h->make () : NULL;

  fixture_negotiate (f);
  start_execute (f, "query-status", NULL, NULL, &result);
  cmd = fake_peer_read_command (f->peer);
  if (h->make == nul_in_string)
    {
      /* The NUL and the rest of the line, written as raw bytes. */
      fake_peer_write (f->peer, made, -1);
      fake_peer_write (f->peer, "\0B\"}\r\n", 6);
    }
  else if (made != NULL)
    fake_peer_write (f->peer, made, -1);
  else
    fake_peer_writef (f->peer, "%s\r\n", h->line);
  fake_peer_reply (f->peer, cmd, "{}");

  assert_closed_with_protocol_error (f, &result);
  g_assert_cmpuint (f->events->len, ==, 0);
}

/* ------------------------------------------------------------------------ */
/* Routing replies                                                          */

/* A 100 MB line against the default limit (10 MiB): refused once the
 * limit is passed, without buffering the rest. */
static void
test_huge_line (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) cmd = NULL;
  gsize len = 100 * 1024 * 1024;
  g_autofree char *line = g_malloc (len);

  fixture_negotiate (f);
  start_execute (f, "query-status", NULL, NULL, &result);
  cmd = fake_peer_read_command (f->peer);
  memset (line, ' ', len);
  {
    const char *head = "{\"event\": \"X\", \"data\": \"";
    memcpy (line, head, strlen (head));
  }
  fake_peer_write (f->peer, line, len);   /* stops when the client hangs up */

  assert_closed_with_protocol_error (f, &result);
}

/* G_MESSAGES_DEBUG=QMachine shows the QMP traffic, with secrets
 * redacted. Run in a subprocess, whose stderr is checked. */
static void
test_traffic_log (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) cmd = NULL;
  g_autoptr(JsonObject) args = NULL;
  g_autoptr(JsonNode) ret = NULL;

  if (!g_test_subprocess ())
    {
      /* GLib writes debug messages to stdout. */
      g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, 0);
      g_test_trap_assert_passed ();
      g_test_trap_assert_stdout ("*QMP -> {\"execute\":\"object-add\"*\"data\":\"<redacted>\"*");
      g_test_trap_assert_stdout ("*QMP <- {\"return\":{\"password\":\"<redacted>\"*");
      g_test_trap_assert_stdout_unmatched ("*hunter2*");
      return;
    }

  g_setenv ("G_MESSAGES_DEBUG", "QMachine", TRUE);
  fixture_negotiate (f);
  args = test_json_object ("{\"qom-type\": \"secret\", \"id\": \"s0\", \"data\": \"hunter2\"}");
  q_qmp_client_execute_async (f->client, "object-add", args, 0, NULL, NULL,
                              test_store_result_cb, &result);
  cmd = fake_peer_read_command (f->peer);
  fake_peer_reply (f->peer, cmd, "{\"password\": \"hunter2\"}");
  ret = finish_execute (f, &result, NULL);
  g_assert_nonnull (ret);
}

/* A command's deadline belongs to the client: past it the command fails
 * with G_IO_ERROR_TIMED_OUT, its late reply is dropped, and the next
 * command gets its own reply. */
static void
test_deadline (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GAsyncResult) next = NULL;
  g_autoptr(JsonObject) cmd = NULL;
  g_autoptr(JsonObject) cmd2 = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;
  g_autoptr(JsonNode) ret2 = NULL;

  g_autoptr(JsonObject) args = json_object_new ();

  fixture_negotiate (f);
  json_object_set_string_member (args, "marker", "late");
  q_qmp_client_execute_full_async (f->client, "echo", args, 0, NULL, 100, FALSE, NULL,
                                   test_store_result_cb, &result);
  cmd = fake_peer_read_command (f->peer);
  TEST_WAIT (f->context, result != NULL);
  ret = q_qmp_client_execute_finish (f->client, result, &error);
  g_assert_null (ret);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_nonnull (strstr (error->message, "echo"));

  /* The late reply, then the next command's: each goes where it belongs. */
  start_execute (f, "echo", "{\"marker\": \"next\"}", NULL, &next);
  cmd2 = fake_peer_read_command (f->peer);
  write_take (f->peer, format_echo_reply (cmd));
  write_take (f->peer, format_echo_reply (cmd2));
  ret2 = finish_execute (f, &next, NULL);
  assert_marker (ret2, "next");
  g_assert_false (q_qmp_client_is_closed (f->client));
}

/* A peer that stops reading: a command stuck behind a full socket still
 * meets its deadline, and failing the client does not wait for the write. */
static void
test_peer_stops_reading (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) args = json_object_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) fail = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "gave up");
  g_autofree char *big = g_strnfill (16 * 1024 * 1024, 'x');
  g_autoptr(JsonNode) ret = NULL;

  fixture_negotiate (f);
  json_object_set_string_member (args, "marker", big);
  q_qmp_client_execute_full_async (f->client, "echo", args, 0, NULL, 200, FALSE, NULL,
                                   test_store_result_cb, &result);
  TEST_WAIT (f->context, result != NULL);
  ret = q_qmp_client_execute_finish (f->client, result, &error);
  g_assert_null (ret);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);

  q_qmp_client_fail (f->client, fail);
  TEST_WAIT (f->context, f->closed_count == 1);
  g_assert_true (q_qmp_client_is_closed (f->client));
}

/* EOF in the middle of a line: the partial message is dropped, what waits
 * fails as a closed connection. */
static void
test_eof_mid_line (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) cmd = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;

  fixture_negotiate (f);
  start_execute (f, "query-status", NULL, NULL, &result);
  cmd = fake_peer_read_command (f->peer);
  fake_peer_write (f->peer, "{\"return\": {\"status\": \"runn", -1);
  fake_peer_shutdown (f->peer);

  ret = finish_execute (f, &result, &error);
  g_assert_null (ret);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  TEST_WAIT (f->context, f->closed_count == 1);
  g_assert_cmpuint (f->events->len, ==, 0);
}

/* A reply with an out-of-band command's id but neither `return` nor
 * `error` fails that command at once; the connection stays up. So does
 * an in-band message of no known kind (`{}`): it stands where the oldest
 * in-band command's reply goes, so that command fails at once instead of
 * waiting for its deadline, and the next command is answered as usual. */
static void
test_bare_reply (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GAsyncResult) next = NULL;
  g_autoptr(JsonObject) cmd = NULL;
  g_autoptr(JsonObject) cmd2 = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;
  g_autoptr(JsonNode) ret2 = NULL;

  fixture_negotiate_flags (f, Q_QMP_NEGOTIATE_FLAGS_OOB);
  q_qmp_client_execute_async (f->client, "x-oob-test", NULL, Q_QMP_EXECUTE_FLAGS_OOB,
                              NULL, NULL, test_store_result_cb, &result);
  cmd = fake_peer_read_command (f->peer);
  g_assert_nonnull (test_command_id (cmd));
  fake_peer_writef (f->peer, "{\"id\": %s}\r\n", test_command_id (cmd));

  ret = finish_execute (f, &result, &error);
  g_assert_null (ret);
  g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL);
  g_assert_false (q_qmp_client_is_closed (f->client));

  start_execute (f, "query-status", NULL, NULL, &next);
  cmd2 = fake_peer_read_command (f->peer);
  fake_peer_write (f->peer, "{}\r\n", -1);
  g_clear_error (&error);
  g_assert_null (finish_execute (f, &next, &error));
  g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL);
  g_assert_false (q_qmp_client_is_closed (f->client));
  g_clear_pointer (&cmd2, json_object_unref);
  g_clear_object (&next);

  start_execute (f, "query-status", NULL, NULL, &next);
  cmd2 = fake_peer_read_command (f->peer);
  fake_peer_reply (f->peer, cmd2, "{\"status\": \"running\"}");
  ret2 = finish_execute (f, &next, NULL);
  g_assert_nonnull (ret2);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (ret2), "status"), ==,
                   "running");
}

static void
test_idless_error (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GAsyncResult) result_a = NULL;
  g_autoptr(GAsyncResult) result_b = NULL;
  g_autoptr(JsonObject) cmd_a = NULL;
  g_autoptr(JsonObject) cmd_b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret_a = NULL;
  g_autoptr(JsonNode) ret_b = NULL;

  fixture_negotiate (f);
  start_execute (f, "echo", "{\"marker\": \"a\"}", NULL, &result_a);
  start_execute (f, "echo", "{\"marker\": \"b\"}", NULL, &result_b);
  cmd_a = fake_peer_read_command (f->peer);
  cmd_b = fake_peer_read_command (f->peer);

  fake_peer_write (f->peer,
                   "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error\"}}\r\n",
                   -1);

  /* The oldest pending command takes the blame... */
  ret_a = finish_execute (f, &result_a, &error);
  g_assert_null (ret_a);
  g_assert_error (error, Q_QMP_ERROR, Q_QMP_ERROR_GENERIC_ERROR);
  g_assert_cmpstr (error->message, ==, "JSON parse error");
  g_clear_error (&error);

  /* ...and only it: the other still waits for its own reply. */
  fixture_settle (f);
  g_assert_null (result_b);
  g_assert_false (q_qmp_client_is_closed (f->client));

  write_take (f->peer, format_echo_reply (cmd_b));
  ret_b = finish_execute (f, &result_b, &error);
  g_assert_no_error (error);
  assert_marker (ret_b, "b");
}

static void
test_reply_after_cancel (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result_a = NULL;
  g_autoptr(GAsyncResult) result_b = NULL;
  g_autoptr(JsonObject) cmd_a = NULL;
  g_autoptr(JsonObject) cmd_b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret_a = NULL;
  g_autoptr(JsonNode) ret_b = NULL;
  g_autofree char *late = NULL;
  g_autofree char *reply_b = NULL;
  g_autofree char *both = NULL;

  fixture_negotiate (f);
  start_execute (f, "echo", "{\"marker\": \"a\"}", cancellable, &result_a);
  cmd_a = fake_peer_read_command (f->peer);

  /* Cancelling completes at once, with no reply from the peer. */
  g_cancellable_cancel (cancellable);
  ret_a = finish_execute (f, &result_a, &error);
  g_assert_null (ret_a);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  start_execute (f, "echo", "{\"marker\": \"b\"}", NULL, &result_b);
  cmd_b = fake_peer_read_command (f->peer);

  /* The late reply to A comes first; B must get its own. */
  late = format_echo_reply (cmd_a);
  reply_b = format_echo_reply (cmd_b);
  both = g_strconcat (late, reply_b, NULL);
  fake_peer_write (f->peer, both, -1);

  ret_b = finish_execute (f, &result_b, &error);
  g_assert_no_error (error);
  assert_marker (ret_b, "b");

  /* test_store_result_cb asserts A's callback ran only once. */
  fixture_settle (f);
  g_assert_false (q_qmp_client_is_closed (f->client));
}

static void
test_unknown_id (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GAsyncResult) caps_result = NULL;
  g_autoptr(JsonObject) caps = NULL;
  g_autoptr(JsonObject) cmd = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;

  q_qmp_client_negotiate_async (f->client, Q_QMP_NEGOTIATE_FLAGS_NONE, NULL,
                                test_store_result_cb, &caps_result);
  caps = fake_peer_negotiate (f->peer, "[]");
  TEST_WAIT (f->context, caps_result != NULL);
  g_assert_true (q_qmp_client_negotiate_finish (f->client, caps_result, &error));
  g_assert_no_error (error);

  start_execute (f, "echo", "{\"marker\": \"real\"}", NULL, &result);
  cmd = fake_peer_read_command (f->peer);

  /* In-band commands carry no id, so replies with one (a string, a
   * number never used, an object) are not theirs: all dropped. */
  fake_peer_write (f->peer, "{\"return\": {\"marker\": \"bogus\"}, \"id\": \"no-such-id\"}\r\n", -1);
  fake_peer_write (f->peer, "{\"return\": {\"marker\": \"numeric\"}, \"id\": 12}\r\n", -1);
  fake_peer_write (f->peer, "{\"return\": {\"marker\": \"object\"}, \"id\": {}}\r\n", -1);
  fixture_settle (f);
  g_assert_null (result);
  g_assert_false (q_qmp_client_is_closed (f->client));

  write_take (f->peer, format_echo_reply (cmd));
  ret = finish_execute (f, &result, &error);
  g_assert_no_error (error);
  assert_marker (ret, "real");
}

static void
test_eof_with_pending (Fixture       *f,
                       gconstpointer  data)
{
  GAsyncResult *results[3] = { NULL, };
  g_autoptr(GAsyncResult) later = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;

  fixture_negotiate (f);
  for (guint i = 0; i < 3; i++)
    start_execute (f, "query-status", NULL, NULL, &results[i]);
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(JsonObject) cmd = fake_peer_read_command (f->peer);
      g_assert_nonnull (cmd);
    }

  fake_peer_shutdown (f->peer);

  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(GError) err = NULL;
      g_autoptr(JsonNode) r = finish_execute (f, &results[i], &err);

      g_assert_null (r);
      g_assert_error (err, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
    }

  TEST_WAIT (f->context, f->closed_count == 1);
  g_assert_error (f->closed_error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_assert_true (q_qmp_client_is_closed (f->client));

  start_execute (f, "query-status", NULL, NULL, &later);
  ret = finish_execute (f, &later, &error);
  g_assert_null (ret);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
}

#define N_PIPELINED 1000

typedef struct
{
  GAsyncResult *result;
} PipelinedCall;

static gboolean
pipelined_all_done (PipelinedCall *calls)
{
  for (guint i = 0; i < N_PIPELINED; i++)
    if (calls[i].result == NULL)
      return FALSE;
  return TRUE;
}

static void
test_pipelined (Fixture       *f,
                gconstpointer  data)
{
  PipelinedCall *calls = g_new0 (PipelinedCall, N_PIPELINED);
  g_autoptr(GPtrArray) cmds = g_ptr_array_new_with_free_func ((GDestroyNotify)json_object_unref);
  g_autoptr(GString) batch = g_string_new (NULL);

  fixture_negotiate (f);

  for (guint i = 0; i < N_PIPELINED; i++)
    {
      g_autofree char *args = g_strdup_printf ("{\"marker\": \"call-%u\"}", i);
      start_execute (f, "echo", args, NULL, &calls[i].result);
    }

  /* All of them go out before any reply. */
  for (guint i = 0; i < N_PIPELINED; i++)
    {
      JsonObject *cmd = fake_peer_read_command (f->peer);

      g_assert_nonnull (cmd);
      g_assert_null (test_command_id (cmd));
      g_ptr_array_add (cmds, cmd);
    }

  /* Answer in order, as QEMU does, a few replies per write. */
  for (guint i = 0; i < N_PIPELINED; i++)
    {
      g_autofree char *reply = format_echo_reply (g_ptr_array_index (cmds, i));

      g_string_append (batch, reply);
      if (batch->len > 4000 || i == N_PIPELINED - 1)
        {
          fake_peer_write (f->peer, batch->str, batch->len);
          g_string_truncate (batch, 0);
        }
    }

  TEST_WAIT (f->context, pipelined_all_done (calls));

  for (guint i = 0; i < N_PIPELINED; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) ret = NULL;
      g_autofree char *expected = g_strdup_printf ("call-%u", i);

      ret = finish_execute (f, &calls[i].result, &error);
      g_assert_no_error (error);
      assert_marker (ret, expected);
    }

  g_free (calls);
}

/* ------------------------------------------------------------------------ */
/* Errors and raw responses                                                 */

static void
test_error_classes (Fixture       *f,
                    gconstpointer  data)
{
  static const struct {
    const char *klass;
    int         code;
  } classes[] = {
    { "GenericError",    Q_QMP_ERROR_GENERIC_ERROR },
    { "CommandNotFound", Q_QMP_ERROR_COMMAND_NOT_FOUND },
    { "DeviceNotActive", Q_QMP_ERROR_DEVICE_NOT_ACTIVE },
    { "DeviceNotFound",  Q_QMP_ERROR_DEVICE_NOT_FOUND },
    { "KVMMissingCap",   Q_QMP_ERROR_KVM_MISSING_CAP },
    { "SomeFutureClass", Q_QMP_ERROR_UNKNOWN_CLASS },
  };

  fixture_negotiate (f);

  for (guint i = 0; i < G_N_ELEMENTS (classes); i++)
    {
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(JsonObject) cmd = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) ret = NULL;
      g_autofree char *desc = g_strdup_printf ("description of %s", classes[i].klass);

      start_execute (f, "fails", NULL, NULL, &result);
      cmd = fake_peer_read_command (f->peer);
      fake_peer_reply_error (f->peer, cmd, classes[i].klass, desc);
      ret = finish_execute (f, &result, &error);

      g_assert_null (ret);
      g_assert_error (error, Q_QMP_ERROR, classes[i].code);
      if (classes[i].code == Q_QMP_ERROR_UNKNOWN_CLASS)
        {
          g_assert_nonnull (strstr (error->message, classes[i].klass));
          g_assert_nonnull (strstr (error->message, desc));
        }
      else
        g_assert_cmpstr (error->message, ==, desc);
    }

  g_assert_false (q_qmp_client_is_closed (f->client));
}

static void
test_execute_raw (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) cmd = NULL;
  g_autoptr(JsonObject) cmd2 = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) response = NULL;
  g_autoptr(JsonObject) response2 = NULL;
  JsonObject *error_obj;

  fixture_negotiate (f);

  q_qmp_client_execute_raw_async (f->client, "nope", NULL, Q_QMP_EXECUTE_FLAGS_NONE, NULL,
                                  NULL, test_store_result_cb, &result);
  cmd = fake_peer_read_command (f->peer);
  g_assert_cmpstr (test_command_name (cmd), ==, "nope");
  fake_peer_reply_error (f->peer, cmd, "CommandNotFound", "The command nope has not been found");
  TEST_WAIT (f->context, result != NULL);
  response = q_qmp_client_execute_raw_finish (f->client, result, &error);
  g_assert_no_error (error);
  g_assert_nonnull (response);
  g_assert_false (json_object_has_member (response, "id"));
  g_assert_false (json_object_has_member (response, "return"));
  error_obj = json_object_get_object_member (response, "error");
  g_assert_nonnull (error_obj);
  g_assert_cmpstr (json_object_get_string_member (error_obj, "class"), ==, "CommandNotFound");
  g_assert_cmpstr (json_object_get_string_member (error_obj, "desc"), ==,
                   "The command nope has not been found");
  g_clear_object (&result);

  q_qmp_client_execute_raw_async (f->client, "echo", NULL, Q_QMP_EXECUTE_FLAGS_NONE, NULL,
                                  NULL, test_store_result_cb, &result);
  cmd2 = fake_peer_read_command (f->peer);
  fake_peer_reply (f->peer, cmd2, "[1, 2, 3]");
  TEST_WAIT (f->context, result != NULL);
  response2 = q_qmp_client_execute_raw_finish (f->client, result, &error);
  g_assert_no_error (error);
  g_assert_false (json_object_has_member (response2, "id"));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (response2, "return")),
                    ==, 3);
}

/* ------------------------------------------------------------------------ */
/* File descriptors                                                         */

typedef struct
{
  char       *path;
  int         fd;
  struct stat st;
  char       *content;
} TempFile;

static void
temp_file_init (TempFile   *t,
                const char *content)
{
  g_autoptr(GError) error = NULL;

  t->fd = g_file_open_tmp ("qmp-fd-XXXXXX", &t->path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (write (t->fd, content, strlen (content)), ==, (gssize)strlen (content));
  g_assert_cmpint (fstat (t->fd, &t->st), ==, 0);
  t->content = g_strdup (content);
}

static void
temp_file_clear (TempFile *t)
{
  close (t->fd);
  g_unlink (t->path);
  g_free (t->path);
  g_free (t->content);
}

/* Receives one fd-bearing command; checks the fd is @t's file and that the
 * whole command came in the same recvmsg() as the fd. */
static JsonObject *
receive_fd_command (FakePeer *peer,
                    TempFile *t)
{
  g_autoptr(GArray) fds = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr(GBytes) bytes = NULL;
  g_autofree char *text = NULL;
  struct stat st;
  char buf[256] = { 0 };
  gsize len;
  const char *data;
  int fd;

  bytes = fake_peer_recv_with_fds (peer, fds);
  g_assert_cmpuint (fds->len, ==, 1);
  fd = g_array_index (fds, int, 0);

  g_assert_cmpint (fstat (fd, &st), ==, 0);
  g_assert_cmpuint (st.st_dev, ==, t->st.st_dev);
  g_assert_cmpuint (st.st_ino, ==, t->st.st_ino);
  g_assert_cmpint (pread (fd, buf, sizeof buf - 1, 0), ==, (gssize)strlen (t->content));
  g_assert_cmpstr (buf, ==, t->content);
  close (fd);

  /* Exactly one whole command, newline-terminated, in this recvmsg(). */
  data = g_bytes_get_data (bytes, &len);
  g_assert_cmpuint (len, >, 2);
  g_assert_cmpint (data[len - 1], ==, '\n');
  g_assert_null (memchr (data, '\n', len - 1));
  text = g_strndup (data, len);
  g_strchomp (text);

  return test_json_object (text);
}

/* Starts `getfd` named @fdname, passing @t's descriptor. */
static void
start_getfd (Fixture       *f,
             TempFile      *t,
             const char    *fdname,
             GAsyncResult **result)
{
  g_autoptr(GUnixFDList) fds = g_unix_fd_list_new ();
  g_autoptr(JsonObject) arguments = json_object_new ();
  g_autoptr(GError) error = NULL;

  json_object_set_string_member (arguments, "fdname", fdname);
  g_unix_fd_list_append (fds, t->fd, &error);
  g_assert_no_error (error);
  *result = NULL;
  q_qmp_client_execute_async (f->client, "getfd", arguments, Q_QMP_EXECUTE_FLAGS_NONE, fds,
                              NULL, test_store_result_cb, result);
}

static void
test_fd_passing (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) cmd = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;
  TempFile t;

  temp_file_init (&t, "known content of the passed file\n");
  fixture_negotiate (f);

  start_getfd (f, &t, "test-fd", &result);

  cmd = receive_fd_command (f->peer, &t);
  g_assert_cmpstr (test_command_name (cmd), ==, "getfd");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (cmd, "arguments"),
                                                  "fdname"), ==, "test-fd");
  fake_peer_reply (f->peer, cmd, "{}");

  ret = finish_execute (f, &result, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ret);

  temp_file_clear (&t);
}

/* An fd-bearing command that finds the socket full waits for room and
 * goes out whole, fds included, once the peer reads. */
static void
test_fd_send_when_full (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) cmd = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;
  char chunk[4096];
  gsize junk = 0;
  gssize n;
  int fd;
  TempFile t;

  temp_file_init (&t, "passed while the socket was full\n");
  fixture_negotiate (f);

  /* Fill the socket from a second descriptor of the client's end. */
  fd = dup (g_socket_get_fd (g_socket_connection_get_socket (f->connection)));
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK), ==, 0);
  memset (chunk, 'x', sizeof chunk);
  while ((n = write (fd, chunk, sizeof chunk)) > 0)
    junk += n;
  g_assert_true (errno == EAGAIN || errno == EWOULDBLOCK);
  close (fd);

  start_getfd (f, &t, "full-fd", &result);
  fixture_settle (f);
  g_assert_null (result);

  fake_peer_discard (f->peer, junk);
  cmd = receive_fd_command (f->peer, &t);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (cmd, "arguments"),
                                                  "fdname"), ==, "full-fd");
  fake_peer_reply (f->peer, cmd, "{}");
  ret = finish_execute (f, &result, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ret);

  temp_file_clear (&t);
}

static void
test_fd_not_pipelined (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GUnixFDList) fds1 = g_unix_fd_list_new ();
  g_autoptr(GUnixFDList) fds2 = g_unix_fd_list_new ();
  g_autoptr(GAsyncResult) result1 = NULL;
  g_autoptr(GAsyncResult) result2 = NULL;
  g_autoptr(JsonObject) cmd1 = NULL;
  g_autoptr(JsonObject) cmd2 = NULL;
  g_autoptr(JsonObject) args1 = test_json_object ("{\"fdname\": \"one\"}");
  g_autoptr(JsonObject) args2 = test_json_object ("{\"fdname\": \"two\"}");
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret1 = NULL;
  g_autoptr(JsonNode) ret2 = NULL;
  TempFile t1, t2;

  temp_file_init (&t1, "first file\n");
  temp_file_init (&t2, "second file\n");
  fixture_negotiate (f);

  g_unix_fd_list_append (fds1, t1.fd, &error);
  g_assert_no_error (error);
  g_unix_fd_list_append (fds2, t2.fd, &error);
  g_assert_no_error (error);
  q_qmp_client_execute_async (f->client, "getfd", args1, Q_QMP_EXECUTE_FLAGS_NONE, fds1,
                              NULL, test_store_result_cb, &result1);
  q_qmp_client_execute_async (f->client, "getfd", args2, Q_QMP_EXECUTE_FLAGS_NONE, fds2,
                              NULL, test_store_result_cb, &result2);

  cmd1 = receive_fd_command (f->peer, &t1);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (cmd1, "arguments"),
                                                  "fdname"), ==, "one");

  /* The client has had every chance to send the second one: it must not,
   * as it would replace the fd QEMU has not used yet. */
  fixture_settle (f);
  fake_peer_expect_nothing (f->peer);
  g_assert_null (result1);

  fake_peer_reply (f->peer, cmd1, "{}");
  cmd2 = receive_fd_command (f->peer, &t2);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (cmd2, "arguments"),
                                                  "fdname"), ==, "two");
  fake_peer_reply (f->peer, cmd2, "{}");

  ret1 = finish_execute (f, &result1, &error);
  g_assert_no_error (error);
  ret2 = finish_execute (f, &result2, &error);
  g_assert_no_error (error);

  temp_file_clear (&t1);
  temp_file_clear (&t2);
}

/* ------------------------------------------------------------------------ */
/* Events                                                                   */

typedef struct
{
  guint       calls;
  char       *name;
  JsonObject *event;
} StopCalls;

static void
on_stop (QQmpClient *client,
         const char *name,
         JsonObject *event,
         StopCalls  *stops)
{
  stops->calls++;
  g_free (stops->name);
  stops->name = g_strdup (name);
  g_clear_pointer (&stops->event, json_object_unref);
  stops->event = json_object_ref (event);
}

static void
test_event_detail (Fixture       *f,
                   gconstpointer  data)
{
  StopCalls stops = { 0, };
  JsonObject *timestamp;

  g_signal_connect (f->client, "event::STOP", G_CALLBACK (on_stop), &stops);
  fixture_negotiate (f);

  fake_peer_write (f->peer,
                   "{\"event\": \"RESUME\", \"timestamp\": {\"seconds\": 10, \"microseconds\": 1}}\r\n", -1);
  fake_peer_write (f->peer,
                   "{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 11, \"microseconds\": 22}}\r\n", -1);
  fake_peer_write (f->peer,
                   "{\"event\": \"RESUME\", \"data\": {\"x\": 1}, "
                   "\"timestamp\": {\"seconds\": 12, \"microseconds\": 3}}\r\n", -1);

  TEST_WAIT (f->context, f->events->len == 3);
  g_assert_cmpstr (g_ptr_array_index (f->event_names, 0), ==, "RESUME");
  g_assert_cmpstr (g_ptr_array_index (f->event_names, 1), ==, "STOP");
  g_assert_cmpstr (g_ptr_array_index (f->event_names, 2), ==, "RESUME");

  g_assert_cmpuint (stops.calls, ==, 1);
  g_assert_cmpstr (stops.name, ==, "STOP");
  g_assert_cmpstr (json_object_get_string_member (stops.event, "event"), ==, "STOP");
  timestamp = json_object_get_object_member (stops.event, "timestamp");
  g_assert_nonnull (timestamp);
  g_assert_cmpint (json_object_get_int_member (timestamp, "seconds"), ==, 11);
  g_assert_cmpint (json_object_get_int_member (timestamp, "microseconds"), ==, 22);

  g_signal_handlers_disconnect_by_func (f->client, on_stop, &stops);
  g_free (stops.name);
  json_object_unref (stops.event);
}

/* ------------------------------------------------------------------------ */
/* What a hostile peer can cost: numbers, values, queued bytes              */

/* The numbers json-glib would read as another value (tests' data). */
static char *number_digits_100;       /* a 100-digit integer */
static char *number_digits_100_neg;   /* and its negative */
static const char *number_2_63 = "9223372036854775808";
static const char *number_minus_2_63_minus_1 = "-9223372036854775809";
static const char *number_uint64_max = "18446744073709551615";
static const char *number_1e400 = "1e400";
static const char *number_minus_1e400 = "-1.5E+400";

static void
assert_names_number (const GError *error,
                     const char   *literal)
{
  /* The message shows the number (its start, when it is long). */
  g_autofree char *start = g_strndup (literal, 24);

  g_assert_nonnull (error);
  if (strstr (error->message, start) == NULL)
    g_error ("\"%s\" does not name %s", error->message, start);
}

/* A reply holding the number fails its own command with a protocol error
 * that names it; an event holding it is dropped and counted; a reply
 * whose id is the number is dropped; the connection stays up throughout. */
static void
test_unreadable_number (Fixture       *f,
                        gconstpointer  data)
{
  const char *literal = *(const char * const *)data;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) cmd = NULL;
  g_autoptr(JsonObject) cmd2 = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;

  fixture_negotiate (f);

  start_execute (f, "qom-get", NULL, NULL, &result);
  cmd = fake_peer_read_command (f->peer);
  fake_peer_writef (f->peer, "{\"return\": {\"a\": [1, {\"value\": %s}]}}\r\n", literal);
  ret = finish_execute (f, &result, &error);
  g_assert_null (ret);
  g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL);
  assert_names_number (error, literal);
  g_assert_nonnull (strstr (error->message, "qom-get"));
  g_clear_error (&error);

  fake_peer_writef (f->peer, "{\"event\": \"BAD\", \"data\": {\"n\": %s}}\r\n", literal);
  fake_peer_write (f->peer, "{\"event\": \"GOOD\"}\r\n", -1);
  TEST_WAIT (f->context, f->events->len == 1);
  g_assert_cmpstr (g_ptr_array_index (f->event_names, 0), ==, "GOOD");
  g_assert_cmpuint (q_qmp_client_get_dropped_events (f->client), ==, 1);

  start_execute (f, "query-status", NULL, NULL, &result);
  cmd2 = fake_peer_read_command (f->peer);
  fake_peer_writef (f->peer, "{\"return\": {\"marker\": \"wrong\"}, \"id\": %s}\r\n", literal);
  /* Not only the first such number decides whether the id is readable. */
  fake_peer_writef (f->peer, "{\"return\": {\"marker\": %s}, \"id\": %s}\r\n", literal, literal);
  fake_peer_write (f->peer, "{\"return\": {\"marker\": \"right\"}}\r\n", -1);
  ret = finish_execute (f, &result, &error);
  g_assert_no_error (error);
  assert_marker (ret, "right");

  fixture_settle (f);
  g_assert_false (q_qmp_client_is_closed (f->client));
  g_assert_cmpuint (f->closed_count, ==, 0);
}

/* json-glib reads minus a hundred digits as 1: a reply whose id is such a
 * number must not be taken for the out-of-band command 1's, even when
 * another unreadable number comes first in it. */
static void
test_unreadable_id_oob (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) cmd = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;

  fixture_negotiate_flags (f, Q_QMP_NEGOTIATE_FLAGS_OOB);
  q_qmp_client_execute_async (f->client, "x-oob", NULL, Q_QMP_EXECUTE_FLAGS_OOB, NULL, NULL,
                              test_store_result_cb, &result);
  cmd = fake_peer_read_command (f->peer);
  g_assert_cmpint (json_object_get_int_member (cmd, "id"), ==, 1);

  fake_peer_writef (f->peer, "{\"return\": {\"n\": 1e400}, \"id\": %s}\r\n",
                    number_digits_100_neg);
  fake_peer_writef (f->peer, "{\"return\": {\"marker\": \"wrong\"}, \"id\": %s}\r\n",
                    number_digits_100_neg);
  fixture_settle (f);
  g_assert_null (result);

  fake_peer_write (f->peer, "{\"return\": {\"marker\": \"right\"}, \"id\": 1}\r\n", -1);
  TEST_WAIT (f->context, result != NULL);
  ret = q_qmp_client_execute_finish (f->client, result, &error);
  g_assert_no_error (error);
  assert_marker (ret, "right");
}

/* The edges of what json-glib holds read exactly. */
static void
test_number_boundaries (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) cmd = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;
  const char *values = "[9223372036854775807, -9223372036854775808, -0, "
                       "1.7976931348623157e308, -1.7976931348623157e308, 1e-400, 5e-324]";
  JsonArray *array;
  JsonObject *event;

  fixture_negotiate (f);
  start_execute (f, "qom-get", NULL, NULL, &result);
  cmd = fake_peer_read_command (f->peer);
  fake_peer_writef (f->peer, "{\"return\": %s}\r\n", values);
  ret = finish_execute (f, &result, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (ret));
  array = json_node_get_array (ret);
  g_assert_cmpint (json_array_get_int_element (array, 0), ==, G_MAXINT64);
  g_assert_cmpint (json_array_get_int_element (array, 1), ==, G_MININT64);
  g_assert_cmpint (json_array_get_int_element (array, 2), ==, 0);
  g_assert_cmpfloat (json_array_get_double_element (array, 3), ==, G_MAXDOUBLE);
  g_assert_cmpfloat (json_array_get_double_element (array, 4), ==, -G_MAXDOUBLE);
  /* Too small for a double: the nearest one. */
  g_assert_cmpfloat (json_array_get_double_element (array, 5), ==, 0.0);
  g_assert_cmpfloat (json_array_get_double_element (array, 6), >, 0.0);

  fake_peer_writef (f->peer, "{\"event\": \"EDGES\", \"data\": {\"n\": %s}}\r\n", values);
  TEST_WAIT (f->context, f->events->len == 1);
  event = g_ptr_array_index (f->events, 0);
  array = json_object_get_array_member (json_object_get_object_member (event, "data"), "n");
  g_assert_cmpint (json_array_get_int_element (array, 0), ==, G_MAXINT64);
  g_assert_cmpint (json_array_get_int_element (array, 1), ==, G_MININT64);
  g_assert_cmpuint (q_qmp_client_get_dropped_events (f->client), ==, 0);
}

/* An event of exactly @nodes JSON values: {"event":"N","data":[0,…]}. */
static void
write_event_with_nodes (FakePeer *peer,
                        gsize     nodes)
{
  GString *s = g_string_new ("{\"event\": \"N\", \"data\": [");

  g_assert_cmpuint (nodes, >=, 4);
  for (gsize i = 0; i < nodes - 3; i++)
    g_string_append (s, i == 0 ? "0" : ",0");
  g_string_append (s, "]}\r\n");
  fake_peer_write (peer, s->str, s->len);
  g_string_free (s, TRUE);
}

/* Values are counted before json-glib parses anything: a message with one
 * more than max-message-nodes is a protocol error, as an oversized one. */
static void
test_node_limit (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) cmd = NULL;
  guint limit = q_qmp_client_get_max_message_nodes (f->client);

  g_assert_cmpuint (limit, ==, Q_QMP_CLIENT_DEFAULT_MAX_MESSAGE_NODES);
  fixture_negotiate (f);
  start_execute (f, "query-qmp-schema", NULL, NULL, &result);
  cmd = fake_peer_read_command (f->peer);

  write_event_with_nodes (f->peer, limit);
  TEST_WAIT (f->context, f->events->len == 1);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
                      g_ptr_array_index (f->events, 0), "data")), ==, limit - 3);

  write_event_with_nodes (f->peer, (gsize)limit + 1);
  fake_peer_reply (f->peer, cmd, "{}");
  assert_closed_with_protocol_error (f, &result);
  g_assert_nonnull (strstr (f->closed_error->message, "JSON values"));
  g_assert_cmpuint (f->events->len, ==, 1);
}

static void
test_node_limit_property (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) cmd = NULL;

  q_qmp_client_set_max_message_nodes (f->client, 40);
  g_assert_cmpuint (q_qmp_client_get_max_message_nodes (f->client), ==, 40);
  fixture_negotiate (f);
  start_execute (f, "query-status", NULL, NULL, &result);
  cmd = fake_peer_read_command (f->peer);
  write_event_with_nodes (f->peer, 40);
  TEST_WAIT (f->context, f->events->len == 1);
  write_event_with_nodes (f->peer, 41);
  fake_peer_reply (f->peer, cmd, "{}");
  assert_closed_with_protocol_error (f, &result);
}

/* Events the owner's context does not dispatch are bounded in bytes too:
 * with a budget of three events, ten leave the last three, though the
 * count stays far below max-queued-events. */
static void
test_event_byte_budget (Fixture       *f,
                        gconstpointer  data)
{
  /* Each event: 998 bytes once its CR LF is off, and 4 JSON values (the
   * object, its name, data, pad), each charged 192 bytes. */
  const guint64 cost = 998 + 4 * 192;
  g_autoptr(GMainContext) side = g_main_context_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) cmd = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;

  g_assert_cmpuint (q_qmp_client_get_max_queued_event_bytes (f->client), ==,
                    Q_QMP_CLIENT_DEFAULT_MAX_QUEUED_EVENT_BYTES);
  q_qmp_client_set_max_queued_event_bytes (f->client, 3 * cost);
  g_assert_cmpuint (q_qmp_client_get_max_queued_event_bytes (f->client), ==, 3 * cost);
  fixture_negotiate (f);

  /* The command's result comes to another context, so that waiting for it
   * dispatches none of the events. */
  g_main_context_push_thread_default (side);
  start_execute (f, "query-status", NULL, NULL, &result);
  g_main_context_pop_thread_default (side);
  cmd = fake_peer_read_command (f->peer);
  for (guint i = 0; i < 10; i++)
    {
      g_autofree char *name = g_strdup_printf ("E%u", i);
      g_autofree char *line = make_event_line (name, 1000, TRUE);

      fake_peer_write (f->peer, line, -1);
    }
  fake_peer_reply (f->peer, cmd, "{}");
  TEST_WAIT (side, result != NULL);
  ret = q_qmp_client_execute_finish (f->client, result, &error);
  g_assert_no_error (error);

  /* The reply came after the ten events: all are queued or dropped. */
  g_assert_cmpuint (f->events->len, ==, 0);
  g_assert_cmpuint (q_qmp_client_get_dropped_events (f->client), ==, 7);
  g_assert_cmpuint (q_qmp_client_get_max_queued_events (f->client), >, 10);
  TEST_WAIT (f->context, f->events->len == 3);
  fixture_settle (f);
  g_assert_cmpuint (f->events->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (f->event_names, 0), ==, "E7");
  g_assert_cmpstr (g_ptr_array_index (f->event_names, 1), ==, "E8");
  g_assert_cmpstr (g_ptr_array_index (f->event_names, 2), ==, "E9");
}

/* ------------------------------------------------------------------------ */
/* Closing                                                                  */

#define N_FLUSH 32
#define FLUSH_PAD (64 * 1024)

static void
test_close_flushes (Fixture       *f,
                    gconstpointer  data)
{
  GAsyncResult *results[N_FLUSH + 1] = { NULL, };
  g_autoptr(GAsyncResult) close_result = NULL;
  g_autoptr(GAsyncResult) later = NULL;
  g_autoptr(JsonObject) quit = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;
  g_autofree char *pad = g_strnfill (FLUSH_PAD, 'x');

  fixture_negotiate (f);

  /* 2 MiB of commands, far more than the socket buffer holds, so most of
   * it is still queued in the client when close is asked for; quit last. */
  for (guint i = 0; i < N_FLUSH; i++)
    {
      g_autofree char *args = g_strdup_printf ("{\"marker\": \"f%u\", \"pad\": \"%s\"}", i, pad);
      start_execute (f, "echo", args, NULL, &results[i]);
    }
  start_execute (f, "quit", NULL, NULL, &results[N_FLUSH]);
  q_qmp_client_close_async (f->client, NULL, test_store_result_cb, &close_result);

  /* All of it reaches the peer, in order, then the connection ends. */
  for (guint i = 0; i < N_FLUSH; i++)
    {
      g_autoptr(JsonObject) cmd = fake_peer_read_command (f->peer);
      g_autofree char *expected = g_strdup_printf ("f%u", i);

      g_assert_nonnull (cmd);
      g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (cmd, "arguments"),
                                                      "marker"), ==, expected);
    }
  quit = fake_peer_read_command (f->peer);
  g_assert_nonnull (quit);
  g_assert_cmpstr (test_command_name (quit), ==, "quit");
  fake_peer_expect_eof (f->peer);

  TEST_WAIT (f->context, close_result != NULL);
  g_assert_true (q_qmp_client_close_finish (f->client, close_result, &error));
  g_assert_no_error (error);

  /* Nothing was answered: every command fails as closed by us. */
  for (guint i = 0; i <= N_FLUSH; i++)
    {
      g_autoptr(JsonNode) r = finish_execute (f, &results[i], &error);

      g_assert_null (r);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
      g_clear_error (&error);
    }

  TEST_WAIT (f->context, f->closed_count == 1);
  g_assert_no_error (f->closed_error);
  g_assert_true (q_qmp_client_is_closed (f->client));

  start_execute (f, "query-status", NULL, NULL, &later);
  ret = finish_execute (f, &later, &error);
  g_assert_null (ret);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);

  /* Closing again succeeds. */
  g_assert_true (q_qmp_client_close (f->client, NULL, NULL));
}

/* A command held back (here an fd-bearing one behind an unanswered
 * fd-bearing one) must not make close wait for the peer to answer. */
static void
test_close_with_held_command (Fixture       *f,
                              gconstpointer  data)
{
  g_autoptr(GUnixFDList) fds1 = g_unix_fd_list_new ();
  g_autoptr(GUnixFDList) fds2 = g_unix_fd_list_new ();
  g_autoptr(GAsyncResult) result1 = NULL;
  g_autoptr(GAsyncResult) result2 = NULL;
  g_autoptr(GAsyncResult) close_result = NULL;
  g_autoptr(JsonObject) args1 = test_json_object ("{\"fdname\": \"one\"}");
  g_autoptr(JsonObject) args2 = test_json_object ("{\"fdname\": \"two\"}");
  g_autoptr(GArray) received = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret1 = NULL;
  g_autoptr(JsonNode) ret2 = NULL;

  fixture_negotiate (f);

  g_unix_fd_list_append (fds1, 0, &error);
  g_assert_no_error (error);
  g_unix_fd_list_append (fds2, 0, &error);
  g_assert_no_error (error);
  q_qmp_client_execute_async (f->client, "getfd", args1, Q_QMP_EXECUTE_FLAGS_NONE, fds1,
                              NULL, test_store_result_cb, &result1);
  q_qmp_client_execute_async (f->client, "getfd", args2, Q_QMP_EXECUTE_FLAGS_NONE, fds2,
                              NULL, test_store_result_cb, &result2);
  bytes = fake_peer_recv_with_fds (f->peer, received);
  for (guint i = 0; i < received->len; i++)
    close (g_array_index (received, int, i));

  /* The peer never answers. */
  q_qmp_client_close_async (f->client, NULL, test_store_result_cb, &close_result);
  TEST_WAIT (f->context, close_result != NULL);
  g_assert_true (q_qmp_client_close_finish (f->client, close_result, &error));
  g_assert_no_error (error);

  ret1 = finish_execute (f, &result1, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&error);
  ret2 = finish_execute (f, &result2, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);

  TEST_WAIT (f->context, f->closed_count == 1);
  g_assert_no_error (f->closed_error);
}

/* ------------------------------------------------------------------------ */
/* OOB flow control                                                         */

#define N_INBAND 10
#define MAX_INBAND 7

static void
test_oob_inband_limit (Fixture       *f,
                       gconstpointer  data)
{
  GAsyncResult *results[N_INBAND] = { NULL, };
  JsonObject *cmds[N_INBAND] = { NULL, };

  fixture_negotiate_flags (f, Q_QMP_NEGOTIATE_FLAGS_OOB);

  for (guint i = 0; i < N_INBAND; i++)
    {
      g_autofree char *args = g_strdup_printf ("{\"marker\": \"in-%u\"}", i);
      start_execute (f, "echo", args, NULL, &results[i]);
    }

  /* With OOB on, at most 7 in-band commands are in flight (QEMU stops
   * reading its monitor at 8, and an OOB command must get through). */
  for (guint i = 0; i < MAX_INBAND; i++)
    cmds[i] = fake_peer_read_command (f->peer);
  fixture_settle (f);
  fake_peer_expect_nothing (f->peer);

  /* Each reply lets one more through. */
  for (guint i = 0; i < N_INBAND; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) ret = NULL;
      g_autofree char *reply = format_echo_reply (cmds[i]);
      g_autofree char *expected = g_strdup_printf ("in-%u", i);

      fake_peer_write (f->peer, reply, -1);
      if (i + MAX_INBAND < N_INBAND)
        cmds[i + MAX_INBAND] = fake_peer_read_command (f->peer);
      ret = finish_execute (f, &results[i], &error);
      g_assert_no_error (error);
      assert_marker (ret, expected);
      json_object_unref (cmds[i]);
    }
}

static void
test_oob_not_held_behind_inband (Fixture       *f,
                                 gconstpointer  data)
{
  GAsyncResult *results[MAX_INBAND + 1] = { NULL, };
  JsonObject *cmds[MAX_INBAND + 1] = { NULL, };
  g_autoptr(GAsyncResult) oob_result = NULL;
  g_autoptr(JsonObject) oob_cmd = NULL;
  g_autoptr(JsonObject) oob_args = test_json_object ("{\"marker\": \"oob\"}");
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) oob_ret = NULL;

  fixture_negotiate_flags (f, Q_QMP_NEGOTIATE_FLAGS_OOB);

  /* 8 in flight, a 9th held back by the limit... */
  for (guint i = 0; i <= MAX_INBAND; i++)
    {
      g_autofree char *args = g_strdup_printf ("{\"marker\": \"in-%u\"}", i);
      start_execute (f, "echo", args, NULL, &results[i]);
    }
  for (guint i = 0; i < MAX_INBAND; i++)
    cmds[i] = fake_peer_read_command (f->peer);

  /* ...must not hold back an out-of-band command: getting one through
   * while in-band commands are stuck is what OOB and the limit are for. */
  q_qmp_client_execute_async (f->client, "echo", oob_args, Q_QMP_EXECUTE_FLAGS_OOB, NULL,
                              NULL, test_store_result_cb, &oob_result);
  fixture_settle (f);
  fake_peer_drain_available (f->peer);
  g_assert_true (fake_peer_has_line (f->peer));
  oob_cmd = fake_peer_read_command (f->peer);
  g_assert_cmpstr (json_object_get_string_member (oob_cmd, "exec-oob"), ==, "echo");
  write_take (f->peer, format_echo_reply (oob_cmd));
  oob_ret = finish_execute (f, &oob_result, &error);
  g_assert_no_error (error);
  assert_marker (oob_ret, "oob");

  for (guint i = 0; i <= MAX_INBAND; i++)
    {
      g_autoptr(JsonNode) ret = NULL;
      g_autofree char *expected = g_strdup_printf ("in-%u", i);

      write_take (f->peer, format_echo_reply (cmds[i]));
      if (i == 0)
        cmds[MAX_INBAND] = fake_peer_read_command (f->peer);
      ret = finish_execute (f, &results[i], &error);
      g_assert_no_error (error);
      assert_marker (ret, expected);
      json_object_unref (cmds[i]);
    }
}

/* ------------------------------------------------------------------------ */
/* Private API used by QMachine                                             */

typedef struct
{
  GMutex      mutex;
  guint       events;
  char       *last_event;
  gboolean    event_on_worker;
  guint       closed;
  GError     *closed_error;
  gboolean    closed_on_worker;
} Hooks;

static void
event_hook (JsonObject *event,
            gsize       cost,
            gpointer    user_data)
{
  Hooks *h = user_data;

  g_mutex_lock (&h->mutex);
  h->events++;
  g_free (h->last_event);
  h->last_event = g_strdup (json_object_get_string_member (event, "event"));
  h->event_on_worker = q_worker_is_current ();
  g_mutex_unlock (&h->mutex);
}

static void
closed_hook (const GError *error,
             gpointer      user_data)
{
  Hooks *h = user_data;

  g_mutex_lock (&h->mutex);
  h->closed++;
  g_clear_error (&h->closed_error);
  h->closed_error = error ? g_error_copy (error) : NULL;
  h->closed_on_worker = q_worker_is_current ();
  g_mutex_unlock (&h->mutex);
}

/* The hooks belong to the worker thread: set them there. */
typedef struct
{
  QQmpClient *client;
  Hooks      *hooks;
  gboolean    done;
} SetHooks;

static gboolean
set_hooks_on_worker (gpointer data)
{
  SetHooks *sh = data;

  q_qmp_client_set_hooks (sh->client, event_hook, closed_hook, sh->hooks, NULL);
  g_atomic_int_set (&sh->done, TRUE);
  return G_SOURCE_REMOVE;
}

static void
test_hooks_and_fail (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) cmd = NULL;
  g_autoptr(GError) fail = g_error_new_literal (Q_MACHINE_ERROR, Q_MACHINE_ERROR_ABNORMAL_SHUTDOWN,
                                                "QEMU went away");
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;
  Hooks h = { 0, };

  g_mutex_init (&h.mutex);
  {
    SetHooks sh = { f->client, &h, FALSE };

    q_worker_schedule (set_hooks_on_worker, &sh, NULL);
    while (!g_atomic_int_get (&sh.done))
      g_thread_yield ();
  }
  fixture_negotiate (f);

  /* The event hook runs on the worker, before the signal is emitted. */
  fake_peer_write (f->peer,
                   "{\"event\": \"HOOKED\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 0}}\r\n", -1);
  TEST_WAIT (f->context, f->events->len == 1);
  g_mutex_lock (&h.mutex);
  g_assert_cmpuint (h.events, ==, 1);
  g_assert_cmpstr (h.last_event, ==, "HOOKED");
  g_assert_true (h.event_on_worker);
  g_mutex_unlock (&h.mutex);

  /* q_qmp_client_fail closes with the given error, failing what waits. */
  start_execute (f, "query-status", NULL, NULL, &result);
  cmd = fake_peer_read_command (f->peer);
  q_qmp_client_fail (f->client, fail);

  ret = finish_execute (f, &result, &error);
  g_assert_null (ret);
  g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_ABNORMAL_SHUTDOWN);
  TEST_WAIT (f->context, f->closed_count == 1);
  g_assert_error (f->closed_error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_ABNORMAL_SHUTDOWN);
  fake_peer_expect_eof (f->peer);

  g_mutex_lock (&h.mutex);
  g_assert_cmpuint (h.closed, ==, 1);
  g_assert_error (h.closed_error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_ABNORMAL_SHUTDOWN);
  g_assert_true (h.closed_on_worker);
  g_mutex_unlock (&h.mutex);

  g_free (h.last_event);
  g_clear_error (&h.closed_error);
  g_mutex_clear (&h.mutex);
}

/* ------------------------------------------------------------------------ */
/* Sync calls                                                               */

/* The peer side for the sync tests, in a thread of its own since the test
 * thread blocks in the call: negotiate, then answer one echo command with
 * an event sent just before the reply. */
static gpointer
sync_peer_thread (gpointer data)
{
  FakePeer *peer = data;
  g_autoptr(JsonObject) caps = NULL;
  g_autoptr(JsonObject) cmd = NULL;
  g_autoptr(JsonObject) raw_cmd = NULL;
  g_autofree char *reply = NULL;

  caps = fake_peer_negotiate (peer, "[]");

  cmd = fake_peer_read_command (peer);
  g_assert_nonnull (cmd);
  g_assert_cmpstr (test_command_name (cmd), ==, "echo");
  reply = format_echo_reply (cmd);
  fake_peer_write (peer,
                   "{\"event\": \"DURING_SYNC\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 0}}\r\n",
                   -1);
  fake_peer_write (peer, reply, -1);

  raw_cmd = fake_peer_read_command (peer);
  if (raw_cmd != NULL)
    fake_peer_reply_error (peer, raw_cmd, "GenericError", "raw error");

  return NULL;
}

typedef struct
{
  Fixture   *f;
  GMainLoop *loop;
  gboolean   sync_returned;
  gboolean   unrelated_ran;
} SyncInLoop;

static gboolean
unrelated_idle_cb (gpointer data)
{
  SyncInLoop *s = data;

  /* Must only run after the sync call returned. */
  g_assert_true (s->sync_returned);
  s->unrelated_ran = TRUE;
  g_main_loop_quit (s->loop);

  return G_SOURCE_REMOVE;
}

static gboolean
sync_call_in_loop_cb (gpointer data)
{
  SyncInLoop *s = data;
  g_autoptr(JsonObject) arguments = test_json_object ("{\"marker\": \"in-loop\"}");
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;

  g_assert_true (g_main_loop_is_running (s->loop));
  g_idle_add (unrelated_idle_cb, s);

  ret = q_qmp_client_execute (s->f->client, "echo", arguments, Q_QMP_EXECUTE_FLAGS_NONE,
                              NULL, NULL, &error);
  g_assert_no_error (error);
  assert_marker (ret, "in-loop");

  /* Neither the unrelated idle nor our own event signal was dispatched
   * while the call waited. */
  g_assert_false (s->unrelated_ran);
  g_assert_cmpuint (s->f->events->len, ==, 0);
  s->sync_returned = TRUE;

  return G_SOURCE_REMOVE;
}

static gboolean
loop_deadline_cb (gpointer data)
{
  g_error ("Timed out in the main loop of the sync-call test");
  return G_SOURCE_REMOVE;
}

static void
test_sync_in_running_loop (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  SyncInLoop s = { f, NULL, FALSE, FALSE };
  GThread *peer_thread;
  guint deadline;

  g_assert_true (f->context == g_main_context_default ());
  peer_thread = g_thread_new ("fake-peer", sync_peer_thread, f->peer);

  g_assert_true (q_qmp_client_negotiate (f->client, Q_QMP_NEGOTIATE_FLAGS_NONE, NULL, &error));
  g_assert_no_error (error);

  s.loop = g_main_loop_new (NULL, FALSE);
  g_idle_add (sync_call_in_loop_cb, &s);
  deadline = g_timeout_add (test_timeout_ms (), loop_deadline_cb, NULL);
  g_main_loop_run (s.loop);
  g_source_remove (deadline);

  g_assert_true (s.sync_returned);
  g_assert_true (s.unrelated_ran);

  /* The event is delivered later, by the application's own loop. */
  TEST_WAIT (f->context, f->events->len == 1);
  g_assert_cmpstr (g_ptr_array_index (f->event_names, 0), ==, "DURING_SYNC");

  g_assert_true (q_qmp_client_close (f->client, NULL, &error));
  g_assert_no_error (error);
  g_thread_join (peer_thread);
  g_main_loop_unref (s.loop);
}

static void
test_sync_without_loop (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(JsonObject) arguments = test_json_object ("{\"marker\": \"no-loop\"}");
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;
  g_autoptr(JsonObject) raw = NULL;
  GThread *peer_thread;

  peer_thread = g_thread_new ("fake-peer", sync_peer_thread, f->peer);

  /* No main loop runs anywhere in this thread. */
  g_assert_true (q_qmp_client_negotiate (f->client, Q_QMP_NEGOTIATE_FLAGS_NONE, NULL, &error));
  g_assert_no_error (error);
  g_assert_nonnull (q_qmp_client_get_greeting (f->client));

  ret = q_qmp_client_execute (f->client, "echo", arguments, Q_QMP_EXECUTE_FLAGS_NONE,
                              NULL, NULL, &error);
  g_assert_no_error (error);
  assert_marker (ret, "no-loop");

  raw = q_qmp_client_execute_raw (f->client, "raw", NULL, Q_QMP_EXECUTE_FLAGS_NONE,
                                  NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (raw, "error"),
                                                  "desc"), ==, "raw error");

  g_assert_true (q_qmp_client_close (f->client, NULL, &error));
  g_assert_no_error (error);
  g_thread_join (peer_thread);
}

/* ------------------------------------------------------------------------ */
/* Commands the caller's thread writes (direct writes)                      */

#define N_AFTER_BIG 10

/* A command too big for the socket buffer is begun by the caller's thread
 * and finished by the worker; the commands behind it wait their turn, so
 * the peer reads whole lines in the order they were issued. */
static void
test_direct_short_write (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(JsonObject) args = json_object_new ();
  g_autofree char *big = g_strnfill (2 * 1024 * 1024, 'b');
  GAsyncResult *results[N_AFTER_BIG + 1] = { NULL };
  g_autoptr(GString) replies = g_string_new (NULL);

  fixture_negotiate (f);

  json_object_set_string_member (args, "marker", big);
  q_qmp_client_execute_async (f->client, "echo", args, Q_QMP_EXECUTE_FLAGS_NONE, NULL, NULL,
                              test_store_result_cb, &results[0]);
  for (guint i = 0; i < N_AFTER_BIG; i++)
    {
      g_autofree char *small = g_strdup_printf ("{\"marker\": \"after-%u\"}", i);
      start_execute (f, "echo", small, NULL, &results[i + 1]);
    }

  for (guint i = 0; i <= N_AFTER_BIG; i++)
    {
      g_autoptr(JsonObject) cmd = fake_peer_read_command (f->peer);
      JsonObject *a;
      g_autofree char *expected = i == 0 ? g_strdup (big) : g_strdup_printf ("after-%u", i - 1);

      g_assert_nonnull (cmd);
      a = json_object_get_object_member (cmd, "arguments");
      g_assert_cmpstr (json_object_get_string_member (a, "marker"), ==, expected);
      if (i > 0)
        g_string_append_printf (replies, "{\"return\": {\"marker\": \"after-%u\"}}\r\n", i - 1);
      else
        g_string_append (replies, "{\"return\": {\"marker\": \"big\"}}\r\n");
    }
  fake_peer_expect_nothing (f->peer);
  fake_peer_write (f->peer, replies->str, replies->len);

  for (guint i = 0; i <= N_AFTER_BIG; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) ret = NULL;
      g_autofree char *expected = i == 0 ? g_strdup ("big") : g_strdup_printf ("after-%u", i - 1);

      ret = finish_execute (f, &results[i], &error);
      g_assert_no_error (error);
      assert_marker (ret, expected);
    }
}

/* A plain command issued after an fd-bearing one (which the worker sends)
 * does not overtake it. */
static void
test_direct_after_fd_command (Fixture       *f,
                              gconstpointer  data)
{
  g_autoptr(GAsyncResult) fd_result = NULL;
  g_autoptr(GAsyncResult) plain_result = NULL;
  g_autoptr(JsonObject) fd_cmd = NULL;
  g_autoptr(JsonObject) plain_cmd = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;
  TempFile t;

  temp_file_init (&t, "ordered\n");
  fixture_negotiate (f);

  start_getfd (f, &t, "ordered", &fd_result);
  start_execute (f, "echo", "{\"marker\": \"second\"}", NULL, &plain_result);

  fd_cmd = receive_fd_command (f->peer, &t);
  g_assert_cmpstr (test_command_name (fd_cmd), ==, "getfd");
  plain_cmd = fake_peer_read_command (f->peer);
  g_assert_cmpstr (test_command_name (plain_cmd), ==, "echo");
  fake_peer_reply (f->peer, fd_cmd, "{}");
  write_take (f->peer, format_echo_reply (plain_cmd));

  ret = finish_execute (f, &fd_result, &error);
  g_assert_no_error (error);
  g_clear_pointer (&ret, json_node_unref);
  ret = finish_execute (f, &plain_result, &error);
  g_assert_no_error (error);
  assert_marker (ret, "second");

  temp_file_clear (&t);
}

/* A socket connection whose streams are not the socket's own (what
 * GSocketClient returns for TLS): every byte goes through its streams,
 * none straight into the socket. */
static void
test_direct_not_around_wrapper (Fixture       *f,
                                gconstpointer  data)
{
  GSocket *socket;
  g_autoptr(GOutputStream) counting = NULL;
  g_autoptr(GIOStream) base = NULL;
  g_autoptr(GSocketConnection) wrapper = NULL;
  gsize received = 0;

  /* GTcpWrapperConnection wants a TCP socket. */
  g_clear_pointer (&f->peer, fake_peer_free);
  g_clear_object (&f->connection);
  f->peer = fake_peer_new_tcp (&f->connection);
  socket = g_socket_connection_get_socket (f->connection);
  counting =
    g_object_new (TYPE_COUNTING_OUTPUT_STREAM,
                  "base-stream", g_io_stream_get_output_stream (G_IO_STREAM (f->connection)),
                  "close-base-stream", FALSE, NULL);
  base = g_simple_io_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (f->connection)),
                                 counting);
  wrapper = g_tcp_wrapper_connection_new (base, socket);

  fixture_attach_client (f, G_IO_STREAM (wrapper));
  fixture_negotiate (f);
  received += strlen ("{\"execute\":\"qmp_capabilities\"}\n");

  for (guint i = 0; i < 5; i++)
    {
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) ret = NULL;
      g_autoptr(JsonObject) cmd = NULL;
      g_autofree char *args = g_strdup_printf ("{\"marker\": \"wrapped-%u\"}", i);
      g_autofree char *line = NULL;

      start_execute (f, "echo", args, NULL, &result);
      line = fake_peer_read_line (f->peer);
      g_assert_nonnull (line);
      received += strlen (line) + 1;
      cmd = test_json_object (line);
      write_take (f->peer, format_echo_reply (cmd));
      ret = finish_execute (f, &result, &error);
      g_assert_no_error (error);
      g_assert_nonnull (ret);
    }

  g_assert_cmpuint (g_atomic_pointer_get (&COUNTING_OUTPUT_STREAM (counting)->bytes), ==, received);
}

#define N_CALLER_THREADS 4
#define N_CALLS_PER_THREAD 150

typedef struct
{
  QQmpClient *client;
  guint       index;
  guint       wrong;        /* replies that were not this call's */
} CallerThread;

static gpointer
caller_thread (gpointer data)
{
  CallerThread *c = data;

  for (guint i = 0; i < N_CALLS_PER_THREAD; i++)
    {
      g_autofree char *marker = g_strdup_printf ("t%u-%u", c->index, i);
      g_autoptr(JsonObject) arguments = json_object_new ();
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) ret = NULL;

      json_object_set_string_member (arguments, "marker", marker);
      ret = q_qmp_client_execute (c->client, "echo", arguments,
                                  Q_QMP_EXECUTE_FLAGS_NONE, NULL, NULL, &error);
      if (ret == NULL || !JSON_NODE_HOLDS_OBJECT (ret) ||
          g_strcmp0 (json_object_get_string_member (json_node_get_object (ret), "marker"),
                     marker) != 0)
        c->wrong++;
    }

  return NULL;
}

typedef struct
{
  FakePeer *peer;
  guint     out_of_order;   /* a thread's calls seen out of their order */
} EchoPeer;

/* Answers every command in the order it came, as QEMU does. */
static gpointer
echo_peer_thread (gpointer data)
{
  EchoPeer *e = data;
  int last[N_CALLER_THREADS];

  for (guint t = 0; t < N_CALLER_THREADS; t++)
    last[t] = -1;

  for (guint n = 0; n < N_CALLER_THREADS * N_CALLS_PER_THREAD; n++)
    {
      g_autoptr(JsonObject) cmd = fake_peer_read_command (e->peer);
      const char *marker;
      guint t, i;

      g_assert_nonnull (cmd);
      marker = json_object_get_string_member (json_object_get_object_member (cmd, "arguments"),
                                              "marker");
      g_assert_cmpint (sscanf (marker, "t%u-%u", &t, &i), ==, 2);
      g_assert_cmpuint (t, <, N_CALLER_THREADS);
      if ((int)i != last[t] + 1)
        e->out_of_order++;
      last[t] = i;
      write_take (e->peer, format_echo_reply (cmd));
    }

  return NULL;
}

/* Blocking calls from several threads at once: each gets its own reply,
 * and each thread's commands reach the peer in the order it made them. */
static void
test_direct_threads (Fixture       *f,
                     gconstpointer  data)
{
  CallerThread callers[N_CALLER_THREADS];
  GThread *threads[N_CALLER_THREADS];
  EchoPeer echo = { f->peer, 0 };
  GThread *peer_thread;

  fixture_negotiate (f);
  peer_thread = g_thread_new ("echo-peer", echo_peer_thread, &echo);

  for (guint t = 0; t < N_CALLER_THREADS; t++)
    {
      callers[t] = (CallerThread) { f->client, t, 0 };
      threads[t] = g_thread_new ("caller", caller_thread, &callers[t]);
    }
  for (guint t = 0; t < N_CALLER_THREADS; t++)
    {
      g_thread_join (threads[t]);
      g_assert_cmpuint (callers[t].wrong, ==, 0);
    }
  g_thread_join (peer_thread);
  g_assert_cmpuint (echo.out_of_order, ==, 0);
}

/* ------------------------------------------------------------------------ */

#define ADD(path, func, mode) \
  g_test_add ("/qmachine/qmp/" path, Fixture, GINT_TO_POINTER (mode), \
              fixture_setup, func, fixture_teardown)

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  ADD ("negotiate", test_negotiate, FIXTURE_PRIVATE_CONTEXT);
  ADD ("negotiate/oob", test_negotiate_oob, FIXTURE_PRIVATE_CONTEXT);
  ADD ("negotiate/oob-not-offered", test_negotiate_oob_not_offered, FIXTURE_PRIVATE_CONTEXT);
  ADD ("negotiate/events-before-greeting", test_events_before_greeting, FIXTURE_PRIVATE_CONTEXT);
  ADD ("negotiate/eof-before-greeting", test_eof_before_greeting, FIXTURE_PRIVATE_CONTEXT);
  ADD ("negotiate/cancel", test_negotiate_cancel, FIXTURE_PRIVATE_CONTEXT);

  ADD ("framing/split-reads", test_split_reads, FIXTURE_NO_CLIENT);
  ADD ("framing/coalesced", test_coalesced_messages, FIXTURE_PRIVATE_CONTEXT);
  ADD ("protocol/malformed-json", test_malformed_json, FIXTURE_PRIVATE_CONTEXT);
  g_test_add ("/qmachine/qmp/protocol/not-an-object/array", Fixture, "[1, 2]",
              fixture_setup_private, test_not_an_object, fixture_teardown);
  g_test_add ("/qmachine/qmp/protocol/not-an-object/number", Fixture, "42",
              fixture_setup_private, test_not_an_object, fixture_teardown);
  g_test_add ("/qmachine/qmp/protocol/not-an-object/string", Fixture, "\"hello\"",
              fixture_setup_private, test_not_an_object, fixture_teardown);
  g_test_add ("/qmachine/qmp/protocol/oversized/no-newline", Fixture, GINT_TO_POINTER (FALSE),
              fixture_setup_private, test_oversized_message, fixture_teardown);
  g_test_add ("/qmachine/qmp/protocol/oversized/line", Fixture, GINT_TO_POINTER (TRUE),
              fixture_setup_private, test_oversized_message, fixture_teardown);
  g_test_add ("/qmachine/qmp/protocol/deep-nesting/unclosed", Fixture, &nesting_unclosed,
              fixture_setup_private, test_deep_nesting, fixture_teardown);
  g_test_add ("/qmachine/qmp/protocol/deep-nesting/well-formed", Fixture, &nesting_valid,
              fixture_setup_private, test_deep_nesting, fixture_teardown);
  g_test_add ("/qmachine/qmp/protocol/deep-nesting/just-over", Fixture, &nesting_just_over,
              fixture_setup_private, test_deep_nesting, fixture_teardown);
  for (guint i = 0; i < G_N_ELEMENTS (hostile_lines); i++)
    {
      g_autofree char *path = g_strdup_printf ("/qmachine/qmp/protocol/strict/%s", hostile_lines[i].name);
      g_test_add (path, Fixture, &hostile_lines[i], fixture_setup_private, test_hostile_line,
                  fixture_teardown);
    }
  ADD ("routing/bare-reply", test_bare_reply, FIXTURE_PRIVATE_CONTEXT);
  ADD ("routing/deadline", test_deadline, FIXTURE_PRIVATE_CONTEXT);
  ADD ("log/traffic-redacted", test_traffic_log, FIXTURE_PRIVATE_CONTEXT);
  ADD ("protocol/oversized/100mb-line", test_huge_line, FIXTURE_PRIVATE_CONTEXT);
  ADD ("routing/peer-stops-reading", test_peer_stops_reading, FIXTURE_PRIVATE_CONTEXT);
  ADD ("framing/eof-mid-line", test_eof_mid_line, FIXTURE_PRIVATE_CONTEXT);
  g_test_add ("/qmachine/qmp/protocol/deep-nesting/huge", Fixture, &nesting_huge,
              fixture_setup_private, test_deep_nesting, fixture_teardown);

  ADD ("routing/idless-error", test_idless_error, FIXTURE_PRIVATE_CONTEXT);
  ADD ("routing/reply-after-cancel", test_reply_after_cancel, FIXTURE_PRIVATE_CONTEXT);
  ADD ("routing/unknown-id", test_unknown_id, FIXTURE_PRIVATE_CONTEXT);
  ADD ("routing/eof-with-pending", test_eof_with_pending, FIXTURE_PRIVATE_CONTEXT);
  ADD ("routing/pipelined", test_pipelined, FIXTURE_PRIVATE_CONTEXT);
  ADD ("direct/short-write", test_direct_short_write, FIXTURE_PRIVATE_CONTEXT);
  ADD ("direct/after-fd-command", test_direct_after_fd_command, FIXTURE_PRIVATE_CONTEXT);
  ADD ("direct/threads", test_direct_threads, FIXTURE_PRIVATE_CONTEXT);
  ADD ("direct/not-around-wrapper", test_direct_not_around_wrapper, FIXTURE_NO_CLIENT);

  ADD ("errors/classes", test_error_classes, FIXTURE_PRIVATE_CONTEXT);
  ADD ("errors/execute-raw", test_execute_raw, FIXTURE_PRIVATE_CONTEXT);

  ADD ("fds/passing", test_fd_passing, FIXTURE_PRIVATE_CONTEXT);
  ADD ("fds/send-when-full", test_fd_send_when_full, FIXTURE_PRIVATE_CONTEXT);
  ADD ("fds/not-pipelined", test_fd_not_pipelined, FIXTURE_PRIVATE_CONTEXT);
  ADD ("fds/need-socket", test_fds_need_socket, FIXTURE_NO_CLIENT);

  ADD ("events/detail", test_event_detail, FIXTURE_PRIVATE_CONTEXT);
  ADD ("events/byte-budget", test_event_byte_budget, FIXTURE_PRIVATE_CONTEXT);

  number_digits_100 = g_strnfill (100, '7');
  number_digits_100_neg = g_strconcat ("-", number_digits_100, NULL);
  {
    static const struct { const char *name; const char **literal; } numbers[] = {
      { "100-digits", (const char **)&number_digits_100 },
      { "minus-100-digits", (const char **)&number_digits_100_neg },
      { "2-63", &number_2_63 },
      { "minus-2-63-minus-1", &number_minus_2_63_minus_1 },
      { "uint64-max", &number_uint64_max },
      { "1e400", &number_1e400 },
      { "minus-1e400", &number_minus_1e400 },
    };

    for (guint i = 0; i < G_N_ELEMENTS (numbers); i++)
      {
        g_autofree char *path = g_strdup_printf ("/qmachine/qmp/numbers/unreadable/%s",
                                                 numbers[i].name);
        g_test_add (path, Fixture, numbers[i].literal, fixture_setup_private,
                    test_unreadable_number, fixture_teardown);
      }
  }
  ADD ("numbers/boundaries", test_number_boundaries, FIXTURE_PRIVATE_CONTEXT);
  ADD ("numbers/unreadable-id-oob", test_unreadable_id_oob, FIXTURE_PRIVATE_CONTEXT);
  ADD ("protocol/node-limit/default", test_node_limit, FIXTURE_PRIVATE_CONTEXT);
  ADD ("protocol/node-limit/property", test_node_limit_property, FIXTURE_PRIVATE_CONTEXT);

  ADD ("close/flushes", test_close_flushes, FIXTURE_PRIVATE_CONTEXT);

  ADD ("oob/inband-limit", test_oob_inband_limit, FIXTURE_PRIVATE_CONTEXT);

  ADD ("private/hooks-and-fail", test_hooks_and_fail, FIXTURE_PRIVATE_CONTEXT);

  ADD ("sync/in-running-loop", test_sync_in_running_loop, FIXTURE_DEFAULT_CONTEXT);
  ADD ("sync/without-loop", test_sync_without_loop, FIXTURE_PRIVATE_CONTEXT);

  /* Last: these fail with the client as it is (see the tests), and a
   * failing assertion ends the run. */
  ADD ("close-held/does-not-wait-for-replies", test_close_with_held_command, FIXTURE_PRIVATE_CONTEXT);
  ADD ("oob-priority/not-held-behind-inband", test_oob_not_held_behind_inband, FIXTURE_PRIVATE_CONTEXT);

  {
    int ret = g_test_run ();

    g_free (number_digits_100);
    g_free (number_digits_100_neg);
    return ret;
  }
}
