/* qmp-fake-peer.h
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* How long a test waits for something that should happen before it gives
 * up and fails (never a synchronisation delay: waits end as soon as the
 * condition holds). Longer under valgrind. */
int          test_timeout_ms               (void);

/* Iterates @context until @cond holds; fails the test after
 * test_timeout_ms(). */
typedef struct _TestDeadline TestDeadline;
TestDeadline *test_deadline_new            (GMainContext *context,
                                            const char   *what);
void          test_deadline_check          (TestDeadline *deadline);
void          test_deadline_free           (TestDeadline *deadline);

#define TEST_WAIT(context, cond)                                          \
  G_STMT_START {                                                          \
    TestDeadline *_test_deadline = test_deadline_new ((context), #cond);  \
    while (!(cond))                                                       \
      {                                                                   \
        g_main_context_iteration ((context), TRUE);                       \
        test_deadline_check (_test_deadline);                             \
      }                                                                   \
    test_deadline_free (_test_deadline);                                  \
  } G_STMT_END

/* A GAsyncReadyCallback storing a ref to the result in *(GAsyncResult **)user_data. */
void          test_store_result_cb         (GObject      *object,
                                            GAsyncResult *result,
                                            gpointer      user_data);

/* Lets the process-wide qmachine worker thread run everything queued on it
 * so far (and @hops rounds of whatever that queued in turn), then returns.
 * After it, whatever the client was going to write in response to what the
 * test did is in the socket. */
void          test_worker_barrier          (guint         hops);

JsonObject   *test_json_object             (const char   *json);
char         *test_json_to_string          (JsonObject   *object);

/* The peer end of a socketpair, driven with blocking calls by the test
 * thread (the client does all its I/O on the worker thread) or by a thread
 * of the test. */
typedef struct
{
  int         fd;
  GByteArray *buf;      /* received, not yet consumed */
} FakePeer;

FakePeer     *fake_peer_new                (GSocketConnection **client_end);
FakePeer     *fake_peer_new_tcp            (GSocketConnection **client_end);
void          fake_peer_free               (FakePeer     *peer);
void          fake_peer_write              (FakePeer     *peer,
                                            const char   *data,
                                            gssize        len);
void          fake_peer_writef             (FakePeer     *peer,
                                            const char   *format,
                                            ...) G_GNUC_PRINTF (2, 3);
void          fake_peer_shutdown           (FakePeer     *peer);
/* The next line (without CR LF), or NULL on EOF. Fails on timeout. */
char         *fake_peer_read_line          (FakePeer     *peer);
void          fake_peer_discard            (FakePeer     *peer,
                                            gsize         n);
/* The next line parsed as a JSON object, or NULL on EOF. */
JsonObject   *fake_peer_read_command       (FakePeer     *peer);
/* Asserts that the client closed the connection with nothing more sent. */
void          fake_peer_expect_eof         (FakePeer     *peer);
/* Asserts that nothing (no bytes, no EOF) is waiting to be read now. */
void          fake_peer_expect_nothing     (FakePeer     *peer);
/* Reads whatever is waiting now, without blocking, into the buffer. */
void          fake_peer_drain_available    (FakePeer     *peer);
gboolean      fake_peer_has_line           (FakePeer     *peer);
/* One recvmsg(): returns the bytes, stores received fds in @fds. The
 * buffer must be empty. */
GBytes       *fake_peer_recv_with_fds      (FakePeer     *peer,
                                            GArray       *fds);

void          fake_peer_send_greeting      (FakePeer     *peer,
                                            const char   *capabilities_json);
void          fake_peer_reply              (FakePeer     *peer,
                                            JsonObject   *command,
                                            const char   *return_json);
char         *fake_peer_format_reply       (JsonObject   *command,
                                            const char   *return_json);
void          fake_peer_reply_error        (FakePeer     *peer,
                                            JsonObject   *command,
                                            const char   *klass,
                                            const char   *desc);
/* Greeting, reads qmp_capabilities, replies; returns the command read. */
JsonObject   *fake_peer_negotiate          (FakePeer     *peer,
                                            const char   *capabilities_json);

const char   *test_command_name            (JsonObject   *command);
const char   *test_command_id              (JsonObject   *command);

G_END_DECLS
