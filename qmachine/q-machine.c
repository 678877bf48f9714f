/* q-machine.c
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>

#include "q-console-private.h"
#include "q-enum-types.h"
#include "q-error.h"
#include "q-machine.h"
#include "q-qmp-client-private.h"
#include "q-util-private.h"
#include "q-worker-private.h"

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

typedef struct _Run Run;

/* How the worker (and QMP signal handlers) reach a machine: one box per
 * machine, shared by its runs, cleared by dispose under owner_lock. Not a
 * GWeakRef: GLib 2.74's weak references can hand out an object another
 * thread is finalizing. A reference taken while dispose runs merely
 * delays finalization. */
typedef struct
{
  gatomicrefcount  ref_count;
  QMachine        *machine;          /* under owner_lock */
} OwnerBox;

typedef struct
{
  int fd;                 /* our dup, handed to QEMU at the number target */
  int target;
} ExtraFd;

/* One launch: everything that exists while a QEMU process does. Held by
 * the machine and by the worker's callbacks; the machine is reached
 * through a weak reference so it can be disposed (which kills QEMU). */
struct _Run
{
  gatomicrefcount  ref_count;
  OwnerBox        *box;              /* reaches the machine; shared with it */

  char           **argv;
  char            *command_line;     /* shell-quoted argv, for errors and logs */
  char            *log_path;
  int              log_fd;
  GSocket         *monitor_ours;     /* socketpair end or listener; closed at cleanup */
  GSocket         *listener;
  int              monitor_theirs;
  int              monitor_target;
  int              console_ours;
  int              console_theirs;
  QConsole        *console;
  gboolean         console_drained;
  int              console_log_fd;
  int              console_target;
  GArray          *extra_fds;        /* ExtraFd */
  char            *unix_path;        /* socket file to remove */
  char            *temp_dir;         /* to remove (owned by the run once launched) */
  gboolean         qmp_enabled;
  int              qmp_timeout;

  GSubprocess     *subprocess;
  int              pid;
  QQmpClient      *qmp;

  /* worker thread only */
  GTask           *launch_task;
  GError          *launch_error;     /* why launch failed, before the process was reaped */
  GCancellable    *launch_cancellable;
  GSource         *launch_timeout;
  gulong           launch_cancel_id;
  GPtrArray       *finish_tasks;     /* shutdown/wait tasks waiting for the end */
  GSource         *drain_timeout;
  GSource         *shutdown_timeout;
  GError          *shutdown_error;   /* why a graceful shutdown failed */
  gboolean         exited;
  int              exit_code;
  gboolean         qmp_closed;
  gboolean         finished;
  gboolean         user_killed;
  gboolean         quit_sent;
  gboolean         kill_sent;
  gboolean         term_sent;
  gboolean         cleaned;
};

typedef struct
{
  char     **names;
  JsonArray *matches;
  GTask     *task;
  GSource   *timeout;
} Waiter;

struct _QMachine
{
  GObject          parent_instance;

  GMainContext    *owner_context;
  OwnerBox        *box;

  /* Configuration: set from the owner's thread before launch. */
  char            *binary;
  GPtrArray       *args;             /* NULL-terminated */
  char           **wrapper;
  char            *name;
  char            *base_temp_dir;
  char            *log_dir;
  GSocketAddress  *monitor_address;
  gboolean         qmp_enabled;
  int              qmp_timeout;
  char            *machine_type;
  gboolean         console_set;
  char            *console_device_type;
  guint            console_index;
  GArray          *extra_fds;        /* ExtraFd, our dups */
  guint            event_queue_limit;
  gboolean         drain_console;
  char            *console_log;
  guint            console_buffer_size;

  /* Runtime state: guarded by mutex, changed on the worker thread. */
  GMutex           mutex;
  QMachineState    state;
  Run             *run;
  QConsole        *console;          /* of the current or last run */
  char           **full_args;
  char            *temp_dir;
  char            *iolog;
  gboolean         have_exit_code;
  int              exit_code;
  int              pid;
  gboolean         quit_issued;
  GQueue           events;           /* JsonObject, oldest first */
  guint            dropped_events;
  GList           *waiters;          /* Waiter, in registration order */
};

G_DEFINE_FINAL_TYPE (QMachine, q_machine, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_BINARY,
  PROP_ARGS,
  PROP_WRAPPER,
  PROP_NAME,
  PROP_BASE_TEMP_DIR,
  PROP_LOG_DIR,
  PROP_MONITOR_ADDRESS,
  PROP_QMP_ENABLED,
  PROP_QMP_TIMEOUT,
  PROP_MACHINE_TYPE,
  PROP_EVENT_QUEUE_LIMIT,
  PROP_DRAIN_CONSOLE,
  PROP_CONSOLE_LOG,
  PROP_CONSOLE_BUFFER_SIZE,
  PROP_STATE,
  PROP_PID,
  N_PROPS
};

enum {
  EVENT,
  EXITED,
  N_SIGNALS
};

static GParamSpec *properties [N_PROPS];
static guint signals [N_SIGNALS];

#define DRAIN_TIMEOUT_MSEC 2000
#define LAUNCH_GRACE_MSEC 1000

static void run_finish_maybe (Run *run);
static void machine_kill_process (Run *run, gboolean user);
static void launch_fail (Run *run, GError *error);

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */

static void
close_fd (int *fd)
{
  if (*fd >= 0)
    {
      g_close (*fd, NULL);
      *fd = -1;
    }
}

/* Removes a temporary directory of ours and everything in it. */
static void
remove_dir (const char *path)
{
  GDir *dir;
  const char *name;

  if (path == NULL || !(dir = g_dir_open (path, 0, NULL)))
    return;
  while ((name = g_dir_read_name (dir)))
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      /* Recurse into real directories only, never through a symlink. */
      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_dir (child);
      else
        g_unlink (child);
    }
  g_dir_close (dir);
  g_rmdir (path);
}

static gboolean
set_str (char       **ptr,
         const char  *value)
{
  if (g_strcmp0 (*ptr, value) == 0)
    return FALSE;
  g_free (*ptr);
  *ptr = g_strdup (value);
  return TRUE;
}

typedef struct
{
  QMachine   *machine;
  GParamSpec *pspec;
  int         exit_code;
  gboolean    emit_exited;
} Notify;

static gboolean
notify_dispatch (gpointer data)
{
  Notify *n = data;

  if (n->pspec != NULL)
    g_object_notify_by_pspec (G_OBJECT (n->machine), n->pspec);
  if (n->emit_exited)
    g_signal_emit (n->machine, signals [EXITED], 0, n->exit_code);

  return G_SOURCE_REMOVE;
}

static void
notify_free (Notify *n)
{
  g_object_unref (n->machine);
  g_free (n);
}

/* Any thread: notify in the owner's context. */
static void
machine_notify_later (QMachine   *self,
                      GParamSpec *pspec)
{
  Notify *n = g_new0 (Notify, 1);

  n->machine = g_object_ref (self);
  n->pspec = pspec;
  q_schedule_in_context (self->owner_context, notify_dispatch, n, (GDestroyNotify)notify_free);
}

/* Must be called with the mutex held. Returns whether it changed. */
static gboolean
machine_set_state_locked (QMachine      *self,
                          QMachineState  state)
{
  if (self->state == state)
    return FALSE;
  self->state = state;
  return TRUE;
}

static void
machine_set_state (QMachine      *self,
                   QMachineState  state)
{
  gboolean changed;

  g_mutex_lock (&self->mutex);
  changed = machine_set_state_locked (self, state);
  g_mutex_unlock (&self->mutex);

  if (changed)
    machine_notify_later (self, properties [PROP_STATE]);
}

/* ------------------------------------------------------------------------ */
/* Run                                                                      */

static Run *
run_ref (Run *run)
{
  g_atomic_ref_count_inc (&run->ref_count);
  return run;
}

static GMutex owner_lock;

static OwnerBox *
owner_box_ref (OwnerBox *box)
{
  g_atomic_ref_count_inc (&box->ref_count);
  return box;
}

static void
owner_box_unref (OwnerBox *box)
{
  if (g_atomic_ref_count_dec (&box->ref_count))
    g_free (box);
}

static QMachine *
owner_box_dup (OwnerBox *box)
{
  QMachine *ret = NULL;

  g_mutex_lock (&owner_lock);
  if (box->machine != NULL)
    ret = g_object_ref (box->machine);
  g_mutex_unlock (&owner_lock);

  return ret;
}

static QMachine *
run_dup_owner (Run *run)
{
  return owner_box_dup (run->box);
}

/* Runs whose files exist, for the exit handler below (under owner_lock). */
static GList *live_runs;

/* When the program exits with machines still running (no shutdown, or
 * objects never finalized, as at interpreter exit), QEMU dies with it
 * (parent-death signal) but its files would stay: remove them. */
static void
remove_live_run_files (void)
{
  g_mutex_lock (&owner_lock);
  for (GList *l = live_runs; l; l = l->next)
    {
      Run *run = l->data;

      if (run->unix_path != NULL)
        g_unlink (run->unix_path);
      remove_dir (run->temp_dir);
    }
  g_mutex_unlock (&owner_lock);
}

static void
run_track (Run      *run,
           gboolean  live)
{
  static gsize registered;

  if (g_once_init_enter (&registered))
    {
      atexit (remove_live_run_files);
      g_once_init_leave (&registered, 1);
    }

  g_mutex_lock (&owner_lock);
  if (live)
    live_runs = g_list_prepend (live_runs, run);
  else
    live_runs = g_list_remove (live_runs, run);
  g_mutex_unlock (&owner_lock);
}

/* Removes files and closes sockets. Idempotent; safe from any thread as
 * long as the caller serialises (the machine's mutex or the worker). */
static void
run_cleanup_files (Run *run)
{
  if (run->cleaned)
    return;
  run->cleaned = TRUE;
  run_track (run, FALSE);

  close_fd (&run->log_fd);
  close_fd (&run->monitor_theirs);
  close_fd (&run->console_ours);
  close_fd (&run->console_theirs);
  close_fd (&run->console_log_fd);
  if (run->console != NULL)
    q_console_close (run->console);
  if (run->listener != NULL)
    g_socket_close (run->listener, NULL);
  g_clear_object (&run->listener);
  if (run->monitor_ours != NULL)
    g_socket_close (run->monitor_ours, NULL);
  for (guint i = 0; run->extra_fds && i < run->extra_fds->len; i++)
    close_fd (&g_array_index (run->extra_fds, ExtraFd, i).fd);
  if (run->unix_path != NULL)
    g_unlink (run->unix_path);
  remove_dir (run->temp_dir);
}

static void
run_unref (Run *run)
{
  if (!g_atomic_ref_count_dec (&run->ref_count))
    return;

  run_cleanup_files (run);
  g_clear_pointer (&run->box, owner_box_unref);
  g_strfreev (run->argv);
  g_free (run->command_line);
  g_free (run->log_path);
  g_clear_object (&run->monitor_ours);
  g_clear_pointer (&run->extra_fds, g_array_unref);
  g_free (run->unix_path);
  g_free (run->temp_dir);
  g_clear_object (&run->subprocess);
  if (run->qmp != NULL)
    q_qmp_client_set_hooks (run->qmp, NULL, NULL, NULL);
  g_clear_object (&run->qmp);
  g_clear_object (&run->console);
  g_assert (run->launch_task == NULL);
  g_clear_error (&run->launch_error);
  g_clear_object (&run->launch_cancellable);
  g_clear_pointer (&run->finish_tasks, g_ptr_array_unref);
  g_clear_error (&run->shutdown_error);
  g_free (run);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Run, run_unref)

static void
destroy_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_source_unref (*source);
      *source = NULL;
    }
}

/* ------------------------------------------------------------------------ */
/* Events and waiters                                                       */

static void
waiter_free (Waiter *w)
{
  g_strfreev (w->names);
  g_clear_pointer (&w->matches, json_array_unref);
  g_clear_object (&w->task);
  destroy_source (&w->timeout);
  g_free (w);
}

static gboolean
waiter_matches (Waiter     *w,
                JsonObject *event)
{
  const char *name = q_json_get_string (event, "event");
  g_autoptr(JsonNode) node = NULL;

  if (name == NULL)
    return FALSE;

  for (guint i = 0; w->names[i]; i++)
    {
      JsonNode *match = NULL;

      if (g_strcmp0 (w->names[i], "*") != 0 && g_strcmp0 (w->names[i], name) != 0)
        continue;
      if (w->matches != NULL && i < json_array_get_length (w->matches))
        match = json_array_get_element (w->matches, i);
      if (node == NULL)
        {
          node = json_node_new (JSON_NODE_OBJECT);
          json_node_set_object (node, event);
        }
      if (match == NULL || JSON_NODE_HOLDS_NULL (match) || q_event_match (node, match))
        return TRUE;
    }

  return FALSE;
}

