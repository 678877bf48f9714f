/* q-machine-input.c: a machine's screen and input devices (screendump,
 * keys, text, pointer)
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "q-error.h"
#include "q-machine-private.h"
#include "q-util-private.h"

#define MAX_SCREEN_FILE (256 * 1024 * 1024)
#define INPUT_ABS_MAX 0x7FFF     /* QEMU's absolute axis range */

static int screen_counter;       /* atomic */

/* ------------------------------------------------------------------------ */
/* PPM to PNG, for QEMU before 7.1 (no `format` for screendump)             */

static guint32 crc_table[256];

static void
crc_init (void)
{
  for (guint32 n = 0; n < 256; n++)
    {
      guint32 c = n;
      for (int k = 0; k < 8; k++)
        c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      crc_table[n] = c;
    }
}

static guint32
crc32_update (guint32       crc,
              const guint8 *data,
              gsize         len)
{
  for (gsize i = 0; i < len; i++)
    crc = crc_table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
  return crc;
}

static void
png_chunk (GByteArray   *png,
           const char   *type,
           const guint8 *data,
           gsize         len)
{
  guint32 be_len = GUINT32_TO_BE ((guint32)len);
  guint32 crc = 0xFFFFFFFFu;
  guint32 be_crc;

  g_byte_array_append (png, (const guint8 *)&be_len, 4);
  g_byte_array_append (png, (const guint8 *)type, 4);
  if (len > 0)
    g_byte_array_append (png, data, len);
  crc = crc32_update (crc, (const guint8 *)type, 4);
  crc = crc32_update (crc, data, len);
  be_crc = GUINT32_TO_BE (crc ^ 0xFFFFFFFFu);
  g_byte_array_append (png, (const guint8 *)&be_crc, 4);
}

/* Reads a decimal field of a PPM header; skips the whitespace before it. */
static gboolean
ppm_field (const guint8 *data,
           gsize         len,
           gsize        *pos,
           guint        *value)
{
  guint64 v = 0;
  gsize digits = 0;

  while (*pos < len && g_ascii_isspace (data[*pos]))
    (*pos)++;
  while (*pos < len && g_ascii_isdigit (data[*pos]) && digits < 9)
    {
      v = v * 10 + (data[*pos] - '0');
      (*pos)++;
      digits++;
    }
  *value = (guint)v;
  return digits > 0;
}

/* A binary PPM (P6, 8 bits) as an 8-bit RGB PNG. */
static GBytes *
ppm_to_png (GBytes  *ppm,
            GError **error)
{
  static gsize crc_ready;
  gsize len, pos = 2;
  const guint8 *data = g_bytes_get_data (ppm, &len);
  guint width, height, maxval;
  g_autoptr(GByteArray) png = g_byte_array_new ();
  g_autoptr(GOutputStream) mem = NULL;
  g_autoptr(GOutputStream) zout = NULL;
  g_autoptr(GZlibCompressor) zlib = NULL;
  g_autoptr(GBytes) idat = NULL;
  guint8 ihdr[13];
  static const guint8 signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n' };

  if (g_once_init_enter (&crc_ready))
    {
      crc_init ();
      g_once_init_leave (&crc_ready, 1);
    }

  if (len < 2 || data[0] != 'P' || data[1] != '6' ||
      !ppm_field (data, len, &pos, &width) || !ppm_field (data, len, &pos, &height) ||
      !ppm_field (data, len, &pos, &maxval) || pos >= len || !g_ascii_isspace (data[pos]) ||
      maxval != 255 || width == 0 || height == 0 ||
      (guint64)width * height * 3 != len - pos - 1)
    {
      g_set_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                   "QEMU's screen dump is not the PPM image expected");
      return NULL;
    }
  pos++;

  zlib = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_ZLIB, 6);
  mem = g_memory_output_stream_new_resizable ();
  zout = g_converter_output_stream_new (mem, G_CONVERTER (zlib));
  for (guint y = 0; y < height; y++)
    {
      static const guint8 no_filter = 0;

      if (!g_output_stream_write_all (zout, &no_filter, 1, NULL, NULL, error) ||
          !g_output_stream_write_all (zout, data + pos + (gsize)y * width * 3, (gsize)width * 3,
                                      NULL, NULL, error))
        return NULL;
    }
  if (!g_output_stream_close (zout, NULL, error))
    return NULL;
  idat = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (mem));

  *(guint32 *)(ihdr + 0) = GUINT32_TO_BE (width);
  *(guint32 *)(ihdr + 4) = GUINT32_TO_BE (height);
  ihdr[8] = 8;     /* bit depth */
  ihdr[9] = 2;     /* RGB */
  ihdr[10] = 0;    /* deflate */
  ihdr[11] = 0;    /* adaptive filtering */
  ihdr[12] = 0;    /* not interlaced */

  g_byte_array_append (png, signature, sizeof signature);
  png_chunk (png, "IHDR", ihdr, sizeof ihdr);
  png_chunk (png, "IDAT", g_bytes_get_data (idat, NULL), g_bytes_get_size (idat));
  png_chunk (png, "IEND", NULL, 0);

  return g_byte_array_free_to_bytes (g_steal_pointer (&png));
}

