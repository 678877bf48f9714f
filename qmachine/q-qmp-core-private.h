/* q-qmp-core-private.h: the protocol engine behind QQmpClient and
 * QGuestAgent, and its dialects
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A Core is the worker-side half of a QQmpClient or a QGuestAgent: the
 * stream, the framer, the commands in flight, their deadlines, and the
 * emissions waiting for the owner's context. It is refcounted; the object
 * holds one reference and every worker operation (a read, a write, a
 * request, a timer) holds its own. The object is reached only through the
 * box, from the dispatcher (docs/internals.md).
 *
 * The engine (q-qmp-core.c and the files below it) knows no dialect: what
 * differs between QMP and the guest agent it asks of the CoreDialect the
 * core was made with. The dialects' files sit above the engine and call
 * it; the engine calls them only through that table.
 */

#pragma once

#include <gio/gio.h>
#include <gio/gunixfdlist.h>

#include "q-qmp-client-private.h"
#include "q-qmp-framer-private.h"
#include "q-worker-private.h"

G_BEGIN_DECLS

#define MAX_QUEUED_EMISSIONS 10000
#define READ_CHUNK 65536
#define Q_AGENT_MAX_MESSAGE_SIZE (48 * 1024 * 1024)
#define MAX_INBAND_IN_FLIGHT_OOB 7   /* QEMU stops reading at 8 queued: OOB must get through */
/* What a queued event is charged against the byte budgets
 * (max-queued-event-bytes, a machine's event-queue-bytes) for each JSON
 * value it holds, besides its bytes as received: about what json-glib's
 * tree costs per value (docs/security.md). Without it a message dense in
 * values ([{},{},…]) would hold a hundred times its size. */
#define EVENT_NODE_COST 192

typedef struct
{
  char        *id;
  char        *command;
  GBytes      *bytes;        /* the serialized command, ended by a line feed */
  GUnixFDList *fds;          /* nullable */
  GTask       *task;         /* NULL once cancelled or timed out: the slot then
                              * only waits for the late reply */
  gint64       deadline;     /* monotonic µs, 0 = none */
  int          timeout_msec;
  gboolean     raw;
  gboolean     oob;
  gboolean     sent;
  gboolean     own;          /* the dialect's own command (the agent's
                              * guest-sync-delimited): no task, yet its
                              * deadline counts */
  gboolean     no_reply;     /* no reply on success: done when the peer goes
                              * (the agent's guest-shutdown, guest-suspend-*) */
  gboolean     barrier;      /* no bytes: the dialect decides when it is done
                              * (the agent's sync: once in step) */
  /* Guest agent dialect only. */
  gint64       sync_value;   /* the random id its own sync carries */
  /* Written by the caller's thread (q-qmp-core-direct.c). */
  gsize        direct_written; /* bytes of it the caller wrote (all, but for a short write) */
} Pending;

typedef enum
{
  EMIT_EVENT,
  EMIT_CLOSED,
  EMIT_AGENT_STATE,
} EmitKind;

typedef struct
{
  EmitKind    kind;
  char       *name;
  JsonObject *object;
  GError     *error;
  gboolean    up;            /* EMIT_AGENT_STATE */
  gsize       cost;          /* EMIT_EVENT: charged against max_queued_event_bytes */
} Emission;

/* What the machine tells a guest agent's core (worker thread). */
typedef enum
{
  AGENT_NOTICE_GUEST_RESET,      /* RESET or SHUTDOWN: the agent is gone */
  AGENT_NOTICE_GUEST_SUSPENDED,  /* SUSPEND, SUSPEND_DISK */
  AGENT_NOTICE_PORT_OPENED,      /* VSERPORT_CHANGE open: true */
  AGENT_NOTICE_PORT_CLOSED,      /* VSERPORT_CHANGE open: false */
} AgentNotice;

typedef struct _Core Core;