/* Worker thread, from the QMP client, in arrival order. */
static void
machine_event_hook (JsonObject *event,
                    gpointer    user_data)
{
  Run *run = user_data;
  g_autoptr(QMachine) self = run_dup_owner (run);
  Waiter *taken = NULL;
  guint dropped = 0;

  if (self == NULL)
    return;

  g_mutex_lock (&self->mutex);
  for (GList *l = self->waiters; l; l = l->next)
    {
      Waiter *w = l->data;
      if (waiter_matches (w, event))
        {
          taken = w;
          self->waiters = g_list_delete_link (self->waiters, l);
          break;
        }
    }
  if (taken == NULL)
    {
      g_queue_push_tail (&self->events, json_object_ref (event));
      while (g_queue_get_length (&self->events) > MAX (self->event_queue_limit, 1))
        {
          json_object_unref (g_queue_pop_head (&self->events));
          dropped = ++self->dropped_events;
        }
    }
  g_mutex_unlock (&self->mutex);

  if (dropped == 1 || (dropped > 0 && dropped % 1000 == 0))
    g_warning ("QMachine %s: event queue full (limit %u): %u oldest events dropped so far",
               self->name, self->event_queue_limit, dropped);

  if (taken != NULL)
    {
      g_task_return_pointer (taken->task, json_object_ref (event), (GDestroyNotify)json_object_unref);
      waiter_free (taken);
    }
}

static void
machine_fail_waiters (QMachine *self,
                      const char *why)
{
  GList *waiters;

  g_mutex_lock (&self->mutex);
  waiters = g_steal_pointer (&self->waiters);
  g_mutex_unlock (&self->mutex);

  for (GList *l = waiters; l; l = l->next)
    {
      Waiter *w = l->data;
      g_task_return_new_error (w->task, Q_MACHINE_ERROR, Q_MACHINE_ERROR_NOT_LAUNCHED,
                               "%s before the awaited event arrived", why);
      waiter_free (w);
    }
  g_list_free (waiters);
}

static void
machine_qmp_event_cb (QQmpClient *client,
                      const char *name,
                      JsonObject *event,
                      OwnerBox   *box)
{
  g_autoptr(QMachine) self = owner_box_dup (box);

  if (self != NULL)
    g_signal_emit (self, signals [EVENT], g_quark_from_string (name), name, event);
}

/* ------------------------------------------------------------------------ */
/* The end of a run (worker thread)                                         */

static char *
read_log (const char *path)
{
  g_autofree char *contents = NULL;
  gsize len = 0;

  if (path == NULL || !g_file_get_contents (path, &contents, &len, NULL))
    return NULL;

  /* QEMU's output is text in the locale's encoding; keep it valid UTF-8. */
  if (!g_utf8_validate (contents, len, NULL))
    return g_utf8_make_valid (contents, len);

  return g_steal_pointer (&contents);
}

static GError *
launch_failure_error (Run        *run,
                      const char *output)
{
  const GError *cause = run->launch_error;
  GString *msg = g_string_new (NULL);
  GQuark domain = Q_MACHINE_ERROR;
  int code = Q_MACHINE_ERROR_LAUNCH_FAILED;

  if (cause != NULL && cause->domain == G_IO_ERROR &&
      (cause->code == G_IO_ERROR_TIMED_OUT || cause->code == G_IO_ERROR_CANCELLED))
    {
      domain = cause->domain;
      code = cause->code;
    }

  if (domain == Q_MACHINE_ERROR && run->exited && !run->kill_sent && run->subprocess != NULL)
    /* QEMU went away by itself: that, not the EOF it caused, is the news. */
    g_string_append (msg, "QEMU failed to launch: QEMU exited before QMP was ready");
  else
    g_string_append_printf (msg, "QEMU failed to launch: %s",
                            cause ? cause->message : "unknown reason");
  if (run->exited && run->subprocess != NULL)
    {
      if (run->exit_code < 0)
        g_string_append_printf (msg, "\n\tExit code: %d (killed by signal %d)",
                                run->exit_code, -run->exit_code);
      else
        g_string_append_printf (msg, "\n\tExit code: %d", run->exit_code);
    }
  g_string_append_printf (msg, "\n\tCommand: %s", run->command_line);
  g_string_append_printf (msg, "\n\tOutput: %s", output ? output : "");

  {
    GError *error = g_error_new_literal (domain, code, msg->str);
    g_string_free (msg, TRUE);
    return error;
  }
}

static void
run_finish (Run *run)
{
  /* Callers may hold only a borrowed pointer (the QMP hooks do), and the
   * machine's reference goes below. */
  g_autoptr(Run) hold = run_ref (run);
  g_autoptr(QMachine) self = run_dup_owner (run);
  g_autoptr(GPtrArray) tasks = g_steal_pointer (&run->finish_tasks);
  g_autoptr(GTask) launch_task = g_steal_pointer (&run->launch_task);
  g_autofree char *output = NULL;
  gboolean state_changed = FALSE;

  g_assert (!run->finished);
  run->finished = TRUE;

  destroy_source (&run->drain_timeout);
  destroy_source (&run->shutdown_timeout);
  destroy_source (&run->launch_timeout);

  if (run->qmp != NULL)
    q_qmp_client_set_hooks (run->qmp, NULL, NULL, NULL);

  output = read_log (run->log_path);

  if (self != NULL)
    {
      g_mutex_lock (&self->mutex);
      run_cleanup_files (run);
      if (self->run == run)
        {
          self->run = NULL;
          run_unref (run);   /* the machine's reference; ours is the caller's */
        }
      g_free (self->iolog);
      self->iolog = g_strdup (output);
      /* No exit status when no process ever ran (spawn failed or the
       * launch was cancelled first). */
      self->have_exit_code = run->subprocess != NULL;
      self->exit_code = run->exit_code;
      self->pid = 0;
      self->quit_issued = FALSE;
      if (self->temp_dir != NULL && run->temp_dir == NULL)
        remove_dir (self->temp_dir);
      g_clear_pointer (&self->temp_dir, g_free);
      state_changed = machine_set_state_locked (self, Q_MACHINE_STATE_NOT_LAUNCHED);
      g_mutex_unlock (&self->mutex);

      machine_fail_waiters (self, "QEMU exited");

      /* Warn about a signal nobody here sent. */
      if (run->exit_code < 0 &&
          !(run->exit_code == -SIGKILL && (run->user_killed || run->kill_sent)) &&
          !(run->exit_code == -SIGTERM && run->term_sent))
        g_warning ("QEMU received signal %d; command: %s", -run->exit_code, run->command_line);

      {
        Notify *n = g_new0 (Notify, 1);
        n->machine = g_object_ref (self);
        n->pspec = state_changed ? properties [PROP_STATE] : NULL;
        n->emit_exited = run->subprocess != NULL;
        n->exit_code = run->exit_code;
        q_schedule_in_context (self->owner_context, notify_dispatch, n, (GDestroyNotify)notify_free);
      }
      machine_notify_later (self, properties [PROP_PID]);
    }
  else
    run_cleanup_files (run);

  if (launch_task != NULL)
    g_task_return_error (launch_task, launch_failure_error (run, output));

  for (guint i = 0; tasks && i < tasks->len; i++)
    {
      GTask *task = g_ptr_array_index (tasks, i);

      if (run->shutdown_error != NULL)
        g_task_return_error (task, g_error_copy (run->shutdown_error));
      else
        g_task_return_boolean (task, TRUE);
    }
}

static void
run_finish_maybe (Run *run)
{
  if (run->finished || !run->exited)
    return;
  if (run->qmp != NULL && !run->qmp_closed)
    return;
  run_finish (run);
}

static gboolean
drain_timeout_cb (gpointer data)
{
  Run *run = data;
  /* What this triggers may end the run and drop its last reference. */
  g_autoptr(Run) hold = run_ref (run);
  g_autoptr(GError) error = NULL;

  g_clear_pointer (&run->drain_timeout, g_source_unref);

  /* Something else keeps the monitor socket open: stop waiting for EOF. */
  error = g_error_new (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                       "QEMU exited (exit code %d)", run->exit_code);
  if (run->qmp != NULL)
    q_qmp_client_fail (run->qmp, error);
  run->qmp_closed = TRUE;
  run_finish_maybe (run);

  return G_SOURCE_REMOVE;
}

static void
machine_qmp_closed_hook (const GError *error,
                         gpointer      user_data)
{
  Run *run = user_data;
  g_autoptr(Run) hold = run_ref (run);

  run->qmp_closed = TRUE;
  if (run->launch_task != NULL && run->launch_error == NULL)
    launch_fail (run, error ? g_error_copy (error)
                            : g_error_new (G_IO_ERROR, G_IO_ERROR_CLOSED, "QMP closed"));
  run_finish_maybe (run);
}

static void
child_exited_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(Run) run = user_data;
  GSubprocess *subprocess = G_SUBPROCESS (object);

  g_subprocess_wait_finish (subprocess, result, NULL);

  run->exited = TRUE;
  if (g_subprocess_get_if_signaled (subprocess))
    run->exit_code = -g_subprocess_get_term_sig (subprocess);
  else
    run->exit_code = g_subprocess_get_exit_status (subprocess);

  g_debug ("QEMU (pid %d) exited with code %d", run->pid, run->exit_code);

  if (run->launch_task != NULL && run->launch_error == NULL)
    run->launch_error = g_error_new (Q_MACHINE_ERROR, Q_MACHINE_ERROR_LAUNCH_FAILED,
                                     "QEMU exited before it was ready");
  if (run->launch_cancellable != NULL)
    g_cancellable_cancel (run->launch_cancellable);

  /* The monitor socket holds QEMU's last words (a `quit` reply, the
   * SHUTDOWN event): let the client read them up to EOF, which is already
   * there since the kernel closed QEMU's end, then finish. */
  if (run->qmp != NULL && !run->qmp_closed)
    {
      if (run->launch_task != NULL)
        {
          /* A launch that failed has nothing left to read: close now
           * (a child of the wrapper may hold the socket open). */
          g_autoptr(GError) error = g_error_new (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                                 "QEMU exited during launch");
          q_qmp_client_fail (run->qmp, error);
        }
      else
        run->drain_timeout = q_worker_timeout_source (DRAIN_TIMEOUT_MSEC, drain_timeout_cb, run, NULL);
    }

  run_finish_maybe (run);
}

/* Worker thread. */
static void
machine_kill_process (Run      *run,
                      gboolean  user)
{
  if (user)
    run->user_killed = TRUE;
  if (run->exited || run->subprocess == NULL || run->kill_sent)
    return;
  run->kill_sent = TRUE;
  g_subprocess_force_exit (run->subprocess);
}

/* ------------------------------------------------------------------------ */
/* Launch (worker thread part)                                              */

static void
child_setup (gpointer data)
{
  pid_t parent = GPOINTER_TO_INT (data);

  /* QEMU must not outlive us. The signal follows the thread that forked,
   * which is qmachine's worker: it lives as long as the process. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (getppid () != parent)
    _exit (127);
}

static gboolean
launch_grace_cb (gpointer data)
{
  Run *run = data;
  /* What this triggers may end the run and drop its last reference. */
  g_autoptr(Run) hold = run_ref (run);

  g_clear_pointer (&run->launch_timeout, g_source_unref);
  machine_kill_process (run, FALSE);
  return G_SOURCE_REMOVE;
}

