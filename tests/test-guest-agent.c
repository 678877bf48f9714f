/* test-guest-agent.c: QGuestAgent against a scripted agent (protocol faults
 * qemu-ga does not make on demand) and against the real qemu-ga in the
 * test guest (when QMACHINE_GUEST_KERNEL is set).
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "qmachine.h"
#include "machine-test-util.h"

/* ------------------------------------------------------------------------ */
/* A scripted agent on a thread, over a socketpair                          */

typedef enum
{
  FAKE_NORMAL,
  FAKE_GARBAGE,        /* garbage lines, stale sync replies, a broken line cut by 0xFF */
  FAKE_SILENT_FIRST,   /* the first guest-ping gets its reply only after the next sync */
  FAKE_HUGE,           /* a line over the size limit before each ping's reply */
  FAKE_HANG,           /* never answers reads and shutdowns; a reply past the limit */
} FakeMode;

typedef struct
{
  int       fd;
  FakeMode  mode;
  GThread  *thread;
  int       syncs;      /* atomic */
  int       pings;      /* atomic */
  int       reads;      /* atomic */
  int       closes;     /* atomic */
  int       shutdowns;  /* atomic */
  gboolean  owe_reply;
  /* Set before the command that uses them is sent: */
  const char * const *script;   /* guest-file-read replies in turn, the last repeated */
  guint     next;               /* the fake's */
  const char *exec_status;      /* the guest-exec-status reply, or a huge line */
  gboolean  short_write;        /* guest-file-write says a byte less was written */
} Fake;