/* ------------------------------------------------------------------------ */
/* Screen dumps                                                             */

typedef struct
{
  char     *path;
  char     *device;
  int       head;
  gboolean  ppm;
} Screen;

static void
screen_free (Screen *s)
{
  if (s->path != NULL)
    g_unlink (s->path);
  g_free (s->path);
  g_free (s->device);
  g_free (s);
}

/* Reads what QEMU wrote, refusing a link or anything but a plain file of
 * a sane size (the directory is private, but QEMU is not trusted). */
static GBytes *
screen_read (const char  *path,
             GError     **error)
{
  struct stat st;
  g_autofree guint8 *buf = NULL;
  gsize done = 0;
  int fd;

  fd = g_open (path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0);
  if (fd < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "Could not open the screen dump %s: %s", path, g_strerror (errsv));
      return NULL;
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode) || st.st_size <= 0 || st.st_size > MAX_SCREEN_FILE)
    {
      close (fd);
      g_set_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                   "QEMU's screen dump %s is not a plain file of a plausible size", path);
      return NULL;
    }
  buf = g_malloc (st.st_size);
  while (done < (gsize)st.st_size)
    {
      gssize n = read (fd, buf + done, st.st_size - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int errsv = n < 0 ? errno : EIO;
          close (fd);
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                       "Could not read the screen dump %s: %s", path, g_strerror (errsv));
          return NULL;
        }
      done += n;
    }
  close (fd);
  return g_bytes_new_take (g_steal_pointer (&buf), done);
}

static void screen_request (GTask *task);

static void
screen_done_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Screen *s = g_task_get_task_data (task);
  g_autoptr(JsonNode) ret = NULL;
  g_autoptr(GBytes) bytes = NULL;
  GError *error = NULL;

  ret = q_machine_cmd_finish (Q_MACHINE (object), result, &error);
  if (ret == NULL)
    {
      /* QEMU before 7.1 has no `format`: ask again for a PPM. */
      if (!s->ppm && g_error_matches (error, Q_QMP_ERROR, Q_QMP_ERROR_GENERIC_ERROR) &&
          strstr (error->message, "format") != NULL)
        {
          g_clear_error (&error);
          s->ppm = TRUE;
          screen_request (g_steal_pointer (&task));
          return;
        }
      g_task_return_error (task, error);
      return;
    }

  bytes = screen_read (s->path, &error);
  if (bytes != NULL && s->ppm)
    {
      g_autoptr(GBytes) ppm = g_steal_pointer (&bytes);
      bytes = ppm_to_png (ppm, &error);
    }
  if (bytes == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, g_steal_pointer (&bytes), (GDestroyNotify)g_bytes_unref);
}

static void
screen_request (GTask *task)
{
  QMachine *self = g_task_get_source_object (task);
  Screen *s = g_task_get_task_data (task);
  g_autoptr(JsonObject) args = json_object_new ();

  json_object_set_string_member (args, "filename", s->path);
  if (!s->ppm)
    json_object_set_string_member (args, "format", "png");
  if (s->device != NULL)
    json_object_set_string_member (args, "device", s->device);
  if (s->head >= 0)
    json_object_set_int_member (args, "head", s->head);
  q_machine_cmd_async (self, "screendump", args, g_task_get_cancellable (task),
                       screen_done_cb, task);
}

/**
 * q_machine_screendump_async:
 * @self: a `QMachine`
 * @device: (nullable): the id of the display device, or %NULL for the
 *   first one
 * @head: the head of a multi-head device, or -1 for the first
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called with the image
 * @user_data: closure data for @callback
 *
 * Takes a picture of the machine's screen as a PNG image: QMP `screendump`
 * writes it to a file in the machine's temporary directory, which is read
 * back and removed. QEMU older than 7.1 writes only PPM; that is then
 * converted. The machine needs a display device (`-vga std`,
 * `-device virtio-vga`…); QEMU's own `-display none` is fine.
 *
 * Since: 1.0
 */
