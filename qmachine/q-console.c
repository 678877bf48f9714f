/* q-console.c
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "q-console-private.h"
#include "q-waiter-private.h"
#include "q-worker-private.h"

/**
 * QConsole:
 *
 * The serial console of a [class@QMachine.Machine].
 *
 * A machine gets a console with [method@QMachine.Machine.set_console]; once
 * launched, [method@QMachine.Machine.get_console] returns it. QEMU's end of
 * the console is a socketpair, so nothing the guest prints is lost while it
 * waits in the socket, and with [property@QMachine.Machine:drain-console]
 * (implied by [property@QMachine.Machine:console-log]) the console is read
 * continuously from the first byte into a bounded buffer and appended to
 * the log file, so QEMU never blocks on a full socket, whether or not
 * anyone reads.
 *
 * [method@QMachine.Console.wait_for] and [method@QMachine.Console.read_line]
 * consume the buffered output in order: each looks at what is buffered past
 * the last thing consumed, then waits for more. [method@QMachine.Console.get_output]
 * returns everything still buffered, consumed or not. Without draining, the
 * console is read only while a wait is pending, and
 * [method@QMachine.Console.get_stream] gives the raw stream to a reader of
 * one's own (a terminal widget, say). Do not mix the two while draining.
 *
 * When the buffer is full, the oldest bytes are dropped and counted in
 * [method@QMachine.Console.get_dropped_bytes].
 *
 * Since: 1.0
 */

#define READ_CHUNK 65536
#define LAST_SEEN 160

typedef enum
{
  WAIT_LINE,
  WAIT_PLAIN,
  WAIT_REGEX,
} WaitKind;

typedef struct
{
  QWaiter   base;
  WaitKind  kind;
  char     *pattern;
  GRegex   *regex;
  int       timeout_msec;
} Waiter;

struct _QConsole
{
  GObject            parent_instance;

  GMainContext      *owner_context;
  GSocketConnection *conn;
  GInputStream      *input;
  GOutputStream     *output;
  GCancellable      *io_cancellable;
  gboolean           drain;
  gsize              buffer_size;
  int                log_fd;         /* console log, or -1 */
  guint8            *readbuf;

  /* worker thread only */
  gboolean           reading;
  gboolean           writing;
  GQueue             writes;         /* GTask, data = GBytes */

  /* guarded by mutex */
  GMutex             mutex;
  GByteArray        *buf;            /* retained output */
  guint64            base;           /* stream offset of buf[0] */
  guint64            consumed;       /* stream offset waits start from */
  guint64            dropped;
  gboolean           closed;
  GList             *waiters;
  guint64            next_waiter_id;

  GQueue             emissions;      /* Emission, for the owner's context */

  int                queued_bytes;       /* atomic: bytes in undispatched `output` */
  int                dropped_emissions;  /* atomic */

  /* Set at creation; the dispatcher is closed by dispose. */
  QBox              *box;
  QDispatcher       *dispatcher;
};

G_DEFINE_FINAL_TYPE (QConsole, q_console, G_TYPE_OBJECT)

enum {
  OUTPUT,
  CLOSED,
  N_SIGNALS
};

static guint signals [N_SIGNALS];

static void console_maybe_read (QConsole *self);
static void console_close_now  (QConsole *self,
                                const GError *error);

static void
waiter_free (Waiter *w)
{
  q_waiter_clear (&w->base);
  g_free (w->pattern);
  g_clear_pointer (&w->regex, g_regex_unref);
  g_free (w);
}

/* Must hold the mutex. The tail of the output, printable, for errors. */
static char *
console_last_seen_locked (QConsole *self)
{
  gsize len = MIN (self->buf->len, LAST_SEEN);
  g_autofree char *raw = NULL;

  if (len == 0)
    return g_strdup ("");
  raw = g_strndup ((const char *)self->buf->data + self->buf->len - len, len);

  return g_strescape (raw, NULL);
}

/* Must hold the mutex. Tries to satisfy @w from the unconsumed output; on
 * success consumes it and returns the text. */
