/* qmp-fake-peer.c
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "q-worker-private.h"

#include "qmp-fake-peer.h"

int
test_timeout_ms (void)
{
  if (g_getenv ("QMACHINE_TEST_UNDER_VALGRIND") != NULL)
    return 300 * 1000;
  return 30 * 1000;
}

/* ------------------------------------------------------------------------ */
/* Main context waits                                                       */

struct _TestDeadline
{
  GSource    *source;
  char       *what;
  gboolean    expired;
};

static gboolean
deadline_expired_cb (gpointer data)
{
  TestDeadline *deadline = data;

  deadline->expired = TRUE;
  return G_SOURCE_REMOVE;
}

TestDeadline *
test_deadline_new (GMainContext *context,
                   const char   *what)
{
  TestDeadline *deadline = g_new0 (TestDeadline, 1);

  deadline->what = g_strdup (what);
  deadline->source = g_timeout_source_new (test_timeout_ms ());
  g_source_set_callback (deadline->source, deadline_expired_cb, deadline, NULL);
  g_source_set_static_name (deadline->source, "[test] deadline");
  g_source_attach (deadline->source, context);

  return deadline;
}

void
test_deadline_check (TestDeadline *deadline)
{
  if (deadline->expired)
    g_error ("Timed out after %d ms waiting for: %s", test_timeout_ms (), deadline->what);
}

void
test_deadline_free (TestDeadline *deadline)
{
  g_source_destroy (deadline->source);
  g_source_unref (deadline->source);
  g_free (deadline->what);
  g_free (deadline);
}

void
test_store_result_cb (GObject      *object,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  GAsyncResult **out = user_data;

  g_assert_null (*out);
  *out = g_object_ref (result);
}

/* ------------------------------------------------------------------------ */
/* Worker barrier                                                           */

typedef struct
{
  GMutex   mutex;
  GCond    cond;
  guint    hops;
  gboolean done;
} Barrier;

static gboolean
barrier_cb (gpointer data)
{
  Barrier *b = data;

  /* Re-queue at the tail so that what the previous round queued (GTask
   * completions of writes, the next write) runs first. */
  if (b->hops > 0)
    {
      b->hops--;
      q_worker_schedule (barrier_cb, b, NULL);
      return G_SOURCE_REMOVE;
    }

  g_mutex_lock (&b->mutex);
  b->done = TRUE;
  g_cond_signal (&b->cond);
  g_mutex_unlock (&b->mutex);

  return G_SOURCE_REMOVE;
}

void
test_worker_barrier (guint hops)
{
  Barrier b;
  gint64 end = g_get_monotonic_time () + test_timeout_ms () * G_TIME_SPAN_MILLISECOND;

  g_assert_false (q_worker_is_current ());

  g_mutex_init (&b.mutex);
  g_cond_init (&b.cond);
  b.hops = hops;
  b.done = FALSE;

  q_worker_schedule (barrier_cb, &b, NULL);

  g_mutex_lock (&b.mutex);
  while (!b.done)
    {
      if (!g_cond_wait_until (&b.cond, &b.mutex, end))
        g_error ("Timed out waiting for the qmachine worker thread");
    }
  g_mutex_unlock (&b.mutex);

  g_mutex_clear (&b.mutex);
  g_cond_clear (&b.cond);
}

/* ------------------------------------------------------------------------ */
/* JSON                                                                     */

JsonObject *
test_json_object (const char *json)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonNode *root;

  json_parser_load_from_data (parser, json, -1, &error);
  g_assert_no_error (error);
  root = json_parser_get_root (parser);
  g_assert_nonnull (root);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));

  return json_object_ref (json_node_get_object (root));
}

char *
test_json_to_string (JsonObject *object)
{
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);

  json_node_set_object (node, object);
  return json_to_string (node, FALSE);
}

const char *
test_command_name (JsonObject *command)
{
  if (json_object_has_member (command, "execute"))
    return json_object_get_string_member (command, "execute");
  if (json_object_has_member (command, "exec-oob"))
    return json_object_get_string_member (command, "exec-oob");
  return NULL;
}

/* The command's id: QQmpClient sends one (a number) with out-of-band
 * commands only. Returns it as text ("7"), or NULL. */
const char *
test_command_id (JsonObject *command)
{
  static GPrivate key = G_PRIVATE_INIT (g_free);
  JsonNode *id = json_object_get_member (command, "id");
  char *text;

  if (id == NULL)
    return NULL;
  g_assert_true (JSON_NODE_HOLDS_VALUE (id));
  g_assert_cmpint (json_node_get_value_type (id), ==, G_TYPE_INT64);
  text = g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (id));
  g_private_replace (&key, text);
  return text;
}

/* ------------------------------------------------------------------------ */
/* The peer                                                                 */