void
q_machine_screendump_async (QMachine            *self,
                            const char          *device,
                            int                  head,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GError) error = NULL;
  GTask *task;
  Screen *s;
  const char *dir;

  q_return_async_if_fail (Q_IS_MACHINE (self), callback, user_data);
  q_return_async_if_fail (head >= -1, callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, q_machine_screendump_async);
  g_task_set_name (task, "[qmachine] screendump");

  q_leaf_lock (&self->mutex);
  dir = machine_ensure_temp_dir_locked (self, &error);
  s = g_new0 (Screen, 1);
  if (dir != NULL)
    s->path = g_strdup_printf ("%s/screen-%d", dir, g_atomic_int_add (&screen_counter, 1));
  q_leaf_unlock (&self->mutex);

  s->device = g_strdup (device);
  s->head = head;
  s->ppm = q_test_fault ("screendump-ppm");
  g_task_set_task_data (task, s, (GDestroyNotify)screen_free);
  if (s->path == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  screen_request (task);
}

/**
 * q_machine_screendump_finish:
 * @self: a `QMachine`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.Machine.screendump_async].
 *
 * Returns: (transfer full): the screen as a PNG image, or %NULL with
 *   @error set (`Q_QMP_ERROR` when QEMU refused, for instance without a
 *   display device)
 *
 * Since: 1.0
 */
GBytes *
q_machine_screendump_finish (QMachine      *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * q_machine_screendump:
 * @self: a `QMachine`
 * @device: (nullable): the id of the display device, or %NULL
 * @head: the head, or -1
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.Machine.screendump_async].
 *
 * Returns: (transfer full): the screen as a PNG image
 *
 * Since: 1.0
 */
GBytes *
q_machine_screendump (QMachine      *self,
                      const char    *device,
                      int            head,
                      GCancellable  *cancellable,
                      GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);
  g_return_val_if_fail (head >= -1, NULL);
  g_return_val_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), NULL);

  q_sync_call_begin (&call);
  q_machine_screendump_async (self, device, head, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return NULL;

  return q_machine_screendump_finish (self, result, error);
}

/* ------------------------------------------------------------------------ */
/* Input: a batch of QMP commands, done when all have answered             */

typedef struct
{
  guint   outstanding;
  GError *error;          /* the first failure */
} Batch;

static void
batch_free (Batch *b)
{
  g_clear_error (&b->error);
  g_free (b);
}

static void
batch_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Batch *b = g_task_get_task_data (task);
  g_autoptr(JsonNode) ret = NULL;
  GError *error = NULL;

  ret = q_machine_cmd_finish (Q_MACHINE (object), result, &error);
  if (ret == NULL && b->error == NULL)
    b->error = error;
  else
    g_clear_error (&error);

  if (--b->outstanding > 0)
    return;
  if (b->error != NULL)
    g_task_return_error (task, g_steal_pointer (&b->error));
  else
    g_task_return_boolean (task, TRUE);
}

/* A list of (name, arguments) pairs that was not sent: the arguments come
 * first, as the list is built in reverse. */
static void
batch_free_commands (GSList *commands)
{
  for (GSList *l = commands; l && l->next; l = l->next->next)
    json_object_unref (l->data);
  g_slist_free (commands);
}

/* Sends @commands (name, arguments pairs, taken) in order, pipelined. */
static void
batch_send (GTask  *task,
            GSList *commands)
{
  QMachine *self = g_task_get_source_object (task);
  Batch *b = g_new0 (Batch, 1);

  b->outstanding = g_slist_length (commands) / 2;
  g_task_set_task_data (task, b, (GDestroyNotify)batch_free);
  if (b->outstanding == 0)
    g_task_return_boolean (task, TRUE);

  for (GSList *l = commands; l && l->next; l = l->next->next)
    {
      g_autoptr(JsonObject) args = l->next->data;

      q_machine_cmd_async (self, l->data, args, g_task_get_cancellable (task),
                           batch_cb, g_object_ref (task));
    }
  g_slist_free (commands);
}