static char *
waiter_try_locked (QConsole *self,
                   Waiter   *w)
{
  const char *start;
  gsize avail = self->buf->len - (self->consumed - self->base);
  gsize begin = 0, end = 0;

  if (avail == 0)
    return NULL;
  start = (const char *)self->buf->data + (self->consumed - self->base);

  switch (w->kind)
    {
    case WAIT_LINE:
      {
        const char *nl = memchr (start, '\n', avail);
        if (nl == NULL)
          return NULL;
        end = nl - start;
        self->consumed += end + 1;
        if (end > 0 && start[end - 1] == '\r')
          end--;
        return g_utf8_make_valid (start, end);
      }

    case WAIT_PLAIN:
      {
        const char *hit = memmem (start, avail, w->pattern, strlen (w->pattern));
        if (hit == NULL)
          return NULL;
        begin = hit - start;
        end = begin + strlen (w->pattern);
        break;
      }

    case WAIT_REGEX:
      {
        g_autoptr(GMatchInfo) info = NULL;
        int s, e;

        if (!g_regex_match_full (w->regex, start, avail, 0, 0, &info, NULL) ||
            !g_match_info_fetch_pos (info, 0, &s, &e))
          return NULL;
        begin = s;
        end = e;
        break;
      }

    default:
      g_assert_not_reached ();
    }

  self->consumed += end;
  return g_utf8_make_valid (start + begin, end - begin);
}

typedef struct
{
  GTask *task;
  char  *text;
} Resolved;

/* Must hold the mutex. Resolves waiters in registration order. */
static GPtrArray *
console_resolve_locked (QConsole *self)
{
  GPtrArray *done = NULL;
  GList *l = self->waiters;

  while (l != NULL)
    {
      Waiter *w = l->data;
      GList *next = l->next;
      char *text = waiter_try_locked (self, w);

      if (text == NULL)
        {
          /* Later waiters wait their turn: output is consumed in order. */
          break;
        }

      if (done == NULL)
        done = g_ptr_array_new ();
      {
        Resolved *r = g_new0 (Resolved, 1);
        r->task = g_steal_pointer (&w->base.task);
        r->text = text;
        g_ptr_array_add (done, r);
      }
      self->waiters = g_list_delete_link (self->waiters, l);
      waiter_free (w);
      l = next;
    }

  return done;
}

static void
complete_resolved (GPtrArray *done)
{
  for (guint i = 0; done && i < done->len; i++)
    {
      Resolved *r = g_ptr_array_index (done, i);

      if (r == NULL)
        continue;   /* handed to the emission queue */
      g_task_return_pointer (r->task, r->text, g_free);
      g_object_unref (r->task);
      g_free (r);
    }
  g_clear_pointer (&done, g_ptr_array_unref);
}

typedef struct
{
  GBytes   *chunk;
  GError   *error;
  gboolean  closed;
  Resolved *resolved;    /* a wait to complete, after the output before it */
} Emission;

static void
emission_free (Emission *e)
{
  g_clear_pointer (&e->chunk, g_bytes_unref);
  g_clear_error (&e->error);
  if (e->resolved != NULL)
    {
      g_free (e->resolved->text);
      g_object_unref (e->resolved->task);
      g_free (e->resolved);
    }
  g_free (e);
}

/* Owner's context, from the dispatcher. */
static void
console_dispatch (gpointer object)
{
  QConsole *self = object;
  GQueue items;
  Emission *e;

  q_leaf_lock (&self->mutex);
  items = self->emissions;
  g_queue_init (&self->emissions);
  q_leaf_unlock (&self->mutex);

  while ((e = g_queue_pop_head (&items)))
    {
      if (e->resolved != NULL)
        {
          Resolved *r = g_steal_pointer (&e->resolved);

          g_task_return_pointer (r->task, r->text, g_free);
          g_object_unref (r->task);
          g_free (r);
        }
      else if (e->closed)
        g_signal_emit (self, signals [CLOSED], 0, e->error);
      else
        {
          g_atomic_int_add (&self->queued_bytes, -(int)g_bytes_get_size (e->chunk));
          g_signal_emit (self, signals [OUTPUT], 0, e->chunk);
        }
      emission_free (e);
    }
}

