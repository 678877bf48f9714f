/* test-qtest.c: QQtestClient against the real QEMU (-machine pc, TCG,
 * stopped CPUs: no guest needed) and against a scripted peer for what
 * QEMU will not do (the clock without the qtest accelerator, hostile
 * lines)
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qmachine.h"

/* ------------------------------------------------------------------------ */
/* A scripted peer on a thread, over a socketpair                           */

typedef struct
{
  const char *expect;     /* the command line it reads first (NULL: none) */
  const char *reply;      /* what it writes then (NULL: it closes) */
  gsize       reply_len;  /* 0: strlen (reply) */
} Step;

typedef struct
{
  int          fd;
  const Step  *steps;
  GThread     *thread;
  char        *mismatch;  /* the first line that was not expected */
} Peer;

static char *
peer_read_line (int fd)
{
  GString *s = g_string_new (NULL);
  char c;

  for (;;)
    {
      ssize_t n = read (fd, &c, 1);

      if (n <= 0)
        {
          g_string_free (s, TRUE);
          return NULL;
        }
      if (c == '\n')
        return g_string_free (s, FALSE);
      g_string_append_c (s, c);
    }
}

static void
peer_write (int fd, const char *data, gsize len)
{
  while (len > 0)
    {
      ssize_t n = write (fd, data, len);

      if (n <= 0)
        return;
      data += n;
      len -= n;
    }
}

static gpointer
peer_thread (gpointer data)
{
  Peer *peer = data;

  for (const Step *s = peer->steps; s->expect != NULL || s->reply != NULL; s++)
    {
      if (s->expect != NULL)
        {
          g_autofree char *line = peer_read_line (peer->fd);

          if (g_strcmp0 (line, s->expect) != 0 && peer->mismatch == NULL)
            peer->mismatch = g_strdup_printf ("expected \"%s\", read \"%s\"", s->expect,
                                              line ? line : "(end of file)");
        }
      if (s->reply == NULL)
        break;
      peer_write (peer->fd, s->reply, s->reply_len ? s->reply_len : strlen (s->reply));
    }
  close (peer->fd);
  return NULL;
}

static QQtestClient *
peer_start (Peer       *peer,
            const Step *steps)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  int sv[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  memset (peer, 0, sizeof *peer);
  peer->fd = sv[1];
  peer->steps = steps;
  socket = g_socket_new_from_fd (sv[0], NULL);
  g_assert_nonnull (socket);
  connection = g_socket_connection_factory_create_connection (socket);
  peer->thread = g_thread_new ("qtest-peer", peer_thread, peer);

  return q_qtest_client_new (G_IO_STREAM (connection));
}

static void
peer_finish (Peer         *peer,
             QQtestClient *client)
{
  /* Our end closes with the client: the peer's reads end. */
  q_qtest_client_close (client);
  g_object_unref (client);
  g_thread_join (peer->thread);
  if (peer->mismatch != NULL)
    g_test_fail_printf ("peer: %s", peer->mismatch);
  g_free (peer->mismatch);
}

typedef struct
{
  GArray *lines;   /* int: +N raised, -N-1 lowered */
} Irqs;

static void
irq_cb (QQtestClient *client,
        int           line,
        gboolean      level,
        gpointer      user_data)
{
  Irqs *irqs = user_data;
  int v = level ? line : -line - 1;

  g_array_append_val (irqs->lines, v);
}

static gboolean
watchdog_cb (gpointer data)
{
  g_error ("the test waited for more than 20 s");
  return G_SOURCE_REMOVE;
}

/* Iterates the main context (where the signals arrive) until @n IRQ
 * lines were delivered. */
static void
wait_irqs (Irqs  *irqs,
           guint  n)
{
  guint watchdog = g_timeout_add_seconds (20, watchdog_cb, NULL);

  while (irqs->lines->len < n)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (watchdog);
}

/* ------------------------------------------------------------------------ */
/* Against the scripted peer                                                */