/* What differs between the dialects a core speaks: given at core_new,
 * static, never changed. Hooks run on the worker unless said otherwise;
 * optional ones may be NULL. */
typedef struct
{
  /* Words for errors and the log. */
  const char *no_stream;       /* the error of an object made without a stream */
  const char *channel;         /* "… closed: REASON" in the debug log */
  const char *was_closed;      /* what waiting commands fail with on a close of ours */
  const char *is_closed;       /* what a new call fails with ("…: REASON") */
  const char *read_failed;     /* "…: REASON" */
  const char *write_failed;    /* "…: REASON" */
  const char *peer_closed;     /* end of file */
  const char *command;         /* "… NAME was cancelled" */
  const char *task_name;
  const char *raw_task_name;   /* execute-raw */

  /* Optional. In core_new, before any other thread sees the core: the
   * dialect's limits and the framer's mode. */
  void      (*setup)          (Core               *core);
  /* Optional. A caller's command has reached the worker and goes into
   * outq next (not for commands callers wrote themselves). */
  void      (*queue)          (Core               *core,
                               Pending            *p);
  /* The write policy: takes the next command that may go from outq and
   * writes it with core_write_pending, or closes when `closing` and
   * nothing more will go. Returns TRUE when one was written at once and
   * the next may follow. Called while nothing is being written. */
  gboolean  (*write_one)      (Core               *core);
  /* Routing: a message from the peer. @message (and @info) is NULL for a
   * line the framer dropped (the framer's agent mode). */
  void      (*handle_message) (Core               *core,
                               JsonObject         *message,
                               const QQmpJsonInfo *info);
  /* The error of a command whose deadline passed. */
  GError   *(*timeout_error)  (Core               *core,
                               Pending            *p);
  /* Optional. A written command timed out or was cancelled (its task,
   * if it had one, returned): the dialect forgets it
   * (core_forget_sent). NULL: its slot stays until its late reply comes
   * and is dropped, as in-order replies need. */
  void      (*abandon)        (Core               *core,
                               Pending            *p);
  /* Optional. The core closes, after its commands failed with @error:
   * what else of the dialect's waits fails too. */
  void      (*close)          (Core               *core,
                               const GError       *error);
  /* Optional. The last reference went (any thread): the dialect's state. */
  void      (*finalize)       (Core               *core);
} CoreDialect;

struct _Core
{
  gatomicrefcount  ref_count;

  /* Set at creation (or, for the dispatcher, on the worker before the
   * first read); read-only afterwards. */
  QDispatcher     *dispatcher;
  GIOStream       *stream;           /* NULL for a client made without one */
  GInputStream    *input;
  GOutputStream   *output;
  GSocket         *socket;           /* nullable: only for GSocketConnection */
  gboolean         socket_streams;    /* the streams are the socket's own (not, say, TLS
                                       * over it): it may be polled and written directly */
  GCancellable    *io_cancellable;
  const CoreDialect *dialect;

  /* Worker thread only. */
  QQmpFramer       framer;
  guint8          *readbuf;
  GSource         *read_source;       /* pollable streams: reads for the connection's life */
  guint            ops_pending;       /* reads and writes in flight */
  gboolean         stream_closed;
  GHashTable      *pending;           /* id -> Pending */
  GQueue           outq;              /* Pending not yet written */
  GQueue           sent;              /* Pending written, awaiting reply (oldest first) */
  gboolean         writing;
  guint            fd_in_flight;      /* sent fd-bearing commands awaiting reply */
  guint            inband_in_flight;
  GSource         *deadline_source;   /* fires at the earliest command deadline */
  gint64           deadline_armed;
  GPtrArray       *close_tasks;       /* close_async waiting for the out queue to drain */
  gboolean         closing;
  gboolean         direct_allowed;    /* set by the dialect: callers may write its plain
                                       * commands themselves (q-qmp-core-direct.c) */
  QQmpEventHook    event_hook;        /* set and called on the worker only */
  QQmpClosedHook   closed_hook;
  gpointer         hook_data;
  GDestroyNotify   hook_destroy;