static void
console_emit (QConsole     *self,
              GBytes       *chunk,
              gboolean      closed,
              const GError *error)
{
  Emission *e;

  /* Output waiting for the owner's context is bounded too: a script that
   * never runs a main loop must not hold every chunk the guest printed.
   * Nobody listening means nothing to queue; too many queued means the
   * newest are dropped (the buffer and the log still have them). */
  if (!closed)
    {
      if (!g_signal_has_handler_pending (self, signals [OUTPUT], 0, TRUE))
        return;
      if ((gsize)g_atomic_int_get (&self->queued_bytes) + g_bytes_get_size (chunk) > self->buffer_size)
        {
          if (g_atomic_int_add (&self->dropped_emissions, 1) == 0)
            q_log_later (self->owner_context, G_LOG_LEVEL_WARNING,
                         "QConsole: the owner's main context is not dispatching `output`; "
                         "more than the console buffer size (%" G_GSIZE_FORMAT " bytes) waits, "
                         "dropping signals", self->buffer_size);
          return;
        }
      g_atomic_int_add (&self->queued_bytes, (int)g_bytes_get_size (chunk));
    }

  e = g_new0 (Emission, 1);
  e->chunk = chunk ? g_bytes_ref (chunk) : NULL;
  e->closed = closed;
  e->error = error ? g_error_copy (error) : NULL;

  q_leaf_lock (&self->mutex);
  g_queue_push_tail (&self->emissions, e);
  q_leaf_unlock (&self->mutex);

  q_dispatcher_wakeup (self->dispatcher);
}

/* Worker: new output arrived. */
static void
console_append (QConsole     *self,
                const guint8 *data,
                gsize         len)
{
  g_autoptr(GBytes) chunk = g_bytes_new (data, len);
  GPtrArray *done;

  if (self->log_fd >= 0)
    {
      gsize off = 0;
      while (off < len)
        {
          gssize n = write (self->log_fd, data + off, len - off);
          if (n < 0 && errno == EINTR)
            continue;
          if (n <= 0)
            {
              q_log_later (self->owner_context, G_LOG_LEVEL_WARNING,
                           "Writing the console log failed: %s", g_strerror (errno));
              close (self->log_fd);
              self->log_fd = -1;
              break;
            }
          off += n;
        }
    }

  q_leaf_lock (&self->mutex);
  g_byte_array_append (self->buf, data, len);
  if (self->buf->len > self->buffer_size)
    {
      gsize excess = self->buf->len - self->buffer_size;

      g_byte_array_remove_range (self->buf, 0, excess);
      self->base += excess;
      self->dropped += excess;
      if (self->consumed < self->base)
        self->consumed = self->base;
    }
  done = console_resolve_locked (self);
  q_leaf_unlock (&self->mutex);

  /* The `output` signal for these bytes goes first; a wait they satisfy
   * completes after it when it completes in the same context (through
   * the same queue), so a program sees the text before the match. */
  console_emit (self, chunk, FALSE, NULL);
  for (guint i = 0; done && i < done->len; i++)
    {
      Resolved *r = g_ptr_array_index (done, i);

      if (g_task_get_context (r->task) == self->owner_context)
        {
          Emission *e = g_new0 (Emission, 1);

          e->resolved = r;
          q_leaf_lock (&self->mutex);
          g_queue_push_tail (&self->emissions, e);
          q_leaf_unlock (&self->mutex);
          q_dispatcher_wakeup (self->dispatcher);
          g_ptr_array_index (done, i) = NULL;
        }
    }
  complete_resolved (done);
}

static void
read_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(QConsole) self = user_data;
  g_autoptr(GError) error = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (object), result, &error);
  self->reading = FALSE;

  if (n < 0)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        console_close_now (self, error);
      else
        console_close_now (self, NULL);
      return;
    }
  if (n == 0)
    {
      error = g_error_new (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, "The console was closed by QEMU");
      console_close_now (self, error);
      return;
    }

  console_append (self, self->readbuf, n);
  console_maybe_read (self);
}

static void
console_maybe_read (QConsole *self)
{
  gboolean want;

  g_assert (q_worker_is_current ());

  if (self->reading)
    return;

  q_leaf_lock (&self->mutex);
  want = !self->closed && (self->drain || self->waiters != NULL);
  q_leaf_unlock (&self->mutex);

  if (!want)
    return;

  self->reading = TRUE;
  g_input_stream_read_async (self->input, self->readbuf, READ_CHUNK, G_PRIORITY_DEFAULT,
                             self->io_cancellable, read_cb, g_object_ref (self));
}