static void
launch_fail (Run    *run,
             GError *error)
{
  if (run->launch_task == NULL || run->launch_error != NULL)
    {
      g_error_free (error);
      return;
    }
  run->launch_error = error;

  /* QEMU closing the monitor during launch usually means it is exiting
   * (bad arguments): give it a moment so its own exit status and
   * complaint are what the error reports, then kill it. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) && !run->exited)
    {
      destroy_source (&run->launch_timeout);
      run->launch_timeout = q_worker_timeout_source (LAUNCH_GRACE_MSEC, launch_grace_cb, run, NULL);
    }
  else
    machine_kill_process (run, FALSE);
  run_finish_maybe (run);
}

static void
launch_succeeded (Run *run)
{
  g_autoptr(QMachine) self = run_dup_owner (run);
  g_autoptr(GTask) task = g_steal_pointer (&run->launch_task);

  destroy_source (&run->launch_timeout);
  if (run->launch_cancel_id != 0)
    {
      g_cancellable_disconnect (g_task_get_cancellable (task), run->launch_cancel_id);
      run->launch_cancel_id = 0;
    }

  if (self != NULL)
    {
      machine_set_state (self, Q_MACHINE_STATE_RUNNING);
      g_task_return_boolean (task, TRUE);
    }
  else
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "The machine was disposed");
      machine_kill_process (run, TRUE);
    }
}

static void
negotiate_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(Run) run = user_data;
  g_autoptr(GError) error = NULL;

  if (!q_qmp_client_negotiate_finish (Q_QMP_CLIENT (object), result, &error))
    {
      if (run->launch_task != NULL)
        launch_fail (run, g_error_new (error->domain, error->code,
                                       "QMP negotiation failed: %s", error->message));
      return;
    }

  if (run->launch_task != NULL && run->launch_error == NULL)
    launch_succeeded (run);
}

static void
run_start_qmp (Run       *run,
               GSocket   *socket)
{
  g_autoptr(GSocketConnection) conn = g_socket_connection_factory_create_connection (socket);
  g_autoptr(QMachine) self = run_dup_owner (run);

  if (self == NULL)
    {
      launch_fail (run, g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, "The machine was disposed"));
      return;
    }

  {
    QQmpClient *client = q_qmp_client_new (G_IO_STREAM (conn));

    /* Still on the worker, before the client's first read can run. */
    q_qmp_client_set_owner_context (client, self->owner_context);
    q_qmp_client_set_hooks (client, machine_event_hook, machine_qmp_closed_hook, run);
    /* Not g_signal_connect_object: the machine and the client may be
     * finalized in different threads, which that does not survive. Events
     * the client emits late, even after the run ended, still reach the
     * machine while it lives. */
    g_signal_connect_data (client, "event", G_CALLBACK (machine_qmp_event_cb),
                           owner_box_ref (run->box),
                           (GClosureNotify)(void (*)(void))owner_box_unref, 0);

    /* Published for get_qmp_client, cmd and qmp. */
    g_mutex_lock (&self->mutex);
    run->qmp = client;
    g_mutex_unlock (&self->mutex);
  }

  q_qmp_client_negotiate_async (run->qmp, Q_QMP_NEGOTIATE_FLAGS_NONE, run->launch_cancellable,
                                negotiate_cb, run_ref (run));
}

static gboolean
accept_cb (GSocket      *listener,
           GIOCondition  condition,
           gpointer      user_data)
{
  Run *run = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;

  if (run->launch_task == NULL || run->launch_error != NULL)
    return G_SOURCE_REMOVE;

  socket = g_socket_accept (listener, NULL, &error);
  if (socket == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        return G_SOURCE_CONTINUE;
      launch_fail (run, g_error_new (error->domain, error->code,
                                     "Accepting QEMU's monitor connection failed: %s",
                                     error->message));
      return G_SOURCE_REMOVE;
    }

  /* One connection only: stop listening (the socket file goes at cleanup). */
  g_socket_close (listener, NULL);
  g_clear_object (&run->listener);
  run->monitor_ours = g_object_ref (socket);
  run_start_qmp (run, socket);

  return G_SOURCE_REMOVE;
}

static gboolean
launch_timeout_cb (gpointer data)
{
  Run *run = data;
  /* What this triggers may end the run and drop its last reference. */
  g_autoptr(Run) hold = run_ref (run);

  g_clear_pointer (&run->launch_timeout, g_source_unref);
  launch_fail (run, g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                 "QMP was not ready within %d ms", run->qmp_timeout));
  return G_SOURCE_REMOVE;
}

static gboolean
launch_cancelled_idle (gpointer data)
{
  Run *run = data;

  launch_fail (run, g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, "The launch was cancelled"));
  return G_SOURCE_REMOVE;
}

static void
launch_cancelled_cb (GCancellable *cancellable,
                     Run          *run)
{
  q_worker_schedule (launch_cancelled_idle, run_ref (run), (GDestroyNotify)run_unref);
}

static gboolean
launch_spawn (gpointer data)
{
  Run *run = data;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(QMachine) self = run_dup_owner (run);
  GCancellable *cancellable = g_task_get_cancellable (run->launch_task);

  if (self == NULL || g_cancellable_is_cancelled (cancellable) || run->launch_error != NULL)
    {
      run->exited = TRUE;
      if (run->launch_error == NULL)
        run->launch_error = g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, "The launch was cancelled");
      run_finish (run);
      return G_SOURCE_REMOVE;
    }

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_take_stdout_fd (launcher, g_steal_fd (&run->log_fd));
  g_subprocess_launcher_set_child_setup (launcher, child_setup, GINT_TO_POINTER (getpid ()), NULL);
  if (run->monitor_theirs >= 0)
    g_subprocess_launcher_take_fd (launcher, g_steal_fd (&run->monitor_theirs), run->monitor_target);
  if (run->console_theirs >= 0)
    g_subprocess_launcher_take_fd (launcher, g_steal_fd (&run->console_theirs), run->console_target);
  for (guint i = 0; i < run->extra_fds->len; i++)
    {
      ExtraFd *x = &g_array_index (run->extra_fds, ExtraFd, i);
      g_subprocess_launcher_take_fd (launcher, g_steal_fd (&x->fd), x->target);
    }

  run->subprocess = g_subprocess_launcher_spawnv (launcher, (const char * const *)run->argv, &error);
  if (run->subprocess == NULL)
    {
      run->exited = TRUE;
      run->exit_code = 127;
      run->launch_error = g_error_new (Q_MACHINE_ERROR, Q_MACHINE_ERROR_LAUNCH_FAILED,
                                       "%s", error ? error->message : "could not start QEMU");
      run_finish (run);
      return G_SOURCE_REMOVE;
    }

  run->pid = atoi (g_subprocess_get_identifier (run->subprocess));
  g_mutex_lock (&self->mutex);
  self->pid = run->pid;
  g_mutex_unlock (&self->mutex);
  machine_notify_later (self, properties [PROP_PID]);

  g_subprocess_wait_async (run->subprocess, NULL, child_exited_cb, run_ref (run));

  if (!run->qmp_enabled)
    {
      launch_succeeded (run);
      return G_SOURCE_REMOVE;
    }

  run->launch_cancellable = g_cancellable_new ();
  if (run->qmp_timeout >= 0)
    run->launch_timeout = q_worker_timeout_source (run->qmp_timeout, launch_timeout_cb, run, NULL);
  if (cancellable != NULL)
    run->launch_cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (launch_cancelled_cb),
                                                   run, NULL);

  if (run->listener != NULL)
    {
      GSource *source = g_socket_create_source (run->listener, G_IO_IN, run->launch_cancellable);

      g_source_set_callback (source, (GSourceFunc)(void (*)(void))accept_cb,
                             run_ref (run), (GDestroyNotify)run_unref);
      g_source_attach (source, q_worker_get_context ());
      g_source_unref (source);
    }
  else
    run_start_qmp (run, run->monitor_ours);

  return G_SOURCE_REMOVE;
}

/* ------------------------------------------------------------------------ */
/* Launch (caller's thread part): files, sockets and the command line       */

static int
pick_target (GArray *taken,
             int    *next)
{
  for (;;)
    {
      int candidate = (*next)++;
      gboolean used = FALSE;

      for (guint i = 0; i < taken->len; i++)
        used |= g_array_index (taken, ExtraFd, i).target == candidate;
      if (!used)
        return candidate;
    }
}

static gboolean
make_socketpair (int     *ours,
                 int     *theirs,
                 GError **error)
{
  int sv[2];

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "socketpair() failed: %s", g_strerror (errsv));
      return FALSE;
    }
  *ours = sv[0];
  *theirs = sv[1];
  return TRUE;
}

static const char *
machine_ensure_temp_dir_locked (QMachine  *self,
                                GError   **error)
{
  if (self->temp_dir == NULL)
    {
      /* mkdtemp() replaces the six trailing X of the template. */
      g_autofree char *xs = g_strnfill (6, 'X');
      g_autofree char *leaf = g_strconcat ("qmachine-", xs, NULL);
      g_autofree char *tmpl = g_build_filename (self->base_temp_dir, leaf, NULL);

      if (g_mkdtemp (tmpl) == NULL)
        {
          int errsv = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                       "Could not create a temporary directory in %s: %s",
                       self->base_temp_dir, g_strerror (errsv));
          return NULL;
        }
      self->temp_dir = g_steal_pointer (&tmpl);
    }

  return self->temp_dir;
}

static char **
machine_build_argv (QMachine *self,
                    Run      *run,
                    char    **monitor_chardev)
{
  GPtrArray *argv = g_ptr_array_new ();

  for (guint i = 0; self->wrapper && self->wrapper[i]; i++)
    g_ptr_array_add (argv, g_strdup (self->wrapper[i]));
  g_ptr_array_add (argv, g_strdup (self->binary));
  g_ptr_array_add (argv, g_strdup ("-display"));
  g_ptr_array_add (argv, g_strdup ("none"));
  g_ptr_array_add (argv, g_strdup ("-vga"));
  g_ptr_array_add (argv, g_strdup ("none"));

  if (self->qmp_enabled)
    {
      g_ptr_array_add (argv, g_strdup ("-chardev"));
      g_ptr_array_add (argv, g_strdup (*monitor_chardev));
      g_ptr_array_add (argv, g_strdup ("-mon"));
      g_ptr_array_add (argv, g_strdup ("chardev=mon,mode=control"));
    }
  if (self->machine_type != NULL)
    {
      g_ptr_array_add (argv, g_strdup ("-machine"));
      g_ptr_array_add (argv, g_strdup (self->machine_type));
    }
  for (guint i = 0; i < self->console_index; i++)
    {
      g_ptr_array_add (argv, g_strdup ("-serial"));
      g_ptr_array_add (argv, g_strdup ("null"));
    }
  if (self->console_set)
    {
      g_ptr_array_add (argv, g_strdup ("-chardev"));
      g_ptr_array_add (argv, g_strdup_printf ("socket,id=console,fd=%d", run ? run->console_target : 4));
      if (self->console_device_type == NULL)
        {
          g_ptr_array_add (argv, g_strdup ("-serial"));
          g_ptr_array_add (argv, g_strdup ("chardev:console"));
        }
      else
        {
          g_ptr_array_add (argv, g_strdup ("-device"));
          g_ptr_array_add (argv, g_strdup_printf ("%s,chardev=console", self->console_device_type));
        }
    }
  for (guint i = 0; i + 1 < self->args->len; i++)
    g_ptr_array_add (argv, g_strdup (g_ptr_array_index (self->args, i)));
  g_ptr_array_add (argv, NULL);

  return (char **)g_ptr_array_free (argv, FALSE);
}

/* Decides where the monitor and console go; returns the -chardev value. */
static char *
machine_plan_monitor (QMachine *self,
                      int       monitor_target)
{
  if (self->monitor_address == NULL)
    return g_strdup_printf ("socket,id=mon,fd=%d", monitor_target);

  if (G_IS_UNIX_SOCKET_ADDRESS (self->monitor_address))
    {
      g_autofree char *quoted = NULL;
      const char *path = g_unix_socket_address_get_path (G_UNIX_SOCKET_ADDRESS (self->monitor_address));
      g_autoptr(GString) s = g_string_new (path);

      /* QEMU's option syntax doubles commas inside values. */
      g_string_replace (s, ",", ",,", 0);
      return g_strdup_printf ("socket,id=mon,path=%s", s->str);
    }

  if (G_IS_INET_SOCKET_ADDRESS (self->monitor_address))
    {
      GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (self->monitor_address);
      g_autofree char *host = g_inet_address_to_string (g_inet_socket_address_get_address (inet));

      return g_strdup_printf ("socket,id=mon,host=%s,port=%u", host,
                              g_inet_socket_address_get_port (inet));
    }

  return NULL;
}

