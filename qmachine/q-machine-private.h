/* q-machine-private.h: what the files of QMachine share
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * QMachine is one object in five files, one concept each:
 *
 *   q-machine.c           the GObject: properties, configuration, state
 *   q-machine-launch.c    command line, files, sockets, spawn, QMP connect
 *   q-machine-run.c       the Run record: child watch, drain, end of a run,
 *                         shutdown, kill, wait
 *   q-machine-commands.c  QMP commands and fd passing
 *   q-machine-events.c    the event queue, waits and the event signal
 *
 * The ownership and threading rule they all keep is in docs/internals.md;
 * each field below says which thread or lock owns it.
 */

#pragma once

#include "q-console-private.h"
#include "q-guest-agent-private.h"
#include "q-machine.h"
#include "q-qmp-client-private.h"
#include "q-qtest-client-private.h"
#include "q-worker-private.h"

G_BEGIN_DECLS

/* The guest agent's chardev and port (VSERPORT_CHANGE names the port). */
#define Q_AGENT_DEVICE_ID "qmachine-ga"
/* The qtest channel's chardev: QEMU 7.2's -qtest chardev:ID works for
 * this id only. */
#define Q_QTEST_DEVICE_ID "qtest"

typedef struct
{
  int fd;                 /* our dup, handed to QEMU at the number target */
  int target;
} ExtraFd;

/* Where a run is. Moves forward only, on the worker. */
typedef enum
{
  RUN_PREPARED,           /* files and sockets made, not spawned yet */
  RUN_STARTED,            /* QEMU spawned (or the spawn failed) */
  RUN_EXITED,             /* QEMU reaped; the monitor is read up to EOF */
  RUN_FINISHED,           /* cleaned up, every task completed */
} RunState;

/* What was done to end QEMU: decides which exit is worth a warning. */
typedef enum
{
  RUN_SENT_QUIT      = 1 << 0,
  RUN_SENT_TERM      = 1 << 1,
  RUN_SENT_KILL      = 1 << 2,
  RUN_KILLED_BY_USER = 1 << 3,   /* kill asked for: SIGKILL is no news */
} RunSent;

/* One launch: everything that exists while a QEMU process does.
 *
 * Owned by references: the machine holds one while the run is current
 * (self->run), and every worker source, callback or handler that uses the
 * run holds one, released by its destroy notify. The machine is reached
 * only through box. Fields set before the run is scheduled are read-only
 * afterwards; the rest belong to the worker thread, except those marked
 * "machine mutex" (read by the machine's public getters). */
typedef struct _Run Run;
struct _Run
{
  gatomicrefcount  ref_count;
  QBox            *box;              /* reaches the machine */
  GMainContext    *owner_context;    /* the machine's: where the run's messages are logged */

  /* Made by the owner thread before the run is scheduled. */
  char           **argv;
  char            *command_line;     /* shell-quoted argv, for errors and logs */
  char            *log_path;         /* NULL: the log is an unnamed file */
  int              log_fd;           /* handed to QEMU as stdout and stderr */
  int              log_read_fd;      /* ours, to read the log back at the end */
  GSocket         *monitor_ours;     /* socketpair end or accepted socket */
  GSocket         *listener;
  int              monitor_theirs;
  int              monitor_target;
  int              console_ours;
  int              console_theirs;
  QConsole        *console;
  gboolean         console_drained;
  int              console_log_fd;
  int              console_target;
  int              agent_theirs;
  int              agent_target;
  QGuestAgent     *agent;
  int              qtest_theirs;
  int              qtest_target;
  gboolean         qtest_accel;      /* the binary has -accel qtest */
  QQtestClient    *qtest;
  GArray          *extra_fds;        /* ExtraFd */
  char            *unix_path;        /* socket file to remove */
  char            *temp_dir;         /* to remove (owned by the run once launched) */
  gboolean         qmp_enabled;
  int              qmp_timeout;
  char           **environ;          /* NULL: inherited */

  /* Worker thread. */
  RunState         state;
  RunSent          sent;
  gboolean         qmp_closed;
  gboolean         cleaned;
  GSubprocess     *subprocess;
  int              pid;
  int              exit_code;
  QQmpClient      *qmp;              /* set on the worker under the machine mutex */
  GTask           *launch_task;
  GError          *launch_error;     /* why launch failed, before the process was reaped */
  GCancellable    *launch_cancellable;
  GCancellable    *launch_user_cancellable;
  gulong           launch_cancel_id;
  GSource         *launch_timeout;
  GPtrArray       *finish_tasks;     /* shutdown/wait tasks waiting for the end */
  GSource         *drain_timeout;
  GSource         *shutdown_timeout;
  GError          *shutdown_error;   /* why a graceful shutdown failed */
};

struct _QMachine
{
  GObject          parent_instance;

  /* Set at init, read-only afterwards. */
  GMainContext    *owner_context;
  QBox            *box;
  QDispatcher     *dispatcher;

  /* Configuration: the owner's thread, before launch. */
  char            *binary;
  GPtrArray       *args;             /* NULL-terminated */
  char           **wrapper;
  char           **environ;          /* NULL: the controller's own */
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
  guint64          event_queue_bytes;
  gboolean         drain_console;
  char            *console_log;
  guint            console_buffer_size;
  gboolean         agent_set;
  QGuestAgentPort  agent_port;
  gboolean         qtest_set;
  gboolean         qtest_log;        /* qtest's log to QEMU's log */