static gboolean
maybe_read_idle (gpointer data)
{
  console_maybe_read (data);
  return G_SOURCE_REMOVE;
}

/* Worker. */
static void
console_close_now (QConsole     *self,
                   const GError *error)
{
  g_autoptr(GError) fail = NULL;
  g_autofree char *last = NULL;
  GList *waiters;
  GTask *task;

  q_leaf_lock (&self->mutex);
  if (self->closed)
    {
      q_leaf_unlock (&self->mutex);
      return;
    }
  self->closed = TRUE;
  waiters = g_steal_pointer (&self->waiters);
  last = console_last_seen_locked (self);
  q_leaf_unlock (&self->mutex);

  /* A drained console keeps what QEMU wrote up to its end: read what is
   * still in the socket before closing it. Any read in flight has not
   * taken data yet (it reads when dispatched), so order is kept. */
  if (self->drain)
    {
      GSocket *socket = g_socket_connection_get_socket (self->conn);
      gssize n;

      while ((n = g_socket_receive_with_blocking (socket, (char *)self->readbuf, READ_CHUNK,
                                                  FALSE, NULL, NULL)) > 0)
        console_append (self, self->readbuf, n);
    }

  g_cancellable_cancel (self->io_cancellable);
  if (!self->reading && !self->writing)
    g_io_stream_close (G_IO_STREAM (self->conn), NULL, NULL);
  else
    /* Pending operations finish promptly once cancelled; the socket goes
     * now so that QEMU sees the console closed. */
    g_socket_close (g_socket_connection_get_socket (self->conn), NULL);

  if (self->log_fd >= 0)
    {
      close (self->log_fd);
      self->log_fd = -1;
    }

  fail = g_error_new (G_IO_ERROR, error ? error->code : G_IO_ERROR_CLOSED,
                      "The console is closed (%s); last output: \"%s\"",
                      error ? error->message : "closed at shutdown", last);
  for (GList *l = waiters; l; l = l->next)
    {
      Waiter *w = l->data;
      g_task_return_error (w->base.task, g_error_copy (fail));
      waiter_free (w);
    }
  g_list_free (waiters);

  while ((task = g_queue_pop_head (&self->writes)))
    {
      g_task_return_error (task, g_error_copy (fail));
      g_object_unref (task);
    }

  console_emit (self, NULL, TRUE, error);
}

static gboolean
close_idle (gpointer data)
{
  console_close_now (data, NULL);
  return G_SOURCE_REMOVE;
}

/* ------------------------------------------------------------------------ */
/* Writes (worker)                                                          */

static void console_write_next (QConsole *self);

static void
write_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  QConsole *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;

  self->writing = FALSE;
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (object), result, NULL, &error))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);

  q_leaf_lock (&self->mutex);
  if (self->closed)
    g_io_stream_close (G_IO_STREAM (self->conn), NULL, NULL);
  q_leaf_unlock (&self->mutex);

  console_write_next (self);
}

static void
console_write_next (QConsole *self)
{
  GTask *task;
  GBytes *bytes;
  gsize len;
  const guint8 *data;

  if (self->writing || !(task = g_queue_pop_head (&self->writes)))
    return;

  bytes = g_task_get_task_data (task);
  data = g_bytes_get_data (bytes, &len);
  self->writing = TRUE;
  g_output_stream_write_all_async (self->output, data, len, G_PRIORITY_DEFAULT,
                                   self->io_cancellable, write_cb, task);
}

static gboolean
write_idle (gpointer data)
{
  GTask *task = data;
  QConsole *self = g_task_get_source_object (task);
  gboolean closed;

  q_leaf_lock (&self->mutex);
  closed = self->closed;
  q_leaf_unlock (&self->mutex);

  if (closed)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CLOSED, "The console is closed");
      g_object_unref (task);
      return G_SOURCE_REMOVE;
    }

  g_queue_push_tail (&self->writes, task);
  console_write_next (self);
  return G_SOURCE_REMOVE;
}

/* ------------------------------------------------------------------------ */
/* GObject                                                                  */

static void
q_console_dispose (GObject *object)
{
  QConsole *self = (QConsole *)object;

  /* Nothing waits for the owner's context once the console goes. */
  q_box_clear (self->box);
  q_dispatcher_close (self->dispatcher);

  if (q_dispose_on_owner (self, self->dispatcher))
    return;
  G_OBJECT_CLASS (q_console_parent_class)->dispose (object);
}