static Run *
machine_prepare_run (QMachine  *self,
                     GError   **error)
{
  g_autoptr(Run) run = g_new0 (Run, 1);
  g_autofree char *monitor_chardev = NULL;
  const char *log_dir;
  int next_target = 3;

  g_atomic_ref_count_init (&run->ref_count);
  run->box = owner_box_ref (self->box);
  run->log_fd = run->monitor_theirs = run->console_ours = run->console_theirs = -1;
  run->console_log_fd = -1;
  run->monitor_target = run->console_target = -1;
  run->qmp_enabled = self->qmp_enabled;
  run->qmp_timeout = self->qmp_timeout;
  run->extra_fds = g_array_new (FALSE, TRUE, sizeof (ExtraFd));

  /* QEMU receives dups of add_fd's descriptors at the numbers the user
   * named; ours take the lowest numbers left free. */
  for (guint i = 0; i < self->extra_fds->len; i++)
    {
      ExtraFd x = g_array_index (self->extra_fds, ExtraFd, i);

      x.fd = fcntl (x.fd, F_DUPFD_CLOEXEC, 3);
      if (x.fd < 0)
        {
          int errsv = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                       "Could not duplicate the descriptor for -add-fd fd=%d: %s",
                       x.target, g_strerror (errsv));
          return NULL;
        }
      g_array_append_val (run->extra_fds, x);
    }

  if (self->log_dir == NULL)
    {
      if (!(log_dir = machine_ensure_temp_dir_locked (self, error)))
        return NULL;
    }
  else
    log_dir = self->log_dir;

  if (self->temp_dir != NULL)
    run->temp_dir = g_strdup (self->temp_dir);

  run->log_path = g_strdup_printf ("%s/%s.log", log_dir, self->name);
  run->log_fd = g_open (run->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (run->log_fd < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "Could not create the log file %s: %s", run->log_path, g_strerror (errsv));
      return NULL;
    }

  if (self->qmp_enabled)
    {
      if (self->monitor_address == NULL)
        {
          int ours;

          if (!make_socketpair (&ours, &run->monitor_theirs, error))
            return NULL;
          run->monitor_ours = g_socket_new_from_fd (ours, error);
          if (run->monitor_ours == NULL)
            {
              close (ours);
              return NULL;
            }
          run->monitor_target = pick_target (run->extra_fds, &next_target);
        }
      else
        {
          GSocketFamily family = g_socket_address_get_family (self->monitor_address);
          g_autoptr(GSocketAddress) bound = NULL;

          if (!G_IS_UNIX_SOCKET_ADDRESS (self->monitor_address) &&
              !G_IS_INET_SOCKET_ADDRESS (self->monitor_address))
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           "The monitor address must be a unix or inet socket address");
              return NULL;
            }

          run->listener = g_socket_new (family, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, error);
          if (run->listener == NULL)
            return NULL;
          g_socket_set_blocking (run->listener, FALSE);
          if (!g_socket_bind (run->listener, self->monitor_address, TRUE, error) ||
              !g_socket_listen (run->listener, error))
            {
              g_prefix_error (error, "Could not listen for QEMU's monitor: ");
              return NULL;
            }
          if (G_IS_UNIX_SOCKET_ADDRESS (self->monitor_address))
            run->unix_path = g_strdup (g_unix_socket_address_get_path (G_UNIX_SOCKET_ADDRESS (self->monitor_address)));

          /* With port 0 the kernel picked one: QEMU must use that. */
          bound = g_socket_get_local_address (run->listener, NULL);
          if (bound != NULL && G_IS_INET_SOCKET_ADDRESS (bound))
            {
              GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (bound);
              g_autofree char *host = g_inet_address_to_string (g_inet_socket_address_get_address (inet));
              monitor_chardev = g_strdup_printf ("socket,id=mon,host=%s,port=%u", host,
                                                 g_inet_socket_address_get_port (inet));
            }
        }
    }

  if (self->console_set)
    {
      g_autoptr(GSocket) socket = NULL;

      if (!make_socketpair (&run->console_ours, &run->console_theirs, error))
        return NULL;
      run->console_target = pick_target (run->extra_fds, &next_target);
      if (self->console_log != NULL)
        {
          run->console_log_fd = g_open (self->console_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
          if (run->console_log_fd < 0)
            {
              int errsv = errno;
              g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                           "Could not create the console log %s: %s",
                           self->console_log, g_strerror (errsv));
              return NULL;
            }
        }
      socket = g_socket_new_from_fd (run->console_ours, error);
      if (socket == NULL)
        return NULL;
      run->console_ours = -1;   /* the socket owns it now */
      run->console_drained = self->drain_console || self->console_log != NULL;
      run->console = q_console_new (socket, self->owner_context,
                                    run->console_drained,
                                    self->console_buffer_size,
                                    g_steal_fd (&run->console_log_fd));
    }

  if (self->qmp_enabled && monitor_chardev == NULL)
    monitor_chardev = machine_plan_monitor (self, run->monitor_target);

  run->argv = machine_build_argv (self, run, &monitor_chardev);
  run->command_line = q_shell_join ((const char * const *)run->argv);
  run_track (run, TRUE);

  return g_steal_pointer (&run);
}

/* ------------------------------------------------------------------------ */
/* GObject                                                                  */

static void
q_machine_dispose (GObject *object)
{
  QMachine *self = (QMachine *)object;
  Run *run;

  g_mutex_lock (&self->mutex);
  run = g_steal_pointer (&self->run);
  g_mutex_unlock (&self->mutex);

  g_mutex_lock (&owner_lock);
  self->box->machine = NULL;
  g_mutex_unlock (&owner_lock);

  if (run != NULL)
    {
      /* Nobody can reach this QEMU any more: kill it now. The worker
       * reaps it and removes its files moments later. */
      if (run->subprocess != NULL)
        g_subprocess_send_signal (run->subprocess, SIGKILL);
      run->user_killed = TRUE;
      if (run->qmp != NULL)
        q_qmp_client_fail (run->qmp, NULL);
      run_unref (run);
    }

  remove_dir (self->temp_dir);
  g_clear_pointer (&self->temp_dir, g_free);

  machine_fail_waiters (self, "The machine was disposed");

  G_OBJECT_CLASS (q_machine_parent_class)->dispose (object);
}

