/* q-machine.c: the QMachine object, its properties and configuration
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>
#include <unistd.h>

#include "q-enum-types.h"
#include "q-error.h"
#include "q-fs-private.h"
#include "q-machine-private.h"
#include "q-util-private.h"

/**
 * QMachine:
 *
 * One QEMU virtual machine: its process, its QMP monitor, its events and
 * its files.
 *
 * A `QMachine` is configured first (binary, arguments, monitor, console,
 * machine type), then launched. Launching starts QEMU with exactly the file
 * descriptors it needs, connects and negotiates QMP, and completes when the
 * monitor is ready. While it runs, [method@QMachine.Machine.cmd] and
 * [method@QMachine.Machine.qmp] run QMP commands, every QMP event is
 * emitted as [signal@QMachine.Machine::event] and kept in a bounded queue
 * for [method@QMachine.Machine.event_wait], and
 * [signal@QMachine.Machine::exited] tells when the process ends, whoever
 * ended it. [method@QMachine.Machine.shutdown] asks QEMU to quit and kills
 * it when it does not; whatever way QEMU ends, the machine closes its
 * sockets, removes its temporary files, reaps the process and goes back to
 * %Q_MACHINE_STATE_NOT_LAUNCHED, so it can be launched again.
 *
 * ## Processes
 *
 * QEMU is started from qmachine's worker thread and gets a parent-death
 * signal (SIGKILL), so it never outlives the controlling process. Its
 * standard input is `/dev/null`; its output goes to `<log-dir>/<name>.log`
 * and is available from [method@QMachine.Machine.get_log] once it exited.
 *
 * ## Threads
 *
 * Signals and property notifications are emitted in the thread-default
 * main context of the thread that created the machine; async callbacks run
 * in the context of the thread that started the call. The sync variants
 * work without a main loop and never dispatch the caller's main context.
 *
 * Since: 1.0
 */

G_DEFINE_FINAL_TYPE (QMachine, q_machine, G_TYPE_OBJECT)

/* ------------------------------------------------------------------------ */
/* GObject                                                                  */

static void
q_machine_dispose (GObject *object)
{
  QMachine *self = (QMachine *)object;
  Run *run;

  /* From here on, nothing on the worker or in a queued dispatch can
   * reach this machine, and nothing waits for the owner's context. */
  q_box_clear (self->box);
  q_dispatcher_close (self->dispatcher);

  q_leaf_lock (&self->mutex);
  run = g_steal_pointer (&self->run);
  q_leaf_unlock (&self->mutex);

  /* Nobody can reach this QEMU any more: the worker kills it, reaps it
   * and removes its files moments later (the run's fields are the
   * worker's; the machine's reference goes with the request). */
  if (run != NULL)
    q_worker_schedule (run_abandon, run, (GDestroyNotify)run_unref);

  q_fs_remove_tree (self->temp_dir);
  g_clear_pointer (&self->temp_dir, g_free);

  machine_fail_waiters (self, "The machine was disposed");

  if (q_dispose_on_owner (self, self->dispatcher))
    return;
  G_OBJECT_CLASS (q_machine_parent_class)->dispose (object);
}

static void
q_machine_finalize (GObject *object)
{
  QMachine *self = (QMachine *)object;

  /* Application code (weak notifies, destroy notifies) ran just before. */
  g_assert (!q_is_internal_thread ());

  g_clear_pointer (&self->binary, g_free);
  g_clear_pointer (&self->args, g_ptr_array_unref);
  g_clear_pointer (&self->wrapper, g_strfreev);
  g_clear_pointer (&self->environ, g_strfreev);
  g_clear_pointer (&self->name, g_free);
  g_clear_pointer (&self->base_temp_dir, g_free);
  g_clear_pointer (&self->log_dir, g_free);
  g_clear_object (&self->monitor_address);
  g_clear_pointer (&self->machine_type, g_free);
  g_clear_pointer (&self->console_device_type, g_free);
  g_clear_pointer (&self->console_log, g_free);
  g_clear_object (&self->console);
  g_clear_object (&self->agent);
  g_clear_object (&self->qtest);
  g_clear_object (&self->qmp_client);
  for (guint i = 0; i < self->extra_fds->len; i++)
    q_close_fd (&g_array_index (self->extra_fds, ExtraFd, i).fd);
  g_clear_pointer (&self->extra_fds, g_array_unref);
  g_clear_pointer (&self->full_args, g_strfreev);
  g_clear_pointer (&self->old_full_args, g_ptr_array_unref);
  g_clear_pointer (&self->pending_exits, g_array_unref);
  g_clear_pointer (&self->dispatcher, q_dispatcher_unref);
  g_clear_pointer (&self->iolog, g_free);
  machine_clear_events_locked (self);
  g_clear_pointer (&self->owner_context, g_main_context_unref);
  g_clear_pointer (&self->box, q_box_unref);
  g_mutex_clear (&self->mutex);

  G_OBJECT_CLASS (q_machine_parent_class)->finalize (object);
}