static void
fake_write (Fake *fake, const char *text, gsize len)
{
  while (len > 0)
    {
      gssize n = write (fake->fd, text, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return;
      text += n;
      len -= n;
    }
}

#define fake_say(fake, s) fake_write ((fake), (s), strlen (s))

/* Returns FALSE to hang up. */
static gboolean
fake_handle (Fake *fake, const char *line)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *msg, *args;
  const char *command;

  if (!json_parser_load_from_data (parser, line, -1, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      fake_say (fake, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"bad JSON\"}}\n");
      return TRUE;
    }
  msg = json_node_get_object (json_parser_get_root (parser));
  command = json_object_get_string_member_with_default (msg, "execute", "");
  args = json_object_has_member (msg, "arguments") ? json_object_get_object_member (msg, "arguments") : NULL;

  if (g_str_equal (command, "guest-sync-delimited"))
    {
      g_autofree char *reply = NULL;

      g_atomic_int_inc (&fake->syncs);
      if (fake->owe_reply)
        {
          /* The reply to the ping that was not answered in time. */
          fake_say (fake, "{\"return\": {}}\n");
          fake->owe_reply = FALSE;
        }
      if (fake->mode == FAKE_GARBAGE)
        fake_say (fake, "}{ garbage\n{\"return\": 12345}\n\xff{\"return\": 777}\n");
      reply = g_strdup_printf ("\xff{\"return\": %" G_GINT64_FORMAT "}\n",
                               json_object_get_int_member (args, "id"));
      fake_say (fake, reply);
    }
  else if (g_str_equal (command, "guest-ping"))
    {
      int n = g_atomic_int_add (&fake->pings, 1);

      if (fake->mode == FAKE_SILENT_FIRST && n == 0)
        fake->owe_reply = TRUE;
      else if (fake->mode == FAKE_HUGE)
        {
          gsize size = 11 * 1024 * 1024;
          g_autofree char *huge = g_malloc (size);

          memset (huge, 'x', size);
          huge[0] = '"';
          fake_write (fake, huge, size);
          fake_say (fake, "\"\n{\"return\": {}}\n");
        }
      else if (fake->mode == FAKE_GARBAGE)
        /* A line cut short by 0xFF, then the reply. */
        fake_say (fake, "not json at all\n{\"retu\xff{\"return\": {}}\n");
      else
        fake_say (fake, "{\"return\": {}}\n");
    }
  else if (g_str_equal (command, "x-number"))
    {
      /* Answers with the number its argument spells, as it is. */
      g_autofree char *reply =
        g_strdup_printf ("{\"return\": {\"n\": [%s]}}\n",
                         json_object_get_string_member (args, "literal"));

      fake_say (fake, reply);
    }
  else if (g_str_equal (command, "x-many"))
    {
      /* One value more than the default node limit: the object, the
       * array and its elements. */
      gsize n = Q_QMP_CLIENT_DEFAULT_MAX_MESSAGE_NODES - 1;
      GString *s = g_string_new ("{\"return\": [0");

      for (gsize i = 1; i < n; i++)
        g_string_append (s, ",0");
      g_string_append (s, "]}\n");
      fake_write (fake, s->str, s->len);
      g_string_free (s, TRUE);
    }
  else if (g_str_equal (command, "guest-info"))
    fake_say (fake, "{\"return\": {\"version\": \"fake-1\", \"supported_commands\": []}}\n");
  else if (g_str_equal (command, "guest-shutdown"))
    return g_atomic_int_add (&fake->shutdowns, 1), fake->mode == FAKE_HANG;   /* no reply; the guest went down, or hangs */
  else if (g_str_equal (command, "guest-file-open"))
    fake_say (fake, "{\"return\": 7}\n");
  else if (g_str_equal (command, "guest-file-read"))
    {
      g_atomic_int_inc (&fake->reads);   /* no script: no reply */
      if (fake->script != NULL)
        {
          fake_say (fake, fake->script[fake->next]);
          if (fake->script[fake->next + 1] != NULL)
            fake->next++;
        }
    }
  else if (g_str_equal (command, "guest-file-write"))
    {
      g_autofree char *reply =
        g_strdup_printf ("{\"return\": {\"count\": %" G_GINT64_FORMAT ", \"eof\": false}}\n",
                         json_object_get_int_member (args, "count") - (fake->short_write ? 1 : 0));
      fake_say (fake, reply);
    }
  else if (g_str_equal (command, "guest-file-close"))
    {
      g_atomic_int_inc (&fake->closes);
      fake_say (fake, "{\"return\": {}}\n");
    }
  else if (g_str_equal (command, "guest-exec"))
    fake_say (fake, "{\"return\": {\"pid\": 5}}\n");
  else if (g_str_equal (command, "guest-exec-status") && fake->exec_status != NULL)
    fake_say (fake, fake->exec_status);
  else if (g_str_equal (command, "guest-exec-status"))
    {
      /* An answer past the agent client's 48 MiB limit. */
      gsize size = 49 * 1024 * 1024;
      g_autofree char *huge = g_malloc (size);

      memset (huge, 'x', size);
      fake_write (fake, huge, size);
      fake_say (fake, "\n");
    }
  else
    fake_say (fake, "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"unknown\"}}\n");

  return TRUE;
}

static gpointer
fake_thread (gpointer data)
{
  Fake *fake = data;
  GString *line = g_string_new (NULL);
  char buf[4096];

  for (;;)
    {
      gssize n = read (fake->fd, buf, sizeof buf);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      for (gssize i = 0; i < n; i++)
        {
          if ((guchar)buf[i] == 0xFF)
            g_string_truncate (line, 0);   /* the agent's parser resets */
          else if (buf[i] == '\n')
            {
              gboolean go_on = fake_handle (fake, line->str);
              g_string_truncate (line, 0);
              if (!go_on)
                goto out;
            }
          else
            g_string_append_c (line, buf[i]);
        }
    }
out:
  g_string_free (line, TRUE);
  shutdown (fake->fd, SHUT_RDWR);
  return NULL;
}

static QGuestAgent *
fake_start (Fake *fake, FakeMode mode)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  int sv[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  memset (fake, 0, sizeof *fake);
  fake->fd = sv[1];
  fake->mode = mode;
  fake->thread = g_thread_new ("fake-agent", fake_thread, fake);

  socket = g_socket_new_from_fd (sv[0], &error);
  g_assert_no_error (error);
  connection = g_socket_connection_factory_create_connection (socket);
  return q_guest_agent_new (G_IO_STREAM (connection));
}

static void
fake_stop (Fake *fake, QGuestAgent *agent)
{
  q_guest_agent_close (agent);
  wait_finalized (agent);
  g_thread_join (fake->thread);
  close (fake->fd);
}

static void
test_fake_sync_and_ping (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) info = NULL;
  Fake fake;
  QGuestAgent *agent = fake_start (&fake, FAKE_NORMAL);

  g_assert_true (q_guest_agent_ping (agent, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_atomic_int_get (&fake.syncs), ==, 1);
  /* In step now: no second resynchronisation. */
  g_assert_true (q_guest_agent_ping (agent, NULL, &error));
  info = q_guest_agent_info (agent, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (info, "version"), ==, "fake-1");
  g_assert_cmpint (g_atomic_int_get (&fake.syncs), ==, 1);
  /* An explicit sync always goes out. */
  g_assert_true (q_guest_agent_sync (agent, NULL, &error));
  g_assert_cmpint (g_atomic_int_get (&fake.syncs), ==, 2);
  /* The agent's refusal is a Q_QMP_ERROR with its class. */
  g_assert_null (q_guest_agent_execute (agent, "guest-no-such", NULL, NULL, &error));
  g_assert_error (error, Q_QMP_ERROR, Q_QMP_ERROR_COMMAND_NOT_FOUND);

  fake_stop (&fake, agent);
}

static void
test_fake_garbage (void)
{
  g_autoptr(GError) error = NULL;
  Fake fake;
  QGuestAgent *agent = fake_start (&fake, FAKE_GARBAGE);

  for (int i = 0; i < 3; i++)
    {
      g_autoptr(JsonObject) info = NULL;

      g_assert_true (q_guest_agent_ping (agent, NULL, &error));
      g_assert_no_error (error);
      info = q_guest_agent_info (agent, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (json_object_get_string_member (info, "version"), ==, "fake-1");
    }
  /* Each garbage line put the stream in doubt: a sync before the next. */
  g_assert_cmpint (g_atomic_int_get (&fake.syncs), >=, 3);

  fake_stop (&fake, agent);
}

static void
test_fake_huge_line (void)
{
  g_autoptr(GError) error = NULL;
  Fake fake;
  QGuestAgent *agent = fake_start (&fake, FAKE_HUGE);

  /* A line past the 10 MiB limit is dropped as it streams by (never
   * buffered whole); the reply after it still arrives. */
  g_assert_true (q_guest_agent_ping (agent, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (q_guest_agent_ping (agent, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_atomic_int_get (&fake.syncs), ==, 2);

  fake_stop (&fake, agent);
}

/* A number json-glib cannot hold fails the command it answers, with a
 * message naming it, and the channel stays in step; the edges read
 * exactly. */
static void
test_fake_numbers (void)
{
  static const char *unreadable[] = {
    "18446744073709551615", "9223372036854775808", "-9223372036854775809", "1e400",
    "1234567890123456789012345678901234567890123456789012345678901234567890"
    "123456789012345678901234567890",
  };
  g_autoptr(GError) error = NULL;
  Fake fake;
  QGuestAgent *agent = fake_start (&fake, FAKE_NORMAL);

  for (guint i = 0; i < G_N_ELEMENTS (unreadable); i++)
    {
      g_autoptr(JsonObject) args = json_object_new ();
      g_autoptr(JsonNode) ret = NULL;
      g_autofree char *start = g_strndup (unreadable[i], 24);

      json_object_set_string_member (args, "literal", unreadable[i]);
      ret = q_guest_agent_execute (agent, "x-number", args, NULL, &error);
      g_assert_null (ret);
      g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL);
      g_assert_nonnull (strstr (error->message, start));
      g_clear_error (&error);
      g_assert_true (q_guest_agent_ping (agent, NULL, &error));
      g_assert_no_error (error);
    }

  {
    g_autoptr(JsonObject) args = json_object_new ();
    g_autoptr(JsonNode) ret = NULL;
    JsonArray *n;

    json_object_set_string_member (args, "literal", "9223372036854775807, -9223372036854775808");
    ret = q_guest_agent_execute (agent, "x-number", args, NULL, &error);
    g_assert_no_error (error);
    n = json_object_get_array_member (json_node_get_object (ret), "n");
    g_assert_cmpint (json_array_get_int_element (n, 0), ==, G_MAXINT64);
    g_assert_cmpint (json_array_get_int_element (n, 1), ==, G_MININT64);
  }
  /* A reply with more values than the node limit fails its command at
   * once (it will not come again), not at a timeout. */
  g_assert_null (q_guest_agent_execute (agent, "x-many", NULL, NULL, &error));
  g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "JSON values"));
  g_clear_error (&error);
  g_assert_true (q_guest_agent_ping (agent, NULL, &error));
  g_assert_no_error (error);

  fake_stop (&fake, agent);
}

static void
transfer_done_cb (GObject *object, GAsyncResult *result, gpointer user_data)
{
  GError **out = user_data;
  g_autoptr(GBytes) data = q_guest_agent_file_read_finish (Q_GUEST_AGENT (object), result, out);

  g_assert_null (data);
  g_assert_nonnull (*out);
}

static void
shutdown_done_cb (GObject *object, GAsyncResult *result, gpointer user_data)
{
  GError **out = user_data;

  g_assert_false (q_guest_agent_shutdown_finish (Q_GUEST_AGENT (object), result, out));
  g_assert_nonnull (*out);
}

static void
test_fake_hanging_agent (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) cancelled = NULL;
  g_autoptr(GError) closed = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  const char *argv[] = { "true", NULL };
  Fake fake;
  QGuestAgent *agent = fake_start (&fake, FAKE_HANG);
  gint64 start;

  /* A transfer cancelled while the agent hangs completes at once, and the
   * guest's handle is still freed. */
  q_guest_agent_set_timeout (agent, 20000);
  q_guest_agent_file_read_async (agent, "/f", cancellable, transfer_done_cb, &cancelled);
  while (g_atomic_int_get (&fake.reads) == 0)
    g_main_context_iteration (NULL, FALSE);
  start = g_get_monotonic_time ();
  g_cancellable_cancel (cancellable);
  while (cancelled == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_error (cancelled, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
  g_assert_true (q_guest_agent_ping (agent, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_atomic_int_get (&fake.closes), ==, 1);

  /* A reply past the size limit fails its command at once. */
  start = g_get_monotonic_time ();
  g_assert_false (q_guest_agent_exec (agent, argv, NULL, NULL, -1, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_clear_error (&error);
  g_assert_true (q_guest_agent_ping (agent, NULL, &error));
  g_assert_no_error (error);

  /* Closing the channel ourselves is no success for a shutdown. */
  q_guest_agent_shutdown_async (agent, NULL, NULL, shutdown_done_cb, &closed);
  while (g_atomic_int_get (&fake.shutdowns) == 0)
    g_main_context_iteration (NULL, FALSE);
  q_guest_agent_close (agent);
  while (closed == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_error (closed, G_IO_ERROR, G_IO_ERROR_CLOSED);

  fake_stop (&fake, agent);
}

static void
notify_cb (GObject *object, GParamSpec *pspec, GPtrArray *seen)
{
  g_ptr_array_add (seen, GINT_TO_POINTER (q_guest_agent_is_connected (Q_GUEST_AGENT (object)) ? 1 : 2));
}

static void
count_cb (QGuestAgent *agent, int *count)
{
  (*count)++;
}

static void
test_fake_timeout_then_resync (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) seen = g_ptr_array_new ();
  g_autoptr(JsonObject) info = NULL;
  int up = 0, down = 0;
  Fake fake;
  QGuestAgent *agent = fake_start (&fake, FAKE_SILENT_FIRST);

  g_signal_connect (agent, "notify::connected", G_CALLBACK (notify_cb), seen);
  g_signal_connect (agent, "agent-connected", G_CALLBACK (count_cb), &up);
  g_signal_connect (agent, "agent-disconnected", G_CALLBACK (count_cb), &down);

  q_guest_agent_set_timeout (agent, 300);
  g_assert_cmpint (q_guest_agent_get_timeout (agent), ==, 300);
  g_assert_false (q_guest_agent_ping (agent, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);

  /* The late reply comes before the agent's 0xFF: dropped, and what
   * answers info is info's reply. */
  q_guest_agent_set_timeout (agent, 10000);
  info = q_guest_agent_info (agent, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (info, "version"), ==, "fake-1");
  g_assert_cmpint (g_atomic_int_get (&fake.syncs), ==, 2);

  /* The state changes reach the owner's context in order. */
  while (seen->len < 3)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (GPOINTER_TO_INT (seen->pdata[0]), ==, 1);
  g_assert_cmpint (GPOINTER_TO_INT (seen->pdata[1]), ==, 2);
  g_assert_cmpint (GPOINTER_TO_INT (seen->pdata[2]), ==, 1);
  g_assert_cmpint (up, ==, 2);
  g_assert_cmpint (down, ==, 1);
  g_assert_true (q_guest_agent_is_connected (agent));

  g_signal_handlers_disconnect_by_data (agent, seen);
  g_signal_handlers_disconnect_by_data (agent, &up);
  g_signal_handlers_disconnect_by_data (agent, &down);
  fake_stop (&fake, agent);
}

static void
test_fake_no_agent (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  QGuestAgent *agent;
  gint64 start;
  int sv[2];

  /* Nobody reads the other end: the command waits for a sync that never
   * comes, and says so. */
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  socket = g_socket_new_from_fd (sv[0], &error);
  connection = g_socket_connection_factory_create_connection (socket);
  agent = q_guest_agent_new (G_IO_STREAM (connection));
  q_guest_agent_set_timeout (agent, 200);

  start = g_get_monotonic_time ();
  g_assert_false (q_guest_agent_ping (agent, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_nonnull (strstr (error->message, "qemu-ga"));
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
  g_clear_error (&error);

  /* The peer hangs up: commands fail with the reason. */
  close (sv[1]);
  q_guest_agent_set_timeout (agent, -1);
  g_assert_false (q_guest_agent_ping (agent, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_assert_true (q_guest_agent_is_closed (agent));
  wait_finalized (agent);
}

static void
test_fake_shutdown_no_reply (void)
{
  g_autoptr(GError) error = NULL;
  Fake fake;
  QGuestAgent *agent = fake_start (&fake, FAKE_NORMAL);

  /* guest-shutdown never replies: the channel closing is its success. */
  g_assert_true (q_guest_agent_shutdown (agent, "powerdown", NULL, &error));
  g_assert_no_error (error);
  g_assert_false (q_guest_agent_ping (agent, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);

  fake_stop (&fake, agent);
}

static void
pending_done_cb (GObject *object, GAsyncResult *result, gpointer user_data)
{
  GError **out = user_data;

  g_assert_false (q_guest_agent_ping_finish (Q_GUEST_AGENT (object), result, out));
  g_assert_nonnull (*out);
}

static void
test_fake_cancel (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) cancelled = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(JsonObject) info = NULL;
  Fake fake;
  QGuestAgent *agent = fake_start (&fake, FAKE_SILENT_FIRST);

  /* A cancelled command completes at once; the next resynchronises and
   * gets its own reply. */
  q_guest_agent_ping_async (agent, cancellable, pending_done_cb, &cancelled);
  while (g_atomic_int_get (&fake.pings) == 0)
    g_main_context_iteration (NULL, FALSE);
  g_cancellable_cancel (cancellable);
  while (cancelled == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_error (cancelled, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  info = q_guest_agent_info (agent, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (info, "version"), ==, "fake-1");

  fake_stop (&fake, agent);
}

static void
test_fake_close_pending (void)
{
  g_autoptr(GError) closed = NULL;
  g_autoptr(GError) error = NULL;
  Fake fake;
  QGuestAgent *agent = fake_start (&fake, FAKE_SILENT_FIRST);

  /* A pending command holds the agent (as any GIO async call holds its
   * source object); closing completes it at once with an error. */
  q_guest_agent_ping_async (agent, NULL, pending_done_cb, &closed);
  while (g_atomic_int_get (&fake.pings) == 0)
    g_main_context_iteration (NULL, FALSE);
  q_guest_agent_close (agent);
  while (closed == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_error (closed, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_true (q_guest_agent_is_closed (agent));
  g_assert_false (q_guest_agent_ping (agent, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);

  fake_stop (&fake, agent);
}

/* ------------------------------------------------------------------------ */
/* A hostile agent: file data, sizes and exit codes it should not send      */

/* A guest-file-read reply carrying @len bytes of @data. */
static char *
read_reply (const char *data,
            gsize       len,
            gboolean    eof)
{
  g_autofree char *b64 = g_base64_encode ((const guchar *)data, len);

  return g_strdup_printf ("{\"return\": {\"count\": %" G_GSIZE_FORMAT ", \"buf-b64\": \"%s\", "
                          "\"eof\": %s}}\n", len, b64, eof ? "true" : "false");
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return g_strcmp0 (*(char * const *)a, *(char * const *)b);
}

/* The names in @dir, sorted, joined with spaces ("" when empty). */
static char *
list_dir (const char *dir)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_dir_close (d);
  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (" ", (char **)names->pdata);
}

static char *
read_local (const char *path)
{
  g_autoptr(GError) error = NULL;
  char *contents = NULL;

  g_assert_true (g_file_get_contents (path, &contents, NULL, &error));
  g_assert_no_error (error);
  return contents;
}

static void
rm_rf (const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
        rm_rf (path);
      else
        g_unlink (path);
    }
  if (d != NULL)
    g_dir_close (d);
  g_rmdir (dir);
}

/* Copies "/f" from the fake's script to @dest. */
static gboolean
copy_out (QGuestAgent  *agent,
          const char   *dest,
          GError      **error)
{
  g_autoptr(GFile) file = g_file_new_for_path (dest);

  return q_guest_agent_copy_from_guest (agent, "/f", file, NULL, error);
}

static void
test_hostile_copy_symlink (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("qm-agent-copy-XXXXXX", NULL);
  g_autofree char *target = g_build_filename (dir, "target", NULL);
  g_autofree char *dest = g_build_filename (dir, "dest", NULL);
  g_autofree char *chunk = read_reply ("from the guest", 14, TRUE);
  g_autofree char *contents = NULL;
  g_autofree char *listing = NULL;
  const char *script[] = { chunk, NULL };
  struct stat st;
  Fake fake;
  QGuestAgent *agent = fake_start (&fake, FAKE_NORMAL);

  /* Someone planted the destination as a link to a file of ours. */
  g_assert_true (g_file_set_contents (target, "precious", -1, NULL));
  g_assert_cmpint (symlink (target, dest), ==, 0);

  fake.script = script;
  g_assert_true (copy_out (agent, dest, &error));
  g_assert_no_error (error);

  /* The link was replaced, not written through. */
  g_assert_cmpint (lstat (dest, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  contents = read_local (dest);
  g_assert_cmpstr (contents, ==, "from the guest");
  g_clear_pointer (&contents, g_free);
  contents = read_local (target);
  g_assert_cmpstr (contents, ==, "precious");
  listing = list_dir (dir);
  g_assert_cmpstr (listing, ==, "dest target");

  fake_stop (&fake, agent);
  rm_rf (dir);
}

static void
test_hostile_copy_mode (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GFile) file = NULL;
  g_autofree char *dir = g_dir_make_tmp ("qm-agent-copy-XXXXXX", NULL);
  g_autofree char *dest = g_build_filename (dir, "dest", NULL);
  g_autofree char *chunk = read_reply ("data", 4, TRUE);
  const char *script[] = { chunk, NULL };
  struct stat st;
  Fake fake;
  QGuestAgent *agent = fake_start (&fake, FAKE_NORMAL);
  mode_t old_umask = umask (0);

  /* 0600 by default, whatever the umask allows. */
  fake.script = script;
  g_assert_true (copy_out (agent, dest, &error));
  g_assert_no_error (error);
  g_assert_cmpint (stat (dest, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);

  /* The mode asked for, exactly: the umask is not applied. */
  umask (077);
  fake.next = 0;
  file = g_file_new_for_path (dest);
  g_assert_true (q_guest_agent_copy_from_guest_full (agent, "/f", file, 0640, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (stat (dest, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0640);
  umask (old_umask);

  /* Only local files. */
  g_clear_object (&file);
  file = g_file_new_for_uri ("resource:///no/such");
  g_assert_false (q_guest_agent_copy_from_guest (agent, "/f", file, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);

  fake_stop (&fake, agent);
  rm_rf (dir);
}

static void
test_hostile_copy_fails_midway (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("qm-agent-copy-XXXXXX", NULL);
  g_autofree char *old = g_build_filename (dir, "old", NULL);
  g_autofree char *fresh = g_build_filename (dir, "new", NULL);
  g_autofree char *chunk = read_reply ("partial data", 12, FALSE);
  g_autofree char *contents = NULL;
  g_autofree char *listing = NULL;
  const char *script[] = { chunk, chunk,
                           "{\"error\": {\"class\": \"GenericError\", \"desc\": \"I/O error\"}}\n",
                           NULL };
  Fake fake;
  QGuestAgent *agent = fake_start (&fake, FAKE_NORMAL);

  g_assert_true (g_file_set_contents (old, "what it held", -1, NULL));

  /* An existing destination keeps what it held. */
  fake.script = script;
  g_assert_false (copy_out (agent, old, &error));
  g_assert_error (error, Q_QMP_ERROR, Q_QMP_ERROR_GENERIC_ERROR);
  g_clear_error (&error);
  contents = read_local (old);
  g_assert_cmpstr (contents, ==, "what it held");

  /* A new one stays absent; no temporary file either way. */
  fake.next = 0;
  g_assert_false (copy_out (agent, fresh, &error));
  g_assert_error (error, Q_QMP_ERROR, Q_QMP_ERROR_GENERIC_ERROR);
  g_clear_error (&error);
  listing = list_dir (dir);
  g_assert_cmpstr (listing, ==, "old");
  /* The guest's handle was freed each time. */
  g_assert_true (q_guest_agent_ping (agent, NULL, &error));
  g_assert_cmpint (g_atomic_int_get (&fake.closes), ==, 2);

  fake_stop (&fake, agent);
  rm_rf (dir);
}

static void
copy_done_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  GError **out = user_data;

  g_assert_false (q_guest_agent_copy_from_guest_finish (Q_GUEST_AGENT (object), result, out));
  g_assert_nonnull (*out);
}

static void
test_hostile_copy_cancelled (void)
{
  g_autoptr(GError) cancelled = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GFile) file = NULL;
  g_autofree char *dir = g_dir_make_tmp ("qm-agent-copy-XXXXXX", NULL);
  g_autofree char *dest = g_build_filename (dir, "dest", NULL);
  g_autofree char *listing = NULL;
  Fake fake;
  QGuestAgent *agent = fake_start (&fake, FAKE_HANG);

  /* The agent never answers the read: the temporary file exists then,
   * and is gone when the cancelled call returns. */
  file = g_file_new_for_path (dest);
  q_guest_agent_copy_from_guest_async (agent, "/f", file, cancellable, copy_done_cb, &cancelled);
  while (g_atomic_int_get (&fake.reads) == 0)
    g_main_context_iteration (NULL, FALSE);
  listing = list_dir (dir);
  g_assert_true (g_str_has_prefix (listing, ".qmachine-copy-"));
  g_clear_pointer (&listing, g_free);
  g_cancellable_cancel (cancellable);
  while (cancelled == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_error (cancelled, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  listing = list_dir (dir);
  g_assert_cmpstr (listing, ==, "");

  fake_stop (&fake, agent);
  rm_rf (dir);
}

static void
test_hostile_copy_limit (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("qm-agent-copy-XXXXXX", NULL);
  g_autofree char *dest = g_build_filename (dir, "dest", NULL);
  g_autofree char *old = g_build_filename (dir, "old", NULL);
  g_autofree char *data = g_malloc0 (48 * 1024);
  g_autofree char *chunk = read_reply (data, 48 * 1024, FALSE);
  g_autofree char *listing = NULL;
  g_autofree char *contents = NULL;
  const char *script[] = { chunk, NULL };
  guint64 limit = 0;
  Fake fake;
  QGuestAgent *agent = fake_start (&fake, FAKE_NORMAL);

  g_assert_cmpuint (q_guest_agent_get_max_copy_size (agent), ==, G_GUINT64_CONSTANT (4) << 30);
  g_assert_cmpuint (q_guest_agent_get_max_read_size (agent), ==, 256u << 20);

  /* A guest that never ends the file: stopped at the limit. */
  g_object_set (agent, "max-copy-size", (guint64)200000, NULL);
  g_object_get (agent, "max-copy-size", &limit, NULL);
  g_assert_cmpuint (limit, ==, 200000);
  g_assert_true (g_file_set_contents (old, "what it held", -1, NULL));
  fake.script = script;
  g_assert_false (copy_out (agent, dest, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_assert_nonnull (strstr (error->message, "200000"));
  g_clear_error (&error);
  g_assert_false (copy_out (agent, old, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_clear_error (&error);
  g_assert_cmpint (g_atomic_int_get (&fake.reads), ==, 2 * 5);   /* 4 chunks fit, the 5th not */
  listing = list_dir (dir);
  g_assert_cmpstr (listing, ==, "old");
  contents = read_local (old);
  g_assert_cmpstr (contents, ==, "what it held");

  /* The same for what file_read holds. */
  q_guest_agent_set_max_read_size (agent, 100000);
  g_assert_null (q_guest_agent_file_read (agent, "/f", NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_clear_error (&error);

  fake_stop (&fake, agent);
  rm_rf (dir);
}

static void
test_hostile_copy_shared_dir (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("qm-agent-copy-XXXXXX", NULL);
  g_autofree char *shared = g_build_filename (dir, "shared", NULL);
  g_autofree char *sticky = g_build_filename (dir, "sticky", NULL);
  g_autofree char *dest = g_build_filename (shared, "dest", NULL);
  g_autofree char *sticky_dest = g_build_filename (sticky, "dest", NULL);
  g_autofree char *chunk = read_reply ("data", 4, TRUE);
  g_autofree char *listing = NULL;
  const char *script[] = { chunk, NULL };
  Fake fake;
  QGuestAgent *agent = fake_start (&fake, FAKE_NORMAL);

  /* Anyone could swap the file in there for a link after the copy: refused
   * before the guest is asked for anything. */
  g_assert_cmpint (g_mkdir (shared, 0700), ==, 0);
  g_assert_cmpint (chmod (shared, 0777), ==, 0);
  fake.script = script;
  g_assert_false (copy_out (agent, dest, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_assert_nonnull (strstr (error->message, "not sticky"));
  g_clear_error (&error);
  listing = list_dir (shared);
  g_assert_cmpstr (listing, ==, "");
  g_assert_cmpint (g_atomic_int_get (&fake.reads), ==, 0);

  /* Sticky, like /tmp: nobody else can rename what we put there. */
  g_assert_cmpint (g_mkdir (sticky, 0700), ==, 0);
  g_assert_cmpint (chmod (sticky, 01777), ==, 0);
  g_assert_true (copy_out (agent, sticky_dest, &error));
  g_assert_no_error (error);

  fake_stop (&fake, agent);
  rm_rf (dir);
}

#define NOBODY 65534

static void
test_hostile_copy_other_user (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *shared = NULL;
  g_autofree char *target = NULL;
  g_autofree char *dest = NULL;
  g_autofree char *theirs = NULL;
  g_autofree char *in_theirs = NULL;
  g_autofree char *chunk = read_reply ("data", 4, TRUE);
  g_autofree char *contents = NULL;
  const char *script[] = { chunk, NULL };
  struct stat st;
  Fake fake;
  QGuestAgent *agent;
  pid_t pid;
  int status;

  if (geteuid () != 0)
    {
      g_test_skip ("Needs root, to plant files as another user (uid 65534)");
      return;
    }

  dir = g_dir_make_tmp ("qm-agent-copy-XXXXXX", NULL);
  shared = g_build_filename (dir, "shared", NULL);
  target = g_build_filename (dir, "target", NULL);
  dest = g_build_filename (shared, "dest", NULL);
  theirs = g_build_filename (shared, "theirs", NULL);
  in_theirs = g_build_filename (theirs, "dest", NULL);
  g_assert_cmpint (chmod (dir, 0711), ==, 0);
  g_assert_cmpint (g_mkdir (shared, 0700), ==, 0);
  g_assert_cmpint (chmod (shared, 01777), ==, 0);
  g_assert_true (g_file_set_contents (target, "precious", -1, NULL));

  /* Another user, in a sticky directory such as /tmp, plants a link
   * where the copy goes, and a directory of theirs (the child makes
   * system calls only). */
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      if (setgid (NOBODY) != 0 || setuid (NOBODY) != 0 ||
          symlink (target, dest) != 0 || mkdir (theirs, 0755) != 0)
        _exit (1);
      _exit (0);
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  g_assert_cmpint (lstat (dest, &st), ==, 0);
  g_assert_true (S_ISLNK (st.st_mode));
  g_assert_cmpuint (st.st_uid, ==, NOBODY);

  agent = fake_start (&fake, FAKE_NORMAL);
  fake.script = script;

  /* Root may replace their link: it does, and the target is untouched. */
  g_assert_true (copy_out (agent, dest, &error));
  g_assert_no_error (error);
  g_assert_cmpint (lstat (dest, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpuint (st.st_uid, ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  contents = read_local (target);
  g_assert_cmpstr (contents, ==, "precious");

  /* Their directory: they could swap anything in it. */
  fake.next = 0;
  g_assert_false (copy_out (agent, in_theirs, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_assert_nonnull (strstr (error->message, "another user"));
  g_assert_false (g_file_test (in_theirs, G_FILE_TEST_EXISTS));

  fake_stop (&fake, agent);
  rm_rf (dir);
}

/* file_read of a guest file whose one reply is @reply: fails with @code
 * in @domain. */
static void
assert_read_fails (Fake        *fake,
                   QGuestAgent *agent,
                   const char  *reply,
                   GQuark       domain,
                   int          code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) data = NULL;
  const char *script[] = { reply, NULL };

  fake->script = script;
  fake->next = 0;
  data = q_guest_agent_file_read (agent, "/f", NULL, &error);
  g_assert_null (data);
  g_assert_error (error, domain, code);
  g_test_message ("%s -> %s", reply, error->message);
  fake->script = NULL;
}

#define READ_REPLY(count, b64, eof) \
  "{\"return\": {\"count\": " count ", \"buf-b64\": \"" b64 "\", \"eof\": " eof "}}\n"

static void
test_hostile_base64 (void)
{
  g_autoptr(GError) error = NULL;
  const char *bad[] = {
    READ_REPLY ("3", "QUJ", "true"),       /* not a multiple of 4 */
    READ_REPLY ("3", "QU!D", "true"),      /* outside the alphabet */
    READ_REPLY ("3", "QUJD\\n", "true"),   /* no line breaks */
    READ_REPLY ("6", "QU=DQUJD", "true"),  /* padding before the end */
    READ_REPLY ("1", "Q===", "true"),      /* too much padding */
    READ_REPLY ("2", "QUJ=", "true"),      /* bits after the last byte */
    READ_REPLY ("1", "QR==", "true"),
    READ_REPLY ("3", "QUJD====", "true"),
  };
  const char *good = READ_REPLY ("5", "QUJDREU=", "true");
  g_autoptr(GBytes) data = NULL;
  const char *script[] = { good, NULL };
  Fake fake;
  QGuestAgent *agent = fake_start (&fake, FAKE_NORMAL);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    assert_read_fails (&fake, agent, bad[i], Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL);

  fake.script = script;
  fake.next = 0;
  data = q_guest_agent_file_read (agent, "/f", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (data, NULL), g_bytes_get_size (data), "ABCDE", 5);

  /* Chunks of every length modulo 3 and every byte value decode as
   * GLib's encoder wrote them. */
  {
    g_autoptr(GPtrArray) replies = g_ptr_array_new_with_free_func (g_free);
    g_autoptr(GByteArray) want = g_byte_array_new ();
    g_autoptr(GBytes) got = NULL;
    guint8 bytes[1024];

    for (guint i = 0; i < sizeof bytes; i++)
      bytes[i] = (i * 7 + i / 256) & 0xFF;
    for (guint len = 1; len <= 20; len++)
      {
        g_ptr_array_add (replies, read_reply ((char *)bytes + len * 13, len, FALSE));
        g_byte_array_append (want, bytes + len * 13, len);
      }
    g_ptr_array_add (replies, read_reply ((char *)bytes, sizeof bytes, TRUE));
    g_byte_array_append (want, bytes, sizeof bytes);
    g_ptr_array_add (replies, NULL);

    fake.script = (const char * const *)replies->pdata;
    fake.next = 0;
    got = q_guest_agent_file_read (agent, "/f", NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpmem (g_bytes_get_data (got, NULL), g_bytes_get_size (got), want->data, want->len);
    fake.script = NULL;
  }

  /* The same for a program's output. */
  {
    const char *argv[] = { "true", NULL };
    const char *statuses[] = {
      "{\"return\": {\"exited\": true, \"exitcode\": 0, \"out-data\": \"aGk*\"}}\n",
      "{\"return\": {\"exited\": true, \"exitcode\": 0, \"err-data\": \"aGk\"}}\n",
      "{\"return\": {\"exited\": true, \"exitcode\": 0, \"out-data\": 12}}\n",
    };

    for (guint i = 0; i < G_N_ELEMENTS (statuses); i++)
      {
        g_autoptr(GBytes) out = NULL;

        fake.exec_status = statuses[i];
        g_assert_false (q_guest_agent_exec (agent, argv, NULL, NULL, -1, NULL, &out, NULL, NULL, &error));
        g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL);
        g_assert_null (out);
        g_clear_error (&error);
      }
  }

  fake_stop (&fake, agent);
}

static void
test_hostile_counts (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) data = g_bytes_new_static ("hello", 5);
  Fake fake;
  QGuestAgent *agent = fake_start (&fake, FAKE_NORMAL);

  /* "count" must be the size of the data sent. */
  assert_read_fails (&fake, agent, READ_REPLY ("4", "QUJD", "true"), Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL);
  assert_read_fails (&fake, agent, READ_REPLY ("2", "QUJD", "true"), Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL);
  assert_read_fails (&fake, agent, READ_REPLY ("-3", "QUJD", "true"), Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL);
  assert_read_fails (&fake, agent, READ_REPLY ("3.0", "QUJD", "true"), Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL);
  assert_read_fails (&fake, agent, READ_REPLY ("\"3\"", "QUJD", "true"), Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL);
  assert_read_fails (&fake, agent, READ_REPLY ("3", "QUJD", "1"), Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL);
  assert_read_fails (&fake, agent, "{\"return\": {\"count\": 0, \"eof\": true}}\n",
                     Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL);
  assert_read_fails (&fake, agent, "{\"return\": {\"count\": 0, \"buf-b64\": \"\"}}\n",
                     Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL);
  assert_read_fails (&fake, agent, READ_REPLY ("0", "", "false"), Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL);
  /* More than asked for. */
  {
    g_autofree char *raw = g_malloc0 (48 * 1024 + 3);
    g_autofree char *reply = read_reply (raw, 48 * 1024 + 3, TRUE);

    assert_read_fails (&fake, agent, reply, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL);
  }

  /* A write the agent did not do in full is a failed write. */
  fake.short_write = TRUE;
  g_assert_false (q_guest_agent_file_write (agent, "/f", data, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "wrote 4 of 5 bytes"));
  g_clear_error (&error);
  fake.short_write = FALSE;
  g_assert_true (q_guest_agent_file_write (agent, "/f", data, NULL, &error));
  g_assert_no_error (error);

  fake_stop (&fake, agent);
}

static void
test_hostile_exit_codes (void)
{
  const char *argv[] = { "true", NULL };
  const struct
  {
    const char *status;
    int         expected;   /* G_MININT: a protocol error */
  } cases[] = {
    { "{\"return\": {\"exited\": true, \"exitcode\": 3}}\n", 3 },
    { "{\"return\": {\"exited\": true, \"exitcode\": -5}}\n", -5 },
    { "{\"return\": {\"exited\": true, \"exitcode\": -1073741819}}\n", -1073741819 },
    { "{\"return\": {\"exited\": true, \"signal\": 9}}\n", 128 + 9 },
    { "{\"return\": {\"exited\": true, \"exitcode\": 4294967296}}\n", G_MININT },
    { "{\"return\": {\"exited\": true, \"exitcode\": -2147483649}}\n", G_MININT },
    { "{\"return\": {\"exited\": true, \"exitcode\": \"0\"}}\n", G_MININT },
    { "{\"return\": {\"exited\": true, \"exitcode\": 0.5}}\n", G_MININT },
    { "{\"return\": {\"exited\": true, \"signal\": 0}}\n", G_MININT },
    { "{\"return\": {\"exited\": true, \"signal\": 128}}\n", G_MININT },
    { "{\"return\": {\"exited\": true, \"signal\": -9}}\n", G_MININT },
    { "{\"return\": {\"exited\": true}}\n", G_MININT },
    { "{\"return\": {\"exited\": 1, \"exitcode\": 0}}\n", G_MININT },
    { "{\"return\": {\"exitcode\": 0}}\n", G_MININT },
  };
  Fake fake;
  QGuestAgent *agent = fake_start (&fake, FAKE_NORMAL);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      int status = 12345;
      gboolean ok;

      fake.exec_status = cases[i].status;
      ok = q_guest_agent_exec (agent, argv, NULL, NULL, -1, &status, NULL, NULL, NULL, &error);
      if (cases[i].expected == G_MININT)
        {
          g_assert_false (ok);
          g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL);
          g_assert_cmpint (status, ==, 12345);
          g_test_message ("%s -> %s", cases[i].status, error->message);
        }
      else
        {
          g_assert_no_error (error);
          g_assert_true (ok);
          g_assert_cmpint (status, ==, cases[i].expected);
        }
    }

  fake_stop (&fake, agent);
}

/* ------------------------------------------------------------------------ */
/* The real qemu-ga in the test guest                                       */

#define MARKER "QMACHINE-GUEST-READY"
#define BOOT_TIMEOUT 120000

typedef struct
{
  char        *base;
  QMachine    *machine;
  QConsole    *console;
  QGuestAgent *agent;
} Guest;

static void
guest_boot (Guest *g, QGuestAgentPort port)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *seen = NULL;
  const char *accel = g_getenv ("QMACHINE_TEST_ACCEL");
  const char *qemu = g_getenv ("QMACHINE_TEST_QEMU");

  g->base = g_dir_make_tmp ("qm-agent-XXXXXX", NULL);
  g->machine = q_machine_new (qemu ? qemu : "qemu-system-x86_64");
  q_machine_set_base_temp_dir (g->machine, g->base);
  q_machine_set_drain_console (g->machine, TRUE);
  q_machine_set_machine (g->machine, "pc");
  q_machine_add_args (g->machine,
                      "-accel", accel ? accel : "tcg",
                      "-m", "256", "-nodefaults", "-no-reboot",
                      "-kernel", g_getenv ("QMACHINE_GUEST_KERNEL"),
                      "-initrd", g_getenv ("QMACHINE_GUEST_INITRD"),
                      "-append", "console=ttyS0 panic=-1",
                      NULL);
  q_machine_set_console (g->machine, NULL, 0);
  q_machine_add_guest_agent (g->machine, port);
  g_assert_null (q_machine_get_guest_agent (g->machine));

  g_assert_true (q_machine_launch (g->machine, NULL, &error));
  g_assert_no_error (error);
  g->console = q_machine_get_console (g->machine);
  seen = q_console_wait_for (g->console, MARKER, 0, BOOT_TIMEOUT, NULL, &error);
  g_assert_no_error (error);
  g->agent = q_machine_get_guest_agent (g->machine);
  g_assert_nonnull (g->agent);
  /* The agent starts after the marker: the first command waits for it. */
  q_guest_agent_set_timeout (g->agent, 60000);
}

static void
guest_end (Guest *g)
{
  GDir *dir;

  g_assert_true (q_machine_kill (g->machine, NULL, NULL));
  wait_finalized (g_steal_pointer (&g->machine));
  while (g_main_context_iteration (NULL, FALSE))
    ;
  /* Nothing left behind in the base directory. */
  dir = g_dir_open (g->base, 0, NULL);
  g_assert_null (g_dir_read_name (dir));
  g_dir_close (dir);
  g_rmdir (g->base);
  g_free (g->base);
}

static void
shell (Guest *g, const char *command)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *line = g_strconcat (command, "\n", NULL);

  g_assert_true (q_console_write_text (g->console, line, NULL, &error));
  g_assert_no_error (error);
}

static void
test_guest_basics (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) info = NULL;
  g_autoptr(JsonArray) ifaces = NULL;
  g_autoptr(GBytes) input = g_bytes_new_static ("line one\nline two\n", 18);
  const char *echo[] = { "echo", "hello", "guest", NULL };
  const char *cat[] = { "sh", "-c", "cat; echo oops >&2; exit 3", NULL };
  const char *env[] = { "QM_VALUE=42", NULL };
  const char *show_env[] = { "sh", "-c", "echo $QM_VALUE", NULL };
  Guest g = { 0 };
  gint64 start;
  int status = -1;

  guest_boot (&g, Q_GUEST_AGENT_PORT_VIRTIO_SERIAL);

  g_assert_true (q_guest_agent_ping (g.agent, NULL, &error));
  g_assert_no_error (error);
  info = q_guest_agent_info (g.agent, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (json_object_get_string_member (info, "version"));
  g_assert_true (g_str_has_prefix (json_object_get_string_member (info, "version"), "7."));

  {
    g_autoptr(GBytes) out = NULL;
    g_autoptr(GBytes) err = NULL;

    start = g_get_monotonic_time ();
    g_assert_true (q_guest_agent_exec (g.agent, echo, NULL, NULL, 10000, &status, &out, &err, NULL, &error));
    g_test_message ("exec round trip: %.1f ms", (g_get_monotonic_time () - start) / 1000.0);
    g_assert_no_error (error);
    g_assert_cmpint (status, ==, 0);
    g_assert_cmpmem (g_bytes_get_data (out, NULL), g_bytes_get_size (out), "hello guest\n", 12);
    g_assert_cmpuint (g_bytes_get_size (err), ==, 0);
  }
  {
    g_autoptr(GBytes) out = NULL;
    g_autoptr(GBytes) err = NULL;

    g_assert_true (q_guest_agent_exec (g.agent, cat, NULL, input, 10000, &status, &out, &err, NULL, &error));
    g_assert_no_error (error);
    g_assert_cmpint (status, ==, 3);
    g_assert_cmpmem (g_bytes_get_data (out, NULL), g_bytes_get_size (out), "line one\nline two\n", 18);
    g_assert_cmpmem (g_bytes_get_data (err, NULL), g_bytes_get_size (err), "oops\n", 5);
  }
  {
    g_autoptr(GBytes) out = NULL;

    g_assert_true (q_guest_agent_exec (g.agent, show_env, env, NULL, 10000, &status, &out, NULL, NULL, &error));
    g_assert_no_error (error);
    g_assert_cmpmem (g_bytes_get_data (out, NULL), g_bytes_get_size (out), "42\n", 3);
  }
  {
    const char *missing[] = { "/no/such/program", NULL };

    g_assert_false (q_guest_agent_exec (g.agent, missing, NULL, NULL, 10000, &status, NULL, NULL, NULL, &error));
    g_assert_error (error, Q_QMP_ERROR, Q_QMP_ERROR_GENERIC_ERROR);
    g_assert_nonnull (strstr (error->message, "/no/such/program"));
    g_clear_error (&error);
  }

  ifaces = q_guest_agent_network_interfaces (g.agent, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (json_array_get_length (ifaces), >=, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (ifaces, 0), "name"), ==, "lo");

  g_assert_cmpint (q_guest_agent_fsfreeze (g.agent, NULL, &error), >=, 0);
  g_assert_no_error (error);
  g_assert_cmpint (q_guest_agent_fsthaw (g.agent, NULL, &error), >=, 0);
  g_assert_no_error (error);

  guest_end (&g);
}

static GBytes *
random_bytes (gsize size)
{
  guint8 *data = g_malloc (size);
  GRand *rand = g_rand_new_with_seed (42);

  for (gsize i = 0; i < size; i++)
    data[i] = g_rand_int (rand) & 0xFF;
  g_rand_free (rand);
  return g_bytes_new_take (data, size);
}

static char *
checksum (GBytes *bytes)
{
  return g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
}

static void
test_guest_files (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) data = random_bytes (1024 * 1024);
  g_autoptr(GBytes) back = NULL;
  g_autofree char *want = checksum (data);
  g_autofree char *got = NULL;
  g_autofree char *local_dir = NULL;
  g_autoptr(GFile) source = NULL;
  g_autoptr(GFile) dest = NULL;
  g_autofree char *contents = NULL;
  gsize len;
  gint64 start;
  Guest g = { 0 };

  guest_boot (&g, Q_GUEST_AGENT_PORT_VIRTIO_SERIAL);

  start = g_get_monotonic_time ();
  g_assert_true (q_guest_agent_file_write (g.agent, "/tmp/big", data, NULL, &error));
  g_assert_no_error (error);
  g_test_message ("1 MiB written in %.0f ms", (g_get_monotonic_time () - start) / 1000.0);
  start = g_get_monotonic_time ();
  back = q_guest_agent_file_read (g.agent, "/tmp/big", NULL, &error);
  g_assert_no_error (error);
  g_test_message ("1 MiB read in %.0f ms", (g_get_monotonic_time () - start) / 1000.0);
  got = checksum (back);
  g_assert_cmpstr (got, ==, want);

  /* The guest agrees on the contents. */
  {
    const char *sum[] = { "sha256sum", "/tmp/big", NULL };
    g_autoptr(GBytes) out = NULL;
    int status;

    g_assert_true (q_guest_agent_exec (g.agent, sum, NULL, NULL, 30000, &status, &out, NULL, NULL, &error));
    g_assert_no_error (error);
    g_assert_cmpint (status, ==, 0);
    g_assert_true (g_str_has_prefix (g_bytes_get_data (out, NULL), want));
  }

  /* Copies both ways, through local files. */
  local_dir = g_dir_make_tmp ("qm-agent-copy-XXXXXX", NULL);
  {
    g_autofree char *src_path = g_build_filename (local_dir, "src", NULL);
    g_autofree char *dst_path = g_build_filename (local_dir, "dst", NULL);

    g_assert_true (g_file_set_contents (src_path, g_bytes_get_data (data, NULL), 300000, NULL));
    source = g_file_new_for_path (src_path);
    dest = g_file_new_for_path (dst_path);
  }
  g_assert_true (q_guest_agent_copy_to_guest (g.agent, source, "/tmp/copied", NULL, &error));
  g_assert_no_error (error);
  g_assert_true (q_guest_agent_copy_from_guest (g.agent, "/tmp/copied", dest, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_load_contents (dest, NULL, &contents, &len, NULL, NULL));
  g_assert_cmpmem (contents, len, g_bytes_get_data (data, NULL), 300000);

  /* A missing guest file: a clear error, and the local copy untouched. */
  g_assert_false (q_guest_agent_copy_from_guest (g.agent, "/no/such/file", dest, NULL, &error));
  g_assert_error (error, Q_QMP_ERROR, Q_QMP_ERROR_GENERIC_ERROR);
  g_assert_nonnull (strstr (error->message, "/no/such/file"));
  g_clear_error (&error);
  g_clear_pointer (&contents, g_free);
  g_assert_true (g_file_load_contents (dest, NULL, &contents, &len, NULL, NULL));
  g_assert_cmpuint (len, ==, 300000);
  g_assert_null (q_guest_agent_file_read (g.agent, "/no/such/file", NULL, &error));
  g_assert_error (error, Q_QMP_ERROR, Q_QMP_ERROR_GENERIC_ERROR);
  g_clear_error (&error);

  g_file_delete (source, NULL, NULL);
  g_file_delete (dest, NULL, NULL);
  g_rmdir (local_dir);
  guest_end (&g);
}

static void
flag_cb (QGuestAgent *agent, gboolean *flag)
{
  *flag = TRUE;
}

static void
test_guest_restart_and_garbage (void)
{
  g_autoptr(GError) error = NULL;
  gboolean went = FALSE, came = FALSE;
  Guest g = { 0 };

  guest_boot (&g, Q_GUEST_AGENT_PORT_VIRTIO_SERIAL);
  g_assert_true (q_guest_agent_ping (g.agent, NULL, &error));
  g_assert_no_error (error);
  /* What happened while the agent started is delivered first. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_true (q_guest_agent_is_connected (g.agent));
  g_signal_connect (g.agent, "agent-disconnected", G_CALLBACK (flag_cb), &went);
  g_signal_connect (g.agent, "agent-connected", G_CALLBACK (flag_cb), &came);

  /* The agent dies: its port closes (VSERPORT_CHANGE). */
  shell (&g, "killall qemu-ga");
  while (!went)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (q_guest_agent_is_connected (g.agent));

  /* Garbage on the line, then a new agent: the next command resyncs. */
  shell (&g, "printf '}{ garbage\\n{\"return\": 5}\\n\\377{\"retu' >/dev/virtio-ports/org.qemu.guest_agent.0; "
             "start-qemu-ga &");
  g_assert_true (q_guest_agent_ping (g.agent, NULL, &error));
  g_assert_no_error (error);
  while (!came)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (q_guest_agent_is_connected (g.agent));
  {
    g_autoptr(JsonObject) info = q_guest_agent_info (g.agent, NULL, &error);
    g_assert_no_error (error);
    g_assert_true (json_object_has_member (info, "supported_commands"));
  }

  g_signal_handlers_disconnect_by_data (g.agent, &went);
  g_signal_handlers_disconnect_by_data (g.agent, &came);
  guest_end (&g);
}

static void
test_guest_timeouts (void)
{
  g_autoptr(GError) error = NULL;
  const char *slow[] = { "sleep", "3", NULL };
  Guest g = { 0 };

  guest_boot (&g, Q_GUEST_AGENT_PORT_VIRTIO_SERIAL);
  g_assert_true (q_guest_agent_ping (g.agent, NULL, &error));
  g_assert_no_error (error);

  /* A paused guest cannot answer. */
  cmd_ok (g.machine, "stop");
  q_guest_agent_set_timeout (g.agent, 500);
  g_assert_false (q_guest_agent_ping (g.agent, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  cmd_ok (g.machine, "cont");
  q_guest_agent_set_timeout (g.agent, 30000);
  g_assert_true (q_guest_agent_ping (g.agent, NULL, &error));
  g_assert_no_error (error);

  /* A program that outlives its time limit. */
  g_assert_false (q_guest_agent_exec (g.agent, slow, NULL, NULL, 300, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_true (q_guest_agent_ping (g.agent, NULL, &error));
  g_assert_no_error (error);

  guest_end (&g);
}

static void
test_guest_shutdown (void)
{
  g_autoptr(GError) error = NULL;
  Guest g = { 0 };

  guest_boot (&g, Q_GUEST_AGENT_PORT_VIRTIO_SERIAL);
  g_assert_true (q_guest_agent_shutdown (g.agent, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (q_machine_wait (g.machine, 30000, NULL, &error));
  g_assert_no_error (error);
  {
    int code = -1;
    g_assert_true (q_machine_get_exit_code (g.machine, &code));
    g_assert_cmpint (code, ==, 0);
  }
  g_assert_false (q_guest_agent_ping (g.agent, NULL, &error));
  g_assert_nonnull (error);
  g_assert_true (q_guest_agent_is_closed (g.agent));

  guest_end (&g);
}

static void
exec_done_cb (GObject *object, GAsyncResult *result, gpointer user_data)
{
  GError **out = user_data;

  g_assert_false (q_guest_agent_exec_finish (Q_GUEST_AGENT (object), result, NULL, NULL, NULL, out));
  g_assert_nonnull (*out);
}

static void
test_guest_killed_mid_command (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) failed = NULL;
  const char *slow[] = { "sleep", "30", NULL };
  Guest g = { 0 };
  QGuestAgent *agent;

  guest_boot (&g, Q_GUEST_AGENT_PORT_VIRTIO_SERIAL);
  g_assert_true (q_guest_agent_ping (g.agent, NULL, &error));
  agent = g_object_ref (g.agent);

  q_guest_agent_exec_async (agent, slow, NULL, NULL, -1, NULL, exec_done_cb, &failed);
  g_assert_true (q_machine_kill (g.machine, NULL, &error));
  g_assert_no_error (error);
  while (failed == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_error (failed, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_assert_true (q_guest_agent_is_closed (agent));

  guest_end (&g);
  wait_finalized (agent);
}

static void
test_guest_isa_serial (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) out = NULL;
  g_autoptr(GBytes) data = random_bytes (4096);
  g_autoptr(GBytes) back = NULL;
  const char *echo[] = { "echo", "isa", NULL };
  Guest g = { 0 };
  int status;

  guest_boot (&g, Q_GUEST_AGENT_PORT_ISA_SERIAL);
  g_assert_true (q_guest_agent_exec (g.agent, echo, NULL, NULL, 10000, &status, &out, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (out, NULL), g_bytes_get_size (out), "isa\n", 4);
  g_assert_true (q_guest_agent_file_write (g.agent, "/tmp/small", data, NULL, &error));
  g_assert_no_error (error);
  back = q_guest_agent_file_read (g.agent, "/tmp/small", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (back, data));

  guest_end (&g);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  signal (SIGPIPE, SIG_IGN);

  g_test_add_func ("/qmachine/guest-agent/fake/sync-and-ping", test_fake_sync_and_ping);
  g_test_add_func ("/qmachine/guest-agent/fake/garbage", test_fake_garbage);
  g_test_add_func ("/qmachine/guest-agent/fake/huge-line", test_fake_huge_line);
  g_test_add_func ("/qmachine/guest-agent/fake/numbers", test_fake_numbers);
  g_test_add_func ("/qmachine/guest-agent/fake/hanging-agent", test_fake_hanging_agent);
  g_test_add_func ("/qmachine/guest-agent/fake/timeout-then-resync", test_fake_timeout_then_resync);
  g_test_add_func ("/qmachine/guest-agent/fake/no-agent", test_fake_no_agent);
  g_test_add_func ("/qmachine/guest-agent/fake/shutdown-no-reply", test_fake_shutdown_no_reply);
  g_test_add_func ("/qmachine/guest-agent/fake/close-pending", test_fake_close_pending);
  g_test_add_func ("/qmachine/guest-agent/fake/cancel", test_fake_cancel);
  g_test_add_func ("/qmachine/guest-agent/hostile/copy-symlink", test_hostile_copy_symlink);
  g_test_add_func ("/qmachine/guest-agent/hostile/copy-mode", test_hostile_copy_mode);
  g_test_add_func ("/qmachine/guest-agent/hostile/copy-fails-midway", test_hostile_copy_fails_midway);
  g_test_add_func ("/qmachine/guest-agent/hostile/copy-cancelled", test_hostile_copy_cancelled);
  g_test_add_func ("/qmachine/guest-agent/hostile/copy-limit", test_hostile_copy_limit);
  g_test_add_func ("/qmachine/guest-agent/hostile/copy-shared-dir", test_hostile_copy_shared_dir);
  g_test_add_func ("/qmachine/guest-agent/hostile/copy-other-user", test_hostile_copy_other_user);
  g_test_add_func ("/qmachine/guest-agent/hostile/base64", test_hostile_base64);
  g_test_add_func ("/qmachine/guest-agent/hostile/counts", test_hostile_counts);
  g_test_add_func ("/qmachine/guest-agent/hostile/exit-codes", test_hostile_exit_codes);

  if (g_getenv ("QMACHINE_GUEST_KERNEL") != NULL)
    {
      g_test_add_func ("/qmachine/guest-agent/guest/basics", test_guest_basics);
      g_test_add_func ("/qmachine/guest-agent/guest/files", test_guest_files);
      g_test_add_func ("/qmachine/guest-agent/guest/restart-and-garbage", test_guest_restart_and_garbage);
      g_test_add_func ("/qmachine/guest-agent/guest/timeouts", test_guest_timeouts);
      g_test_add_func ("/qmachine/guest-agent/guest/shutdown", test_guest_shutdown);
      g_test_add_func ("/qmachine/guest-agent/guest/killed-mid-command", test_guest_killed_mid_command);
      g_test_add_func ("/qmachine/guest-agent/guest/isa-serial", test_guest_isa_serial);
    }

  return g_test_run ();
}