  /* Runtime state: the machine mutex (never held while calling out). */
  GMutex           mutex;
  QMachineState    state;
  Run             *run;
  QConsole        *console;          /* of the current or last run */
  QGuestAgent     *agent;            /* of the current or last run */
  QQtestClient    *qtest;            /* of the current or last run */
  QQmpClient      *qmp_client;       /* of the current or last run */
  char           **full_args;
  GPtrArray       *old_full_args;    /* returned earlier: valid until finalize */
  char            *temp_dir;
  char            *iolog;
  gboolean         have_exit_code;
  int              exit_code;
  int              pid;
  gboolean         quit_issued;
  gboolean         preparing;        /* a launch is making its run unlocked */
  gboolean         paused;           /* the guest's CPUs are stopped (STOP/RESUME) */
  GQueue           events;           /* QueuedEvent, oldest first */
  guint64          queued_event_bytes; /* their costs */
  guint            dropped_events;
  guint            dropped_signals;  /* ::event emissions lost by past runs' clients */
  GList           *waiters;          /* Waiter, in registration order */
  guint            pending_notify;   /* 1 << PROP_*, waiting for the dispatcher */
  GArray          *pending_exits;    /* int exit codes waiting for ::exited */
};

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
  PROP_EVENT_QUEUE_BYTES,
  PROP_DRAIN_CONSOLE,
  PROP_CONSOLE_LOG,
  PROP_CONSOLE_BUFFER_SIZE,
  PROP_STATE,
  PROP_PID,
  PROP_RUNNING,
  PROP_EXIT_STATUS,
  PROP_PAUSED,
  N_PROPS
};

enum {
  SIGNAL_EVENT,
  SIGNAL_EXITED,
  N_SIGNALS
};

extern guint q_machine_signals [N_SIGNALS];
extern GParamSpec *machine_properties [N_PROPS];   /* filled by class_init */

/* q-machine-state.c */
void      machine_dispatch            (gpointer        object);
void      machine_append_arg          (QMachine       *self,
                                       const char     *arg);

#define DRAIN_TIMEOUT_MSEC 2000
#define LAUNCH_GRACE_MSEC 1000
/* ::exited emissions kept for a context that does not dispatch them. */
#define MAX_PENDING_EXITS 16

/* q-machine.c */
void      machine_notify_later        (QMachine      *self,
                                       guint          prop_id);
void      machine_exited_later        (QMachine      *self,
                                       int            exit_code);
void      machine_notify_with_event   (QMachine      *self,
                                       guint          prop_id);
void      machine_deliver_pending     (QMachine      *self);
gboolean  machine_set_state_locked    (QMachine      *self,
                                       QMachineState  state);
gboolean  machine_set_str             (char         **ptr,
                                       const char    *value);
void      machine_notify_now          (QMachine      *self,
                                       guint          prop_id);
void      machine_set_state           (QMachine      *self,
                                       QMachineState  state);

/* q-machine-run.c */
Run      *run_new                     (QMachine      *self);
Run      *run_ref                     (Run           *run);
void      run_unref                   (Run           *run);
void      run_track                   (Run           *run,
                                       gboolean       live);
void      run_finish                  (Run           *run);
void      run_finish_maybe            (Run           *run);
void      run_child_exited_cb         (GObject       *object,
                                       GAsyncResult  *result,
                                       gpointer       user_data);
void      run_kill_process            (Run           *run,
                                       gboolean       user);
void      run_qmp_closed_hook         (const GError  *error,
                                       gpointer       user_data);
void      run_disconnect_launch_cancel (Run          *run);
gboolean  run_abandon                 (gpointer       data);
gboolean  run_has_exited              (Run           *run);
void      run_timeout                 (Run           *run,
                                       GSource      **slot,
                                       int            timeout_msec,
                                       GSourceFunc    func);
void      run_launch_fail             (Run           *run,
                                       GError        *error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Run, run_unref)

/* q-machine-launch.c */
const char *machine_ensure_temp_dir_locked (QMachine  *self,
                                            GError   **error);

/* q-machine-events.c */

/* An event in the machine's queue, with what it counts for against
 * event-queue-bytes (QQmpEventHook's cost). */
typedef struct
{
  JsonObject *event;
  gsize       cost;
} QueuedEvent;

void      queued_event_free           (QueuedEvent   *qe);
void      machine_clear_events_locked (QMachine      *self);
void      machine_event_hook          (JsonObject    *event,
                                       gsize          cost,
                                       gpointer       user_data);
void      machine_qmp_event_cb        (QQmpClient    *client,
                                       const char    *name,
                                       JsonObject    *event,
                                       QBox          *box);
void      machine_fail_waiters        (QMachine      *self,
                                       const char    *why);

/* Small helpers shared by the files above. */
void      q_close_fd                  (int           *fd);
/* q-machine-spawn.c */
/* A spawn handed to the spawner thread and back. It holds the run (and
 * so the box, not the machine) for the few milliseconds of the spawn, as the synchronous spawn it
 * replaces did. Through the spawn helper, @argv is the helper's command
 * line and @report_fd the read end of the pipe down which a failed exec
 * of QEMU says why (q-spawn-helper.c). */
typedef struct
{
  Run                 *run;         /* reaches the machine through its box */
  GSubprocessLauncher *launcher;
  char               **argv;
  char                *program;     /* for messages: QEMU or the wrapper */
  char                *helper;      /* spawned through it, or NULL */
  int                  probe_floor; /* spawn_fds_free's, before the spawn */
  int                  probe_count;
  int                  report_fd;
  GSubprocess         *subprocess;
  GError              *error;       /* set before the spawn: none is made */
  GSourceFunc          done;        /* on the worker, with the job */
} SpawnJob;


void      machine_spawn               (Run           *run,
                                       GSourceFunc    done);
void      spawn_job_free              (SpawnJob      *job);
void      machine_spawn_counts        (guint         *through_helper,
                                       guint         *by_fork);

G_END_DECLS
