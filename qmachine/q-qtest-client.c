/* q-qtest-client.c: QQtestClient, a client for QEMU's qtest protocol
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
 * QQtestClient:
 *
 * A client for QEMU's qtest protocol: the text channel QEMU's own device
 * tests drive a machine through, without a guest. It reads and writes
 * guest memory and I/O ports, intercepts interrupt lines and, with the
 * qtest accelerator, moves the virtual clock.
 *
 * Get one from a machine given a qtest channel with
 * [method@QMachine.Machine.add_qtest] (then
 * [method@QMachine.Machine.get_qtest_client] after launch), or make one
 * on any connected stream with [ctor@QMachine.QtestClient.new].
 *
 * ## The protocol
 *
 * Each command is one line; QEMU answers each with one line, in order:
 * `OK` and an optional text, `FAIL` or `ERR` and a text, which becomes a
 * `Q_QTEST_ERROR` ([error@QMachine.QtestError]) whose message is QEMU's
 * text. Lines `IRQ raise N` and `IRQ lower N` can arrive at any time, for
 * interrupt lines intercepted with
 * [method@QMachine.QtestClient.irq_intercept_in_async]; they are emitted
 * as [signal@QMachine.QtestClient::irq].
 *
 * Peer input is checked: a line longer than
 * [property@QMachine.QtestClient:max-line-size], one holding a NUL or
 * another control character or invalid UTF-8, a reply that is none of
 * `OK`, `FAIL` and `ERR`, a malformed `IRQ` line, or a reply no command
 * waits for is a protocol error (`Q_MACHINE_ERROR_PROTOCOL`): the
 * channel closes and every command waiting fails with it. A reply of the
 * wrong shape for its command (a `read` of another size, a value wider
 * than the access) fails that command with `Q_MACHINE_ERROR_PROTOCOL`.
 *
 * QEMU 7.2 aborts on some malformed commands (`readb` without an
 * address, a `read` of 0 bytes): the typed methods never send those
 * (reads, writes and fills of 0 bytes complete without asking QEMU), but
 * [method@QMachine.QtestClient.command_async] sends what it is given
 * once it is one line of printable text.
 *
 * ## Without the qtest accelerator
 *
 * `clock_step` and `clock_set` work only when QEMU runs with `-accel
 * qtest`; elsewhere QEMU answers `FAIL Unknown command`, and
 * [method@QMachine.QtestClient.clock_step_async] fails with a
 * `Q_QTEST_ERROR_FAILED` error saying the accelerator is missing.
 * Memory, ports and interrupts work with any accelerator.
 *
 * ## Threads and main contexts
 *
 * As for [class@QMachine.QmpClient]: the I/O runs on qmachine's worker
 * thread; signals and callbacks arrive in the thread-default main context
 * of the thread that created the client (callbacks: that started the
 * call); the sync variants wait on a private main context.
 *
 * Since: 1.0
 */

struct _QQtestClient
{
  GObject    parent_instance;

  /* Set at construction, read-only afterwards. */
  Core      *core;
  QBox      *box;
  GIOStream *stream;
  gboolean   disposed;        /* dispose can run twice (q_dispose_on_owner) */

  int        timeout_msec;    /* atomic */
};

G_DEFINE_FINAL_TYPE (QQtestClient, q_qtest_client, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_STREAM,
  PROP_TIMEOUT,
  PROP_MAX_LINE_SIZE,
  N_PROPS
};

enum {
  IRQ,
  N_SIGNALS
};

static GParamSpec *properties [N_PROPS];
static guint signals [N_SIGNALS];

/* The owner context q_qtest_client_new_with_context() asks for, read by
 * constructed on the same thread. */
static GPrivate next_owner_context;

/* Owner's context, from the core's dispatcher. */
static void
qtest_dispatch (gpointer object)
{
  QQtestClient *self = object;
  GQueue items = G_QUEUE_INIT;
  guint dropped;
  Emission *e;

  core_take_emissions (self->core, &items, &dropped);

  while ((e = g_queue_pop_head (&items)))
    {
      if (e->kind == EMIT_EVENT && e->object != NULL)
        g_signal_emit (self, signals [IRQ], 0,
                       (int)json_object_get_int_member (e->object, "line"),
                       json_object_get_boolean_member (e->object, "level"));
      emission_free (e);
    }
}

/* ------------------------------------------------------------------------ */
/* GObject                                                                  */

