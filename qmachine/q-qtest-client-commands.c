/* q-qtest-client-commands.c: QQtestClient's typed commands (port and
 * memory access, the clock, interrupts), on its raw command machinery
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>

#include "q-enum-types.h"
#include "q-error.h"
#include "q-qmp-core-private.h"
#include "q-qtest-client-private.h"

/**
 * q_qtest_client_in_async:
 * @self: a `QQtestClient`
 * @width: the access width: %Q_QTEST_WIDTH_BYTE, %Q_QTEST_WIDTH_WORD or
 *   %Q_QTEST_WIDTH_LONG (`inb`, `inw`, `inl`)
 * @port: the I/O port
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called with the value
 * @user_data: closure data for @callback
 *
 * Reads an I/O port.
 *
 * Since: 1.0
 */
void
q_qtest_client_in_async (QQtestClient        *self,
                         QQtestWidth          width,
                         guint16              port,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  q_return_async_if_fail (Q_IS_QTEST_CLIENT (self), callback, user_data);
  q_return_async_if_fail (width == Q_QTEST_WIDTH_BYTE || width == Q_QTEST_WIDTH_WORD ||
                          width == Q_QTEST_WIDTH_LONG, callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  qtest_send (self, g_strdup_printf ("in%c 0x%x", width == 1 ? 'b' : width == 2 ? 'w' : 'l', port),
              0, GUINT_TO_POINTER (width), NULL, q_qtest_client_in_async,
              cancellable, callback, user_data);
}

/**
 * q_qtest_client_in_finish:
 * @self: a `QQtestClient`
 * @result: the `GAsyncResult`
 * @value: (out) (optional): the value read
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.QtestClient.in_async].
 *
 * Returns: %TRUE with @value set, or %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
q_qtest_client_in_finish (QQtestClient  *self,
                          GAsyncResult  *result,
                          guint32       *value,
                          GError       **error)
{
  g_autofree char *text = qtest_finish_text (self, result, q_qtest_client_in_async, error);
  QQtestWidth width;
  guint64 v;

  if (text == NULL)
    return FALSE;
  width = GPOINTER_TO_UINT (g_task_get_task_data (G_TASK (result)));
  if (!qtest_parse_hex (text, WIDTH_MASK (width), "in", &v, error))
    return FALSE;
  if (value != NULL)
    *value = (guint32)v;
  return TRUE;
}

/**
 * q_qtest_client_out_async:
 * @self: a `QQtestClient`
 * @width: the access width: %Q_QTEST_WIDTH_BYTE, %Q_QTEST_WIDTH_WORD or
 *   %Q_QTEST_WIDTH_LONG (`outb`, `outw`, `outl`)
 * @port: the I/O port
 * @value: what to write; it must fit in @width
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when written
 * @user_data: closure data for @callback
 *
 * Writes an I/O port.
 *
 * Since: 1.0
 */
void
q_qtest_client_out_async (QQtestClient        *self,
                          QQtestWidth          width,
                          guint16              port,
                          guint32              value,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  q_return_async_if_fail (Q_IS_QTEST_CLIENT (self), callback, user_data);
  q_return_async_if_fail (width == Q_QTEST_WIDTH_BYTE || width == Q_QTEST_WIDTH_WORD ||
                          width == Q_QTEST_WIDTH_LONG, callback, user_data);
  q_return_async_if_fail (value <= WIDTH_MASK (width), callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  qtest_send (self, g_strdup_printf ("out%c 0x%x 0x%x", width == 1 ? 'b' : width == 2 ? 'w' : 'l',
                                     port, value),
              0, NULL, NULL, q_qtest_client_out_async, cancellable, callback, user_data);
}

/**
 * q_qtest_client_out_finish:
 * @self: a `QQtestClient`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.QtestClient.out_async].
 *
 * Returns: %TRUE once QEMU did the write, or %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
q_qtest_client_out_finish (QQtestClient  *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  return qtest_finish_ok (self, result, q_qtest_client_out_async, error);
}

/**
 * q_qtest_client_read_value_async:
 * @self: a `QQtestClient`
 * @width: the access width (`readb`, `readw`, `readl`, `readq`)
 * @address: the guest-physical address
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called with the value
 * @user_data: closure data for @callback
 *
 * Reads a value from guest memory, in the guest's byte order.
 *
 * Since: 1.0
 */
void
q_qtest_client_read_value_async (QQtestClient        *self,
                                 QQtestWidth          width,
                                 guint64              address,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  static const char suffix[] = "?bw?l???q";

  q_return_async_if_fail (Q_IS_QTEST_CLIENT (self), callback, user_data);
  q_return_async_if_fail (VALID_WIDTH (width), callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  qtest_send (self, g_strdup_printf ("read%c 0x%" G_GINT64_MODIFIER "x", suffix[width], address),
              0, GUINT_TO_POINTER (width), NULL, q_qtest_client_read_value_async,
              cancellable, callback, user_data);
}

/**
 * q_qtest_client_read_value_finish:
 * @self: a `QQtestClient`
 * @result: the `GAsyncResult`
 * @value: (out) (optional): the value read
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.QtestClient.read_value_async].
 *
 * Returns: %TRUE with @value set, or %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
q_qtest_client_read_value_finish (QQtestClient  *self,
                                  GAsyncResult  *result,
                                  guint64       *value,
                                  GError       **error)
{
  g_autofree char *text = qtest_finish_text (self, result, q_qtest_client_read_value_async, error);
  QQtestWidth width;
  guint64 v;

  if (text == NULL)
    return FALSE;
  width = GPOINTER_TO_UINT (g_task_get_task_data (G_TASK (result)));
  if (!qtest_parse_hex (text, WIDTH_MASK (width), "read", &v, error))
    return FALSE;
  if (value != NULL)
    *value = v;
  return TRUE;
}

/**
 * q_qtest_client_write_value_async:
 * @self: a `QQtestClient`
 * @width: the access width (`writeb`, `writew`, `writel`, `writeq`)
 * @address: the guest-physical address
 * @value: what to write; it must fit in @width
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when written
 * @user_data: closure data for @callback
 *
 * Writes a value to guest memory, in the guest's byte order.
 *
 * Since: 1.0
 */
void
q_qtest_client_write_value_async (QQtestClient        *self,
                                  QQtestWidth          width,
                                  guint64              address,
                                  guint64              value,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  static const char suffix[] = "?bw?l???q";

  q_return_async_if_fail (Q_IS_QTEST_CLIENT (self), callback, user_data);
  q_return_async_if_fail (VALID_WIDTH (width), callback, user_data);
  q_return_async_if_fail (value <= WIDTH_MASK (width), callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  qtest_send (self, g_strdup_printf ("write%c 0x%" G_GINT64_MODIFIER "x 0x%" G_GINT64_MODIFIER "x",
                                     suffix[width], address, value),
              0, NULL, NULL, q_qtest_client_write_value_async, cancellable, callback, user_data);
}

/**
 * q_qtest_client_write_value_finish:
 * @self: a `QQtestClient`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.QtestClient.write_value_async].
 *
 * Returns: %TRUE once QEMU did the write, or %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
q_qtest_client_write_value_finish (QQtestClient  *self,
                                   GAsyncResult  *result,
                                   GError       **error)
{
  return qtest_finish_ok (self, result, q_qtest_client_write_value_async, error);
}

/**
 * q_qtest_client_read_memory_async:
 * @self: a `QQtestClient`
 * @address: the guest-physical address
 * @size: how many bytes
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called with the bytes
 * @user_data: closure data for @callback
 *
 * Reads guest memory (qtest's `read`). QEMU answers with a line of
 * 2 @size + 5 bytes, which must fit in
 * [property@QMachine.QtestClient:max-line-size]: a bigger @size fails
 * with `G_IO_ERROR_MESSAGE_TOO_LARGE` before anything is sent. A @size
 * of 0 completes with no bytes without asking QEMU.
 *
 * Since: 1.0
 */
void
q_qtest_client_read_memory_async (QQtestClient        *self,
                                  guint64              address,
                                  gsize                size,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  guint64 max_line;

  q_return_async_if_fail (Q_IS_QTEST_CLIENT (self), callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  max_line = q_qtest_client_get_max_line_size (self);
  if (size == 0)
    qtest_return_now (self, q_qtest_client_read_memory_async, NULL, "0x", NULL, NULL,
                      callback, user_data);
  else if (size > (max_line - 5) / 2)
    qtest_return_now (self, q_qtest_client_read_memory_async,
                      g_error_new (G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                                   "A qtest read of %" G_GSIZE_FORMAT " bytes is answered with "
                                   "a line longer than max-line-size (%" G_GUINT64_FORMAT
                                   " bytes)", size, max_line),
                      NULL, NULL, NULL, callback, user_data);
  else
    {
      gsize *data = g_new (gsize, 1);

      *data = size;
      qtest_send (self, g_strdup_printf ("read 0x%" G_GINT64_MODIFIER "x %" G_GSIZE_FORMAT,
                                         address, size),
                  0, data, g_free, q_qtest_client_read_memory_async, cancellable,
                  callback, user_data);
      return;
    }
}

/**
 * q_qtest_client_read_memory_finish:
 * @self: a `QQtestClient`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.QtestClient.read_memory_async]. A reply
 * that does not hold exactly the bytes asked for fails with
 * `Q_MACHINE_ERROR_PROTOCOL`.
 *
 * Returns: (transfer full): the bytes read, or %NULL with @error set
 *
 * Since: 1.0
 */
GBytes *
q_qtest_client_read_memory_finish (QQtestClient  *self,
                                   GAsyncResult  *result,
                                   GError       **error)
{
  g_autofree char *text = qtest_finish_text (self, result, q_qtest_client_read_memory_async, error);
  const gsize *size;
  gsize expected;
  guint8 *data;

  if (text == NULL)
    return NULL;
  size = g_task_get_task_data (G_TASK (result));
  expected = size != NULL ? *size : 0;
  if (!g_str_has_prefix (text, "0x") || strlen (text + 2) != 2 * expected)
    {
      g_set_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                   "QEMU's reply to a qtest read of %" G_GSIZE_FORMAT " bytes holds %"
                   G_GSIZE_FORMAT " characters, not 0x and %" G_GSIZE_FORMAT " hex digits",
                   expected, strlen (text), 2 * expected);
      return NULL;
    }
  data = g_malloc (MAX (expected, 1));
  for (gsize i = 0; i < expected; i++)
    {
      const char *hex = text + 2 + 2 * i;

      if (!g_ascii_isxdigit (hex[0]) || !g_ascii_isxdigit (hex[1]))
        {
          g_free (data);
          g_set_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                       "QEMU's reply to a qtest read holds a character that is not a hex "
                       "digit at byte %" G_GSIZE_FORMAT, 2 + 2 * i);
          return NULL;
        }
      data[i] = (g_ascii_xdigit_value (hex[0]) << 4) | g_ascii_xdigit_value (hex[1]);
    }
  return g_bytes_new_take (data, expected);
}

/**
 * q_qtest_client_write_memory_async:
 * @self: a `QQtestClient`
 * @address: the guest-physical address
 * @data: the bytes to write
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when written
 * @user_data: closure data for @callback
 *
 * Writes guest memory (qtest's `write`, in hex). Empty @data completes
 * without asking QEMU.
 *
 * Since: 1.0
 */
void
q_qtest_client_write_memory_async (QQtestClient        *self,
                                   guint64              address,
                                   GBytes              *data,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  static const char digits[] = "0123456789abcdef";
  const guint8 *bytes;
  gsize size, name_len;
  GString *line;

  q_return_async_if_fail (Q_IS_QTEST_CLIENT (self), callback, user_data);
  q_return_async_if_fail (data != NULL, callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  bytes = g_bytes_get_data (data, &size);
  if (size == 0)
    {
      qtest_return_now (self, q_qtest_client_write_memory_async, NULL, "", NULL, NULL,
                        callback, user_data);
      return;
    }
  line = g_string_sized_new (2 * size + 48);
  g_string_printf (line, "write 0x%" G_GINT64_MODIFIER "x %" G_GSIZE_FORMAT, address, size);
  name_len = line->len;
  g_string_append (line, " 0x");
  for (gsize i = 0; i < size; i++)
    {
      g_string_append_c (line, digits[bytes[i] >> 4]);
      g_string_append_c (line, digits[bytes[i] & 0xF]);
    }
  qtest_send (self, g_string_free (line, FALSE), name_len, NULL, NULL,
              q_qtest_client_write_memory_async, cancellable, callback, user_data);
}

/**
 * q_qtest_client_write_memory_finish:
 * @self: a `QQtestClient`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.QtestClient.write_memory_async].
 *
 * Returns: %TRUE once QEMU did the write, or %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
q_qtest_client_write_memory_finish (QQtestClient  *self,
                                    GAsyncResult  *result,
                                    GError       **error)
{
  return qtest_finish_ok (self, result, q_qtest_client_write_memory_async, error);
}

/**
 * q_qtest_client_memset_async:
 * @self: a `QQtestClient`
 * @address: the guest-physical address
 * @size: how many bytes
 * @pattern: the byte to fill them with
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when done
 * @user_data: closure data for @callback
 *
 * Fills guest memory (qtest's `memset`). A @size of 0 completes without
 * asking QEMU.
 *
 * Since: 1.0
 */
void
q_qtest_client_memset_async (QQtestClient        *self,
                             guint64              address,
                             gsize                size,
                             guint8               pattern,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  q_return_async_if_fail (Q_IS_QTEST_CLIENT (self), callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  if (size == 0)
    {
      qtest_return_now (self, q_qtest_client_memset_async, NULL, "", NULL, NULL,
                        callback, user_data);
      return;
    }
  qtest_send (self, g_strdup_printf ("memset 0x%" G_GINT64_MODIFIER "x %" G_GSIZE_FORMAT " 0x%02x",
                                     address, size, pattern),
              0, NULL, NULL, q_qtest_client_memset_async, cancellable, callback, user_data);
}

/**
 * q_qtest_client_memset_finish:
 * @self: a `QQtestClient`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.QtestClient.memset_async].
 *
 * Returns: %TRUE once QEMU filled the memory, or %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
q_qtest_client_memset_finish (QQtestClient  *self,
                              GAsyncResult  *result,
                              GError       **error)
{
  return qtest_finish_ok (self, result, q_qtest_client_memset_async, error);
}

/* The clock's reply: a decimal count of nanoseconds. Without the qtest
 * accelerator QEMU does not know the command. */
static gboolean
qtest_clock_finish (QQtestClient  *self,
                    GAsyncResult  *result,
                    gpointer       source_tag,
                    const char    *command,
                    gint64        *clock_ns,
                    GError       **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *text = qtest_finish_text (self, result, source_tag, &local_error);
  gint64 v;

  if (text == NULL)
    {
      if (g_error_matches (local_error, Q_QTEST_ERROR, Q_QTEST_ERROR_FAILED) &&
          strstr (local_error->message, "Unknown command") != NULL)
        g_prefix_error (&local_error, "%s needs QEMU's qtest accelerator (-accel qtest), "
                        "which this QEMU does not run: ", command);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (!g_ascii_isdigit (text[0]) ||
      !g_ascii_string_to_signed (text, 10, 0, G_MAXINT64, &v, NULL))
    return qtest_bad_reply (error, command, "not a count of nanoseconds", text);
  if (clock_ns != NULL)
    *clock_ns = v;
  return TRUE;
}

/**
 * q_qtest_client_clock_step_async:
 * @self: a `QQtestClient`
 * @step_ns: how far to move the virtual clock, in nanoseconds, or -1 to
 *   move it to the next timer's deadline
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called with the new time
 * @user_data: closure data for @callback
 *
 * Advances QEMU's virtual clock (`clock_step`), running the timers that
 * fall due. Only QEMU running with the qtest accelerator (`-accel qtest`)
 * knows it; elsewhere the call fails with `Q_QTEST_ERROR_FAILED`, the
 * message saying the accelerator is missing.
 *
 * Since: 1.0
 */
void
q_qtest_client_clock_step_async (QQtestClient        *self,
                                 gint64               step_ns,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  q_return_async_if_fail (Q_IS_QTEST_CLIENT (self), callback, user_data);
  q_return_async_if_fail (step_ns >= -1, callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  qtest_send (self, step_ns < 0 ? g_strdup ("clock_step")
                                : g_strdup_printf ("clock_step %" G_GINT64_FORMAT, step_ns),
              0, NULL, NULL, q_qtest_client_clock_step_async, cancellable, callback, user_data);
}

/**
 * q_qtest_client_clock_step_finish:
 * @self: a `QQtestClient`
 * @result: the `GAsyncResult`
 * @clock_ns: (out) (optional): the virtual clock afterwards, in
 *   nanoseconds
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.QtestClient.clock_step_async].
 *
 * Returns: %TRUE with @clock_ns set, or %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
q_qtest_client_clock_step_finish (QQtestClient  *self,
                                  GAsyncResult  *result,
                                  gint64        *clock_ns,
                                  GError       **error)
{
  return qtest_clock_finish (self, result, q_qtest_client_clock_step_async, "clock_step",
                             clock_ns, error);
}

/**
 * q_qtest_client_clock_set_async:
 * @self: a `QQtestClient`
 * @ns: the virtual time to move to, in nanoseconds
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called with the new time
 * @user_data: closure data for @callback
 *
 * Moves QEMU's virtual clock forward to @ns (`clock_set`). Like
 * [method@QMachine.QtestClient.clock_step_async], it needs the qtest
 * accelerator.
 *
 * Since: 1.0
 */
void
q_qtest_client_clock_set_async (QQtestClient        *self,
                                gint64               ns,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  q_return_async_if_fail (Q_IS_QTEST_CLIENT (self), callback, user_data);
  q_return_async_if_fail (ns >= 0, callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  qtest_send (self, g_strdup_printf ("clock_set %" G_GINT64_FORMAT, ns),
              0, NULL, NULL, q_qtest_client_clock_set_async, cancellable, callback, user_data);
}

/**
 * q_qtest_client_clock_set_finish:
 * @self: a `QQtestClient`
 * @result: the `GAsyncResult`
 * @clock_ns: (out) (optional): the virtual clock afterwards, in
 *   nanoseconds
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.QtestClient.clock_set_async].
 *
 * Returns: %TRUE with @clock_ns set, or %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
q_qtest_client_clock_set_finish (QQtestClient  *self,
                                 GAsyncResult  *result,
                                 gint64        *clock_ns,
                                 GError       **error)
{
  return qtest_clock_finish (self, result, q_qtest_client_clock_set_async, "clock_set",
                             clock_ns, error);
}

static void
qtest_intercept (QQtestClient        *self,
                 const char          *verb,
                 const char          *qom_path,
                 gpointer             source_tag,
                 GCancellable        *cancellable,
                 GAsyncReadyCallback  callback,
                 gpointer             user_data)
{
  GError *error = NULL;

  if (!qtest_check_text (qom_path, TRUE, "QOM path", &error))
    {
      qtest_return_now (self, source_tag, error, NULL, NULL, NULL, callback, user_data);
      return;
    }
  qtest_send (self, g_strdup_printf ("%s %s", verb, qom_path), 0, NULL, NULL, source_tag,
              cancellable, callback, user_data);
}

/**
 * q_qtest_client_irq_intercept_in_async:
 * @self: a `QQtestClient`
 * @qom_path: the device whose input interrupt lines to intercept, as a
 *   QOM path (a partial one such as `ioapic` works when it is unique)
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when done
 * @user_data: closure data for @callback
 *
 * Intercepts the device's input GPIO lines (`irq_intercept_in`): from
 * then on, what would raise or lower them is reported as
 * [signal@QMachine.QtestClient::irq] instead. QEMU intercepts one device
 * per channel; an unknown path fails with `Q_QTEST_ERROR_FAILED`
 * ("Unknown device"), as does a second interception.
 *
 * Since: 1.0
 */
void
q_qtest_client_irq_intercept_in_async (QQtestClient        *self,
                                       const char          *qom_path,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  q_return_async_if_fail (Q_IS_QTEST_CLIENT (self), callback, user_data);
  q_return_async_if_fail (qom_path != NULL, callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  qtest_intercept (self, "irq_intercept_in", qom_path, q_qtest_client_irq_intercept_in_async,
                   cancellable, callback, user_data);
}

/**
 * q_qtest_client_irq_intercept_in_finish:
 * @self: a `QQtestClient`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.QtestClient.irq_intercept_in_async].
 *
 * Returns: %TRUE once intercepted, or %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
q_qtest_client_irq_intercept_in_finish (QQtestClient  *self,
                                        GAsyncResult  *result,
                                        GError       **error)
{
  return qtest_finish_ok (self, result, q_qtest_client_irq_intercept_in_async, error);
}

/**
 * q_qtest_client_irq_intercept_out_async:
 * @self: a `QQtestClient`
 * @qom_path: the device whose output interrupt lines to intercept, as a
 *   QOM path
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when done
 * @user_data: closure data for @callback
 *
 * Intercepts the device's output GPIO lines (`irq_intercept_out`),
 * reported as [signal@QMachine.QtestClient::irq].
 *
 * Since: 1.0
 */
void
q_qtest_client_irq_intercept_out_async (QQtestClient        *self,
                                        const char          *qom_path,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data)
{
  q_return_async_if_fail (Q_IS_QTEST_CLIENT (self), callback, user_data);
  q_return_async_if_fail (qom_path != NULL, callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  qtest_intercept (self, "irq_intercept_out", qom_path, q_qtest_client_irq_intercept_out_async,
                   cancellable, callback, user_data);
}

/**
 * q_qtest_client_irq_intercept_out_finish:
 * @self: a `QQtestClient`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.QtestClient.irq_intercept_out_async].
 *
 * Returns: %TRUE once intercepted, or %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
q_qtest_client_irq_intercept_out_finish (QQtestClient  *self,
                                         GAsyncResult  *result,
                                         GError       **error)
{
  return qtest_finish_ok (self, result, q_qtest_client_irq_intercept_out_async, error);
}

/**
 * q_qtest_client_set_irq_in_async:
 * @self: a `QQtestClient`
 * @qom_path: the device, as a QOM path
 * @name: (nullable): the name of its GPIO input, or %NULL for the
 *   unnamed ones (`unnamed-gpio-in`)
 * @line: which line of it
 * @level: the level to set (0 lowers, anything else raises)
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when done
 * @user_data: closure data for @callback
 *
 * Sets a GPIO input line of a device (`set_irq_in`). On an intercepted
 * device this is reported back as [signal@QMachine.QtestClient::irq].
 *
 * Since: 1.0
 */
void
q_qtest_client_set_irq_in_async (QQtestClient        *self,
                                 const char          *qom_path,
                                 const char          *name,
                                 int                  line,
                                 int                  level,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  GError *error = NULL;

  q_return_async_if_fail (Q_IS_QTEST_CLIENT (self), callback, user_data);
  q_return_async_if_fail (qom_path != NULL, callback, user_data);
  q_return_async_if_fail (line >= 0, callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  if (name == NULL)
    name = "unnamed-gpio-in";
  if (!qtest_check_text (qom_path, TRUE, "QOM path", &error) ||
      !qtest_check_text (name, TRUE, "GPIO name", &error))
    {
      qtest_return_now (self, q_qtest_client_set_irq_in_async, error, NULL, NULL, NULL,
                        callback, user_data);
      return;
    }
  qtest_send (self, g_strdup_printf ("set_irq_in %s %s %d %d", qom_path, name, line, level),
              0, NULL, NULL, q_qtest_client_set_irq_in_async, cancellable, callback, user_data);
}

/**
 * q_qtest_client_set_irq_in_finish:
 * @self: a `QQtestClient`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.QtestClient.set_irq_in_async].
 *
 * Returns: %TRUE once set, or %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
q_qtest_client_set_irq_in_finish (QQtestClient  *self,
                                  GAsyncResult  *result,
                                  GError       **error)
{
  return qtest_finish_ok (self, result, q_qtest_client_set_irq_in_async, error);
}

/* ------------------------------------------------------------------------ */
/* Blocking variants                                                        */
/**
 * q_qtest_client_in:
 * @self: a `QQtestClient`
 * @width: the access width
 * @port: the I/O port
 * @value: (out) (optional): the value read
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.QtestClient.in_async].
 *
 * Returns: %TRUE with @value set
 *
 * Since: 1.0
 */
gboolean
q_qtest_client_in (QQtestClient *self,
                   QQtestWidth   width,
                   guint16       port,
                   guint32      *value,
                   GCancellable *cancellable,
                   GError      **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  q_sync_call_begin (&call);
  q_qtest_client_in_async (self, width, port, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return FALSE;

  return q_qtest_client_in_finish (self, result, value, error);
}

/**
 * q_qtest_client_out:
 * @self: a `QQtestClient`
 * @width: the access width
 * @port: the I/O port
 * @value: what to write
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.QtestClient.out_async].
 *
 * Returns: %TRUE once written
 *
 * Since: 1.0
 */
gboolean
q_qtest_client_out (QQtestClient *self,
                    QQtestWidth   width,
                    guint16       port,
                    guint32       value,
                    GCancellable *cancellable,
                    GError      **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  q_sync_call_begin (&call);
  q_qtest_client_out_async (self, width, port, value, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return FALSE;

  return q_qtest_client_out_finish (self, result, error);
}

/**
 * q_qtest_client_read_value:
 * @self: a `QQtestClient`
 * @width: the access width
 * @address: the guest-physical address
 * @value: (out) (optional): the value read
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.QtestClient.read_value_async].
 *
 * Returns: %TRUE with @value set
 *
 * Since: 1.0
 */
gboolean
q_qtest_client_read_value (QQtestClient *self,
                           QQtestWidth   width,
                           guint64       address,
                           guint64      *value,
                           GCancellable *cancellable,
                           GError      **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  q_sync_call_begin (&call);
  q_qtest_client_read_value_async (self, width, address, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return FALSE;

  return q_qtest_client_read_value_finish (self, result, value, error);
}

/**
 * q_qtest_client_write_value:
 * @self: a `QQtestClient`
 * @width: the access width
 * @address: the guest-physical address
 * @value: what to write
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.QtestClient.write_value_async].
 *
 * Returns: %TRUE once written
 *
 * Since: 1.0
 */
gboolean
q_qtest_client_write_value (QQtestClient *self,
                            QQtestWidth   width,
                            guint64       address,
                            guint64       value,
                            GCancellable *cancellable,
                            GError      **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  q_sync_call_begin (&call);
  q_qtest_client_write_value_async (self, width, address, value, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return FALSE;

  return q_qtest_client_write_value_finish (self, result, error);
}

/**
 * q_qtest_client_read_memory:
 * @self: a `QQtestClient`
 * @address: the guest-physical address
 * @size: how many bytes
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.QtestClient.read_memory_async].
 *
 * Returns: (transfer full): the bytes read, or %NULL with @error set
 *
 * Since: 1.0
 */
GBytes *
q_qtest_client_read_memory (QQtestClient *self,
                            guint64       address,
                            gsize         size,
                            GCancellable *cancellable,
                            GError      **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  q_sync_call_begin (&call);
  q_qtest_client_read_memory_async (self, address, size, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return NULL;

  return q_qtest_client_read_memory_finish (self, result, error);
}

/**
 * q_qtest_client_write_memory:
 * @self: a `QQtestClient`
 * @address: the guest-physical address
 * @data: the bytes to write
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.QtestClient.write_memory_async].
 *
 * Returns: %TRUE once written
 *
 * Since: 1.0
 */
gboolean
q_qtest_client_write_memory (QQtestClient *self,
                             guint64       address,
                             GBytes       *data,
                             GCancellable *cancellable,
                             GError      **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  q_sync_call_begin (&call);
  q_qtest_client_write_memory_async (self, address, data, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return FALSE;

  return q_qtest_client_write_memory_finish (self, result, error);
}

/**
 * q_qtest_client_memset:
 * @self: a `QQtestClient`
 * @address: the guest-physical address
 * @size: how many bytes
 * @pattern: the byte to fill them with
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.QtestClient.memset_async].
 *
 * Returns: %TRUE once filled
 *
 * Since: 1.0
 */
gboolean
q_qtest_client_memset (QQtestClient *self,
                       guint64       address,
                       gsize         size,
                       guint8        pattern,
                       GCancellable *cancellable,
                       GError      **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  q_sync_call_begin (&call);
  q_qtest_client_memset_async (self, address, size, pattern, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return FALSE;

  return q_qtest_client_memset_finish (self, result, error);
}

/**
 * q_qtest_client_clock_step:
 * @self: a `QQtestClient`
 * @step_ns: nanoseconds to advance, or -1 for the next deadline
 * @clock_ns: (out) (optional): the virtual clock afterwards
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.QtestClient.clock_step_async].
 *
 * Returns: %TRUE with @clock_ns set
 *
 * Since: 1.0
 */
gboolean
q_qtest_client_clock_step (QQtestClient *self,
                           gint64        step_ns,
                           gint64       *clock_ns,
                           GCancellable *cancellable,
                           GError      **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  q_sync_call_begin (&call);
  q_qtest_client_clock_step_async (self, step_ns, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return FALSE;

  return q_qtest_client_clock_step_finish (self, result, clock_ns, error);
}

/**
 * q_qtest_client_clock_set:
 * @self: a `QQtestClient`
 * @ns: the virtual time to move to
 * @clock_ns: (out) (optional): the virtual clock afterwards
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.QtestClient.clock_set_async].
 *
 * Returns: %TRUE with @clock_ns set
 *
 * Since: 1.0
 */
gboolean
q_qtest_client_clock_set (QQtestClient *self,
                          gint64        ns,
                          gint64       *clock_ns,
                          GCancellable *cancellable,
                          GError      **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  q_sync_call_begin (&call);
  q_qtest_client_clock_set_async (self, ns, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return FALSE;

  return q_qtest_client_clock_set_finish (self, result, clock_ns, error);
}

/**
 * q_qtest_client_irq_intercept_in:
 * @self: a `QQtestClient`
 * @qom_path: the device, as a QOM path
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.QtestClient.irq_intercept_in_async].
 *
 * Returns: %TRUE once intercepted
 *
 * Since: 1.0
 */
gboolean
q_qtest_client_irq_intercept_in (QQtestClient *self,
                                 const char   *qom_path,
                                 GCancellable *cancellable,
                                 GError      **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  q_sync_call_begin (&call);
  q_qtest_client_irq_intercept_in_async (self, qom_path, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return FALSE;

  return q_qtest_client_irq_intercept_in_finish (self, result, error);
}

/**
 * q_qtest_client_irq_intercept_out:
 * @self: a `QQtestClient`
 * @qom_path: the device, as a QOM path
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.QtestClient.irq_intercept_out_async].
 *
 * Returns: %TRUE once intercepted
 *
 * Since: 1.0
 */
gboolean
q_qtest_client_irq_intercept_out (QQtestClient *self,
                                  const char   *qom_path,
                                  GCancellable *cancellable,
                                  GError      **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  q_sync_call_begin (&call);
  q_qtest_client_irq_intercept_out_async (self, qom_path, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return FALSE;

  return q_qtest_client_irq_intercept_out_finish (self, result, error);
}

/**
 * q_qtest_client_set_irq_in:
 * @self: a `QQtestClient`
 * @qom_path: the device, as a QOM path
 * @name: (nullable): the GPIO input's name, or %NULL for the unnamed ones
 * @line: which line
 * @level: the level
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.QtestClient.set_irq_in_async].
 *
 * Returns: %TRUE once set
 *
 * Since: 1.0
 */
gboolean
q_qtest_client_set_irq_in (QQtestClient *self,
                           const char   *qom_path,
                           const char   *name,
                           int           line,
                           int           level,
                           GCancellable *cancellable,
                           GError      **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  q_sync_call_begin (&call);
  q_qtest_client_set_irq_in_async (self, qom_path, name, line, level, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return FALSE;

  return q_qtest_client_set_irq_in_finish (self, result, error);
}
