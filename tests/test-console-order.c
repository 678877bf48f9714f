/* test-console-order.c: the console's `output` signal for some bytes runs
 * before a wait those bytes satisfy completes
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A QConsole on one end of a socketpair (the other end plays QEMU's serial
 * port), so the marker can arrive in pieces exactly as the test writes it.
 */

#include "config.h"

#include <sys/socket.h>
#include <unistd.h>

#include "qmachine.h"
#include "q-console-private.h"
#include "qmp-fake-peer.h"

typedef struct
{
  GString *seen;       /* output chunks, then "|match|" */
  guint    chunks;
  gboolean matched;
} Order;

static void
output_cb (QConsole *console, GBytes *chunk, Order *o)
{
  gsize len;
  const char *data = g_bytes_get_data (chunk, &len);

  g_string_append_len (o->seen, data, len);
  o->chunks++;
}

static void
matched_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  Order *o = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = q_console_wait_for_finish (Q_CONSOLE (source), result, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (text, ==, "MARKER");
  g_string_append (o->seen, "|match|");
  o->matched = TRUE;
}

static void
test_output_before_match (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) ours = NULL;
  QConsole *console;
  Order o = { g_string_new (NULL), 0, FALSE };
  int sv[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  ours = g_socket_new_from_fd (sv[0], &error);
  g_assert_no_error (error);
  console = q_console_new (ours, g_main_context_default (), TRUE, 4096, -1);
  g_signal_connect (console, "output", G_CALLBACK (output_cb), &o);
  q_console_wait_for_async (console, "MARKER", Q_CONSOLE_MATCH_FLAGS_NONE, 10000, NULL,
                            matched_cb, &o);

  /* The marker in two pieces: each is read, and signalled, on its own. */
  g_assert_cmpint (write (sv[1], "boot... MAR", 11), ==, 11);
  TEST_WAIT (NULL, o.chunks == 1);
  g_assert_cmpint (write (sv[1], "KER\n", 4), ==, 4);
  TEST_WAIT (NULL, o.matched);

  /* Every byte of the match was signalled before the match completed. */
  g_assert_cmpstr (o.seen->str, ==, "boot... MARKER\n|match|");

  q_console_close (console);
  close (sv[1]);
  g_object_unref (console);
  g_string_free (o.seen, TRUE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/console/output-before-match", test_output_before_match);
  return g_test_run ();
}