static void
q_machine_finalize (GObject *object)
{
  QMachine *self = (QMachine *)object;

  g_clear_pointer (&self->binary, g_free);
  g_clear_pointer (&self->args, g_ptr_array_unref);
  g_clear_pointer (&self->wrapper, g_strfreev);
  g_clear_pointer (&self->name, g_free);
  g_clear_pointer (&self->base_temp_dir, g_free);
  g_clear_pointer (&self->log_dir, g_free);
  g_clear_object (&self->monitor_address);
  g_clear_pointer (&self->machine_type, g_free);
  g_clear_pointer (&self->console_device_type, g_free);
  g_clear_pointer (&self->console_log, g_free);
  g_clear_object (&self->console);
  for (guint i = 0; i < self->extra_fds->len; i++)
    close_fd (&g_array_index (self->extra_fds, ExtraFd, i).fd);
  g_clear_pointer (&self->extra_fds, g_array_unref);
  g_clear_pointer (&self->full_args, g_strfreev);
  g_clear_pointer (&self->iolog, g_free);
  g_queue_clear_full (&self->events, (GDestroyNotify)json_object_unref);
  g_clear_pointer (&self->owner_context, g_main_context_unref);
  g_clear_pointer (&self->box, owner_box_unref);
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
  properties [PROP_BINARY] =
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
  properties [PROP_ARGS] =
    g_param_spec_boxed ("args", NULL, NULL, G_TYPE_STRV,
                        (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QMachine:wrapper:
   *
   * A command that QEMU runs under, such as `valgrind` or `gdb --args`.
   *
   * Since: 1.0
   */
  properties [PROP_WRAPPER] =
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
  properties [PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QMachine:base-temp-dir:
   *
   * Where the machine's temporary directory is created. Defaults to
   * `g_get_tmp_dir()`.
   *
   * Since: 1.0
   */
  properties [PROP_BASE_TEMP_DIR] =
    g_param_spec_string ("base-temp-dir", NULL, NULL, NULL,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QMachine:log-dir:
   *
   * Where QEMU's log file is written and kept. When %NULL, the log goes to
   * the temporary directory and is removed with it (its text stays
   * available from [method@QMachine.Machine.get_log]).
   *
   * Since: 1.0
   */
  properties [PROP_LOG_DIR] =
    g_param_spec_string ("log-dir", NULL, NULL, NULL,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QMachine:monitor-address:
   *
   * Where the QMP monitor is. %NULL (the default) uses a socketpair. A
   * [class@Gio.UnixSocketAddress] makes qmachine listen on that path (the
   * file is removed at shutdown) and QEMU connect to it; a
   * [class@Gio.InetSocketAddress] does the same over TCP (port 0 picks a
   * free port).
   *
   * Since: 1.0
   */
  properties [PROP_MONITOR_ADDRESS] =
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
  properties [PROP_QMP_ENABLED] =
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
  properties [PROP_QMP_TIMEOUT] =
    g_param_spec_int ("qmp-timeout", NULL, NULL, -1, G_MAXINT, Q_MACHINE_DEFAULT_QMP_TIMEOUT,
                      (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QMachine:machine-type:
   *
   * The `-machine` option, or %NULL for QEMU's default.
   *
   * Since: 1.0
   */
  properties [PROP_MACHINE_TYPE] =
    g_param_spec_string ("machine-type", NULL, NULL, NULL,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QMachine:event-queue-limit:
   *
   * How many events the queue keeps for [method@QMachine.Machine.get_event]
   * and [method@QMachine.Machine.event_wait]; when full the oldest is
   * dropped, counted in [method@QMachine.Machine.get_dropped_events] and
   * logged.
   *
   * Since: 1.0
   */
  properties [PROP_EVENT_QUEUE_LIMIT] =
    g_param_spec_uint ("event-queue-limit", NULL, NULL, 1, G_MAXUINT, Q_MACHINE_DEFAULT_EVENT_QUEUE_LIMIT,
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
  properties [PROP_DRAIN_CONSOLE] =
    g_param_spec_boolean ("drain-console", NULL, NULL, FALSE,
                          (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QMachine:console-log:
   *
   * A file that receives everything the console prints (created afresh
   * at each launch). Setting it turns on draining.
   *
   * Since: 1.0
   */
  properties [PROP_CONSOLE_LOG] =
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
  properties [PROP_CONSOLE_BUFFER_SIZE] =
    g_param_spec_uint ("console-buffer-size", NULL, NULL, 1, G_MAXINT, Q_CONSOLE_DEFAULT_BUFFER_SIZE,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QMachine:state:
   *
   * Where the machine is in its lifecycle.
   *
   * Since: 1.0
   */
  properties [PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, Q_TYPE_MACHINE_STATE, Q_MACHINE_STATE_NOT_LAUNCHED,
                       (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * QMachine:pid:
   *
   * The process id of QEMU while it runs, or 0.
   *
   * Since: 1.0
   */
  properties [PROP_PID] =
    g_param_spec_int ("pid", NULL, NULL, 0, G_MAXINT, 0,
                      (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

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
  signals [EVENT] =
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
  signals [EXITED] =
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
  self->box = g_new0 (OwnerBox, 1);
  g_atomic_ref_count_init (&self->box->ref_count);
  self->box->machine = self;
  self->owner_context = g_main_context_ref_thread_default ();
  self->args = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (self->args, NULL);
  self->name = g_strdup_printf ("qmachine-%d-%u", getpid (), g_atomic_int_add (&counter, 1));
  self->base_temp_dir = g_strdup (g_get_tmp_dir ());
  self->qmp_enabled = TRUE;
  self->qmp_timeout = Q_MACHINE_DEFAULT_QMP_TIMEOUT;
  self->event_queue_limit = Q_MACHINE_DEFAULT_EVENT_QUEUE_LIMIT;
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

static void
machine_append_arg (QMachine   *self,
                    const char *arg)
{
  /* Keep the array NULL-terminated. */
  g_ptr_array_index (self->args, self->args->len - 1) = g_strdup (arg);
  g_ptr_array_add (self->args, NULL);
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

  g_object_notify_by_pspec (G_OBJECT (self), properties [PROP_ARGS]);
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
  g_object_notify_by_pspec (G_OBJECT (self), properties [PROP_ARGS]);
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
  g_object_notify_by_pspec (G_OBJECT (self), properties [PROP_WRAPPER]);
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
 * Sets [property@QMachine.Machine:name].
 *
 * Since: 1.0
 */
void
q_machine_set_name (QMachine   *self,
                    const char *name)
{
  g_return_if_fail (Q_IS_MACHINE (self));
  g_return_if_fail (name != NULL && *name != '\0' && strchr (name, '/') == NULL);

  if (set_str (&self->name, name))
    g_object_notify_by_pspec (G_OBJECT (self), properties [PROP_NAME]);
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

  if (set_str (&self->base_temp_dir, base_temp_dir ? base_temp_dir : g_get_tmp_dir ()))
    g_object_notify_by_pspec (G_OBJECT (self), properties [PROP_BASE_TEMP_DIR]);
}

/**
 * q_machine_get_log_dir:
 * @self: a `QMachine`
 *
 * Gets where QEMU's log goes: [property@QMachine.Machine:log-dir], or the
 * temporary directory (created if needed, as
 * [method@QMachine.Machine.get_temp_dir] does) when it is unset.
 *
 * Returns: (nullable): the log directory, or %NULL if the temporary
 *   directory could not be created
 *
 * Since: 1.0
 */
const char *
q_machine_get_log_dir (QMachine *self)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);

  if (self->log_dir != NULL)
    return self->log_dir;
  return q_machine_get_temp_dir (self);
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

  if (set_str (&self->log_dir, log_dir))
    g_object_notify_by_pspec (G_OBJECT (self), properties [PROP_LOG_DIR]);
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

  g_mutex_lock (&self->mutex);
  ret = machine_ensure_temp_dir_locked (self, &error);
  g_mutex_unlock (&self->mutex);

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
    g_object_notify_by_pspec (G_OBJECT (self), properties [PROP_MONITOR_ADDRESS]);
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
      g_object_notify_by_pspec (G_OBJECT (self), properties [PROP_QMP_ENABLED]);
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
      g_object_notify_by_pspec (G_OBJECT (self), properties [PROP_QMP_TIMEOUT]);
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

  if (set_str (&self->machine_type, machine_type))
    g_object_notify_by_pspec (G_OBJECT (self), properties [PROP_MACHINE_TYPE]);
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
  g_return_if_fail (Q_IS_MACHINE (self));
  g_return_if_fail (limit > 0);

  g_mutex_lock (&self->mutex);
  self->event_queue_limit = limit;
  g_mutex_unlock (&self->mutex);
  g_object_notify_by_pspec (G_OBJECT (self), properties [PROP_EVENT_QUEUE_LIMIT]);
}

/**
 * q_machine_set_console:
 * @self: a `QMachine`
 * @device_type: (nullable): a device such as `isa-serial`, or %NULL for
 *   `-serial chardev:console` (the machine's default serial device)
 * @console_index: which serial port; the ones before it get `-serial null`
 *
 * Gives the machine a console on a socketpair. Call before launch.
 *
 * Since: 1.0
 */
void
q_machine_set_console (QMachine   *self,
                       const char *device_type,
                       guint       console_index)
{
  g_return_if_fail (Q_IS_MACHINE (self));

  self->console_set = TRUE;
  set_str (&self->console_device_type, device_type);
  self->console_index = console_index;
}

/**
 * q_machine_get_drain_console:
 * @self: a `QMachine`
 *
 * Gets [property@QMachine.Machine:drain-console].
 *
 * Returns: whether the console is drained
 *
 * Since: 1.0
 */
gboolean
q_machine_get_drain_console (QMachine *self)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);
  return self->drain_console;
}

/**
 * q_machine_set_drain_console:
 * @self: a `QMachine`
 * @drain: whether to drain the console
 *
 * Sets [property@QMachine.Machine:drain-console]. Takes effect at the next
 * launch.
 *
 * Since: 1.0
 */
void
q_machine_set_drain_console (QMachine *self,
                             gboolean  drain)
{
  g_return_if_fail (Q_IS_MACHINE (self));

  drain = !!drain;
  if (self->drain_console != drain)
    {
      self->drain_console = drain;
      g_object_notify_by_pspec (G_OBJECT (self), properties [PROP_DRAIN_CONSOLE]);
    }
}

/**
 * q_machine_get_console_log:
 * @self: a `QMachine`
 *
 * Gets [property@QMachine.Machine:console-log].
 *
 * Returns: (nullable) (type filename): the console log path
 *
 * Since: 1.0
 */
const char *
q_machine_get_console_log (QMachine *self)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);
  return self->console_log;
}

/**
 * q_machine_set_console_log:
 * @self: a `QMachine`
 * @path: (nullable) (type filename): where to log the console, or %NULL
 *
 * Sets [property@QMachine.Machine:console-log].
 *
 * Since: 1.0
 */
void
q_machine_set_console_log (QMachine   *self,
                           const char *path)
{
  g_return_if_fail (Q_IS_MACHINE (self));

  if (set_str (&self->console_log, path))
    g_object_notify_by_pspec (G_OBJECT (self), properties [PROP_CONSOLE_LOG]);
}

/**
 * q_machine_get_console_buffer_size:
 * @self: a `QMachine`
 *
 * Gets [property@QMachine.Machine:console-buffer-size].
 *
 * Returns: the buffer size in bytes
 *
 * Since: 1.0
 */
guint
q_machine_get_console_buffer_size (QMachine *self)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), 0);
  return self->console_buffer_size;
}

/**
 * q_machine_set_console_buffer_size:
 * @self: a `QMachine`
 * @size: bytes of console output to keep (at least 1)
 *
 * Sets [property@QMachine.Machine:console-buffer-size]. Takes effect at
 * the next launch.
 *
 * Since: 1.0
 */
void
q_machine_set_console_buffer_size (QMachine *self,
                                   guint     size)
{
  g_return_if_fail (Q_IS_MACHINE (self));
  g_return_if_fail (size > 0);

  if (self->console_buffer_size != size)
    {
      self->console_buffer_size = size;
      g_object_notify_by_pspec (G_OBJECT (self), properties [PROP_CONSOLE_BUFFER_SIZE]);
    }
}

/**
 * q_machine_get_console:
 * @self: a `QMachine`
 *
 * Gets the console of the current or last launch. It stays readable (its
 * buffered output) after shutdown, until the next launch replaces it.
 *
 * Returns: (transfer none) (nullable): the console, or %NULL when the
 *   machine has none or was never launched
 *
 * Since: 1.0
 */
QConsole *
q_machine_get_console (QMachine *self)
{
  QConsole *ret;

  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);

  g_mutex_lock (&self->mutex);
  ret = self->console;
  g_mutex_unlock (&self->mutex);

  return ret;
}

/**
 * q_machine_add_monitor_null:
 * @self: a `QMachine`
 *
 * Adds `-monitor null`: an unused human monitor, so QEMU does not create a
 * default one.
 *
 * Since: 1.0
 */
void
q_machine_add_monitor_null (QMachine *self)
{
  g_return_if_fail (Q_IS_MACHINE (self));

  q_machine_add_args (self, "-monitor", "null", NULL);
}

/**
 * q_machine_add_fd:
 * @self: a `QMachine`
 * @fd: a file descriptor of the caller (greater than 2)
 * @fdset: the fd set id
 * @opaque: a free-form string QEMU shows in `query-fdsets`
 * @opts: (nullable): more `-add-fd` options
 *
 * Passes @fd to QEMU as `-add-fd fd=FD,set=FDSET,opaque=OPAQUE[,OPTS]`.
 * The machine keeps its own duplicate of @fd (the caller may close @fd) and
 * QEMU receives it under the number @fd.
 *
 * Returns: %TRUE, or %FALSE with @error set when @fd is not usable
 *
 * Since: 1.0
 */
gboolean
q_machine_add_fd (QMachine    *self,
                  int          fd,
                  int          fdset,
                  const char  *opaque,
                  const char  *opts,
                  GError     **error)
{
  g_autofree char *arg = NULL;
  ExtraFd x;

  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);
  g_return_val_if_fail (opaque != NULL, FALSE);

  if (fd <= 2)
    {
      g_set_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_ADD_DEVICE,
                   "-add-fd needs a descriptor above 2, not %d", fd);
      return FALSE;
    }
  for (guint i = 0; i < self->extra_fds->len; i++)
    {
      if (g_array_index (self->extra_fds, ExtraFd, i).target == fd)
        {
          g_set_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_ADD_DEVICE,
                       "Descriptor %d was already added", fd);
          return FALSE;
        }
    }

  x.target = fd;
  x.fd = fcntl (fd, F_DUPFD_CLOEXEC, 3);
  if (x.fd < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "Descriptor %d cannot be passed: %s", fd, g_strerror (errsv));
      return FALSE;
    }
  g_array_append_val (self->extra_fds, x);

  arg = g_strdup_printf ("fd=%d,set=%d,opaque=%s%s%s", fd, fdset, opaque,
                         opts && *opts ? "," : "", opts && *opts ? opts : "");
  q_machine_add_args (self, "-add-fd", arg, NULL);

  return TRUE;
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

  g_mutex_lock (&self->mutex);
  ret = self->state;
  g_mutex_unlock (&self->mutex);

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

  g_mutex_lock (&self->mutex);
  ret = self->pid > 0 && self->run != NULL && !self->run->exited;
  g_mutex_unlock (&self->mutex);

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

  g_mutex_lock (&self->mutex);
  ret = self->pid;
  g_mutex_unlock (&self->mutex);

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

  g_mutex_lock (&self->mutex);
  ret = self->have_exit_code && self->run == NULL;
  if (ret && exit_code != NULL)
    *exit_code = self->exit_code;
  g_mutex_unlock (&self->mutex);

  return ret;
}

/**
 * q_machine_get_log:
 * @self: a `QMachine`
 *
 * Gets what the last QEMU process wrote to stdout and stderr, once it has
 * exited (after a shutdown or a failed launch).
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
  g_mutex_lock (&self->mutex);
  ret = self->iolog;
  g_mutex_unlock (&self->mutex);

  return ret;
}

/**
 * q_machine_get_full_args:
 * @self: a `QMachine`
 *
 * Gets the exact command line of the current or last launch: wrapper,
 * binary, the arguments qmachine adds (`-display none -vga none`, the
 * monitor, `-machine`, the console) and the extra arguments. Before the
 * first launch, the command line the current configuration would give.
 *
 * Returns: (transfer none) (array zero-terminated=1): the command line
 *
 * Since: 1.0
 */
const char * const *
q_machine_get_full_args (QMachine *self)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);

  g_mutex_lock (&self->mutex);
  if (self->run == NULL && self->state == Q_MACHINE_STATE_NOT_LAUNCHED && !self->have_exit_code)
    {
      g_autofree char *chardev = NULL;
      GArray *taken = self->extra_fds;
      int next = 3;
      int mon = self->monitor_address ? -1 : pick_target (taken, &next);
      Run preview = { 0 };

      preview.console_target = pick_target (taken, &next);
      chardev = machine_plan_monitor (self, mon);
      g_strfreev (self->full_args);
      self->full_args = machine_build_argv (self, &preview, &chardev);
    }
  g_mutex_unlock (&self->mutex);

  return (const char * const *)self->full_args;
}

/**
 * q_machine_get_qmp_client:
 * @self: a `QMachine`
 *
 * Gets the QMP client of the running QEMU.
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

  g_mutex_lock (&self->mutex);
  if (self->run != NULL)
    ret = self->run->qmp;
  g_mutex_unlock (&self->mutex);

  return ret;
}

/**
 * q_machine_get_dropped_events:
 * @self: a `QMachine`
 *
 * Gets how many events were dropped from the full event queue since the
 * machine was created.
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

  g_mutex_lock (&self->mutex);
  ret = self->dropped_events;
  g_mutex_unlock (&self->mutex);

  return ret;
}

/* ------------------------------------------------------------------------ */
/* Launch                                                                   */

/**
 * q_machine_launch_async:
 * @self: a `QMachine`
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called once QEMU runs and QMP is ready
 * @user_data: closure data for @callback
 *
 * Starts QEMU and, unless QMP is disabled, connects and negotiates QMP.
 *
 * The wait for QMP races QEMU's exit and
 * [property@QMachine.Machine:qmp-timeout]: a QEMU that exits early fails
 * with `Q_MACHINE_ERROR_LAUNCH_FAILED`, one that does not answer in time
 * with `G_IO_ERROR_TIMED_OUT`; either message holds the exit status, the
 * shell-quoted command line and QEMU's output, which also stay readable
 * with [method@QMachine.Machine.get_exit_code],
 * [method@QMachine.Machine.get_full_args] and
 * [method@QMachine.Machine.get_log]. On failure, everything the launch made
 * is removed and the process is reaped before the callback runs.
 *
 * Launching a launched machine fails with
 * `Q_MACHINE_ERROR_ALREADY_LAUNCHED`.
 *
 * Since: 1.0
 */
void
q_machine_launch_async (QMachine            *self,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  Run *run;

  g_return_if_fail (Q_IS_MACHINE (self));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, q_machine_launch_async);
  g_task_set_name (task, "[qmachine] launch");
  /* Cancellation is handled by hand: QEMU must be reaped first. */
  g_task_set_check_cancellable (task, FALSE);

  if (self->binary == NULL || *self->binary == '\0')
    {
      g_task_return_new_error (task, Q_MACHINE_ERROR, Q_MACHINE_ERROR_LAUNCH_FAILED,
                               "QEMU failed to launch: the machine has no binary");
      return;
    }

  g_mutex_lock (&self->mutex);
  if (self->state != Q_MACHINE_STATE_NOT_LAUNCHED || self->run != NULL)
    {
      g_mutex_unlock (&self->mutex);
      g_task_return_new_error (task, Q_MACHINE_ERROR, Q_MACHINE_ERROR_ALREADY_LAUNCHED,
                               "The machine %s is already launched", self->name);
      return;
    }

  run = machine_prepare_run (self, &error);
  if (run == NULL)
    {
      /* Nothing ran: undo what was made and report it. */
      remove_dir (self->temp_dir);
      g_clear_pointer (&self->temp_dir, g_free);
      g_mutex_unlock (&self->mutex);
      g_task_return_new_error (task, Q_MACHINE_ERROR, Q_MACHINE_ERROR_LAUNCH_FAILED,
                               "QEMU failed to launch: %s", error->message);
      return;
    }

  self->run = run;
  g_set_object (&self->console, run->console);
  g_strfreev (self->full_args);
  self->full_args = g_strdupv (run->argv);
  self->have_exit_code = FALSE;
  g_clear_pointer (&self->iolog, g_free);
  g_queue_clear_full (&self->events, (GDestroyNotify)json_object_unref);
  self->quit_issued = FALSE;
  machine_set_state_locked (self, Q_MACHINE_STATE_LAUNCHING);
  run->launch_task = g_steal_pointer (&task);
  g_mutex_unlock (&self->mutex);

  machine_notify_later (self, properties [PROP_STATE]);
  g_debug ("Launching: %s", run->command_line);
  q_worker_schedule (launch_spawn, run_ref (run), (GDestroyNotify)run_unref);
}

/**
 * q_machine_launch_finish:
 * @self: a `QMachine`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.Machine.launch_async].
 *
 * Returns: %TRUE when QEMU runs and QMP is ready
 *
 * Since: 1.0
 */
gboolean
q_machine_launch_finish (QMachine      *self,
                         GAsyncResult  *result,
                         GError       **error)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * q_machine_launch:
 * @self: a `QMachine`
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.Machine.launch_async].
 *
 * Returns: %TRUE when QEMU runs and QMP is ready
 *
 * Since: 1.0
 */