static void
q_qtest_client_constructed (GObject *object)
{
  QQtestClient *self = (QQtestClient *)object;
  GMainContext *asked = g_private_get (&next_owner_context);
  g_autoptr(GMainContext) context = asked ? g_main_context_ref (asked) : g_main_context_ref_thread_default ();

  G_OBJECT_CLASS (q_qtest_client_parent_class)->constructed (object);

  self->box = q_box_new (self);
  self->core = core_new (self->stream, context, self->box, qtest_dispatch, &core_qtest_dialect);
}

static void
q_qtest_client_dispose (GObject *object)
{
  QQtestClient *self = (QQtestClient *)object;

  if (self->box != NULL)
    q_box_clear (self->box);
  if (self->core != NULL && !self->disposed)
    core_dispose (self->core);
  self->disposed = TRUE;

  if (q_dispose_on_owner (self, self->core ? self->core->dispatcher : NULL))
    return;
  G_OBJECT_CLASS (q_qtest_client_parent_class)->dispose (object);
}

static void
q_qtest_client_finalize (GObject *object)
{
  QQtestClient *self = (QQtestClient *)object;

  g_assert (!q_is_internal_thread ());

  g_clear_pointer (&self->core, core_unref);
  g_clear_pointer (&self->box, q_box_unref);
  g_clear_object (&self->stream);

  G_OBJECT_CLASS (q_qtest_client_parent_class)->finalize (object);
}