static void
test_fake_clock_and_irqs (void)
{
  static const Step steps[] = {
    { "clock_step 1000", "IRQ raise 3\nOK 1000\n" },
    { "clock_step", "OK 2500\n" },
    { "clock_set 5000", "IRQ lower 3\nIRQ raise 11\nOK 5000\n" },
    { "inb 0x71", "OK 0x0012\n" },
    { "readq 0x1000", "OK 0x1122334455667788\n" },
    { NULL, NULL },
  };
  g_autoptr(GError) error = NULL;
  Irqs irqs = { g_array_new (FALSE, FALSE, sizeof (int)) };
  QQtestClient *client;
  Peer peer;
  gint64 ns = 0;
  guint32 v32 = 0;
  guint64 v64 = 0;

  client = peer_start (&peer, steps);
  g_signal_connect (client, "irq", G_CALLBACK (irq_cb), &irqs);

  g_assert_true (q_qtest_client_clock_step (client, 1000, &ns, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (ns, ==, 1000);
  g_assert_true (q_qtest_client_clock_step (client, -1, &ns, NULL, &error));
  g_assert_cmpint (ns, ==, 2500);
  g_assert_true (q_qtest_client_clock_set (client, 5000, &ns, NULL, &error));
  g_assert_cmpint (ns, ==, 5000);
  g_assert_true (q_qtest_client_in (client, Q_QTEST_WIDTH_BYTE, 0x71, &v32, NULL, &error));
  g_assert_cmpuint (v32, ==, 0x12);
  g_assert_true (q_qtest_client_read_value (client, Q_QTEST_WIDTH_QUAD, 0x1000, &v64, NULL, &error));
  g_assert_cmphex (v64, ==, G_GUINT64_CONSTANT (0x1122334455667788));

  /* The IRQ lines between the replies, in order, in this context. */
  wait_irqs (&irqs, 3);
  g_assert_cmpint (g_array_index (irqs.lines, int, 0), ==, 3);
  g_assert_cmpint (g_array_index (irqs.lines, int, 1), ==, -4);
  g_assert_cmpint (g_array_index (irqs.lines, int, 2), ==, 11);

  peer_finish (&peer, client);
  g_array_unref (irqs.lines);
}

static void
test_fake_fail_err (void)
{
  static const Step steps[] = {
    { "outb 0x70 0xe", "FAIL nope, not that\n" },
    { "endianness", "ERR something broke\n" },
    { "module_load a b", "FAIL\n" },
    { "clock_step 1", "FAIL Unknown command 'clock_step'\n" },
    { "endianness", "OK little\n" },
    { NULL, NULL },
  };
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  QQtestClient *client;
  Peer peer;

  client = peer_start (&peer, steps);

  g_assert_false (q_qtest_client_out (client, Q_QTEST_WIDTH_BYTE, 0x70, 0x0e, NULL, &error));
  g_assert_error (error, Q_QTEST_ERROR, Q_QTEST_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, "nope, not that");
  g_clear_error (&error);

  g_assert_null (q_qtest_client_command (client, "endianness", NULL, &error));
  g_assert_error (error, Q_QTEST_ERROR, Q_QTEST_ERROR_ERROR);
  g_assert_cmpstr (error->message, ==, "something broke");
  g_clear_error (&error);

  g_assert_null (q_qtest_client_command (client, "module_load a b", NULL, &error));
  g_assert_error (error, Q_QTEST_ERROR, Q_QTEST_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "module_load"));
  g_clear_error (&error);

  g_assert_false (q_qtest_client_clock_step (client, 1, NULL, NULL, &error));
  g_assert_error (error, Q_QTEST_ERROR, Q_QTEST_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "-accel qtest"));
  g_clear_error (&error);

  /* Newlines and control characters never reach the wire: the peer's
   * next line is the next valid command. */
  g_assert_null (q_qtest_client_command (client, "endianness\noutb 0x80 0", NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (q_qtest_client_command (client, "", NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (q_qtest_client_irq_intercept_in (client, "a b", NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  text = q_qtest_client_command (client, "endianness", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (text, ==, "little");

  peer_finish (&peer, client);
}

static void
test_fake_bad_shapes (void)
{
  static const Step steps[] = {
    { "read 0x1000 4", "OK 0xaabb\n" },
    { "read 0x1000 2", "OK 0xzz11\n" },
    { "inb 0x71", "OK 0x1ff\n" },
    { "clock_step 5", "OK soon\n" },
    { "read 0x1000 2", "OK 0xaabb\n" },
    { NULL, NULL },
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  QQtestClient *client;
  Peer peer;
  guint32 v = 0;

  client = peer_start (&peer, steps);

  /* A reply of the wrong shape fails its command only. */
  g_assert_null (q_qtest_client_read_memory (client, 0x1000, 4, NULL, &error));
  g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL);
  g_clear_error (&error);
  g_assert_null (q_qtest_client_read_memory (client, 0x1000, 2, NULL, &error));
  g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL);
  g_clear_error (&error);
  g_assert_false (q_qtest_client_in (client, Q_QTEST_WIDTH_BYTE, 0x71, &v, NULL, &error));
  g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL);
  g_clear_error (&error);
  g_assert_false (q_qtest_client_clock_step (client, 5, NULL, NULL, &error));
  g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL);
  g_clear_error (&error);

  bytes = q_qtest_client_read_memory (client, 0x1000, 2, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (bytes), ==, 2);
  g_assert_cmpuint (((const guint8 *)g_bytes_get_data (bytes, NULL))[0], ==, 0xaa);

  peer_finish (&peer, client);
}

/* A hostile peer: the command in flight and the ones behind it fail
 * with a clear error, and the channel closes; nothing hangs. */
static void
hostile (const char *reply,
         gsize       reply_len,
         GQuark      domain,
         int         code,
         const char *words)
{
  Step steps[] = {
    { "endianness", reply, reply_len },
    { NULL, NULL },
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) error2 = NULL;
  QQtestClient *client;
  Peer peer;

  client = peer_start (&peer, steps);
  g_assert_null (q_qtest_client_command (client, "endianness", NULL, &error));
  g_assert_error (error, domain, code);
  if (words != NULL && strstr (error->message, words) == NULL)
    g_test_fail_printf ("\"%s\" does not say \"%s\"", error->message, words);
  g_assert_true (q_qtest_client_is_closed (client));
  g_assert_null (q_qtest_client_command (client, "endianness", NULL, &error2));
  g_assert_nonnull (error2);
  peer_finish (&peer, client);
}

static void
test_fake_hostile (void)
{
  gsize huge = 2 * 1024 * 1024;
  g_autofree char *big = g_malloc (huge);

  memset (big, 'a', huge);
  /* 2 MiB without a line feed, over the 1 MiB limit. */
  hostile (big, huge, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL, "larger than the limit");
  /* A long line that ends: still over the limit. */
  big[huge - 1] = '\n';
  hostile (big, huge, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL, "larger than the limit");
  hostile ("HELLO THERE\n", 0, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL, "neither OK");
  hostile ("OK li\0ttle\n", 11, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL, "control character");
  hostile ("OK \xff\xfe\n", 0, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL, "UTF-8");
  hostile ("IRQ wave 3\n", 0, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL, "IRQ");
  /* End of file mid-command (the reply half written). */
  hostile ("OK lit", 0, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, "closed");
}

static void
test_fake_timeout (void)
{
  static const Step steps[] = {
    { "endianness", "" },
    { "outb 0x80 0x1", "OK little\nOK\n" },
    { NULL, NULL },
  };
  g_autoptr(GError) error = NULL;
  QQtestClient *client;
  Peer peer;

  client = peer_start (&peer, steps);
  q_qtest_client_set_timeout (client, 50);
  g_assert_null (q_qtest_client_command (client, "endianness", NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  /* The late reply goes to the timed-out command's slot, not this one. */
  q_qtest_client_set_timeout (client, -1);
  g_assert_true (q_qtest_client_out (client, Q_QTEST_WIDTH_BYTE, 0x80, 1, NULL, &error));
  g_assert_no_error (error);
  peer_finish (&peer, client);
}

/* ------------------------------------------------------------------------ */
/* Against QEMU                                                             */

static QMachine *
qemu_machine (void)
{
  const char *env = g_getenv ("QMACHINE_TEST_QEMU");
  QMachine *machine = q_machine_new (env ? env : "qemu-system-x86_64");
  g_autoptr(GError) error = NULL;

  q_machine_add_args (machine, "-machine", "pc", "-accel", "tcg", "-nodefaults", "-S", NULL);
  q_machine_add_qtest (machine);
  g_assert_true (q_machine_launch (machine, NULL, &error));
  g_assert_no_error (error);
  g_assert_nonnull (q_machine_get_qtest_client (machine));
  return machine;
}

static void
qemu_done (QMachine *machine)
{
  g_autoptr(GError) error = NULL;
  QQtestClient *client = q_machine_dup_qtest_client (machine);

  g_assert_true (q_machine_shutdown (machine, 0, 10000, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (q_qtest_client_is_closed (client));
  g_object_unref (client);
  g_object_unref (machine);
}

static void
test_qemu_cmos (void)
{
  QMachine *machine = qemu_machine ();
  QQtestClient *client = q_machine_get_qtest_client (machine);
  g_autoptr(GError) error = NULL;
  const char * const *args = q_machine_get_full_args (machine);
  gboolean has_qtest_arg = FALSE;
  guint32 v = 0;

  for (guint i = 0; args[i]; i++)
    has_qtest_arg |= g_str_equal (args[i], "chardev:qtest");
  g_assert_true (has_qtest_arg);

  /* CMOS NVRAM bytes 0x30 and 0x7f through the index and data ports. */
  g_assert_true (q_qtest_client_out (client, Q_QTEST_WIDTH_BYTE, 0x70, 0x30, NULL, &error));
  g_assert_true (q_qtest_client_out (client, Q_QTEST_WIDTH_BYTE, 0x71, 0x5a, NULL, &error));
  g_assert_true (q_qtest_client_out (client, Q_QTEST_WIDTH_BYTE, 0x70, 0x7f, NULL, &error));
  g_assert_true (q_qtest_client_out (client, Q_QTEST_WIDTH_BYTE, 0x71, 0xa5, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (q_qtest_client_out (client, Q_QTEST_WIDTH_BYTE, 0x70, 0x30, NULL, &error));
  g_assert_true (q_qtest_client_in (client, Q_QTEST_WIDTH_BYTE, 0x71, &v, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmphex (v, ==, 0x5a);
  g_assert_true (q_qtest_client_out (client, Q_QTEST_WIDTH_BYTE, 0x70, 0x7f, NULL, &error));
  g_assert_true (q_qtest_client_in (client, Q_QTEST_WIDTH_BYTE, 0x71, &v, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmphex (v, ==, 0xa5);

  qemu_done (machine);
}

static void
test_qemu_memory (void)
{
  static const guint8 pattern[] = { 0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x7f, 0x80, 0xff };
  QMachine *machine = qemu_machine ();
  QQtestClient *client = q_machine_get_qtest_client (machine);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) written = g_bytes_new_static (pattern, sizeof pattern);
  g_autoptr(GBytes) read = NULL;
  g_autoptr(GBytes) filled = NULL;
  g_autoptr(GBytes) empty = NULL;
  static const struct { QQtestWidth width; guint64 value; } values[] = {
    { Q_QTEST_WIDTH_BYTE, 0x12 },
    { Q_QTEST_WIDTH_WORD, 0x1234 },
    { Q_QTEST_WIDTH_LONG, 0x12345678 },
    { Q_QTEST_WIDTH_QUAD, G_GUINT64_CONSTANT (0x1122334455667788) },
  };

  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    {
      guint64 v = 0;

      g_assert_true (q_qtest_client_write_value (client, values[i].width, 0x1000 + 16 * i,
                                                 values[i].value, NULL, &error));
      g_assert_no_error (error);
      g_assert_true (q_qtest_client_read_value (client, values[i].width, 0x1000 + 16 * i, &v,
                                                NULL, &error));
      g_assert_no_error (error);
      g_assert_cmphex (v, ==, values[i].value);
    }

  g_assert_true (q_qtest_client_write_memory (client, 0x1100, written, NULL, &error));
  g_assert_no_error (error);
  read = q_qtest_client_read_memory (client, 0x1100, sizeof pattern, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (read, written));

  g_assert_true (q_qtest_client_memset (client, 0x2000, 300, 0xab, NULL, &error));
  g_assert_no_error (error);
  filled = q_qtest_client_read_memory (client, 0x2000, 301, NULL, &error);
  g_assert_no_error (error);
  for (gsize i = 0; i < 300; i++)
    g_assert_cmpuint (((const guint8 *)g_bytes_get_data (filled, NULL))[i], ==, 0xab);

  /* Sizes of 0 never reach QEMU 7.2, which aborts on them. */
  empty = q_qtest_client_read_memory (client, 0x2000, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (empty), ==, 0);
  g_assert_true (q_qtest_client_memset (client, 0x2000, 0, 0, NULL, &error));

  /* A read whose reply cannot fit the line limit is refused up front. */
  g_assert_null (q_qtest_client_read_memory (client, 0, 1024 * 1024, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_clear_error (&error);
  q_qtest_client_set_max_line_size (client, 4 * 1024 * 1024);
  g_clear_pointer (&read, g_bytes_unref);
  read = q_qtest_client_read_memory (client, 0, 1024 * 1024, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (read), ==, 1024 * 1024);

  qemu_done (machine);
}

static void
test_qemu_irq (void)
{
  QMachine *machine = qemu_machine ();
  QQtestClient *client = q_machine_get_qtest_client (machine);
  g_autoptr(GError) error = NULL;
  Irqs irqs = { g_array_new (FALSE, FALSE, sizeof (int)) };

  g_signal_connect (client, "irq", G_CALLBACK (irq_cb), &irqs);

  /* A path QEMU does not know. */
  g_assert_false (q_qtest_client_irq_intercept_in (client, "/machine/nothing-here", NULL, &error));
  g_assert_error (error, Q_QTEST_ERROR, Q_QTEST_ERROR_FAILED);
  g_clear_error (&error);

  g_assert_true (q_qtest_client_irq_intercept_in (client, "ioapic", NULL, &error));
  g_assert_no_error (error);
  /* The RTC's line (8) raised and lowered by hand... */
  g_assert_true (q_qtest_client_set_irq_in (client, "ioapic", NULL, 8, 1, NULL, &error));
  g_assert_true (q_qtest_client_set_irq_in (client, "ioapic", NULL, 8, 0, NULL, &error));
  g_assert_no_error (error);
  wait_irqs (&irqs, 2);
  g_assert_cmpint (g_array_index (irqs.lines, int, 0), ==, 8);
  g_assert_cmpint (g_array_index (irqs.lines, int, 1), ==, -9);

  /* ...and by the RTC itself: its periodic interrupt (register A rate
   * 6, 1024 Hz; register B PIE), on the host clock while the CPUs stay
   * stopped. */
  g_assert_true (q_qtest_client_out (client, Q_QTEST_WIDTH_BYTE, 0x70, 0x0a, NULL, &error));
  g_assert_true (q_qtest_client_out (client, Q_QTEST_WIDTH_BYTE, 0x71, 0x26, NULL, &error));
  g_assert_true (q_qtest_client_out (client, Q_QTEST_WIDTH_BYTE, 0x70, 0x0b, NULL, &error));
  g_assert_true (q_qtest_client_out (client, Q_QTEST_WIDTH_BYTE, 0x71, 0x42, NULL, &error));
  g_assert_no_error (error);
  wait_irqs (&irqs, 3);
  g_assert_cmpint (g_array_index (irqs.lines, int, 2), ==, 8);

  g_signal_handlers_disconnect_by_func (client, irq_cb, &irqs);
  qemu_done (machine);
  g_array_unref (irqs.lines);
}

static void
test_qemu_errors (void)
{
  QMachine *machine = qemu_machine ();
  QQtestClient *client = q_machine_get_qtest_client (machine);
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  gint64 ns = -1;

  g_assert_null (q_qtest_client_command (client, "bogus", NULL, &error));
  g_assert_error (error, Q_QTEST_ERROR, Q_QTEST_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, "Unknown command 'bogus'");
  g_clear_error (&error);

  text = q_qtest_client_command (client, "endianness", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (text, ==, "little");

  /* Without the qtest accelerator (Debian's 7.2), the clock commands
   * fail, saying why; with it they work. */
  if (q_qtest_client_clock_step (client, 1000, &ns, NULL, &error))
    g_assert_cmpint (ns, >=, 1000);
  else
    {
      g_assert_error (error, Q_QTEST_ERROR, Q_QTEST_ERROR_FAILED);
      g_assert_nonnull (strstr (error->message, "-accel qtest"));
      g_test_message ("clock_step: %s", error->message);
      g_clear_error (&error);
      g_assert_false (q_qtest_client_clock_set (client, 5000, &ns, NULL, &error));
      g_assert_error (error, Q_QTEST_ERROR, Q_QTEST_ERROR_FAILED);
      g_assert_nonnull (strstr (error->message, "-accel qtest"));
    }

  qemu_done (machine);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/qmachine/qtest/fake/clock-and-irqs", test_fake_clock_and_irqs);
  g_test_add_func ("/qmachine/qtest/fake/fail-err", test_fake_fail_err);
  g_test_add_func ("/qmachine/qtest/fake/bad-shapes", test_fake_bad_shapes);
  g_test_add_func ("/qmachine/qtest/fake/hostile", test_fake_hostile);
  g_test_add_func ("/qmachine/qtest/fake/timeout", test_fake_timeout);
  g_test_add_func ("/qmachine/qtest/qemu/cmos", test_qemu_cmos);
  g_test_add_func ("/qmachine/qtest/qemu/memory", test_qemu_memory);
  g_test_add_func ("/qmachine/qtest/qemu/irq", test_qemu_irq);
  g_test_add_func ("/qmachine/qtest/qemu/errors", test_qemu_errors);

  return g_test_run ();
}
