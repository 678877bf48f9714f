/* test-screen.c: screen dumps and input against the real QEMU (-vga std,
 * -display none); with QMACHINE_TEST_FAULTS=screendump-ppm, the PPM path
 * older QEMUs take, converted to PNG by qmachine. Typing into a real guest
 * is tested when QMACHINE_GUEST_KERNEL is set.
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "qmachine.h"
#include "machine-test-util.h"

static const char *
qemu_binary (void)
{
  const char *env = g_getenv ("QMACHINE_TEST_QEMU");
  return env ? env : "qemu-system-x86_64";
}

typedef struct
{
  char     *base;
  QMachine *machine;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->base = g_dir_make_tmp ("qm-screen-XXXXXX", NULL);
  f->machine = q_machine_new (qemu_binary ());
  q_machine_set_base_temp_dir (f->machine, f->base);
  q_machine_set_machine (f->machine, "pc");
  /* A display device, a USB tablet for absolute pointing, no guest. */
  q_machine_add_args (f->machine, "-nodefaults", "-accel", "tcg", "-vga", "std", "-S",
                      "-device", "qemu-xhci", "-device", "usb-tablet", NULL);
  g_assert_true (q_machine_launch (f->machine, NULL, &error));
  g_assert_no_error (error);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  GDir *dir;

  g_assert_true (q_machine_shutdown (f->machine, Q_MACHINE_SHUTDOWN_FLAGS_NONE, 10000, NULL, NULL));
  wait_finalized (g_steal_pointer (&f->machine));
  /* The screen files are gone with the machine's directory. */
  dir = g_dir_open (f->base, 0, NULL);
  g_assert_null (g_dir_read_name (dir));
  g_dir_close (dir);
  g_rmdir (f->base);
  g_free (f->base);
}

static guint32
be32 (const guint8 *p)
{
  return ((guint32)p[0] << 24) | ((guint32)p[1] << 16) | ((guint32)p[2] << 8) | p[3];
}

/* Checks a PNG thoroughly: signature, every chunk's CRC (computed here,
 * independently of the library's encoder), IHDR, and that IDAT inflates
 * to exactly the rows IHDR announces. */
static void
assert_png (GBytes *png, guint want_width, guint want_height)
{
  static const guint8 signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n' };
  gsize len, pos = 8;
  const guint8 *data = g_bytes_get_data (png, &len);
  g_autoptr(GByteArray) idat = g_byte_array_new ();
  guint width = 0, height = 0, depth = 0, color = 0;
  gboolean ended = FALSE;

  g_assert_cmpuint (len, >, 8);
  g_assert_cmpmem (data, 8, signature, 8);

  while (pos + 12 <= len && !ended)
    {
      guint32 clen = be32 (data + pos);
      const guint8 *type = data + pos + 4;
      guint32 crc = 0xFFFFFFFFu;

      g_assert_cmpuint (pos + 12 + clen, <=, len);
      for (gsize i = 0; i < 4 + (gsize)clen; i++)
        {
          crc ^= type[i];
          for (int k = 0; k < 8; k++)
            crc = (crc & 1) ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
        }
      g_assert_cmpuint (crc ^ 0xFFFFFFFFu, ==, be32 (type + 4 + clen));

      if (memcmp (type, "IHDR", 4) == 0)
        {
          width = be32 (type + 4);
          height = be32 (type + 8);
          depth = type[12];
          color = type[13];
        }
      else if (memcmp (type, "IDAT", 4) == 0)
        g_byte_array_append (idat, type + 4, clen);
      else if (memcmp (type, "IEND", 4) == 0)
        ended = TRUE;
      pos += 12 + clen;
    }
  g_assert_true (ended);
  g_assert_cmpuint (width, ==, want_width);
  g_assert_cmpuint (height, ==, want_height);
  g_assert_cmpuint (depth, ==, 8);

  {
    g_autoptr(GZlibDecompressor) zlib = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_ZLIB);
    g_autoptr(GInputStream) raw = g_memory_input_stream_new_from_data (idat->data, idat->len, NULL);
    g_autoptr(GInputStream) in = g_converter_input_stream_new (raw, G_CONVERTER (zlib));
    g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
    g_autoptr(GError) error = NULL;
    gsize channels = color == 2 ? 3 : color == 6 ? 4 : 0;
    gssize inflated;

    g_assert_cmpuint (channels, >, 0);
    inflated = g_output_stream_splice (out, in, G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (inflated, ==, (gssize)height * (1 + (gssize)width * channels));
  }
}

static void
test_screendump (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) png = NULL;

  png = q_machine_screendump (f->machine, NULL, -1, NULL, &error);
  g_assert_no_error (error);
  /* std VGA before any guest code: 640x480 (QEMU's blank screen). */
  assert_png (png, 640, 480);
  g_test_message ("screen dump: %" G_GSIZE_FORMAT " bytes of PNG%s", g_bytes_get_size (png),
                  g_getenv ("QMACHINE_TEST_FAULTS") ? " (converted from PPM)" : "");

  /* A device that does not exist: QEMU's error, nothing left behind. */
  g_assert_null (q_machine_screendump (f->machine, "no-such-display", -1, NULL, &error));
  g_assert_error (error, Q_QMP_ERROR, Q_QMP_ERROR_DEVICE_NOT_FOUND);
}