static void
q_console_finalize (GObject *object)
{
  QConsole *self = (QConsole *)object;

  g_assert (!q_is_internal_thread ());
  g_assert (self->waiters == NULL);

  g_queue_clear_full (&self->emissions, (GDestroyNotify)emission_free);
  g_clear_pointer (&self->dispatcher, q_dispatcher_unref);
  g_clear_pointer (&self->box, q_box_unref);
  if (self->log_fd >= 0)
    close (self->log_fd);
  g_clear_object (&self->conn);
  g_clear_object (&self->io_cancellable);
  g_clear_pointer (&self->readbuf, g_free);
  g_clear_pointer (&self->buf, g_byte_array_unref);
  g_clear_pointer (&self->owner_context, g_main_context_unref);
  g_mutex_clear (&self->mutex);

  G_OBJECT_CLASS (q_console_parent_class)->finalize (object);
}

static void
q_console_class_init (QConsoleClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = q_console_dispose;
  object_class->finalize = q_console_finalize;

  /**
   * QConsole::output:
   * @self: a `QConsole`
   * @chunk: the bytes just read
   *
   * Emitted, in the machine owner's main context, for each chunk of output
   * read from the guest (while draining, or while a wait reads). Chunks
   * read while no handler is connected are not signalled (they are in
   * the buffer), and at most [property@QMachine.Machine:console-buffer-size]
   * bytes wait for the owner's context to dispatch them; beyond that the
   * signal is dropped, with a warning.
   *
   * Since: 1.0
   */
  signals [OUTPUT] =
    g_signal_new ("output",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_BYTES);

  /**
   * QConsole::closed:
   * @self: a `QConsole`
   * @error: (nullable): why, or %NULL when closed at shutdown
   *
   * Emitted once when the console is closed: QEMU exited or the machine
   * is shutting down. Pending waits have failed by then.
   *
   * Since: 1.0
   */
  signals [CLOSED] =
    g_signal_new ("closed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
q_console_init (QConsole *self)
{
  g_mutex_init (&self->mutex);
  self->buf = g_byte_array_new ();
  self->log_fd = -1;
  self->buffer_size = Q_CONSOLE_DEFAULT_BUFFER_SIZE;
  /* A console made with g_object_new() alone (from a binding, say) has no
   * stream: it is closed, and every call on it fails clearly. */
  self->closed = TRUE;
  self->box = q_box_new (self);
  self->owner_context = g_main_context_ref_thread_default ();
  self->dispatcher = q_dispatcher_new (self->owner_context, self->box, console_dispatch);
}

/* ------------------------------------------------------------------------ */
/* Private API                                                              */

QConsole *
q_console_new (GSocket      *socket,
               GMainContext *owner_context,
               gboolean      drain,
               gsize         buffer_size,
               int           log_fd)
{
  QConsole *self = g_object_new (Q_TYPE_CONSOLE, NULL);

  /* Signals go to the machine owner's context. */
  q_dispatcher_close (self->dispatcher);
  q_dispatcher_unref (self->dispatcher);
  g_main_context_unref (self->owner_context);
  self->owner_context = g_main_context_ref (owner_context);
  self->dispatcher = q_dispatcher_new (owner_context, self->box, console_dispatch);
  self->closed = FALSE;
  self->conn = g_socket_connection_factory_create_connection (socket);
  self->input = g_io_stream_get_input_stream (G_IO_STREAM (self->conn));
  self->output = g_io_stream_get_output_stream (G_IO_STREAM (self->conn));
  self->io_cancellable = g_cancellable_new ();
  self->drain = drain;
  self->buffer_size = MAX (buffer_size, 1);
  self->log_fd = log_fd;
  self->readbuf = g_malloc (READ_CHUNK);

  q_worker_schedule (maybe_read_idle, g_object_ref (self), g_object_unref);

  return self;
}

void
q_console_close (QConsole *self)
{
  g_return_if_fail (Q_IS_CONSOLE (self));

  if (q_worker_is_current ())
    console_close_now (self, NULL);
  else
    q_worker_schedule (close_idle, g_object_ref (self), g_object_unref);
}

/* ------------------------------------------------------------------------ */
/* Public API                                                               */

/**
 * q_console_get_stream:
 * @self: a `QConsole`
 *
 * Gets the raw stream of the console: QEMU's serial port on the other end.
 * Read it yourself only when the machine does not drain the console.
 *
 * Returns: (transfer none) (nullable): the console stream, or %NULL for a
 *   console made without one
 *
 * Since: 1.0
 */
GIOStream *
q_console_get_stream (QConsole *self)
{
  g_return_val_if_fail (Q_IS_CONSOLE (self), NULL);
  return self->conn ? G_IO_STREAM (self->conn) : NULL;
}

/**
 * q_console_get_output:
 * @self: a `QConsole`
 *
 * Gets all the output still buffered (at most
 * [property@QMachine.Machine:console-buffer-size] bytes, the most recent),
 * whether waits consumed it or not. It stays available after the machine
 * shut down.
 *
 * Returns: (transfer full): the buffered output
 *
 * Since: 1.0
 */
GBytes *
q_console_get_output (QConsole *self)
{
  GBytes *ret;

  g_return_val_if_fail (Q_IS_CONSOLE (self), NULL);

  q_leaf_lock (&self->mutex);
  ret = g_bytes_new (self->buf->data, self->buf->len);
  q_leaf_unlock (&self->mutex);

  return ret;
}

/**
 * q_console_get_dropped_bytes:
 * @self: a `QConsole`
 *
 * Gets how many bytes of output were dropped because the buffer was full.
 *
 * Returns: the number of dropped bytes
 *
 * Since: 1.0
 */
guint64
q_console_get_dropped_bytes (QConsole *self)
{
  guint64 ret;

  g_return_val_if_fail (Q_IS_CONSOLE (self), 0);

  q_leaf_lock (&self->mutex);
  ret = self->dropped;
  q_leaf_unlock (&self->mutex);

  return ret;
}

/**
 * q_console_is_closed:
 * @self: a `QConsole`
 *
 * Tells whether the console is closed (QEMU exited or the machine shut
 * down). Buffered output stays readable with
 * [method@QMachine.Console.get_output].
 *
 * Returns: %TRUE once closed
 *
 * Since: 1.0
 */
gboolean
q_console_is_closed (QConsole *self)
{
  gboolean ret;

  g_return_val_if_fail (Q_IS_CONSOLE (self), TRUE);

  q_leaf_lock (&self->mutex);
  ret = self->closed;
  q_leaf_unlock (&self->mutex);

  return ret;
}

static QWaiter *
waiter_take (gpointer object,
             guint64  id)
{
  QConsole *self = object;

  return q_waiter_list_take (&self->waiters, &self->mutex, id);
}

static GError *
waiter_timeout_error (gpointer  object,
                      QWaiter  *base)
{
  QConsole *self = object;
  Waiter *w = (Waiter *)base;
  g_autofree char *last = NULL;

  q_leaf_lock (&self->mutex);
  last = console_last_seen_locked (self);
  q_leaf_unlock (&self->mutex);

  if (w->kind == WAIT_LINE)
    return g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                        "No complete line within %d ms; last output: \"%s\"",
                        w->timeout_msec, last);
  return g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                      "\"%s\" did not appear within %d ms; last output: \"%s\"",
                      w->pattern, w->timeout_msec, last);
}