  /* The dialects' own state (worker thread): the engine does not touch
   * it. QMP (q-qmp-core-qmp.c): */
  gboolean         oob_enabled;
  GTask           *negotiate_task;    /* waiting for the greeting */
  QQmpNegotiateFlags negotiate_flags;
  gboolean         negotiated;
  /* The guest agent (q-qmp-core-agent.c): */
  gboolean         agent_synced;      /* the stream is known to be in step */
  gboolean         agent_up;          /* it answered last (or its port opened) */
  guint            agent_sync_attempts;

  /* Atomic: ids are made on any thread. */
  int              id_counter;

  /* Protected by wire_mutex: a command's bytes may be written by the
   * caller's thread, straight into the socket, when nothing else can be
   * ahead of them (q-qmp-core-direct.c). The wire mutex is taken alone,
   * and held only for one non-blocking send and the queue operations
   * around it. */
  GMutex           wire_mutex;
  gboolean         wire_idle;         /* set by the worker: nothing of its own to write */
  gboolean         direct_short;      /* a caller's short write waits for the worker */
  guint            executes_posted;   /* execute requests on their way to the worker */
  GQueue           direct_sent;       /* Pending written by callers, not yet adopted */
  gint64           deadline_hint;     /* the armed deadline timer's time, 0 = none */

  /* Protected by mutex: read from any thread. Lock order: the core mutex
   * is taken alone (nothing else is locked while holding it). */
  GMutex           mutex;
  JsonObject      *greeting;          /* QMP's, set by its dialect */
  char            *log_name;          /* nullable: the debug log's name for the connection */
  gboolean         closed;
  GError          *closed_error;
  guint64          max_message_size;
  guint            max_message_nodes;
  GQueue           emissions;
  guint            queued_events;
  guint64          queued_event_bytes;  /* the events' costs (Emission.cost) */
  guint            max_queued_events;
  guint64          max_queued_event_bytes;
  guint            dropped_events;      /* queue overflow and unreadable events */
};

/* A request posted from any thread to the worker. */
typedef struct
{
  Core    *core;
  Pending *pending;    /* execute */
  GTask   *task;       /* negotiate, close */
  GError  *error;      /* fail */
  char    *id;         /* cancel */
  gpointer task_key;   /* negotiate cancel: compared, never dereferenced */
} Request;

/* The engine (q-qmp-core.c). */
Core     *core_new                 (GIOStream         *stream,
                                    GMainContext      *owner_context,
                                    QBox              *box,
                                    QDispatchFunc      dispatch,
                                    const CoreDialect *dialect);
Core     *core_ref                 (Core         *core);
void      core_unref               (Core         *core);
GError   *core_closed_error        (Core         *core);
void      core_take_emissions      (Core         *core,
                                    GQueue       *out,
                                    guint        *dropped);
void      core_set_owner_context   (Core         *core,
                                    GMainContext *context,
                                    QBox         *box,
                                    QDispatchFunc dispatch);
void      core_dispose             (Core         *core);

Request  *request_new              (Core         *core);
void      request_free             (Request      *r);
gboolean  core_do_execute          (gpointer      data);
gboolean  core_do_adopt            (gpointer      data);
gboolean  core_do_close            (gpointer      data);
gboolean  core_do_fail             (gpointer      data);
void      core_execute_cancelled_cb (GCancellable *cancellable,
                                     gpointer      data);

/* The engine, for its dialects (worker thread). */
void      core_close               (Core         *core,
                                    const GError *error);
void      core_write_next          (Core         *core);
gboolean  core_write_pending       (Core         *core,
                                    Pending      *p);
void      core_arm_deadline        (Core         *core);
void      core_finish_sent         (Core         *core,
                                    Pending      *p,
                                    JsonObject   *response);