static void
test_screendump_needs_display (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *base = g_dir_make_tmp ("qm-screen-XXXXXX", NULL);
  QMachine *m = q_machine_new (qemu_binary ());

  q_machine_set_base_temp_dir (m, base);
  q_machine_set_machine (m, "none");
  q_machine_add_args (m, "-nodefaults", NULL);

  /* Not launched: a clear error. */
  g_assert_null (q_machine_screendump (m, NULL, -1, NULL, &error));
  g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_NOT_LAUNCHED);
  g_clear_error (&error);

  /* No display device: QEMU says so. */
  g_assert_true (q_machine_launch (m, NULL, &error));
  g_assert_null (q_machine_screendump (m, NULL, -1, NULL, &error));
  g_assert_error (error, Q_QMP_ERROR, Q_QMP_ERROR_GENERIC_ERROR);
  g_assert_true (q_machine_shutdown (m, Q_MACHINE_SHUTDOWN_FLAGS_NONE, 10000, NULL, NULL));
  wait_finalized (m);
  g_assert_cmpint (g_rmdir (base), ==, 0);
}

static void
test_input (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  /* QEMU takes pointer events from a running machine only. */
  g_assert_false (q_machine_pointer_move (f->machine, 0.5, 0.25, NULL, &error));
  g_assert_error (error, Q_QMP_ERROR, Q_QMP_ERROR_GENERIC_ERROR);
  g_clear_error (&error);
  cmd_ok (f->machine, "cont");

  g_assert_true (q_machine_send_keys (f->machine, "ctrl-alt-f2", -1, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (q_machine_send_keys (f->machine, "ret", 10, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (q_machine_send_text (f->machine, "Hello, World! ~{|}\n\t", NULL, &error));
  g_assert_no_error (error);
  g_assert_true (q_machine_pointer_move (f->machine, 0.5, 0.25, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (q_machine_pointer_click (f->machine, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (q_machine_pointer_click (f->machine, "right", NULL, &error));
  g_assert_no_error (error);

  /* Refused before anything is sent. */
  g_assert_false (q_machine_send_keys (f->machine, "ctrl--x", -1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (q_machine_send_keys (f->machine, "Ctrl-X", -1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (q_machine_send_text (f->machine, "caf\xc3\xa9", NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* Refused by QEMU. */
  g_assert_false (q_machine_send_keys (f->machine, "no_such_key", -1, NULL, &error));
  g_assert_error (error, Q_QMP_ERROR, Q_QMP_ERROR_GENERIC_ERROR);
  g_clear_error (&error);
  g_assert_false (q_machine_pointer_click (f->machine, "no-such-button", NULL, &error));
  g_assert_error (error, Q_QMP_ERROR, Q_QMP_ERROR_GENERIC_ERROR);
}

/* The guest reads a line on its VGA console (tty1) and echoes it on the
 * serial console: typed text reaches the guest. */
static void
test_typed_text_reaches_guest (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *base = g_dir_make_tmp ("qm-screen-XXXXXX", NULL);
  g_autofree char *seen = NULL;
  g_autoptr(GBytes) png = NULL;
  const char *accel = g_getenv ("QMACHINE_TEST_ACCEL");
  QMachine *m = q_machine_new (qemu_binary ());
  QConsole *console;

  q_machine_set_base_temp_dir (m, base);
  q_machine_set_machine (m, "pc");
  q_machine_add_args (m, "-accel", accel ? accel : "tcg", "-m", "256", "-nodefaults", "-no-reboot",
                      "-vga", "std",
                      "-kernel", g_getenv ("QMACHINE_GUEST_KERNEL"),
                      "-initrd", g_getenv ("QMACHINE_GUEST_INITRD"),
                      "-append", "console=ttyS0 panic=-1", NULL);
  q_machine_set_console (m, NULL, 0);
  q_machine_set_drain_console (m, TRUE);
  g_assert_true (q_machine_launch (m, NULL, &error));
  console = q_machine_get_console (m);
  seen = q_console_wait_for (console, "QMACHINE-GUEST-READY", 0, 120000, NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&seen, g_free);

  g_assert_true (q_console_write_text (console, "read -r line </dev/tty1; echo \"TYPED:[$line]\"\n",
                                       NULL, &error));
  g_assert_no_error (error);
  /* Once the shell reads the VT (no marker for that: typing early is fine,
   * the VT keeps what was typed until it is read). */
  g_assert_true (q_machine_send_text (m, "Hello, World: a_b+c=\"d\"!\n", NULL, &error));
  g_assert_no_error (error);
  seen = q_console_wait_for (console, "TYPED:[Hello, World: a_b+c=\"d\"!]", 0, 60000, NULL, &error);
  g_assert_no_error (error);

  /* The guest's text console, as an image. */
  png = q_machine_screendump (m, NULL, -1, NULL, &error);
  g_assert_no_error (error);
  assert_png (png, 720, 400);

  g_assert_true (q_machine_kill (m, NULL, NULL));
  wait_finalized (m);
  g_assert_cmpint (g_rmdir (base), ==, 0);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add ("/qmachine/screen/screendump", Fixture, NULL, setup, test_screendump, teardown);
  g_test_add_func ("/qmachine/screen/screendump-needs-display", test_screendump_needs_display);
  g_test_add ("/qmachine/screen/input", Fixture, NULL, setup, test_input, teardown);
  if (g_getenv ("QMACHINE_GUEST_KERNEL") != NULL)
    g_test_add_func ("/qmachine/screen/guest/typed-text", test_typed_text_reaches_guest);

  return g_test_run ();
}