static JsonObject *
send_key_args (const char * const *qcodes,
               int                 hold_time_msec)
{
  JsonObject *args = json_object_new ();
  JsonArray *keys = json_array_new ();

  for (guint i = 0; qcodes[i]; i++)
    {
      JsonObject *key = json_object_new ();
      json_object_set_string_member (key, "type", "qcode");
      json_object_set_string_member (key, "data", qcodes[i]);
      json_array_add_object_element (keys, key);
    }
  json_object_set_array_member (args, "keys", keys);
  if (hold_time_msec >= 0)
    json_object_set_int_member (args, "hold-time", hold_time_msec);
  return args;
}

static gboolean
valid_qcode (const char *name)
{
  if (name == NULL || *name == '\0')
    return FALSE;
  for (const char *c = name; *c; c++)
    if (!g_ascii_islower (*c) && !g_ascii_isdigit (*c) && *c != '_')
      return FALSE;
  return TRUE;
}

/**
 * q_machine_send_keys_async:
 * @self: a `QMachine`
 * @combo: keys pressed together, as QEMU key codes joined by `-`: `ret`,
 *   `ctrl-alt-delete`, `shift-a`, `alt-f2` (the names of QMP's `QKeyCode`)
 * @hold_time_msec: how long the keys stay down, or -1 for QEMU's default
 *   (100 ms)
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called once QEMU took the keys
 * @user_data: closure data for @callback
 *
 * Presses a key combination on the machine's keyboard (QMP `send-key`):
 * the keys go down in order and come up together. A name that is not a
 * key code fails with `G_IO_ERROR_INVALID_ARGUMENT` before anything is
 * sent; QEMU refuses names it does not know with a `Q_QMP_ERROR`.
 *
 * Since: 1.0
 */
void
q_machine_send_keys_async (QMachine            *self,
                           const char          *combo,
                           int                  hold_time_msec,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_auto(GStrv) names = NULL;
  GTask *task;

  q_return_async_if_fail (Q_IS_MACHINE (self), callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, q_machine_send_keys_async);
  g_task_set_name (task, "[qmachine] send keys");

  names = g_strsplit (combo ? combo : "", "-", -1);
  for (guint i = 0; names[i] || i == 0; i++)
    if (!valid_qcode (names[i]))
      {
        g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                                 "\"%s\" is not a key combination (key codes such as ctrl, "
                                 "alt, a, f1, ret, joined by -)", combo ? combo : "");
        g_object_unref (task);
        return;
      }

  batch_send (task, g_slist_append (g_slist_append (NULL, (gpointer)"send-key"),
                                    send_key_args ((const char * const *)names, hold_time_msec)));
  g_object_unref (task);
}

/**
 * q_machine_send_keys_finish:
 * @self: a `QMachine`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.Machine.send_keys_async].
 *
 * Returns: %TRUE once QEMU took the keys
 *
 * Since: 1.0
 */
gboolean
q_machine_send_keys_finish (QMachine      *self,
                            GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * q_machine_send_keys:
 * @self: a `QMachine`
 * @combo: keys pressed together, such as `ctrl-alt-delete`
 * @hold_time_msec: how long the keys stay down, or -1
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.Machine.send_keys_async].
 *
 * Returns: %TRUE once QEMU took the keys
 *
 * Since: 1.0
 */
gboolean
q_machine_send_keys (QMachine      *self,
                     const char    *combo,
                     int            hold_time_msec,
                     GCancellable  *cancellable,
                     GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);
  g_return_val_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), FALSE);

  q_sync_call_begin (&call);
  q_machine_send_keys_async (self, combo, hold_time_msec, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return FALSE;

  return q_machine_send_keys_finish (self, result, error);
}