static const QWaiterClass waiter_class = {
  waiter_take,
  waiter_timeout_error,
  (void (*) (QWaiter *))waiter_free,
};

static void
console_wait (QConsole            *self,
              Waiter              *w,
              int                  timeout_msec,
              gpointer             source_tag,
              GCancellable        *cancellable,
              GAsyncReadyCallback  callback,
              gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  GPtrArray *done;
  gboolean closed;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);
  g_task_set_name (task, "[qmachine] console wait");
  g_task_set_check_cancellable (task, FALSE);

  w->base.task = g_object_ref (task);
  w->timeout_msec = timeout_msec;

  /* Buffered output first, under the same lock the reader appends with. */
  q_leaf_lock (&self->mutex);
  w->base.id = ++self->next_waiter_id;
  self->waiters = g_list_append (self->waiters, w);
  done = console_resolve_locked (self);
  closed = self->closed;
  if (g_list_find (self->waiters, w) != NULL)
    {
      if (closed || timeout_msec == 0)
        {
          g_autofree char *last = console_last_seen_locked (self);

          self->waiters = g_list_remove (self->waiters, w);
          q_leaf_unlock (&self->mutex);
          complete_resolved (done);
          if (closed)
            g_task_return_new_error (w->base.task, G_IO_ERROR, G_IO_ERROR_CLOSED,
                                     "The console is closed; last output: \"%s\"", last);
          else
            g_task_return_new_error (w->base.task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                     "Not in the buffered output; last output: \"%s\"", last);
          waiter_free (w);
          return;
        }

      q_waiter_arm (&w->base, &waiter_class, self->box, timeout_msec, cancellable);
      q_leaf_unlock (&self->mutex);
      complete_resolved (done);
      /* Without draining, reading starts now that someone waits. */
      q_worker_schedule (maybe_read_idle, g_object_ref (self), g_object_unref);
      return;
    }
  q_leaf_unlock (&self->mutex);

  complete_resolved (done);
}