gboolean
q_machine_launch (QMachine      *self,
                  GCancellable  *cancellable,
                  GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);

  q_sync_call_begin (&call);
  q_machine_launch_async (self, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);

  return q_machine_launch_finish (self, result, error);
}

/* ------------------------------------------------------------------------ */
/* Shutdown, kill, wait                                                     */

typedef struct
{
  Run                   *run;
  GTask                 *task;
  QMachineShutdownFlags  flags;
  int                    timeout;
  gboolean               quit_issued;
} ShutdownOp;

static void
shutdown_op_free (ShutdownOp *op)
{
  run_unref (op->run);
  g_clear_object (&op->task);
  g_free (op);
}

static void
shutdown_abnormal (Run    *run,
                   GError *cause)
{
  if (run->shutdown_error == NULL)
    run->shutdown_error = g_error_new (Q_MACHINE_ERROR, Q_MACHINE_ERROR_ABNORMAL_SHUTDOWN,
                                       "Could not shut QEMU down gracefully (%s); it was killed",
                                       cause->message);
  g_error_free (cause);
  machine_kill_process (run, FALSE);
}

static gboolean
shutdown_timeout_cb (gpointer data)
{
  Run *run = data;
  /* What this triggers may end the run and drop its last reference. */
  g_autoptr(Run) hold = run_ref (run);

  g_clear_pointer (&run->shutdown_timeout, g_source_unref);
  shutdown_abnormal (run, g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                       "QEMU did not exit in time"));
  return G_SOURCE_REMOVE;
}

static void
quit_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(Run) run = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;

  ret = q_qmp_client_execute_finish (Q_QMP_CLIENT (object), result, &error);
  if (ret != NULL || run->finished)
    return;

  /* EOF before the reply: QEMU quit faster than it answered. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED) ||
      (run->exited && error->domain == G_IO_ERROR))
    return;

  shutdown_abnormal (run, g_error_new (error->domain, error->code,
                                       "quit failed: %s", error->message));
}

static gboolean
shutdown_start (gpointer data)
{
  ShutdownOp *op = data;
  Run *run = op->run;

  if (run->finished)
    {
      if (run->shutdown_error != NULL)
        g_task_return_error (op->task, g_error_copy (run->shutdown_error));
      else
        g_task_return_boolean (op->task, TRUE);
      return G_SOURCE_REMOVE;
    }

  if (run->finish_tasks == NULL)
    run->finish_tasks = g_ptr_array_new_with_free_func (g_object_unref);
  g_ptr_array_add (run->finish_tasks, g_steal_pointer (&op->task));

  /* An unread console must never keep QEMU from exiting: close it first,
   * unless it is drained (always read), in which case it keeps reading
   * to the end so the guest's last words are kept. */
  if (run->console != NULL && !run->console_drained)
    q_console_close (run->console);

  if (op->flags & Q_MACHINE_SHUTDOWN_FLAGS_HARD)
    {
      if (run->launch_task != NULL && run->launch_error == NULL)
        run->launch_error = g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                         "The machine was killed while launching");
      machine_kill_process (run, TRUE);
      return G_SOURCE_REMOVE;
    }

  if (op->timeout >= 0 && run->shutdown_timeout == NULL)
    run->shutdown_timeout = q_worker_timeout_source (op->timeout, shutdown_timeout_cb, run, NULL);

  if (run->exited)
    return G_SOURCE_REMOVE;

  if (op->quit_issued)
    return G_SOURCE_REMOVE;

  if (run->qmp != NULL && !run->qmp_closed)
    {
      if (!run->quit_sent)
        {
          run->quit_sent = TRUE;
          q_qmp_client_execute_async (run->qmp, "quit", NULL, Q_QMP_EXECUTE_FLAGS_NONE, NULL,
                                      NULL, quit_cb, run_ref (run));
        }
    }
  else if (!run->term_sent && run->subprocess != NULL)
    {
      run->term_sent = TRUE;
      g_subprocess_send_signal (run->subprocess, SIGTERM);
    }

  return G_SOURCE_REMOVE;
}

static void
shutdown_common (QMachine              *self,
                 QMachineShutdownFlags  flags,
                 int                    timeout_msec,
                 gboolean               is_wait,
                 gpointer               source_tag,
                 GCancellable          *cancellable,
                 GAsyncReadyCallback    callback,
                 gpointer               user_data)
{
  g_autoptr(GTask) task = NULL;
  ShutdownOp *op;
  gboolean changed = FALSE;
  Run *run = NULL;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);
  g_task_set_name (task, "[qmachine] shutdown");
  /* Once started, a shutdown runs to the end: it cleans up. */
  g_task_set_check_cancellable (task, FALSE);

  g_mutex_lock (&self->mutex);
  if (self->run != NULL)
    {
      if (self->state == Q_MACHINE_STATE_LAUNCHING && !(flags & Q_MACHINE_SHUTDOWN_FLAGS_HARD))
        {
          g_mutex_unlock (&self->mutex);
          g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PENDING,
                                   "The machine %s is still launching; cancel the launch "
                                   "or kill it", self->name);
          return;
        }
      run = run_ref (self->run);
      if (is_wait)
        self->quit_issued = TRUE;
      if (self->state == Q_MACHINE_STATE_RUNNING)
        changed = machine_set_state_locked (self, Q_MACHINE_STATE_SHUTTING_DOWN);
    }
  op = g_new0 (ShutdownOp, 1);
  op->quit_issued = self->quit_issued;
  g_mutex_unlock (&self->mutex);

  if (run == NULL)
    {
      /* Not launched, or already cleaned up after QEMU exited. */
      g_free (op);
      g_task_return_boolean (task, TRUE);
      return;
    }

  if (changed)
    machine_notify_later (self, properties [PROP_STATE]);

  op->run = run;
  op->task = g_steal_pointer (&task);
  op->flags = flags;
  op->timeout = timeout_msec;
  if ((flags & Q_MACHINE_SHUTDOWN_FLAGS_HARD) && run->launch_task == NULL)
    run->user_killed = TRUE;
  q_worker_schedule (shutdown_start, op, (GDestroyNotify)shutdown_op_free);
}

/**
 * q_machine_shutdown_async:
 * @self: a `QMachine`
 * @flags: %Q_MACHINE_SHUTDOWN_FLAGS_HARD to kill at once
 * @timeout_msec: how long to wait for QEMU to exit, or -1 for ever
 * @cancellable: (nullable): a `GCancellable` (a started shutdown is not
 *   undone; it is accepted for symmetry)
 * @callback: (scope async): called once QEMU is gone and cleaned up after
 * @user_data: closure data for @callback
 *
 * Ends QEMU and cleans up. Gracefully: closes the console unless it is
 * drained (a drained console is read to the end instead), sends `quit` over
 * QMP (SIGTERM without QMP; nothing if `quit` was already sent), and waits
 * up to @timeout_msec. An EOF before the `quit` reply counts as success. On
 * any failure QEMU is killed and the call fails with
 * `Q_MACHINE_ERROR_ABNORMAL_SHUTDOWN` naming the cause. With
 * %Q_MACHINE_SHUTDOWN_FLAGS_HARD, QEMU is killed at once, without a warning.
 *
 * Whatever happens, the machine is back in %Q_MACHINE_STATE_NOT_LAUNCHED
 * when the callback runs: QMP and sockets closed, temporary files removed,
 * the process reaped, its log read. Shutting down a machine that is not
 * launched succeeds at once.
 *
 * Since: 1.0
 */
void
q_machine_shutdown_async (QMachine              *self,
                          QMachineShutdownFlags  flags,
                          int                    timeout_msec,
                          GCancellable          *cancellable,
                          GAsyncReadyCallback    callback,
                          gpointer               user_data)
{
  g_return_if_fail (Q_IS_MACHINE (self));
  g_return_if_fail (timeout_msec >= -1);

  shutdown_common (self, flags, timeout_msec, FALSE, q_machine_shutdown_async,
                   cancellable, callback, user_data);
}

/**
 * q_machine_shutdown_finish:
 * @self: a `QMachine`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.Machine.shutdown_async].
 *
 * Returns: %TRUE on a graceful (or hard, when asked) shutdown
 *
 * Since: 1.0
 */
gboolean
q_machine_shutdown_finish (QMachine      *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * q_machine_shutdown:
 * @self: a `QMachine`
 * @flags: %Q_MACHINE_SHUTDOWN_FLAGS_HARD to kill at once
 * @timeout_msec: how long to wait for QEMU to exit, or -1 for ever
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.Machine.shutdown_async].
 *
 * Returns: %TRUE on a graceful (or hard, when asked) shutdown
 *
 * Since: 1.0
 */
gboolean
q_machine_shutdown (QMachine               *self,
                    QMachineShutdownFlags   flags,
                    int                     timeout_msec,
                    GCancellable           *cancellable,
                    GError                **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);

  q_sync_call_begin (&call);
  q_machine_shutdown_async (self, flags, timeout_msec, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);

  return q_machine_shutdown_finish (self, result, error);
}

/**
 * q_machine_kill_async:
 * @self: a `QMachine`
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called once QEMU is gone and cleaned up after
 * @user_data: closure data for @callback
 *
 * A hard shutdown: [method@QMachine.Machine.shutdown_async] with
 * %Q_MACHINE_SHUTDOWN_FLAGS_HARD. It also aborts a launch in progress.
 *
 * Since: 1.0
 */
void
q_machine_kill_async (QMachine            *self,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  g_return_if_fail (Q_IS_MACHINE (self));

  shutdown_common (self, Q_MACHINE_SHUTDOWN_FLAGS_HARD, -1, FALSE, q_machine_kill_async,
                   cancellable, callback, user_data);
}

/**
 * q_machine_kill_finish:
 * @self: a `QMachine`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.Machine.kill_async].
 *
 * Returns: %TRUE once QEMU is gone
 *
 * Since: 1.0
 */
gboolean
q_machine_kill_finish (QMachine      *self,
                       GAsyncResult  *result,
                       GError       **error)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * q_machine_kill:
 * @self: a `QMachine`
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.Machine.kill_async].
 *
 * Returns: %TRUE once QEMU is gone
 *
 * Since: 1.0
 */
gboolean
q_machine_kill (QMachine      *self,
                GCancellable  *cancellable,
                GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);

  q_sync_call_begin (&call);
  q_machine_kill_async (self, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);

  return q_machine_kill_finish (self, result, error);
}

/**
 * q_machine_wait_async:
 * @self: a `QMachine`
 * @timeout_msec: how long to wait, or -1 for ever
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called once QEMU is gone and cleaned up after
 * @user_data: closure data for @callback
 *
 * Waits for QEMU to exit by itself (the guest powered off, or `quit` was
 * sent earlier) without asking it to, then cleans up. If it does not exit
 * within @timeout_msec it is killed and the call fails with
 * `Q_MACHINE_ERROR_ABNORMAL_SHUTDOWN`.
 *
 * Since: 1.0
 */