/* The US keyboard: a character's key, and whether shift goes with it. */
static const char *
char_to_qcode (char      c,
               gboolean *shift)
{
  static const char *unshifted[] = {
    ['-'] = "minus", ['='] = "equal", ['['] = "bracket_left", [']'] = "bracket_right",
    ['\\'] = "backslash", [';'] = "semicolon", ['\''] = "apostrophe", ['`'] = "grave_accent",
    [','] = "comma", ['.'] = "dot", ['/'] = "slash", [' '] = "spc", ['\n'] = "ret",
    ['\t'] = "tab",
  };
  static const char *shifted[] = {
    ['!'] = "1", ['@'] = "2", ['#'] = "3", ['$'] = "4", ['%'] = "5", ['^'] = "6",
    ['&'] = "7", ['*'] = "8", ['('] = "9", [')'] = "0", ['_'] = "minus", ['+'] = "equal",
    ['{'] = "bracket_left", ['}'] = "bracket_right", ['|'] = "backslash", [':'] = "semicolon",
    ['"'] = "apostrophe", ['~'] = "grave_accent", ['<'] = "comma", ['>'] = "dot", ['?'] = "slash",
  };
  static const char *letters[] = {
    "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m",
    "n", "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z",
  };
  static const char *digits[] = { "0", "1", "2", "3", "4", "5", "6", "7", "8", "9" };
  guchar u = (guchar)c;

  *shift = FALSE;
  if (u >= 'a' && u <= 'z')
    return letters[u - 'a'];
  if (u >= 'A' && u <= 'Z')
    {
      *shift = TRUE;
      return letters[u - 'A'];
    }
  if (u >= '0' && u <= '9')
    return digits[u - '0'];
  if (u < G_N_ELEMENTS (unshifted) && unshifted[u] != NULL)
    return unshifted[u];
  if (u < G_N_ELEMENTS (shifted) && shifted[u] != NULL)
    {
      *shift = TRUE;
      return shifted[u];
    }
  return NULL;
}

/**
 * q_machine_send_text_async:
 * @self: a `QMachine`
 * @text: printable ASCII, newlines and tabs
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called once QEMU took every key
 * @user_data: closure data for @callback
 *
 * Types @text on the machine's keyboard, a `send-key` per character (with
 * shift where a US keyboard needs it; `\n` is Return), all sent at once:
 * QEMU answers them in order. A character a US keyboard cannot type fails
 * the call with `G_IO_ERROR_INVALID_ARGUMENT` before anything is sent.
 *
 * Since: 1.0
 */
void
q_machine_send_text_async (QMachine            *self,
                           const char          *text,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  GSList *commands = NULL;
  GTask *task;

  q_return_async_if_fail (Q_IS_MACHINE (self), callback, user_data);
  q_return_async_if_fail (text != NULL, callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, q_machine_send_text_async);
  g_task_set_name (task, "[qmachine] send text");

  for (const char *c = text; *c; c++)
    {
      gboolean shift;
      const char *qcode = char_to_qcode (*c, &shift);
      const char *keys[3] = { NULL, NULL, NULL };

      if (qcode == NULL)
        {
          batch_free_commands (commands);
          g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                                   "Character %" G_GSIZE_FORMAT " of the text (byte 0x%02x) "
                                   "cannot be typed on a US keyboard",
                                   (gsize)(c - text), (guchar)*c);
          g_object_unref (task);
          return;
        }
      keys[0] = shift ? "shift" : qcode;
      keys[1] = shift ? qcode : NULL;
      commands = g_slist_prepend (commands, (gpointer)"send-key");
      commands = g_slist_prepend (commands, send_key_args (keys, -1));
    }

  batch_send (task, g_slist_reverse (commands));
  g_object_unref (task);
}

/**
 * q_machine_send_text_finish:
 * @self: a `QMachine`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.Machine.send_text_async].
 *
 * Returns: %TRUE once QEMU took every key
 *
 * Since: 1.0
 */
gboolean
q_machine_send_text_finish (QMachine      *self,
                            GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * q_machine_send_text:
 * @self: a `QMachine`
 * @text: printable ASCII, newlines and tabs
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.Machine.send_text_async].
 *
 * Returns: %TRUE once QEMU took every key
 *
 * Since: 1.0
 */
gboolean
q_machine_send_text (QMachine      *self,
                     const char    *text,
                     GCancellable  *cancellable,
                     GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);
  g_return_val_if_fail (text != NULL, FALSE);
  g_return_val_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), FALSE);

  q_sync_call_begin (&call);
  q_machine_send_text_async (self, text, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return FALSE;

  return q_machine_send_text_finish (self, result, error);
}

/* ------------------------------------------------------------------------ */
/* The pointer                                                              */

static JsonObject *
input_event (const char *type,
             JsonObject *data)
{
  JsonObject *event = json_object_new ();

  json_object_set_string_member (event, "type", type);
  json_object_set_object_member (event, "data", data);
  return event;
}

static JsonObject *
input_args (JsonObject *first,
            JsonObject *second)
{
  JsonObject *args = json_object_new ();
  JsonArray *events = json_array_new ();

  json_array_add_object_element (events, first);
  if (second != NULL)
    json_array_add_object_element (events, second);
  json_object_set_array_member (args, "events", events);
  return args;
}