static char *
console_wait_finish (QConsole      *self,
                     GAsyncResult  *result,
                     GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * q_console_read_line_async:
 * @self: a `QConsole`
 * @timeout_msec: how long to wait, 0 for buffered output only, or -1
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called with the line
 * @user_data: closure data for @callback
 *
 * Reads the next line of output: buffered output first, then what
 * arrives. Times out with `G_IO_ERROR_TIMED_OUT`, saying what was last
 * seen.
 *
 * Since: 1.0
 */
void
q_console_read_line_async (QConsole            *self,
                           int                  timeout_msec,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  Waiter *w;

  q_return_async_if_fail (Q_IS_CONSOLE (self), callback, user_data);
  q_return_async_if_fail (timeout_msec >= -1, callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  w = g_new0 (Waiter, 1);
  w->kind = WAIT_LINE;
  console_wait (self, w, timeout_msec, q_console_read_line_async, cancellable, callback, user_data);
}

/**
 * q_console_read_line_finish:
 * @self: a `QConsole`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.Console.read_line_async].
 *
 * Returns: (transfer full): the line, without its line ending
 *
 * Since: 1.0
 */
char *
q_console_read_line_finish (QConsole      *self,
                            GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (Q_IS_CONSOLE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return console_wait_finish (self, result, error);
}

/**
 * q_console_read_line:
 * @self: a `QConsole`
 * @timeout_msec: how long to wait, 0 for buffered output only, or -1
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.Console.read_line_async].
 *
 * Returns: (transfer full): the line, without its line ending
 *
 * Since: 1.0
 */
char *
q_console_read_line (QConsole      *self,
                     int            timeout_msec,
                     GCancellable  *cancellable,
                     GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_CONSOLE (self), NULL);

  q_sync_call_begin (&call);
  q_console_read_line_async (self, timeout_msec, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return NULL;

  return q_console_read_line_finish (self, result, error);
}

/**
 * q_console_wait_for_async:
 * @self: a `QConsole`
 * @pattern: the text, or with %Q_CONSOLE_MATCH_FLAGS_REGEX the regular
 *   expression, to wait for
 * @flags: how to read @pattern
 * @timeout_msec: how long to wait, 0 for buffered output only, or -1
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called with the matched text
 * @user_data: closure data for @callback
 *
 * Waits until @pattern appears in the output: buffered output first (past
 * what earlier waits consumed), then what arrives. The output up to the
 * end of the match is consumed. A regular expression is matched against
 * what has arrived so far, so `[0-9]+` may match a number before all its
 * digits are in. Times out with `G_IO_ERROR_TIMED_OUT`, saying what was
 * last seen; an invalid regular expression fails with `G_REGEX_ERROR`.
 *
 * Since: 1.0
 */
void
q_console_wait_for_async (QConsole            *self,
                          const char          *pattern,
                          QConsoleMatchFlags   flags,
                          int                  timeout_msec,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(GError) error = NULL;
  Waiter *w;

  q_return_async_if_fail (Q_IS_CONSOLE (self), callback, user_data);
  q_return_async_if_fail (pattern != NULL && *pattern != '\0', callback, user_data);
  q_return_async_if_fail (timeout_msec >= -1, callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  w = g_new0 (Waiter, 1);
  w->pattern = g_strdup (pattern);
  if (flags & Q_CONSOLE_MATCH_FLAGS_REGEX)
    {
      w->kind = WAIT_REGEX;
      w->regex = g_regex_new (pattern, G_REGEX_RAW | G_REGEX_MULTILINE | G_REGEX_OPTIMIZE, 0, &error);
      if (w->regex == NULL)
        {
          waiter_free (w);
          g_task_report_error (self, callback, user_data, q_console_wait_for_async,
                               g_steal_pointer (&error));
          return;
        }
    }
  else
    w->kind = WAIT_PLAIN;

  console_wait (self, w, timeout_msec, q_console_wait_for_async, cancellable, callback, user_data);
}

/**
 * q_console_wait_for_finish:
 * @self: a `QConsole`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.Console.wait_for_async].
 *
 * Returns: (transfer full): the matched text
 *
 * Since: 1.0
 */
char *
q_console_wait_for_finish (QConsole      *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (Q_IS_CONSOLE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return console_wait_finish (self, result, error);
}

/**
 * q_console_wait_for:
 * @self: a `QConsole`
 * @pattern: the text or regular expression to wait for
 * @flags: how to read @pattern
 * @timeout_msec: how long to wait, 0 for buffered output only, or -1
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.Console.wait_for_async].
 *
 * Returns: (transfer full): the matched text
 *
 * Since: 1.0
 */
char *
q_console_wait_for (QConsole            *self,
                    const char          *pattern,
                    QConsoleMatchFlags   flags,
                    int                  timeout_msec,
                    GCancellable        *cancellable,
                    GError             **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_CONSOLE (self), NULL);

  q_sync_call_begin (&call);
  q_console_wait_for_async (self, pattern, flags, timeout_msec, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return NULL;

  return q_console_wait_for_finish (self, result, error);
}

/**
 * q_console_write_async:
 * @self: a `QConsole`
 * @data: the bytes to send to the guest
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called once written
 * @user_data: closure data for @callback
 *
 * Writes to the console, after any write still in progress.
 *
 * Since: 1.0
 */
void
q_console_write_async (QConsole            *self,
                       GBytes              *data,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  GTask *task;

  q_return_async_if_fail (Q_IS_CONSOLE (self), callback, user_data);
  q_return_async_if_fail (data != NULL, callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, q_console_write_async);
  g_task_set_name (task, "[qmachine] console write");
  g_task_set_task_data (task, g_bytes_ref (data), (GDestroyNotify)g_bytes_unref);
  q_worker_schedule (write_idle, task, NULL);
}

/**
 * q_console_write_finish:
 * @self: a `QConsole`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.Console.write_async].
 *
 * Returns: %TRUE once all bytes were written
 *
 * Since: 1.0
 */
gboolean
q_console_write_finish (QConsole      *self,
                        GAsyncResult  *result,
                        GError       **error)
{
  g_return_val_if_fail (Q_IS_CONSOLE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * q_console_write:
 * @self: a `QConsole`
 * @data: the bytes to send to the guest
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.Console.write_async].
 *
 * Returns: %TRUE once all bytes were written
 *
 * Since: 1.0
 */
gboolean
q_console_write (QConsole      *self,
                 GBytes        *data,
                 GCancellable  *cancellable,
                 GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_CONSOLE (self), FALSE);

  q_sync_call_begin (&call);
  q_console_write_async (self, data, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return FALSE;

  return q_console_write_finish (self, result, error);
}

/**
 * q_console_write_text:
 * @self: a `QConsole`
 * @text: text to send, such as a shell command ending in `\n`
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * Writes @text to the console and waits until it is written: a
 * convenience over [method@QMachine.Console.write].
 *
 * Returns: %TRUE once written
 *
 * Since: 1.0
 */
gboolean
q_console_write_text (QConsole      *self,
                      const char    *text,
                      GCancellable  *cancellable,
                      GError       **error)
{
  g_autoptr(GBytes) bytes = NULL;

  g_return_val_if_fail (Q_IS_CONSOLE (self), FALSE);
  g_return_val_if_fail (text != NULL, FALSE);

  bytes = g_bytes_new (text, strlen (text));
  return q_console_write (self, bytes, cancellable, error);
}