static void
q_machine_get_property (GObject    *object,
                        guint       prop_id,
                        GValue     *value,
                        GParamSpec *pspec)
{
  QMachine *self = Q_MACHINE (object);

  switch (prop_id)
    {
    case PROP_BINARY:
      g_value_set_string (value, self->binary);
      break;

    case PROP_ARGS:
      g_value_set_boxed (value, q_machine_get_args (self));
      break;

    case PROP_WRAPPER:
      g_value_set_boxed (value, self->wrapper);
      break;

    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;

    case PROP_BASE_TEMP_DIR:
      g_value_set_string (value, self->base_temp_dir);
      break;

    case PROP_LOG_DIR:
      g_value_set_string (value, self->log_dir);
      break;

    case PROP_MONITOR_ADDRESS:
      g_value_set_object (value, self->monitor_address);
      break;

    case PROP_QMP_ENABLED:
      g_value_set_boolean (value, self->qmp_enabled);
      break;

    case PROP_QMP_TIMEOUT:
      g_value_set_int (value, self->qmp_timeout);
      break;

    case PROP_MACHINE_TYPE:
      g_value_set_string (value, self->machine_type);
      break;

    case PROP_EVENT_QUEUE_LIMIT:
      g_value_set_uint (value, self->event_queue_limit);
      break;

    case PROP_EVENT_QUEUE_BYTES:
      g_value_set_uint64 (value, q_machine_get_event_queue_bytes (self));
      break;

    case PROP_DRAIN_CONSOLE:
      g_value_set_boolean (value, self->drain_console);
      break;

    case PROP_CONSOLE_LOG:
      g_value_set_string (value, self->console_log);
      break;

    case PROP_CONSOLE_BUFFER_SIZE:
      g_value_set_uint (value, self->console_buffer_size);
      break;

    case PROP_STATE:
      g_value_set_enum (value, q_machine_get_state (self));
      break;

    case PROP_PID:
      g_value_set_int (value, q_machine_get_pid (self));
      break;

    case PROP_RUNNING:
      g_value_set_boolean (value, q_machine_is_running (self));
      break;

    case PROP_EXIT_STATUS:
      {
        int code = 0;
        q_machine_get_exit_code (self, &code);
        g_value_set_int (value, code);
      }
      break;

    case PROP_PAUSED:
      g_value_set_boolean (value, q_machine_is_paused (self));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
q_machine_set_property (GObject      *object,
                        guint         prop_id,
                        const GValue *value,
                        GParamSpec   *pspec)
{
  QMachine *self = Q_MACHINE (object);

  switch (prop_id)
    {
    case PROP_BINARY:
      self->binary = g_value_dup_string (value);
      break;

    case PROP_ARGS:
      /* Setting the property replaces the extra arguments. */
      g_ptr_array_set_size (self->args, 0);
      g_ptr_array_add (self->args, NULL);
      q_machine_add_argv (self, g_value_get_boxed (value));
      g_object_notify_by_pspec (object, pspec);
      break;

    case PROP_WRAPPER:
      q_machine_set_wrapper (self, g_value_get_boxed (value));
      break;

    case PROP_NAME:
      q_machine_set_name (self, g_value_get_string (value));
      break;

    case PROP_BASE_TEMP_DIR:
      q_machine_set_base_temp_dir (self, g_value_get_string (value));
      break;

    case PROP_LOG_DIR:
      q_machine_set_log_dir (self, g_value_get_string (value));
      break;

    case PROP_MONITOR_ADDRESS:
      q_machine_set_monitor_address (self, g_value_get_object (value));
      break;

    case PROP_QMP_ENABLED:
      q_machine_set_qmp_monitor (self, g_value_get_boolean (value));
      break;

    case PROP_QMP_TIMEOUT:
      q_machine_set_qmp_timeout (self, g_value_get_int (value));
      break;

    case PROP_MACHINE_TYPE:
      q_machine_set_machine (self, g_value_get_string (value));
      break;

    case PROP_EVENT_QUEUE_LIMIT:
      q_machine_set_event_queue_limit (self, g_value_get_uint (value));
      break;

    case PROP_EVENT_QUEUE_BYTES:
      q_machine_set_event_queue_bytes (self, g_value_get_uint64 (value));
      break;

    case PROP_DRAIN_CONSOLE:
      q_machine_set_drain_console (self, g_value_get_boolean (value));
      break;

    case PROP_CONSOLE_LOG:
      q_machine_set_console_log (self, g_value_get_string (value));
      break;

    case PROP_CONSOLE_BUFFER_SIZE:
      q_machine_set_console_buffer_size (self, g_value_get_uint (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
q_machine_class_init (QMachineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = q_machine_dispose;
  object_class->finalize = q_machine_finalize;
  object_class->get_property = q_machine_get_property;
  object_class->set_property = q_machine_set_property;

  /**
   * QMachine:binary:
   *
   * The QEMU binary, such as `qemu-system-x86_64` (looked up in `PATH`) or
   * an absolute path.
   *
   * Since: 1.0
   */
  machine_properties [PROP_BINARY] =
    g_param_spec_string ("binary", NULL, NULL, NULL,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  /**
   * QMachine:args:
   *
   * The extra arguments given to QEMU after the ones qmachine adds. Setting
   * it replaces them; [method@QMachine.Machine.add_argv] appends.
   *
   * Since: 1.0
   */
  machine_properties [PROP_ARGS] =
    g_param_spec_boxed ("args", NULL, NULL, G_TYPE_STRV,
                        (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QMachine:wrapper:
   *
   * A command that QEMU runs under, such as `valgrind` or `gdb --args`.
   *
   * Since: 1.0
   */
  machine_properties [PROP_WRAPPER] =
    g_param_spec_boxed ("wrapper", NULL, NULL, G_TYPE_STRV,
                        (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QMachine:name:
   *
   * The name of the machine, used for its log file. Unique per object by
   * default.
   *
   * Since: 1.0
   */
  machine_properties [PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QMachine:base-temp-dir:
   *
   * Where the machine's temporary directory is created. Defaults to
   * `g_get_tmp_dir()`. Like every directory qmachine creates files in, it
   * must be one that no other user can change: no symbolic link in any
   * component, and no directory on the way writable by another user
   * unless it is sticky (as `/tmp`) and what qmachine takes from it is
   * this user's (see [the security page](security.html)).
   *
   * Since: 1.0
   */
  machine_properties [PROP_BASE_TEMP_DIR] =
    g_param_spec_string ("base-temp-dir", NULL, NULL, NULL,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QMachine:log-dir:
   *
   * Where QEMU's log file (`NAME.log`) is written and kept. When %NULL,
   * QEMU's output goes to an unnamed file that vanishes once closed (its
   * text stays available from [method@QMachine.Machine.get_log]). The
   * directory must exist and pass the checks described for
   * [property@QMachine.Machine:base-temp-dir].
   *
   * Since: 1.0
   */
  machine_properties [PROP_LOG_DIR] =
    g_param_spec_string ("log-dir", NULL, NULL, NULL,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QMachine:monitor-address:
   *
   * Where the QMP monitor is. %NULL (the default) uses a socketpair. A
   * [class@Gio.UnixSocketAddress] makes qmachine listen on that path (the
   * file is removed at shutdown) and QEMU connect to it; a
   * [class@Gio.InetSocketAddress] does the same over TCP (port 0 picks a
   * free port). A unix socket's directory must pass the checks described
   * for [property@QMachine.Machine:base-temp-dir] (QEMU connects to the
   * path without knowing who listens there, so nobody else may be able to
   * replace the socket), and nothing may exist at the path yet. Abstract
   * unix addresses are refused.
   *
   * Since: 1.0
   */
  machine_properties [PROP_MONITOR_ADDRESS] =
    g_param_spec_object ("monitor-address", NULL, NULL, G_TYPE_SOCKET_ADDRESS,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QMachine:qmp-enabled:
   *
   * Whether QEMU gets a QMP monitor. Without one, launch completes as soon
   * as QEMU is started and shutdown uses SIGTERM.
   *
   * Since: 1.0
   */
  machine_properties [PROP_QMP_ENABLED] =
    g_param_spec_boolean ("qmp-enabled", NULL, NULL, TRUE,
                          (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QMachine:qmp-timeout:
   *
   * How long, in milliseconds, launch waits for QMP to be ready, and how
   * long [method@QMachine.Machine.qmp] and [method@QMachine.Machine.cmd]
   * wait for a reply; -1 waits forever.
   *
   * Since: 1.0
   */
  machine_properties [PROP_QMP_TIMEOUT] =
    g_param_spec_int ("qmp-timeout", NULL, NULL, -1, G_MAXINT, Q_MACHINE_DEFAULT_QMP_TIMEOUT,
                      (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QMachine:machine-type:
   *
   * The `-machine` option, or %NULL for QEMU's default.
   *
   * Since: 1.0
   */
  machine_properties [PROP_MACHINE_TYPE] =
    g_param_spec_string ("machine-type", NULL, NULL, NULL,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QMachine:event-queue-limit:
   *
   * How many events the queue keeps for [method@QMachine.Machine.get_event]
   * and [method@QMachine.Machine.event_wait]; when full the oldest is
   * dropped, counted in [method@QMachine.Machine.get_dropped_events] and
   * logged. It also bounds the [signal@QMachine.Machine::event] emissions
   * waiting for an owner's context that is not dispatched.
   *
   * Since: 1.0
   */
  machine_properties [PROP_EVENT_QUEUE_LIMIT] =
    g_param_spec_uint ("event-queue-limit", NULL, NULL, 1, G_MAXUINT, Q_MACHINE_DEFAULT_EVENT_QUEUE_LIMIT,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QMachine:event-queue-bytes:
   *
   * How much memory, in bytes, the queued events may hold, besides their
   * number ([property@QMachine.Machine:event-queue-limit]). An event
   * counts for its message's size as received plus 192 bytes for each
   * JSON value in it, about what json-glib's tree of it costs. When an
   * event would go over, the oldest are dropped, counted in
   * [method@QMachine.Machine.get_dropped_events] and logged, as for the
   * limit; the newest event is always kept. It also bounds the
   * [signal@QMachine.Machine::event] emissions waiting for an owner's
   * context that is not dispatched
   * ([property@QMachine.QmpClient:max-queued-event-bytes]).
   *
   * Since: 1.0
   */
  machine_properties [PROP_EVENT_QUEUE_BYTES] =
    g_param_spec_uint64 ("event-queue-bytes", NULL, NULL, 1, G_MAXUINT64,
                         Q_MACHINE_DEFAULT_EVENT_QUEUE_BYTES,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QMachine:drain-console:
   *
   * Whether the console is read continuously into a bounded buffer from
   * the first byte, whether or not anyone waits on it, so the guest never
   * blocks on it and nothing it prints is missed. Implied by
   * [property@QMachine.Machine:console-log].
   *
   * Since: 1.0
   */
  machine_properties [PROP_DRAIN_CONSOLE] =
    g_param_spec_boolean ("drain-console", NULL, NULL, FALSE,
                          (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QMachine:console-log:
   *
   * A file that receives everything the console prints (created afresh
   * at each launch). Setting it turns on draining. Its directory must pass
   * the checks described for [property@QMachine.Machine:base-temp-dir].
   *
   * Since: 1.0
   */
  machine_properties [PROP_CONSOLE_LOG] =
    g_param_spec_string ("console-log", NULL, NULL, NULL,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QMachine:console-buffer-size:
   *
   * How many bytes of console output are kept; beyond that the oldest are
   * dropped (and counted).
   *
   * Since: 1.0
   */
  machine_properties [PROP_CONSOLE_BUFFER_SIZE] =
    g_param_spec_uint ("console-buffer-size", NULL, NULL, 1, G_MAXINT, Q_CONSOLE_DEFAULT_BUFFER_SIZE,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QMachine:state:
   *
   * Where the machine is in its lifecycle.
   *
   * Since: 1.0
   */
  machine_properties [PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, Q_TYPE_MACHINE_STATE, Q_MACHINE_STATE_NOT_LAUNCHED,
                       (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QMachine:paused:
   *
   * Whether the guest's CPUs are stopped: true from launch when the
   * arguments hold `-S`, then as QEMU's `STOP` and `RESUME` events say
   * (`stop`, `cont`, a guest error that stops it, a migration…); false
   * once QEMU is gone. Meaningful while
   * [property@QMachine.Machine:state] is %Q_MACHINE_STATE_RUNNING; a
   * widget can bind its pause button to it.
   *
   * Since: 1.0
   */
  machine_properties [PROP_PAUSED] =
    g_param_spec_boolean ("paused", NULL, NULL, FALSE,
                          (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QMachine:pid:
   *
   * The process id of QEMU while it runs, or 0.
   *
   * Since: 1.0
   */
  machine_properties [PROP_PID] =
    g_param_spec_int ("pid", NULL, NULL, 0, G_MAXINT, 0,
                      (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QMachine:running:
   *
   * Whether a QEMU process of this machine exists, as
   * [method@QMachine.Machine.is_running] says; notified when it changes,
   * for a UI or a binding to follow.
   *
   * Since: 1.0
   */
  machine_properties [PROP_RUNNING] =
    g_param_spec_boolean ("running", NULL, NULL, FALSE,
                          (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QMachine:exit-status:
   *
   * How the last QEMU process of this machine ended: its exit status, or
   * minus the signal that killed it; 0 while none has ended (use
   * [method@QMachine.Machine.get_exit_code] to tell the two apart).
   * Notified each time a QEMU process ends.
   *
   * Since: 1.0
   */
  machine_properties [PROP_EXIT_STATUS] =
    g_param_spec_int ("exit-status", NULL, NULL, G_MININT, G_MAXINT, 0,
                      (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, machine_properties);

  /**
   * QMachine::event:
   * @self: a `QMachine`
   * @name: the event name, such as `SHUTDOWN`
   * @event: the whole event object
   *
   * Emitted for every QMP event, detailed by its name (connect to
   * `event::STOP` for one kind). The event is also queued for
   * [method@QMachine.Machine.event_wait] unless a waiter took it.
   *
   * Since: 1.0
   */
  q_machine_signals [SIGNAL_EVENT] =
    g_signal_new ("event",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  JSON_TYPE_OBJECT);

  /**
   * QMachine::exited:
   * @self: a `QMachine`
   * @exit_code: QEMU's exit status, or minus the signal that killed it
   *
   * Emitted when the QEMU process has ended and the machine has cleaned up
   * after it, whoever ended it: a shutdown, the guest, QEMU itself or
   * another process.
   *
   * Since: 1.0
   */
  q_machine_signals [SIGNAL_EXITED] =
    g_signal_new ("exited",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_INT);
}

static void
q_machine_init (QMachine *self)
{
  static guint counter;

  g_mutex_init (&self->mutex);
  self->box = q_box_new (self);
  self->owner_context = g_main_context_ref_thread_default ();
  self->dispatcher = q_dispatcher_new (self->owner_context, self->box, machine_dispatch);
  self->pending_exits = g_array_new (FALSE, FALSE, sizeof (int));
  self->old_full_args = g_ptr_array_new_with_free_func ((GDestroyNotify)g_strfreev);
  self->args = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (self->args, NULL);
  self->name = g_strdup_printf ("qmachine-%d-%u", getpid (), g_atomic_int_add (&counter, 1));
  self->base_temp_dir = g_strdup (g_get_tmp_dir ());
  self->qmp_enabled = TRUE;
  self->qmp_timeout = Q_MACHINE_DEFAULT_QMP_TIMEOUT;
  self->event_queue_limit = Q_MACHINE_DEFAULT_EVENT_QUEUE_LIMIT;
  self->event_queue_bytes = Q_MACHINE_DEFAULT_EVENT_QUEUE_BYTES;
  self->console_buffer_size = Q_CONSOLE_DEFAULT_BUFFER_SIZE;
  self->extra_fds = g_array_new (FALSE, TRUE, sizeof (ExtraFd));
}

/* ------------------------------------------------------------------------ */
/* Configuration                                                            */

/**
 * q_machine_new:
 * @binary: the QEMU binary, such as `qemu-system-x86_64`
 *
 * Creates a machine that will run @binary. Nothing starts until
 * [method@QMachine.Machine.launch]. Signals are emitted in the
 * thread-default main context of the calling thread.
 *
 * Returns: (transfer full): a new `QMachine`
 *
 * Since: 1.0
 */
QMachine *
q_machine_new (const char *binary)
{
  g_return_val_if_fail (binary != NULL, NULL);

  return g_object_new (Q_TYPE_MACHINE, "binary", binary, NULL);
}

/**
 * q_machine_get_binary:
 * @self: a `QMachine`
 *
 * Gets [property@QMachine.Machine:binary].
 *
 * Returns: the QEMU binary
 *
 * Since: 1.0
 */
const char *
q_machine_get_binary (QMachine *self)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);
  return self->binary;
}

/**
 * q_machine_get_args:
 * @self: a `QMachine`
 *
 * Gets the extra arguments added with [method@QMachine.Machine.add_args],
 * [method@QMachine.Machine.add_argv], [method@QMachine.Machine.add_fd] and
 * [method@QMachine.Machine.add_monitor_null].
 *
 * Returns: (transfer none) (array zero-terminated=1): the extra arguments
 *
 * Since: 1.0
 */
const char * const *
q_machine_get_args (QMachine *self)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);
  return (const char * const *)self->args->pdata;
}

/**
 * q_machine_add_args: (skip)
 * @self: a `QMachine`
 * @first_arg: the first argument
 * @...: more arguments, then %NULL
 *
 * Appends arguments to the QEMU command line.
 *
 * Since: 1.0
 */
void
q_machine_add_args (QMachine   *self,
                    const char *first_arg,
                    ...)
{
  va_list ap;

  g_return_if_fail (Q_IS_MACHINE (self));

  va_start (ap, first_arg);
  for (const char *arg = first_arg; arg; arg = va_arg (ap, const char *))
    machine_append_arg (self, arg);
  va_end (ap);

  g_object_notify_by_pspec (G_OBJECT (self), machine_properties [PROP_ARGS]);
}

/**
 * q_machine_add_argv: (rename-to q_machine_add_args)
 * @self: a `QMachine`
 * @argv: (array zero-terminated=1) (nullable): arguments to append
 *
 * Appends arguments to the QEMU command line. Bindings see this as
 * `add_args`.
 *
 * Since: 1.0
 */
void
q_machine_add_argv (QMachine           *self,
                    const char * const *argv)
{
  g_return_if_fail (Q_IS_MACHINE (self));

  if (argv == NULL || argv[0] == NULL)
    return;
  for (guint i = 0; argv[i]; i++)
    machine_append_arg (self, argv[i]);
  g_object_notify_by_pspec (G_OBJECT (self), machine_properties [PROP_ARGS]);
}

/**
 * q_machine_get_wrapper:
 * @self: a `QMachine`
 *
 * Gets [property@QMachine.Machine:wrapper].
 *
 * Returns: (transfer none) (array zero-terminated=1) (nullable): the
 *   wrapper command
 *
 * Since: 1.0
 */
const char * const *
q_machine_get_wrapper (QMachine *self)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);
  return (const char * const *)self->wrapper;
}

/**
 * q_machine_set_wrapper:
 * @self: a `QMachine`
 * @wrapper: (array zero-terminated=1) (nullable): a command prefix such as
 *   `valgrind`
 *
 * Sets [property@QMachine.Machine:wrapper]. Takes effect at the next launch.
 *
 * Since: 1.0
 */
void
q_machine_set_wrapper (QMachine           *self,
                       const char * const *wrapper)
{
  g_return_if_fail (Q_IS_MACHINE (self));

  g_strfreev (self->wrapper);
  self->wrapper = (wrapper && wrapper[0]) ? g_strdupv ((char **)wrapper) : NULL;
  g_object_notify_by_pspec (G_OBJECT (self), machine_properties [PROP_WRAPPER]);
}

/**
 * q_machine_get_name:
 * @self: a `QMachine`
 *
 * Gets [property@QMachine.Machine:name].
 *
 * Returns: the name
 *
 * Since: 1.0
 */
const char *
q_machine_get_name (QMachine *self)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);
  return self->name;
}

/**
 * q_machine_set_name:
 * @self: a `QMachine`
 * @name: a name, usable in a file name
 *
 * Sets [property@QMachine.Machine:name]. It names the machine's log file,
 * so it must be one path component: not empty, not `.` or `..`, without
 * `/` or control characters, valid UTF-8. Anything else is a programming
 * error (a critical warning) and leaves the name unchanged.
 *
 * Since: 1.0
 */
void
q_machine_set_name (QMachine   *self,
                    const char *name)
{
  g_return_if_fail (Q_IS_MACHINE (self));
  /* It names files: one path component, printable. */
  g_return_if_fail (q_machine_name_is_valid (name));

  if (machine_set_str (&self->name, name))
    g_object_notify_by_pspec (G_OBJECT (self), machine_properties [PROP_NAME]);
}

/**
 * q_machine_get_base_temp_dir:
 * @self: a `QMachine`
 *
 * Gets [property@QMachine.Machine:base-temp-dir].
 *
 * Returns: the base temporary directory
 *
 * Since: 1.0
 */
const char *
q_machine_get_base_temp_dir (QMachine *self)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);
  return self->base_temp_dir;
}

/**
 * q_machine_set_base_temp_dir:
 * @self: a `QMachine`
 * @base_temp_dir: (nullable): a directory, or %NULL for the default
 *
 * Sets [property@QMachine.Machine:base-temp-dir].
 *
 * Since: 1.0
 */
void
q_machine_set_base_temp_dir (QMachine   *self,
                             const char *base_temp_dir)
{
  g_return_if_fail (Q_IS_MACHINE (self));

  if (machine_set_str (&self->base_temp_dir, base_temp_dir ? base_temp_dir : g_get_tmp_dir ()))
    g_object_notify_by_pspec (G_OBJECT (self), machine_properties [PROP_BASE_TEMP_DIR]);
}

/**
 * q_machine_get_log_dir:
 * @self: a `QMachine`
 *
 * Gets [property@QMachine.Machine:log-dir], where QEMU's log is written
 * as `NAME.log` and kept after shutdown.
 *
 * When it is unset, QEMU's output goes to an unnamed file in
 * [property@QMachine.Machine:base-temp-dir] that vanishes when it is closed
 * (or, on a file system without unnamed files, to `NAME.log` in the
 * temporary directory, removed with it); [method@QMachine.Machine.get_log]
 * returns what it held.
 *
 * Returns: (nullable): the log directory, or %NULL when none is set
 *
 * Since: 1.0
 */
const char *
q_machine_get_log_dir (QMachine *self)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);

  return self->log_dir;
}

/**
 * q_machine_set_log_dir:
 * @self: a `QMachine`
 * @log_dir: (nullable): a directory for QEMU's log, kept after shutdown
 *
 * Sets [property@QMachine.Machine:log-dir].
 *
 * Since: 1.0
 */
void
q_machine_set_log_dir (QMachine   *self,
                       const char *log_dir)
{
  g_return_if_fail (Q_IS_MACHINE (self));

  if (machine_set_str (&self->log_dir, log_dir))
    g_object_notify_by_pspec (G_OBJECT (self), machine_properties [PROP_LOG_DIR]);
}

/**
 * q_machine_get_temp_dir:
 * @self: a `QMachine`
 *
 * Gets the machine's temporary directory, creating it under
 * [property@QMachine.Machine:base-temp-dir] if needed. It is removed, with
 * everything in it, when the machine shuts down.
 *
 * Returns: (nullable): the temporary directory, or %NULL if it could not
 *   be created
 *
 * Since: 1.0
 */
const char *
q_machine_get_temp_dir (QMachine *self)
{
  g_autoptr(GError) error = NULL;
  const char *ret;

  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);

  q_leaf_lock (&self->mutex);
  ret = machine_ensure_temp_dir_locked (self, &error);
  q_leaf_unlock (&self->mutex);

  if (ret == NULL)
    g_warning ("%s", error->message);

  return ret;
}

/**
 * q_machine_get_monitor_address:
 * @self: a `QMachine`
 *
 * Gets [property@QMachine.Machine:monitor-address].
 *
 * Returns: (transfer none) (nullable): the monitor address, or %NULL for
 *   a socketpair
 *
 * Since: 1.0
 */
GSocketAddress *
q_machine_get_monitor_address (QMachine *self)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);
  return self->monitor_address;
}

/**
 * q_machine_set_monitor_address:
 * @self: a `QMachine`
 * @address: (nullable): a `GUnixSocketAddress` or `GInetSocketAddress`,
 *   or %NULL for a socketpair
 *
 * Sets [property@QMachine.Machine:monitor-address].
 *
 * Since: 1.0
 */
void
q_machine_set_monitor_address (QMachine       *self,
                               GSocketAddress *address)
{
  g_return_if_fail (Q_IS_MACHINE (self));
  g_return_if_fail (!address || G_IS_UNIX_SOCKET_ADDRESS (address) || G_IS_INET_SOCKET_ADDRESS (address));

  if (g_set_object (&self->monitor_address, address))
    g_object_notify_by_pspec (G_OBJECT (self), machine_properties [PROP_MONITOR_ADDRESS]);
}

/**
 * q_machine_get_qmp_enabled:
 * @self: a `QMachine`
 *
 * Gets [property@QMachine.Machine:qmp-enabled].
 *
 * Returns: whether QEMU gets a QMP monitor
 *
 * Since: 1.0
 */
gboolean
q_machine_get_qmp_enabled (QMachine *self)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);
  return self->qmp_enabled;
}

/**
 * q_machine_set_qmp_monitor:
 * @self: a `QMachine`
 * @enabled: whether QEMU gets a QMP monitor
 *
 * Sets [property@QMachine.Machine:qmp-enabled]. Call before launch.
 *
 * Since: 1.0
 */
void
q_machine_set_qmp_monitor (QMachine *self,
                           gboolean  enabled)
{
  g_return_if_fail (Q_IS_MACHINE (self));

  enabled = !!enabled;
  if (self->qmp_enabled != enabled)
    {
      self->qmp_enabled = enabled;
      g_object_notify_by_pspec (G_OBJECT (self), machine_properties [PROP_QMP_ENABLED]);
    }
}

/**
 * q_machine_get_qmp_timeout:
 * @self: a `QMachine`
 *
 * Gets [property@QMachine.Machine:qmp-timeout].
 *
 * Returns: the timeout in milliseconds, or -1
 *
 * Since: 1.0
 */
int
q_machine_get_qmp_timeout (QMachine *self)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), -1);
  return self->qmp_timeout;
}

/**
 * q_machine_set_qmp_timeout:
 * @self: a `QMachine`
 * @timeout_msec: milliseconds, or -1 for no timeout
 *
 * Sets [property@QMachine.Machine:qmp-timeout].
 *
 * Since: 1.0
 */
void
q_machine_set_qmp_timeout (QMachine *self,
                           int       timeout_msec)
{
  g_return_if_fail (Q_IS_MACHINE (self));
  g_return_if_fail (timeout_msec >= -1);

  if (self->qmp_timeout != timeout_msec)
    {
      self->qmp_timeout = timeout_msec;
      g_object_notify_by_pspec (G_OBJECT (self), machine_properties [PROP_QMP_TIMEOUT]);
    }
}

/**
 * q_machine_get_machine_type:
 * @self: a `QMachine`
 *
 * Gets [property@QMachine.Machine:machine-type].
 *
 * Returns: (nullable): the machine type
 *
 * Since: 1.0
 */
const char *
q_machine_get_machine_type (QMachine *self)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);
  return self->machine_type;
}

/**
 * q_machine_set_machine:
 * @self: a `QMachine`
 * @machine_type: (nullable): the `-machine` value, such as `pc` or `none`
 *
 * Sets [property@QMachine.Machine:machine-type].
 *
 * Since: 1.0
 */
void
q_machine_set_machine (QMachine   *self,
                       const char *machine_type)
{
  g_return_if_fail (Q_IS_MACHINE (self));

  if (machine_set_str (&self->machine_type, machine_type))
    g_object_notify_by_pspec (G_OBJECT (self), machine_properties [PROP_MACHINE_TYPE]);
}

/**
 * q_machine_get_event_queue_limit:
 * @self: a `QMachine`
 *
 * Gets [property@QMachine.Machine:event-queue-limit].
 *
 * Returns: the most events kept
 *
 * Since: 1.0
 */
guint
q_machine_get_event_queue_limit (QMachine *self)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), 0);
  return self->event_queue_limit;
}

/**
 * q_machine_set_event_queue_limit:
 * @self: a `QMachine`
 * @limit: the most events kept (at least 1)
 *
 * Sets [property@QMachine.Machine:event-queue-limit].
 *
 * Since: 1.0
 */
void
q_machine_set_event_queue_limit (QMachine *self,
                                 guint     limit)
{
  g_autoptr(QQmpClient) client = NULL;

  g_return_if_fail (Q_IS_MACHINE (self));
  g_return_if_fail (limit > 0);

  q_leaf_lock (&self->mutex);
  self->event_queue_limit = limit;
  if (self->qmp_client != NULL)
    client = g_object_ref (self->qmp_client);
  q_leaf_unlock (&self->mutex);

  /* The signals waiting for this context have the same bound. */
  if (client != NULL)
    q_qmp_client_set_max_queued_events (client, limit);
  g_object_notify_by_pspec (G_OBJECT (self), machine_properties [PROP_EVENT_QUEUE_LIMIT]);
}

/**
 * q_machine_get_event_queue_bytes:
 * @self: a `QMachine`
 *
 * Gets [property@QMachine.Machine:event-queue-bytes].
 *
 * Returns: how many bytes the queued events may hold
 *
 * Since: 1.0
 */
guint64
q_machine_get_event_queue_bytes (QMachine *self)
{
  guint64 ret;

  g_return_val_if_fail (Q_IS_MACHINE (self), 0);

  q_leaf_lock (&self->mutex);
  ret = self->event_queue_bytes;
  q_leaf_unlock (&self->mutex);

  return ret;
}

/**
 * q_machine_set_event_queue_bytes:
 * @self: a `QMachine`
 * @bytes: how many bytes the queued events may hold (at least 1)
 *
 * Sets [property@QMachine.Machine:event-queue-bytes]. It applies to the
 * next event; what is queued stays until then.
 *
 * Since: 1.0
 */
void
q_machine_set_event_queue_bytes (QMachine *self,
                                 guint64   bytes)
{
  g_autoptr(QQmpClient) client = NULL;
  gboolean changed;

  g_return_if_fail (Q_IS_MACHINE (self));
  g_return_if_fail (bytes > 0);

  q_leaf_lock (&self->mutex);
  changed = self->event_queue_bytes != bytes;
  self->event_queue_bytes = bytes;
  if (self->qmp_client != NULL)
    client = g_object_ref (self->qmp_client);
  q_leaf_unlock (&self->mutex);

  /* The signals waiting for this context have the same bound. */
  if (client != NULL)
    q_qmp_client_set_max_queued_event_bytes (client, bytes);
  if (changed)
    g_object_notify_by_pspec (G_OBJECT (self), machine_properties [PROP_EVENT_QUEUE_BYTES]);
}

/* ------------------------------------------------------------------------ */
/* State                                                                    */

/**
 * q_machine_get_state:
 * @self: a `QMachine`
 *
 * Gets [property@QMachine.Machine:state].
 *
 * Returns: the lifecycle state
 *
 * Since: 1.0
 */
QMachineState
q_machine_get_state (QMachine *self)
{
  QMachineState ret;

  g_return_val_if_fail (Q_IS_MACHINE (self), Q_MACHINE_STATE_NOT_LAUNCHED);

  q_leaf_lock (&self->mutex);
  ret = self->state;
  q_leaf_unlock (&self->mutex);

  return ret;
}

/**
 * q_machine_is_paused:
 * @self: a `QMachine`
 *
 * Gets [property@QMachine.Machine:paused]. Any thread.
 *
 * Returns: whether the guest's CPUs are stopped
 *
 * Since: 1.0
 */
gboolean
q_machine_is_paused (QMachine *self)
{
  gboolean ret;

  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);

  q_leaf_lock (&self->mutex);
  ret = self->paused;
  q_leaf_unlock (&self->mutex);

  return ret;
}

/**
 * q_machine_is_running:
 * @self: a `QMachine`
 *
 * Tells whether a QEMU process of this machine exists (it may still be
 * launching or shutting down).
 *
 * Returns: %TRUE while QEMU runs
 *
 * Since: 1.0
 */
gboolean
q_machine_is_running (QMachine *self)
{
  gboolean ret;

  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);

  q_leaf_lock (&self->mutex);
  /* pid is cleared when the run ends (on the worker, under the mutex). */
  ret = self->pid > 0 && self->run != NULL;
  q_leaf_unlock (&self->mutex);

  return ret;
}

/**
 * q_machine_get_pid:
 * @self: a `QMachine`
 *
 * Gets [property@QMachine.Machine:pid].
 *
 * Returns: QEMU's process id, or 0 when it does not run
 *
 * Since: 1.0
 */
int
q_machine_get_pid (QMachine *self)
{
  int ret;

  g_return_val_if_fail (Q_IS_MACHINE (self), 0);

  q_leaf_lock (&self->mutex);
  ret = self->pid;
  q_leaf_unlock (&self->mutex);

  return ret;
}

/**
 * q_machine_get_exit_code:
 * @self: a `QMachine`
 * @exit_code: (out) (optional): QEMU's exit status, or minus the signal
 *   that killed it
 *
 * Gets how the last QEMU process of this machine ended.
 *
 * Returns: %FALSE while QEMU runs or before it ever ran
 *
 * Since: 1.0
 */
gboolean
q_machine_get_exit_code (QMachine *self,
                         int      *exit_code)
{
  gboolean ret;

  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);

  q_leaf_lock (&self->mutex);
  ret = self->have_exit_code && self->run == NULL;
  if (ret && exit_code != NULL)
    *exit_code = self->exit_code;
  q_leaf_unlock (&self->mutex);

  return ret;
}

/**
 * q_machine_get_log:
 * @self: a `QMachine`
 *
 * Gets what the last QEMU process wrote to stdout and stderr, once it has
 * exited (after a shutdown or a failed launch). Its last 4 MiB are kept,
 * after a line saying how much came before them; the log file in
 * [property@QMachine.Machine:log-dir], when one is set, has all of it.
 *
 * Returns: (nullable): QEMU's output
 *
 * Since: 1.0
 */
const char *
q_machine_get_log (QMachine *self)
{
  const char *ret;

  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);

  /* Replaced only when a run ends, on the worker; callers read it after. */
  q_leaf_lock (&self->mutex);
  ret = self->iolog;
  q_leaf_unlock (&self->mutex);

  return ret;
}

/**
 * q_machine_get_qmp_client:
 * @self: a `QMachine`
 *
 * Gets the QMP client of the running QEMU.
 *
 * The machine keeps the client of its current or last launch alive until
 * the next launch or its own finalization, so the pointer stays valid
 * after QEMU exits (the client is closed then). Use
 * [method@QMachine.Machine.dup_qmp_client] to keep it longer.
 *
 * Returns: (transfer none) (nullable): the client, or %NULL when not
 *   launched or without QMP
 *
 * Since: 1.0
 */
QQmpClient *
q_machine_get_qmp_client (QMachine *self)
{
  QQmpClient *ret = NULL;

  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);

  q_leaf_lock (&self->mutex);
  if (self->run != NULL)
    ret = self->qmp_client;
  q_leaf_unlock (&self->mutex);

  return ret;
}

/**
 * q_machine_dup_qmp_client:
 * @self: a `QMachine`
 *
 * Like [method@QMachine.Machine.get_qmp_client], with a reference of the
 * caller's own.
 *
 * Returns: (transfer full) (nullable): the client, or %NULL when not
 *   launched or without QMP
 *
 * Since: 1.0
 */
QQmpClient *
q_machine_dup_qmp_client (QMachine *self)
{
  QQmpClient *ret = NULL;

  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);

  q_leaf_lock (&self->mutex);
  if (self->run != NULL && self->qmp_client != NULL)
    ret = g_object_ref (self->qmp_client);
  q_leaf_unlock (&self->mutex);

  return ret;
}

/**
 * q_machine_get_dropped_events:
 * @self: a `QMachine`
 *
 * Gets how many events were lost since the machine was created: dropped
 * from the full event queue (over
 * [property@QMachine.Machine:event-queue-limit] or
 * [property@QMachine.Machine:event-queue-bytes]), plus those whose
 * [signal@QMachine.Machine::event] emission was dropped because the
 * owner's main context did not dispatch them while more than those
 * waited, plus those that held a number json-glib cannot hold exactly
 * (see [class@QMachine.QmpClient]).
 *
 * Returns: the number of dropped events
 *
 * Since: 1.0
 */
guint
q_machine_get_dropped_events (QMachine *self)
{
  guint ret;

  g_return_val_if_fail (Q_IS_MACHINE (self), 0);

  q_leaf_lock (&self->mutex);
  ret = self->dropped_events + self->dropped_signals;
  if (self->qmp_client != NULL)
    ret += q_qmp_client_get_dropped_events (self->qmp_client);
  q_leaf_unlock (&self->mutex);

  return ret;
}