static JsonObject *
abs_event (const char *axis,
           double      where)
{
  JsonObject *data = json_object_new ();

  json_object_set_string_member (data, "axis", axis);
  json_object_set_int_member (data, "value", (gint64)(CLAMP (where, 0.0, 1.0) * INPUT_ABS_MAX + 0.5));
  return input_event ("abs", data);
}

static JsonObject *
btn_event (const char *button,
           gboolean    down)
{
  JsonObject *data = json_object_new ();

  json_object_set_string_member (data, "button", button);
  json_object_set_boolean_member (data, "down", down);
  return input_event ("btn", data);
}

/**
 * q_machine_pointer_move_async:
 * @self: a `QMachine`
 * @x: the horizontal position, from 0 (left edge) to 1 (right edge)
 * @y: the vertical position, from 0 (top) to 1 (bottom)
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called once QEMU took the motion
 * @user_data: closure data for @callback
 *
 * Moves the pointer to an absolute position (QMP `input-send-event`). The
 * guest sees it only through an absolute pointing device, such as
 * `-device usb-tablet` or `-device virtio-tablet-pci`.
 *
 * Since: 1.0
 */
void
q_machine_pointer_move_async (QMachine            *self,
                              double               x,
                              double               y,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  GTask *task;

  q_return_async_if_fail (Q_IS_MACHINE (self), callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, q_machine_pointer_move_async);
  batch_send (task, g_slist_append (g_slist_append (NULL, (gpointer)"input-send-event"),
                                    input_args (abs_event ("x", x), abs_event ("y", y))));
  g_object_unref (task);
}

/**
 * q_machine_pointer_move_finish:
 * @self: a `QMachine`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.Machine.pointer_move_async].
 *
 * Returns: %TRUE once QEMU took the motion
 *
 * Since: 1.0
 */
gboolean
q_machine_pointer_move_finish (QMachine      *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * q_machine_pointer_click_async:
 * @self: a `QMachine`
 * @button: (nullable): `left` (%NULL), `middle`, `right`, `wheel-up`,
 *   `wheel-down`, `side` or `extra` (QMP's `InputButton`)
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called once QEMU took the click
 * @user_data: closure data for @callback
 *
 * Presses and releases a pointer button where the pointer is.
 *
 * Since: 1.0
 */
void
q_machine_pointer_click_async (QMachine            *self,
                               const char          *button,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  GSList *commands = NULL;
  GTask *task;

  q_return_async_if_fail (Q_IS_MACHINE (self), callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, q_machine_pointer_click_async);
  if (button == NULL)
    button = "left";
  commands = g_slist_append (commands, (gpointer)"input-send-event");
  commands = g_slist_append (commands, input_args (btn_event (button, TRUE), NULL));
  commands = g_slist_append (commands, (gpointer)"input-send-event");
  commands = g_slist_append (commands, input_args (btn_event (button, FALSE), NULL));
  batch_send (task, commands);
  g_object_unref (task);
}

/**
 * q_machine_pointer_click_finish:
 * @self: a `QMachine`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.Machine.pointer_click_async].
 *
 * Returns: %TRUE once QEMU took the click
 *
 * Since: 1.0
 */
gboolean
q_machine_pointer_click_finish (QMachine      *self,
                                GAsyncResult  *result,
                                GError       **error)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * q_machine_pointer_move:
 * @self: a `QMachine`
 * @x: the horizontal position, from 0 to 1
 * @y: the vertical position, from 0 to 1
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.Machine.pointer_move_async].
 *
 * Returns: %TRUE once QEMU took the motion
 *
 * Since: 1.0
 */
gboolean
q_machine_pointer_move (QMachine      *self,
                        double         x,
                        double         y,
                        GCancellable  *cancellable,
                        GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);
  g_return_val_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), FALSE);

  q_sync_call_begin (&call);
  q_machine_pointer_move_async (self, x, y, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return FALSE;

  return q_machine_pointer_move_finish (self, result, error);
}

/**
 * q_machine_pointer_click:
 * @self: a `QMachine`
 * @button: (nullable): the button, %NULL for `left`
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.Machine.pointer_click_async].
 *
 * Returns: %TRUE once QEMU took the click
 *
 * Since: 1.0
 */
gboolean
q_machine_pointer_click (QMachine      *self,
                         const char    *button,
                         GCancellable  *cancellable,
                         GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);
  g_return_val_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), FALSE);

  q_sync_call_begin (&call);
  q_machine_pointer_click_async (self, button, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return FALSE;

  return q_machine_pointer_click_finish (self, result, error);
}