FakePeer *
fake_peer_new (GSocketConnection **client_end)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  FakePeer *peer;
  int sv[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);

  socket = g_socket_new_from_fd (sv[0], &error);
  g_assert_no_error (error);
  *client_end = g_socket_connection_factory_create_connection (socket);
  g_assert_true (G_IS_UNIX_CONNECTION (*client_end));

  peer = g_new0 (FakePeer, 1);
  peer->fd = sv[1];
  peer->buf = g_byte_array_new ();

  return peer;
}

/* The same over loopback TCP (a GTcpConnection at the client's end). */
FakePeer *
fake_peer_new_tcp (GSocketConnection **client_end)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) gsocket = NULL;
  struct sockaddr_in addr = { .sin_family = AF_INET };
  socklen_t addr_len = sizeof addr;
  FakePeer *peer;
  int listener, client, server;

  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  listener = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (listener, >=, 0);
  g_assert_cmpint (bind (listener, (struct sockaddr *)&addr, sizeof addr), ==, 0);
  g_assert_cmpint (listen (listener, 1), ==, 0);
  g_assert_cmpint (getsockname (listener, (struct sockaddr *)&addr, &addr_len), ==, 0);
  client = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (connect (client, (struct sockaddr *)&addr, sizeof addr), ==, 0);
  server = accept4 (listener, NULL, NULL, SOCK_CLOEXEC);
  g_assert_cmpint (server, >=, 0);
  close (listener);

  gsocket = g_socket_new_from_fd (client, &error);
  g_assert_no_error (error);
  *client_end = g_socket_connection_factory_create_connection (gsocket);
  g_assert_true (G_IS_TCP_CONNECTION (*client_end));

  peer = g_new0 (FakePeer, 1);
  peer->fd = server;
  peer->buf = g_byte_array_new ();

  return peer;
}

void
fake_peer_free (FakePeer *peer)
{
  if (peer == NULL)
    return;

  close (peer->fd);
  g_byte_array_unref (peer->buf);
  g_free (peer);
}

void
fake_peer_write (FakePeer   *peer,
                 const char *data,
                 gssize      len)
{
  gsize done = 0;

  if (len < 0)
    len = strlen (data);

  while (done < (gsize)len)
    {
      ssize_t n = send (peer->fd, data + done, len - done, MSG_NOSIGNAL);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
        return;   /* the client hung up: some tests expect just that */
      g_assert_cmpint (n, >, 0);
      done += n;
    }
}

void
fake_peer_writef (FakePeer   *peer,
                  const char *format,
                  ...)
{
  g_autofree char *s = NULL;
  va_list args;

  va_start (args, format);
  s = g_strdup_vprintf (format, args);
  va_end (args);

  fake_peer_write (peer, s, -1);
}

void
fake_peer_shutdown (FakePeer *peer)
{
  g_assert_cmpint (shutdown (peer->fd, SHUT_RDWR), ==, 0);
}

/* Waits for the fd to be readable; fails the test on timeout. */
static void
fake_peer_wait_readable (FakePeer *peer)
{
  struct pollfd pfd = { .fd = peer->fd, .events = POLLIN };
  int r;

  do
    r = poll (&pfd, 1, test_timeout_ms ());
  while (r < 0 && errno == EINTR);

  if (r == 0)
    g_error ("Timed out after %d ms waiting for the client to write", test_timeout_ms ());
  g_assert_cmpint (r, ==, 1);
}

/* One read into the buffer; returns FALSE on EOF. */
static gboolean
fake_peer_fill (FakePeer *peer,
                gboolean  block)
{
  guint8 tmp[65536];
  ssize_t n;

  if (block)
    fake_peer_wait_readable (peer);

  do
    n = recv (peer->fd, tmp, sizeof tmp, block ? 0 : MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);

  if (n < 0 && !block && (errno == EAGAIN || errno == EWOULDBLOCK))
    return TRUE;
  if (n < 0 && errno == ECONNRESET)
    return FALSE;
  g_assert_cmpint (n, >=, 0);
  if (n == 0)
    return FALSE;

  g_byte_array_append (peer->buf, tmp, n);
  return TRUE;
}

/* memchr() on a GByteArray that may be empty (and then has no data). */
static const guint8 *
buf_find_newline (GByteArray *buf)
{
  if (buf->len == 0)
    return NULL;
  return memchr (buf->data, '\n', buf->len);
}

gboolean
fake_peer_has_line (FakePeer *peer)
{
  return buf_find_newline (peer->buf) != NULL;
}

void
fake_peer_drain_available (FakePeer *peer)
{
  gsize before;

  do
    {
      before = peer->buf->len;
      if (!fake_peer_fill (peer, FALSE))
        break;
    }
  while (peer->buf->len > before);
}

/* Reads and drops exactly @n bytes, past the line buffer (which must be
 * empty). */
