/* hostile-rss.c: the peak memory a hostile QMP peer can cost a client
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Usage: hostile-rss SCENARIO [--unbounded]
 *
 * A forked peer (so that its copies of the messages are not counted)
 * speaks QMP to a QQmpClient over a socketpair. The client's owner context
 * is never iterated: events wait for dispatch, as in a script that only
 * makes blocking calls. After negotiation the program notes its VmRSS;
 * then the peer sends the scenario's messages, and a blocking command
 * whose reply comes after them returns once the client has read them all.
 * It prints the peak (VmHWM) and how much above the starting RSS it is.
 *
 *   events-big    100 events of 10 MiB (the default max-message-size),
 *                 each one long string
 *   events-dense  100 events of Q_QMP_CLIENT_DEFAULT_MAX_MESSAGE_NODES
 *                 values each, all `{}` (the costliest value per byte)
 *   reply-zeros   one 10 MiB reply `[0,0,…]` (five million values)
 *   reply-dense   one reply at the node limit, all `{}`
 *   reply-zeros-limit  one reply at the node limit, all `0`
 *
 * --unbounded sets max-message-nodes and max-queued-event-bytes to their
 * largest values: what the client cost before they existed.
 *
 * docs/security.md has the numbers.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qmachine.h"

#define MiB (1024 * 1024)

static void
write_all (int         fd,
           const char *data,
           gsize       len)
{
  while (len > 0)
    {
      ssize_t n = write (fd, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        _exit (0);   /* the client closed: a refusal */
      data += n;
      len -= n;
    }
}

static void
say (int         fd,
     const char *text)
{
  write_all (fd, text, strlen (text));
}

/* Reads up to a line feed; FALSE at end of file. */
static gboolean
read_line (int fd)
{
  char c;

  for (;;)
    {
      ssize_t n = read (fd, &c, 1);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      if (c == '\n')
        return TRUE;
    }
}

/* A line of @count comma-separated @unit inside @prefix … @suffix. */
static GString *
make_list (const char *prefix,
           const char *unit,
           gsize       count,
           const char *suffix)
{
  GString *s = g_string_new (prefix);

  for (gsize i = 0; i < count; i++)
    {
      if (i > 0)
        g_string_append_c (s, ',');
      g_string_append (s, unit);
    }
  g_string_append (s, suffix);
  return s;
}

static void
peer (int         fd,
      const char *scenario)
{
  GString *msg = NULL;
  guint repeat = 1;

  signal (SIGPIPE, SIG_IGN);

  if (g_str_equal (scenario, "events-big"))
    {
      const char *head = "{\"event\": \"BIG\", \"data\": {\"pad\": \"";
      const char *tail = "\"}}\r\n";

      msg = g_string_new (head);
      while (msg->len + strlen (tail) < Q_QMP_CLIENT_DEFAULT_MAX_MESSAGE_SIZE)
        g_string_append_c (msg, 'x');
      g_string_append (msg, tail);
      repeat = 100;
    }
  else if (g_str_equal (scenario, "events-dense"))
    {
      /* The object, its name, data and its elements. */
      msg = make_list ("{\"event\": \"DENSE\", \"data\": [", "{}",
                       Q_QMP_CLIENT_DEFAULT_MAX_MESSAGE_NODES - 3, "]}\r\n");
      repeat = 100;
    }
  else if (g_str_equal (scenario, "reply-zeros"))
    msg = make_list ("{\"return\": [", "0", Q_QMP_CLIENT_DEFAULT_MAX_MESSAGE_SIZE / 2 - 10,
                     "]}\r\n");
  else if (g_str_equal (scenario, "reply-dense"))
    msg = make_list ("{\"return\": [", "{}", Q_QMP_CLIENT_DEFAULT_MAX_MESSAGE_NODES - 2, "]}\r\n");
  else if (g_str_equal (scenario, "reply-zeros-limit"))
    msg = make_list ("{\"return\": [", "0", Q_QMP_CLIENT_DEFAULT_MAX_MESSAGE_NODES - 2, "]}\r\n");
  else
    {
      fprintf (stderr, "hostile-rss: unknown scenario %s\n", scenario);
      _exit (2);
    }

  say (fd, "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n");
  if (!read_line (fd))
    _exit (1);
  say (fd, "{\"return\": {}}\r\n");
  /* The command the client sends once negotiated. */
  if (!read_line (fd))
    _exit (1);
  for (guint i = 0; i < repeat; i++)
    write_all (fd, msg->str, msg->len);
  if (g_str_has_prefix (scenario, "events"))
    say (fd, "{\"return\": {}}\r\n");
  read_line (fd);   /* until the client closes */
  _exit (0);
}

static long
status_kib (const char *key)
{
  g_autofree char *status = NULL;
  const char *at;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL) ||
      (at = strstr (status, key)) == NULL)
    return -1;
  return strtol (at + strlen (key), NULL, 10);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GMainContext) owner = NULL;
  g_autoptr(QQmpClient) client = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;
  gboolean unbounded = argc > 2 && g_str_equal (argv[2], "--unbounded");
  long start_rss, peak;
  int sv[2];
  pid_t pid;

  if (argc < 2)
    {
      fprintf (stderr, "usage: hostile-rss SCENARIO [--unbounded]\n");
      return 2;
    }

  /* Before any thread exists. */
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    return 1;
  pid = fork ();
  if (pid < 0)
    return 1;
  if (pid == 0)
    {
      close (sv[0]);
      peer (sv[1], argv[1]);
    }
  close (sv[1]);

  /* The owner context: never iterated. */
  owner = g_main_context_new ();
  g_main_context_push_thread_default (owner);
  socket = g_socket_new_from_fd (sv[0], &error);
  g_assert_no_error (error);
  connection = g_socket_connection_factory_create_connection (socket);
  client = q_qmp_client_new (G_IO_STREAM (connection));
  if (unbounded)
    {
      q_qmp_client_set_max_message_nodes (client, G_MAXUINT);
      q_qmp_client_set_max_queued_event_bytes (client, G_MAXUINT64);
    }
  if (!q_qmp_client_negotiate (client, Q_QMP_NEGOTIATE_FLAGS_NONE, NULL, &error))
    g_error ("negotiate: %s", error->message);

  start_rss = status_kib ("VmRSS:");
  ret = q_qmp_client_execute (client, "query-status", NULL, Q_QMP_EXECUTE_FLAGS_NONE, NULL,
                              NULL, &error);
  peak = status_kib ("VmHWM:");

  printf ("%-18s %-9s start %6ld KiB  peak %7ld KiB  (+%.1f MiB)  queued-dropped %u  %s\n",
          argv[1], unbounded ? "unbounded" : "default", start_rss, peak,
          (peak - start_rss) / 1024.0, q_qmp_client_get_dropped_events (client),
          error ? error->message : "reply read");

  g_clear_error (&error);
  q_qmp_client_close (client, NULL, NULL);
  g_clear_object (&client);
  g_main_context_pop_thread_default (owner);
  waitpid (pid, NULL, 0);
  return 0;
}