void      core_forget_sent         (Core         *core,
                                    Pending      *p);
void      core_queue_emission      (Core         *core,
                                    Emission     *e);
void      core_adopt_direct        (Core         *core);

/* Direct writes: the wire lock's side (q-qmp-core-direct.c, below the
 * engine). */
gboolean  core_write_direct        (Core         *core,
                                    Pending      *p,
                                    gboolean     *post_adopt);
void      core_update_wire         (Core         *core);
void      core_direct_arrived      (Core         *core);
void      core_direct_take         (Core         *core,
                                    GQueue       *out);

/* Messages, records, tasks, the traffic log (q-qmp-core-message.c, the
 * bottom): any thread unless said. */
gboolean  traffic_logged           (void);
void      log_traffic              (Core         *core,
                                    gboolean      sent,
                                    JsonObject   *message);
void      take_task_return_error   (GTask       **slot,
                                    GError       *error);
void      take_task_return_boolean (GTask       **slot,
                                    gboolean      value);
void      take_task_return_pointer (GTask       **slot,
                                    gpointer      value,
                                    GDestroyNotify destroy);
#define take_task_return_new_error(slot, domain, code, ...) \
  take_task_return_error ((slot), g_error_new ((domain), (code), __VA_ARGS__))
char     *core_next_id             (Core         *core);
Pending  *pending_new              (Core         *core,
                                    const char   *command,
                                    JsonObject   *arguments,
                                    gboolean      oob);
void      pending_free             (Pending      *p);
void      emission_free            (Emission     *e);
GBytes   *serialize_command        (const char   *command,
                                    JsonObject   *arguments,
                                    gboolean      oob,
                                    const char   *id);

/* Starts a command (any thread; q-qmp-core-execute.c, above the engine):
 * what QQmpClient and QGuestAgent share. @source_object becomes the
 * task's source. */
void      core_execute_async       (Core               *core,
                                    gpointer            source_object,
                                    const char         *command,
                                    JsonObject         *arguments,
                                    gboolean            oob,
                                    GUnixFDList        *fds,
                                    int                 timeout_msec,
                                    gboolean            raw,
                                    gboolean            barrier,
                                    gpointer            source_tag,
                                    GCancellable       *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer            user_data);
/* Starts a command that is one text line (any thread;
 * q-qmp-core-execute.c): @line, ended by a line feed, is written as it is;
 * @name (short: the verb and its first arguments) stands for it in errors
 * and the log. @task_data (owned) goes on the task before anything can
 * complete it. */
void      core_execute_line_async  (Core               *core,
                                    gpointer            source_object,
                                    const char         *name,
                                    GBytes             *line,
                                    int                 timeout_msec,
                                    gpointer            task_data,
                                    GDestroyNotify      task_data_destroy,
                                    gpointer            source_tag,
                                    GCancellable       *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer            user_data);
void      core_link_cancellable    (GTask        *task,
                                    GCancellable *cancellable,
                                    Request      *request,
                                    GCallback     callback);

/* QMP's dialect (q-qmp-core-qmp.c). */
extern const CoreDialect core_qmp_dialect;
gboolean  core_do_negotiate        (gpointer      data);
gboolean  core_do_negotiate_cancel (gpointer      data);

/* The guest agent's dialect (q-qmp-core-agent.c). */
extern const CoreDialect core_agent_dialect;
void      core_agent_notice        (Core         *core,
                                    AgentNotice   notice);

/* qtest's dialect (q-qmp-core-qtest.c): text lines, replies by order,
 * `IRQ raise|lower N` lines as EMIT_EVENT emissions named "IRQ" whose
 * object holds "line" (int) and "level" (boolean). A command's task
 * returns the text after `OK` (a string) or a Q_QTEST_ERROR. */
extern const CoreDialect core_qtest_dialect;
#define Q_QTEST_IRQ_EMISSION_COST 64

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Core, core_unref)

G_END_DECLS