void
q_machine_wait_async (QMachine            *self,
                      int                  timeout_msec,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  g_return_if_fail (Q_IS_MACHINE (self));
  g_return_if_fail (timeout_msec >= -1);

  shutdown_common (self, Q_MACHINE_SHUTDOWN_FLAGS_NONE, timeout_msec, TRUE, q_machine_wait_async,
                   cancellable, callback, user_data);
}

/**
 * q_machine_wait_finish:
 * @self: a `QMachine`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.Machine.wait_async].
 *
 * Returns: %TRUE when QEMU exited in time
 *
 * Since: 1.0
 */
gboolean
q_machine_wait_finish (QMachine      *self,
                       GAsyncResult  *result,
                       GError       **error)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * q_machine_wait:
 * @self: a `QMachine`
 * @timeout_msec: how long to wait, or -1 for ever
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.Machine.wait_async].
 *
 * Returns: %TRUE when QEMU exited in time
 *
 * Since: 1.0
 */
gboolean
q_machine_wait (QMachine      *self,
                int            timeout_msec,
                GCancellable  *cancellable,
                GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);

  q_sync_call_begin (&call);
  q_machine_wait_async (self, timeout_msec, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);

  return q_machine_wait_finish (self, result, error);
}

/* ------------------------------------------------------------------------ */
/* Commands                                                                 */

typedef struct
{
  GTask        *task;
  char         *command;
  GCancellable *cancellable;     /* ours: user's cancellation or the timeout */
  GCancellable *user_cancellable;
  gulong        user_cancel_id;
  GSource      *timeout;
  int           timeout_msec;
} CommandOp;

static void
command_op_free (CommandOp *op)
{
  if (op->user_cancel_id != 0)
    g_cancellable_disconnect (op->user_cancellable, op->user_cancel_id);
  g_clear_object (&op->user_cancellable);
  if (op->timeout != NULL)
    {
      g_source_destroy (op->timeout);
      g_source_unref (op->timeout);
    }
  g_clear_object (&op->cancellable);
  g_free (op->command);
  g_free (op);
}

/* Holds only the cancellable, so it is safe whenever it fires. */
static gboolean
command_timeout_cb (gpointer data)
{
  GCancellable *cancellable = data;

  g_object_set_data (G_OBJECT (cancellable), "q-timed-out", GINT_TO_POINTER (TRUE));
  g_cancellable_cancel (cancellable);
  return G_SOURCE_REMOVE;
}

static void
chain_cancel_cb (GCancellable *user,
                 GCancellable *ours)
{
  g_cancellable_cancel (ours);
}

/* Returns a new reference to the client of a running machine. */
static QQmpClient *
machine_dup_client (QMachine  *self,
                    GError   **error)
{
  QQmpClient *ret = NULL;

  g_mutex_lock (&self->mutex);
  if (self->run == NULL || self->state == Q_MACHINE_STATE_LAUNCHING ||
      self->state == Q_MACHINE_STATE_NOT_LAUNCHED)
    g_set_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_NOT_LAUNCHED,
                 "The machine %s is not launched", self->name);
  else if (self->run->qmp == NULL)
    g_set_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_NO_CONNECTION,
                 "The machine %s has no QMP monitor", self->name);
  else
    ret = g_object_ref (self->run->qmp);
  g_mutex_unlock (&self->mutex);

  return ret;
}

static void
machine_command_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CommandOp *op = g_task_get_task_data (task);
  QMachine *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;
  gpointer ret;
  gboolean raw = g_task_get_source_tag (task) == q_machine_qmp_async;
  gboolean ok;

  if (raw)
    ret = q_qmp_client_execute_raw_finish (Q_QMP_CLIENT (object), result, &error);
  else
    ret = q_qmp_client_execute_finish (Q_QMP_CLIENT (object), result, &error);

  if (ret == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
          g_object_get_data (G_OBJECT (op->cancellable), "q-timed-out") != NULL)
        g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                 "No reply to the QMP command %s within %d ms",
                                 op->command, op->timeout_msec);
      else
        g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* A successful quit is remembered, so shutdown does not send another. */
  ok = !raw || json_object_has_member (ret, "return");
  if (ok && g_strcmp0 (op->command, "quit") == 0)
    {
      g_mutex_lock (&self->mutex);
      self->quit_issued = TRUE;
      g_mutex_unlock (&self->mutex);
    }

  if (raw)
    {
      /* The id is the client's routing detail, not part of the answer. */
      json_object_remove_member (ret, "id");
      g_task_return_pointer (task, ret, (GDestroyNotify)json_object_unref);
    }
  else
    g_task_return_pointer (task, ret, (GDestroyNotify)json_node_unref);
}

static void
machine_command (QMachine            *self,
                 const char          *command,
                 JsonObject          *arguments,
                 GUnixFDList         *fds,
                 gpointer             source_tag,
                 GCancellable        *cancellable,
                 GAsyncReadyCallback  callback,
                 gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(QQmpClient) client = NULL;
  g_autoptr(GError) error = NULL;
  CommandOp *op;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);
  g_task_set_name (task, "[qmachine] qmp command");
  g_task_set_check_cancellable (task, FALSE);

  if (!(client = machine_dup_client (self, &error)))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  op = g_new0 (CommandOp, 1);
  op->command = g_strdup (command);
  op->cancellable = g_cancellable_new ();
  op->timeout_msec = self->qmp_timeout;
  g_task_set_task_data (task, op, (GDestroyNotify)command_op_free);
  if (cancellable != NULL)
    {
      op->user_cancellable = g_object_ref (cancellable);
      op->user_cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (chain_cancel_cb),
                                                  op->cancellable, NULL);
    }
  if (op->timeout_msec >= 0)
    op->timeout = q_worker_timeout_source (op->timeout_msec, command_timeout_cb,
                                           g_object_ref (op->cancellable), g_object_unref);

  if (source_tag == q_machine_qmp_async)
    q_qmp_client_execute_raw_async (client, command, arguments, Q_QMP_EXECUTE_FLAGS_NONE, fds,
                                    op->cancellable, machine_command_cb, g_steal_pointer (&task));
  else
    q_qmp_client_execute_async (client, command, arguments, Q_QMP_EXECUTE_FLAGS_NONE, fds,
                                op->cancellable, machine_command_cb, g_steal_pointer (&task));
}

/**
 * q_machine_qmp_async:
 * @self: a `QMachine`
 * @command: the QMP command
 * @arguments: (nullable): its arguments
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called with the response
 * @user_data: closure data for @callback
 *
 * Runs a QMP command and completes with the whole response: an error QEMU
 * returns is inside it (under `error`), not a `GError`. A `GError` means
 * the command could not be run: not launched (`Q_MACHINE_ERROR_NOT_LAUNCHED`),
 * no monitor (`Q_MACHINE_ERROR_NO_CONNECTION`), no reply within
 * [property@QMachine.Machine:qmp-timeout] (`G_IO_ERROR_TIMED_OUT`) or the
 * connection ended. A successful `quit` is remembered so that shutdown
 * does not send another.
 *
 * Since: 1.0
 */
void
q_machine_qmp_async (QMachine            *self,
                     const char          *command,
                     JsonObject          *arguments,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  g_return_if_fail (Q_IS_MACHINE (self));
  g_return_if_fail (command != NULL);

  machine_command (self, command, arguments, NULL, q_machine_qmp_async,
                   cancellable, callback, user_data);
}

/**
 * q_machine_qmp_finish:
 * @self: a `QMachine`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.Machine.qmp_async].
 *
 * Returns: (transfer full): the whole QMP response
 *
 * Since: 1.0
 */
JsonObject *
q_machine_qmp_finish (QMachine      *self,
                      GAsyncResult  *result,
                      GError       **error)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * q_machine_qmp:
 * @self: a `QMachine`
 * @command: the QMP command
 * @arguments: (nullable): its arguments
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.Machine.qmp_async].
 *
 * Returns: (transfer full): the whole QMP response
 *
 * Since: 1.0
 */
JsonObject *
q_machine_qmp (QMachine      *self,
               const char    *command,
               JsonObject    *arguments,
               GCancellable  *cancellable,
               GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);

  q_sync_call_begin (&call);
  q_machine_qmp_async (self, command, arguments, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);

  return q_machine_qmp_finish (self, result, error);
}

/**
 * q_machine_cmd_async:
 * @self: a `QMachine`
 * @command: the QMP command
 * @arguments: (nullable): its arguments
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called with the result
 * @user_data: closure data for @callback
 *
 * Runs a QMP command and completes with its `return` value; an error QEMU
 * returns is a `Q_QMP_ERROR` whose code is the QMP class and whose message
 * is QEMU's description. Other errors are those of
 * [method@QMachine.Machine.qmp_async].
 *
 * Since: 1.0
 */
void
q_machine_cmd_async (QMachine            *self,
                     const char          *command,
                     JsonObject          *arguments,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  g_return_if_fail (Q_IS_MACHINE (self));
  g_return_if_fail (command != NULL);

  machine_command (self, command, arguments, NULL, q_machine_cmd_async,
                   cancellable, callback, user_data);
}

/**
 * q_machine_cmd_finish:
 * @self: a `QMachine`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.Machine.cmd_async].
 *
 * Returns: (transfer full): the command's `return` value
 *
 * Since: 1.0
 */
JsonNode *
q_machine_cmd_finish (QMachine      *self,
                      GAsyncResult  *result,
                      GError       **error)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * q_machine_cmd:
 * @self: a `QMachine`
 * @command: the QMP command
 * @arguments: (nullable): its arguments
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.Machine.cmd_async].
 *
 * Returns: (transfer full): the command's `return` value
 *
 * Since: 1.0
 */
JsonNode *
q_machine_cmd (QMachine      *self,
               const char    *command,
               JsonObject    *arguments,
               GCancellable  *cancellable,
               GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);

  q_sync_call_begin (&call);
  q_machine_cmd_async (self, command, arguments, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);

  return q_machine_cmd_finish (self, result, error);
}

/**
 * q_machine_send_fd_async:
 * @self: a `QMachine`
 * @fdname: the name QEMU will know the descriptor by
 * @fd: a file descriptor (the caller keeps it; a duplicate is sent)
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when QEMU has taken it
 * @user_data: closure data for @callback
 *
 * Passes @fd to QEMU with `getfd`, over `SCM_RIGHTS` in the same message as
 * the command.
 *
 * Since: 1.0
 */
void
q_machine_send_fd_async (QMachine            *self,
                         const char          *fdname,
                         int                  fd,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_autoptr(GUnixFDList) fds = g_unix_fd_list_new ();
  g_autoptr(JsonObject) args = json_object_new ();
  g_autoptr(GError) error = NULL;

  g_return_if_fail (Q_IS_MACHINE (self));
  g_return_if_fail (fdname != NULL);

  if (g_unix_fd_list_append (fds, fd, &error) < 0)
    {
      g_task_report_new_error (self, callback, user_data, q_machine_send_fd_async,
                               error->domain, error->code,
                               "Cannot send descriptor %d: %s", fd, error->message);
      return;
    }

  json_object_set_string_member (args, "fdname", fdname);
  machine_command (self, "getfd", args, fds, q_machine_send_fd_async,
                   cancellable, callback, user_data);
}

/**
 * q_machine_send_fd_finish:
 * @self: a `QMachine`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.Machine.send_fd_async].
 *
 * Returns: %TRUE when QEMU took the descriptor
 *
 * Since: 1.0
 */
gboolean
q_machine_send_fd_finish (QMachine      *self,
                          GAsyncResult  *result,
                          GError       **error)
{
  g_autoptr(JsonNode) ret = NULL;

  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  ret = g_task_propagate_pointer (G_TASK (result), error);
  return ret != NULL;
}

/**
 * q_machine_send_fd:
 * @self: a `QMachine`
 * @fdname: the name QEMU will know the descriptor by
 * @fd: a file descriptor
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.Machine.send_fd_async].
 *
 * Returns: %TRUE when QEMU took the descriptor
 *
 * Since: 1.0
 */
gboolean
q_machine_send_fd (QMachine      *self,
                   const char    *fdname,
                   int            fd,
                   GCancellable  *cancellable,
                   GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);

  q_sync_call_begin (&call);
  q_machine_send_fd_async (self, fdname, fd, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);

  return q_machine_send_fd_finish (self, result, error);
}

/* ------------------------------------------------------------------------ */
/* Events                                                                   */

/**
 * q_machine_get_event:
 * @self: a `QMachine`
 *
 * Takes the oldest queued event.
 *
 * Returns: (transfer full) (nullable): the event, or %NULL when none is
 *   queued
 *
 * Since: 1.0
 */