static void
q_qtest_client_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  QQtestClient *self = Q_QTEST_CLIENT (object);

  switch (prop_id)
    {
    case PROP_STREAM:
      g_value_set_object (value, self->stream);
      break;

    case PROP_TIMEOUT:
      g_value_set_int (value, q_qtest_client_get_timeout (self));
      break;

    case PROP_MAX_LINE_SIZE:
      g_value_set_uint64 (value, q_qtest_client_get_max_line_size (self));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
q_qtest_client_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  QQtestClient *self = Q_QTEST_CLIENT (object);

  switch (prop_id)
    {
    case PROP_STREAM:
      self->stream = g_value_dup_object (value);
      break;

    case PROP_TIMEOUT:
      q_qtest_client_set_timeout (self, g_value_get_int (value));
      break;

    case PROP_MAX_LINE_SIZE:
      q_qtest_client_set_max_line_size (self, g_value_get_uint64 (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
q_qtest_client_class_init (QQtestClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = q_qtest_client_constructed;
  object_class->dispose = q_qtest_client_dispose;
  object_class->finalize = q_qtest_client_finalize;
  object_class->get_property = q_qtest_client_get_property;
  object_class->set_property = q_qtest_client_set_property;

  /**
   * QQtestClient:stream:
   *
   * The connected stream to QEMU's qtest channel.
   *
   * Since: 1.0
   */
  properties [PROP_STREAM] =
    g_param_spec_object ("stream", NULL, NULL,
                         G_TYPE_IO_STREAM,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  /**
   * QQtestClient:timeout:
   *
   * How long each command may wait for its reply, in milliseconds, or -1
   * (the default) for no limit. A command past it fails with
   * `G_IO_ERROR_TIMED_OUT`; its late reply is dropped when it comes.
   * Commands started afterwards use it.
   *
   * Since: 1.0
   */
  properties [PROP_TIMEOUT] =
    g_param_spec_int ("timeout", NULL, NULL, -1, G_MAXINT, -1,
                      (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QQtestClient:max-line-size:
   *
   * The longest line accepted from QEMU, in bytes,
   * [const@QMachine.QTEST_CLIENT_DEFAULT_MAX_LINE_SIZE] (1 MiB) by
   * default, at least 64. A longer line is a protocol error that closes
   * the channel. A `read` of N bytes is answered with a line of 2 N + 5
   * bytes: [method@QMachine.QtestClient.read_memory_async] refuses sizes
   * whose reply would not fit.
   *
   * Since: 1.0
   */
  properties [PROP_MAX_LINE_SIZE] =
    g_param_spec_uint64 ("max-line-size", NULL, NULL, 64, G_MAXSIZE,
                         Q_QTEST_CLIENT_DEFAULT_MAX_LINE_SIZE,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * QQtestClient::irq:
   * @self: the `QQtestClient`
   * @line: the interrupt line's number
   * @level: %TRUE when it was raised, %FALSE when lowered
   *
   * Emitted, in the owner's main context and in arrival order, for each
   * `IRQ raise N` or `IRQ lower N` line QEMU sends about an intercepted
   * device (see [method@QMachine.QtestClient.irq_intercept_in_async]).
   * At most 10000 wait for a context that is not iterated; past that
   * the oldest are dropped.
   *
   * Since: 1.0
   */
  signals [IRQ] =
    g_signal_new ("irq",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_BOOLEAN);
}

static void
q_qtest_client_init (QQtestClient *self)
{
  self->timeout_msec = -1;
}

/* ------------------------------------------------------------------------ */
/* Private API                                                              */

QQtestClient *
q_qtest_client_new_with_context (GIOStream    *stream,
                                 GMainContext *context)
{
  QQtestClient *self;

  g_private_set (&next_owner_context, context);
  self = q_qtest_client_new (stream);
  g_private_set (&next_owner_context, NULL);

  return self;
}

void
q_qtest_client_fail (QQtestClient *self,
                     const GError *error)
{
  Request *r = request_new (self->core);

  r->error = error ? g_error_copy (error) : NULL;
  if (q_worker_is_current ())
    {
      core_do_fail (r);
      request_free (r);
    }
  else
    q_worker_schedule (core_do_fail, r, (GDestroyNotify)request_free);
}

/* ------------------------------------------------------------------------ */
/* Construction and state                                                   */

/**
 * q_qtest_client_new:
 * @stream: a connected stream to QEMU's qtest channel
 *
 * Creates a qtest client on @stream, such as our end of a socketpair
 * whose other end QEMU got with `-chardev socket,id=qtest,fd=N -qtest
 * chardev:qtest`. Nothing is sent until the first command.
 *
 * Returns: (transfer full): a new `QQtestClient`
 *
 * Since: 1.0
 */
QQtestClient *
q_qtest_client_new (GIOStream *stream)
{
  g_return_val_if_fail (G_IS_IO_STREAM (stream), NULL);

  return g_object_new (Q_TYPE_QTEST_CLIENT, "stream", stream, NULL);
}

/**
 * q_qtest_client_get_stream:
 * @self: a `QQtestClient`
 *
 * Gets the stream the client speaks over.
 *
 * Returns: (transfer none) (nullable): the stream
 *
 * Since: 1.0
 */
GIOStream *
q_qtest_client_get_stream (QQtestClient *self)
{
  g_return_val_if_fail (Q_IS_QTEST_CLIENT (self), NULL);
  return self->stream;
}

/**
 * q_qtest_client_get_timeout:
 * @self: a `QQtestClient`
 *
 * Gets [property@QMachine.QtestClient:timeout].
 *
 * Returns: the time limit of each command in milliseconds, or -1
 *
 * Since: 1.0
 */
int
q_qtest_client_get_timeout (QQtestClient *self)
{
  g_return_val_if_fail (Q_IS_QTEST_CLIENT (self), -1);
  return g_atomic_int_get (&self->timeout_msec);
}

/**
 * q_qtest_client_set_timeout:
 * @self: a `QQtestClient`
 * @timeout_msec: the time limit of each command in milliseconds, or -1
 *   for none
 *
 * Sets [property@QMachine.QtestClient:timeout].
 *
 * Since: 1.0
 */
void
q_qtest_client_set_timeout (QQtestClient *self,
                            int           timeout_msec)
{
  g_return_if_fail (Q_IS_QTEST_CLIENT (self));
  g_return_if_fail (timeout_msec >= -1);

  if (g_atomic_int_exchange (&self->timeout_msec, timeout_msec) != timeout_msec)
    g_object_notify_by_pspec (G_OBJECT (self), properties [PROP_TIMEOUT]);
}

/**
 * q_qtest_client_get_max_line_size:
 * @self: a `QQtestClient`
 *
 * Gets [property@QMachine.QtestClient:max-line-size].
 *
 * Returns: the longest line accepted, in bytes
 *
 * Since: 1.0
 */
guint64
q_qtest_client_get_max_line_size (QQtestClient *self)
{
  guint64 ret;

  g_return_val_if_fail (Q_IS_QTEST_CLIENT (self), 0);

  q_leaf_lock (&self->core->mutex);
  ret = self->core->max_message_size;
  q_leaf_unlock (&self->core->mutex);

  return ret;
}

/**
 * q_qtest_client_set_max_line_size:
 * @self: a `QQtestClient`
 * @max_line_size: the longest line accepted, in bytes (at least 64)
 *
 * Sets [property@QMachine.QtestClient:max-line-size]; it applies from
 * the next read.
 *
 * Since: 1.0
 */
void
q_qtest_client_set_max_line_size (QQtestClient *self,
                                  guint64       max_line_size)
{
  gboolean changed;

  g_return_if_fail (Q_IS_QTEST_CLIENT (self));
  g_return_if_fail (max_line_size >= 64);

  q_leaf_lock (&self->core->mutex);
  changed = self->core->max_message_size != max_line_size;
  self->core->max_message_size = max_line_size;
  q_leaf_unlock (&self->core->mutex);

  if (changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties [PROP_MAX_LINE_SIZE]);
}

/**
 * q_qtest_client_is_closed:
 * @self: a `QQtestClient`
 *
 * Whether the channel is closed (QEMU exited, a protocol error, or
 * [method@QMachine.QtestClient.close]); every command then fails at
 * once. Any thread.
 *
 * Returns: %TRUE once closed
 *
 * Since: 1.0
 */
gboolean
q_qtest_client_is_closed (QQtestClient *self)
{
  gboolean ret;

  g_return_val_if_fail (Q_IS_QTEST_CLIENT (self), TRUE);

  q_leaf_lock (&self->core->mutex);
  ret = self->core->closed;
  q_leaf_unlock (&self->core->mutex);

  return ret;
}

/**
 * q_qtest_client_close:
 * @self: a `QQtestClient`
 *
 * Closes the channel: commands waiting fail with `G_IO_ERROR_CLOSED`, and
 * later ones fail at once. Dropping the last reference does the same.
 *
 * Since: 1.0
 */
void
q_qtest_client_close (QQtestClient *self)
{
  g_return_if_fail (Q_IS_QTEST_CLIENT (self));

  q_qtest_client_fail (self, NULL);
}

/* ------------------------------------------------------------------------ */
/* Sending and reading back                                                 */

#define VALID_WIDTH(w) ((w) == Q_QTEST_WIDTH_BYTE || (w) == Q_QTEST_WIDTH_WORD || \
                        (w) == Q_QTEST_WIDTH_LONG || (w) == Q_QTEST_WIDTH_QUAD)
#define WIDTH_MASK(w)  ((w) == Q_QTEST_WIDTH_QUAD ? G_MAXUINT64 : ((G_GUINT64_CONSTANT (1) << (8 * (w))) - 1))

/* Whether @text can go in a command line: printable UTF-8, not empty,
 * and (@word) without spaces, since QEMU splits the line at spaces. */
static gboolean
qtest_check_text (const char  *text,
                  gboolean     word,
                  const char  *what,
                  GError     **error)
{
  if (*text == '\0' || !g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "The qtest %s is empty or not valid UTF-8", what);
      return FALSE;
    }
  for (const guchar *c = (const guchar *)text; *c; c++)
    if (*c < 0x20 || *c == 0x7F || (word && *c == ' '))
      {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     "The qtest %s \"%s\" holds %s: QEMU reads one command per line",
                     what, text, *c == ' ' ? "a space" : "a newline or another control character");
        return FALSE;
      }
  return TRUE;
}

/* Completes a call without asking QEMU: with @error, or else with @text
 * as if QEMU had answered `OK TEXT`. */
static void
qtest_return_now (QQtestClient        *self,
                  gpointer             source_tag,
                  GError              *error,
                  const char          *text,
                  gpointer             task_data,
                  GDestroyNotify       task_data_destroy,
                  GAsyncReadyCallback  callback,
                  gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  g_task_set_name (task, core_qtest_dialect.task_name);
  if (task_data != NULL)
    g_task_set_task_data (task, task_data, task_data_destroy);
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, g_strdup (text), g_free);
}

/* Sends @line (taken; without its line feed). The first @name_len bytes
 * name it in errors (0: all of it). */
static void
qtest_send (QQtestClient        *self,
            char                *line,
            gsize                name_len,
            gpointer             task_data,
            GDestroyNotify       task_data_destroy,
            gpointer             source_tag,
            GCancellable        *cancellable,
            GAsyncReadyCallback  callback,
            gpointer             user_data)
{
  g_autofree char *name = name_len > 0 ? g_strndup (line, name_len) : g_strdup (line);
  gsize len = strlen (line);
  g_autoptr(GBytes) bytes = NULL;

  /* The line feed goes where the terminating NUL was. */
  line[len] = '\n';
  bytes = g_bytes_new_take (line, len + 1);
  core_execute_line_async (self->core, self, name, bytes, q_qtest_client_get_timeout (self),
                           task_data, task_data_destroy, source_tag, cancellable,
                           callback, user_data);
}

/* The text after `OK`, or NULL with @error. */
static char *
qtest_finish_text (QQtestClient  *self,
                   GAsyncResult  *result,
                   gpointer       source_tag,
                   GError       **error)
{
  g_return_val_if_fail (Q_IS_QTEST_CLIENT (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static gboolean
qtest_finish_ok (QQtestClient  *self,
                 GAsyncResult  *result,
                 gpointer       source_tag,
                 GError       **error)
{
  g_autofree char *text = qtest_finish_text (self, result, source_tag, error);

  return text != NULL;
}

static gboolean
qtest_bad_reply (GError     **error,
                 const char  *command,
                 const char  *why,
                 const char  *text)
{
  g_set_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
               "QEMU's reply to the qtest command %s is %s: \"%.64s%s\"",
               command, why, text, strlen (text) > 64 ? "…" : "");
  return FALSE;
}

/* `0x` and 1 to 16 hex digits, at most @max. */
static gboolean
qtest_parse_hex (const char  *text,
                 guint64      max,
                 const char  *command,
                 guint64     *value,
                 GError     **error)
{
  gsize n;
  guint64 v = 0;

  if (!g_str_has_prefix (text, "0x"))
    return qtest_bad_reply (error, command, "not a hexadecimal number", text);
  text += 2;
  n = strlen (text);
  if (n == 0 || n > 16)
    return qtest_bad_reply (error, command, "not a 64-bit hexadecimal number", text - 2);
  for (gsize i = 0; i < n; i++)
    {
      if (!g_ascii_isxdigit (text[i]))
        return qtest_bad_reply (error, command, "not a hexadecimal number", text - 2);
      v = (v << 4) | g_ascii_xdigit_value (text[i]);
    }
  if (v > max)
    return qtest_bad_reply (error, command, "wider than the access", text - 2);
  *value = v;
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Commands                                                                 */

/**
 * q_qtest_client_command_async:
 * @self: a `QQtestClient`
 * @command: one qtest command line, without its line feed, such as
 *   `outb 0x70 0x0e` or `endianness`
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called with the reply
 * @user_data: closure data for @callback
 *
 * Sends any qtest command. A command that is empty, not valid UTF-8 or
 * holds a newline or another control character fails with
 * `G_IO_ERROR_INVALID_ARGUMENT` before anything is written. QEMU 7.2
 * aborts on some malformed commands (an access without its address, a
 * `read` of 0 bytes): prefer the typed methods.
 *
 * Cancelling completes the call at once with `G_IO_ERROR_CANCELLED`;
 * QEMU's reply, when it comes, is dropped.
 *
 * Since: 1.0
 */
void
q_qtest_client_command_async (QQtestClient        *self,
                              const char          *command,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  GError *error = NULL;

  q_return_async_if_fail (Q_IS_QTEST_CLIENT (self), callback, user_data);
  q_return_async_if_fail (command != NULL, callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  if (!qtest_check_text (command, FALSE, "command", &error))
    {
      qtest_return_now (self, q_qtest_client_command_async, error, NULL, NULL, NULL,
                        callback, user_data);
      return;
    }
  qtest_send (self, g_strdup (command), MIN (strlen (command), 64), NULL, NULL,
              q_qtest_client_command_async, cancellable, callback, user_data);
}

/**
 * q_qtest_client_command_finish:
 * @self: a `QQtestClient`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.QtestClient.command_async].
 *
 * Returns: (transfer full): the text after `OK` (without the space
 *   after it; the empty string for a bare `OK`), or %NULL with a
 *   `Q_QTEST_ERROR` when QEMU answered `FAIL` or `ERR`, or another error
 *
 * Since: 1.0
 */
char *
q_qtest_client_command_finish (QQtestClient  *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  return qtest_finish_text (self, result, q_qtest_client_command_async, error);
}

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
 * q_qtest_client_command:
 * @self: a `QQtestClient`
 * @command: one qtest command line
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.QtestClient.command_async].
 *
 * Returns: (transfer full): the text after `OK`, or %NULL with @error set
 *
 * Since: 1.0
 */
char *
q_qtest_client_command (QQtestClient *self,
                        const char   *command,
                        GCancellable *cancellable,
                        GError      **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  q_sync_call_begin (&call);
  q_qtest_client_command_async (self, command, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return NULL;

  return q_qtest_client_command_finish (self, result, error);
}

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