void
fake_peer_discard (FakePeer *peer,
                   gsize     n)
{
  guint8 tmp[65536];

  g_assert_cmpuint (peer->buf->len, ==, 0);
  while (n > 0)
    {
      ssize_t got;

      fake_peer_wait_readable (peer);
      do
        got = recv (peer->fd, tmp, MIN (n, sizeof tmp), 0);
      while (got < 0 && errno == EINTR);
      g_assert_cmpint (got, >, 0);
      n -= got;
    }
}

char *
fake_peer_read_line (FakePeer *peer)
{
  const guint8 *nl;
  char *line;
  gsize len;

  while ((nl = buf_find_newline (peer->buf)) == NULL)
    {
      if (!fake_peer_fill (peer, TRUE))
        {
          if (peer->buf->len > 0)
            g_error ("EOF after a partial line of %u bytes", peer->buf->len);
          return NULL;
        }
    }

  len = nl - peer->buf->data;
  line = g_strndup ((const char *)peer->buf->data, len);
  g_byte_array_remove_range (peer->buf, 0, len + 1);

  /* QMP clients end lines with CR LF or LF. */
  if (len > 0 && line[len - 1] == '\r')
    line[len - 1] = '\0';

  return line;
}

JsonObject *
fake_peer_read_command (FakePeer *peer)
{
  g_autofree char *line = fake_peer_read_line (peer);

  if (line == NULL)
    return NULL;

  return test_json_object (line);
}

void
fake_peer_expect_eof (FakePeer *peer)
{
  g_autofree char *line = fake_peer_read_line (peer);

  g_assert_cmpstr (line, ==, NULL);
}

void
fake_peer_expect_nothing (FakePeer *peer)
{
  struct pollfd pfd = { .fd = peer->fd, .events = POLLIN };

  g_assert_cmpuint (peer->buf->len, ==, 0);
  g_assert_cmpint (poll (&pfd, 1, 0), ==, 0);
}

GBytes *
fake_peer_recv_with_fds (FakePeer *peer,
                         GArray   *fds)
{
  guint8 data[65536];
  union {
    char buf[CMSG_SPACE (sizeof (int) * 16)];
    struct cmsghdr align;
  } control;
  struct iovec iov = { .iov_base = data, .iov_len = sizeof data };
  struct msghdr msg = { 0 };
  struct cmsghdr *cmsg;
  ssize_t n;

  g_assert_cmpuint (peer->buf->len, ==, 0);

  fake_peer_wait_readable (peer);

  memset (&control, 0, sizeof control);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;

  do
    n = recvmsg (peer->fd, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  g_assert_cmpint (n, >, 0);
  g_assert_false (msg.msg_flags & MSG_CTRUNC);

  for (cmsg = CMSG_FIRSTHDR (&msg); cmsg != NULL; cmsg = CMSG_NXTHDR (&msg, cmsg))
    {
      if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS)
        {
          gsize count = (cmsg->cmsg_len - CMSG_LEN (0)) / sizeof (int);
          int received[16];

          memcpy (received, CMSG_DATA (cmsg), count * sizeof (int));
          g_array_append_vals (fds, received, count);
        }
    }

  return g_bytes_new (data, n);
}

void
fake_peer_send_greeting (FakePeer   *peer,
                         const char *capabilities_json)
{
  fake_peer_writef (peer,
                    "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, "
                    "\"package\": \"fake-peer\"}, \"capabilities\": %s}}\r\n",
                    capabilities_json);
}

char *
fake_peer_format_reply (JsonObject *command,
                        const char *return_json)
{
  const char *id = test_command_id (command);

  /* As QEMU does: the id comes back when the command had one. */
  if (id == NULL)
    return g_strdup_printf ("{\"return\": %s}\r\n", return_json);
  return g_strdup_printf ("{\"return\": %s, \"id\": %s}\r\n", return_json, id);
}

void
fake_peer_reply (FakePeer   *peer,
                 JsonObject *command,
                 const char *return_json)
{
  g_autofree char *reply = fake_peer_format_reply (command, return_json);

  fake_peer_write (peer, reply, -1);
}

void
fake_peer_reply_error (FakePeer   *peer,
                       JsonObject *command,
                       const char *klass,
                       const char *desc)
{
  const char *id = test_command_id (command);

  if (id == NULL)
    fake_peer_writef (peer, "{\"error\": {\"class\": \"%s\", \"desc\": \"%s\"}}\r\n",
                      klass, desc);
  else
    fake_peer_writef (peer, "{\"error\": {\"class\": \"%s\", \"desc\": \"%s\"}, \"id\": %s}\r\n",
                      klass, desc, id);
}

JsonObject *
fake_peer_negotiate (FakePeer   *peer,
                     const char *capabilities_json)
{
  JsonObject *command;

  fake_peer_send_greeting (peer, capabilities_json);
  command = fake_peer_read_command (peer);
  g_assert_nonnull (command);
  g_assert_cmpstr (test_command_name (command), ==, "qmp_capabilities");
  fake_peer_reply (peer, command, "{}");

  return command;
}
