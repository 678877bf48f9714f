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

/* Whether @text can go in a command line: printable UTF-8, not empty,
 * and (@word) without spaces, since QEMU splits the line at spaces. */
gboolean
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
void
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
void
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
char *
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

gboolean
qtest_finish_ok (QQtestClient  *self,
                 GAsyncResult  *result,
                 gpointer       source_tag,
                 GError       **error)
{
  g_autofree char *text = qtest_finish_text (self, result, source_tag, error);

  return text != NULL;
}

gboolean
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
gboolean
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