JsonObject *
q_machine_get_event (QMachine *self)
{
  JsonObject *ret;

  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);

  g_mutex_lock (&self->mutex);
  ret = g_queue_pop_head (&self->events);
  g_mutex_unlock (&self->mutex);

  return ret;
}

/**
 * q_machine_get_events:
 * @self: a `QMachine`
 *
 * Takes all queued events, oldest first.
 *
 * Returns: (transfer container) (element-type Json.Object): the events
 *
 * Since: 1.0
 */
GPtrArray *
q_machine_get_events (QMachine *self)
{
  GPtrArray *ret;
  JsonObject *event;

  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);

  ret = g_ptr_array_new_with_free_func ((GDestroyNotify)json_object_unref);
  g_mutex_lock (&self->mutex);
  while ((event = g_queue_pop_head (&self->events)))
    g_ptr_array_add (ret, event);
  g_mutex_unlock (&self->mutex);

  return ret;
}

/* Holds the machine: a waiter's task does too, and the sources holding a
 * WaiterEnd go away with the waiter. */
typedef struct
{
  QMachine *machine;
  Waiter   *waiter;     /* compared only, under the mutex */
  GError   *error;
} WaiterEnd;

static void
waiter_end_free (WaiterEnd *end)
{
  g_object_unref (end->machine);
  g_clear_error (&end->error);
  g_free (end);
}

static WaiterEnd *
waiter_end_new (QMachine *self,
                Waiter   *w,
                GError   *error)
{
  WaiterEnd *end = g_new0 (WaiterEnd, 1);

  end->machine = g_object_ref (self);
  end->waiter = w;
  end->error = error;
  return end;
}

/* Ends a waiter with an error if it is still waiting. */
static gboolean
waiter_end_cb (gpointer data)
{
  WaiterEnd *end = data;
  QMachine *self = end->machine;
  GList *link = NULL;

  g_mutex_lock (&self->mutex);
  link = g_list_find (self->waiters, end->waiter);
  if (link != NULL)
    self->waiters = g_list_delete_link (self->waiters, link);
  g_mutex_unlock (&self->mutex);

  if (link != NULL)
    {
      /* The source firing is this very callback: don't destroy it twice. */
      if (end->waiter->timeout != NULL)
        {
          g_source_destroy (end->waiter->timeout);
          g_clear_pointer (&end->waiter->timeout, g_source_unref);
        }
      g_task_return_error (end->waiter->task, g_steal_pointer (&end->error));
      waiter_free (end->waiter);
    }

  return G_SOURCE_REMOVE;
}

static void
waiter_cancelled_cb (GCancellable *cancellable,
                     WaiterEnd    *end)
{
  WaiterEnd *copy;

  copy = waiter_end_new (end->machine, end->waiter,
                         g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, "The wait was cancelled"));
  q_worker_schedule (waiter_end_cb, copy, (GDestroyNotify)waiter_end_free);
}

static void
events_wait_common (QMachine            *self,
                    const char * const  *names,
                    JsonArray           *matches,
                    int                  timeout_msec,
                    gpointer             source_tag,
                    GCancellable        *cancellable,
                    GAsyncReadyCallback  callback,
                    gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *what = NULL;
  JsonObject *found = NULL;
  Waiter *w;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);
  g_task_set_name (task, "[qmachine] event wait");
  g_task_set_check_cancellable (task, FALSE);

  w = g_new0 (Waiter, 1);
  w->names = g_strdupv ((char **)names);
  w->matches = matches ? json_array_ref (matches) : NULL;
  what = g_str_equal (w->names[0], "*") && w->names[1] == NULL ? g_strdup ("any")
                                                              : g_strjoinv ("|", w->names);

  /* Looking in the queue and registering happen under one lock with the
   * reader's queueing, so no event can slip between the two. */
  g_mutex_lock (&self->mutex);
  for (GList *l = self->events.head; l; l = l->next)
    {
      if (waiter_matches (w, l->data))
        {
          found = l->data;
          g_queue_delete_link (&self->events, l);
          break;
        }
    }
  if (found == NULL && self->run != NULL && timeout_msec != 0 &&
      !(cancellable && g_cancellable_is_cancelled (cancellable)))
    {
      w->task = g_steal_pointer (&task);
      self->waiters = g_list_append (self->waiters, w);
      if (timeout_msec > 0)
        {
          WaiterEnd *end = waiter_end_new (self, w, g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                                                 "No %s event within %d ms",
                                                                 what, timeout_msec));
          w->timeout = q_worker_timeout_source (timeout_msec, waiter_end_cb, end,
                                                (GDestroyNotify)waiter_end_free);
        }
      if (cancellable != NULL)
        {
          WaiterEnd *end = waiter_end_new (self, w, NULL);
          gulong id = g_cancellable_connect (cancellable, G_CALLBACK (waiter_cancelled_cb), end,
                                             (GDestroyNotify)waiter_end_free);
          /* Disconnected when the task goes away. */
          g_object_set_data_full (G_OBJECT (w->task), "q-cancel",
                                  g_object_ref (cancellable), g_object_unref);
          g_object_set_data (G_OBJECT (w->task), "q-cancel-id", GSIZE_TO_POINTER (id));
        }
      g_mutex_unlock (&self->mutex);
      return;
    }
  g_mutex_unlock (&self->mutex);

  waiter_free (w);
  if (found != NULL)
    g_task_return_pointer (task, found, (GDestroyNotify)json_object_unref);
  else if (cancellable && g_cancellable_is_cancelled (cancellable))
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "The wait was cancelled");
  else if (timeout_msec == 0)
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                             "No %s event queued", what);
  else
    g_task_return_new_error (task, Q_MACHINE_ERROR, Q_MACHINE_ERROR_NOT_LAUNCHED,
                             "The machine %s is not launched and no %s event is queued",
                             self->name, what);
}

static JsonObject *
events_wait_finish (QMachine      *self,
                    GAsyncResult  *result,
                    GError       **error)
{
  GTask *task = G_TASK (result);
  GCancellable *cancellable = g_object_get_data (G_OBJECT (task), "q-cancel");

  if (cancellable != NULL)
    {
      gulong id = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (task), "q-cancel-id"));

      g_object_set_data (G_OBJECT (task), "q-cancel-id", NULL);
      if (id != 0)
        g_cancellable_disconnect (cancellable, id);
    }

  return g_task_propagate_pointer (task, error);
}

/**
 * q_machine_event_wait_async:
 * @self: a `QMachine`
 * @name: (nullable): the event name, such as `STOP`; %NULL or `*` for any
 *   event
 * @match: (nullable): a sub-dict the event must contain, see
 *   [func@QMachine.event_match]
 * @timeout_msec: how long to wait, 0 to look in the queue only, or -1
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called with the event
 * @user_data: closure data for @callback
 *
 * Waits for an event. The queue is searched first (oldest first) and a
 * matching event is taken out of it; otherwise the next matching event is
 * taken as it arrives, and events that do not match stay queued. A waiter
 * registered before a command is sent sees every event that command
 * causes. Times out with `G_IO_ERROR_TIMED_OUT`; fails with
 * `Q_MACHINE_ERROR_NOT_LAUNCHED` if QEMU exits first.
 *
 * Since: 1.0
 */
void
q_machine_event_wait_async (QMachine            *self,
                            const char          *name,
                            JsonNode            *match,
                            int                  timeout_msec,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  const char *names[] = { name ? name : "*", NULL };
  g_autoptr(JsonArray) matches = NULL;

  g_return_if_fail (Q_IS_MACHINE (self));
  g_return_if_fail (timeout_msec >= -1);

  if (match != NULL)
    {
      matches = json_array_new ();
      json_array_add_element (matches, json_node_copy (match));
    }

  events_wait_common (self, names, matches, timeout_msec, q_machine_event_wait_async,
                      cancellable, callback, user_data);
}

/**
 * q_machine_event_wait_finish:
 * @self: a `QMachine`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.Machine.event_wait_async].
 *
 * Returns: (transfer full): the event
 *
 * Since: 1.0
 */
JsonObject *
q_machine_event_wait_finish (QMachine      *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return events_wait_finish (self, result, error);
}

/**
 * q_machine_event_wait:
 * @self: a `QMachine`
 * @name: (nullable): the event name; %NULL or `*` for any event
 * @match: (nullable): a sub-dict the event must contain
 * @timeout_msec: how long to wait, 0 to look in the queue only, or -1
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.Machine.event_wait_async].
 *
 * Returns: (transfer full): the event
 *
 * Since: 1.0
 */
JsonObject *
q_machine_event_wait (QMachine      *self,
                      const char    *name,
                      JsonNode      *match,
                      int            timeout_msec,
                      GCancellable  *cancellable,
                      GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);

  q_sync_call_begin (&call);
  q_machine_event_wait_async (self, name, match, timeout_msec, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);

  return q_machine_event_wait_finish (self, result, error);
}

/**
 * q_machine_events_wait_async:
 * @self: a `QMachine`
 * @names: (array zero-terminated=1): event names (`*` for any event)
 * @matches: (nullable): for each name, a match object or JSON null (any);
 *   missing entries match any event of that name
 * @timeout_msec: how long to wait, 0 to look in the queue only, or -1
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called with the first event that qualifies
 * @user_data: closure data for @callback
 *
 * Like [method@QMachine.Machine.event_wait_async], for the first event that
 * matches any of several name/match pairs.
 *
 * Since: 1.0
 */
void
q_machine_events_wait_async (QMachine            *self,
                             const char * const  *names,
                             JsonArray           *matches,
                             int                  timeout_msec,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_return_if_fail (Q_IS_MACHINE (self));
  g_return_if_fail (names != NULL && names[0] != NULL);
  g_return_if_fail (timeout_msec >= -1);

  events_wait_common (self, names, matches, timeout_msec, q_machine_events_wait_async,
                      cancellable, callback, user_data);
}

/**
 * q_machine_events_wait_finish:
 * @self: a `QMachine`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.Machine.events_wait_async].
 *
 * Returns: (transfer full): the event
 *
 * Since: 1.0
 */
JsonObject *
q_machine_events_wait_finish (QMachine      *self,
                              GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return events_wait_finish (self, result, error);
}

/**
 * q_machine_events_wait:
 * @self: a `QMachine`
 * @names: (array zero-terminated=1): event names
 * @matches: (nullable): for each name, a match object or JSON null
 * @timeout_msec: how long to wait, 0 to look in the queue only, or -1
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.Machine.events_wait_async].
 *
 * Returns: (transfer full): the event
 *
 * Since: 1.0
 */
JsonObject *
q_machine_events_wait (QMachine            *self,
                       const char * const  *names,
                       JsonArray           *matches,
                       int                  timeout_msec,
                       GCancellable        *cancellable,
                       GError             **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);

  q_sync_call_begin (&call);
  q_machine_events_wait_async (self, names, matches, timeout_msec, cancellable,
                               q_sync_call_done, &call);
  result = q_sync_call_end (&call);

  return q_machine_events_wait_finish (self, result, error);
}

/**
 * q_event_match:
 * @event: (nullable): an event, or any part of one
 * @match: (nullable): the match criteria: a sub-dict
 *
 * Checks an event against match criteria with the semantics of
 * `QEMUMachine.event_match`: %NULL (or JSON null) matches anything; an
 * object matches when every one of its members is in @event and matches
 * recursively, a null member meaning "present, any value"; anything else
 * matches an equal value. So `{"foo": null}` matches `{"foo": {"bar": 1}}`,
 * `{"foo": {"abc": null}}` does not match `{"foo": {"bar": 1}}`, and
 * `{"foo": {"rab": 2}}` matches `{"foo": {"bar": 1, "rab": 2}}`. A null in
 * @match cannot require a null in @event.
 *
 * Returns: whether @event matches
 *
 * Since: 1.0
 */
gboolean
q_event_match (JsonNode *event,
               JsonNode *match)
{
  JsonObject *mobj;
  JsonObject *eobj;
  gboolean ret = TRUE;
  GList *members;

  if (match == NULL || JSON_NODE_HOLDS_NULL (match))
    return TRUE;
  if (event == NULL)
    return FALSE;

  if (!JSON_NODE_HOLDS_OBJECT (match))
    return json_node_equal (event, match);
  if (!JSON_NODE_HOLDS_OBJECT (event))
    return FALSE;

  mobj = json_node_get_object (match);
  eobj = json_node_get_object (event);
  members = json_object_get_members (mobj);
  for (GList *l = members; l && ret; l = l->next)
    {
      const char *key = l->data;

      if (!json_object_has_member (eobj, key))
        ret = FALSE;
      else
        ret = q_event_match (json_object_get_member (eobj, key),
                             json_object_get_member (mobj, key));
    }
  g_list_free (members);

  return ret;
}
