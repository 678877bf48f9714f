/* q-qmp-core-private.h: the QMP protocol engine behind QQmpClient
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A Core is the worker-side half of a QQmpClient: the stream, the framer,
 * the commands in flight, their deadlines, and the emissions waiting for
 * the owner's context. It is refcounted; the client holds one reference
 * and every worker operation (a read, a write, a request, a timer) holds
 * its own. The client is reached only through the box, from the
 * dispatcher (docs/internals.md).
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
  /* Guest agent dialect only. */
  gboolean     sync;         /* guest-sync-delimited of the core's own */
  gint64       sync_value;   /* the random id it carries */
  gboolean     barrier;      /* a user's sync: no bytes, done once in step */
  gboolean     no_reply;     /* guest-shutdown, guest-suspend-*: no reply on success */
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
  gboolean         agent;            /* the guest agent's dialect (QGuestAgent) */

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
  gboolean         oob_enabled;
  GSource         *deadline_source;   /* fires at the earliest command deadline */
  gint64           deadline_armed;
  GTask           *negotiate_task;    /* waiting for the greeting */
  QQmpNegotiateFlags negotiate_flags;
  gboolean         negotiated;
  GPtrArray       *close_tasks;       /* close_async waiting for the out queue to drain */
  gboolean         closing;
  QQmpEventHook    event_hook;        /* set and called on the worker only */
  QQmpClosedHook   closed_hook;
  gpointer         hook_data;
  GDestroyNotify   hook_destroy;
  gboolean         agent_synced;      /* agent: the stream is known to be in step */
  gboolean         agent_up;          /* agent: it answered last (or its port opened) */
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
  JsonObject      *greeting;
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

Core     *core_new                 (GIOStream    *stream,
                                    GMainContext *owner_context,
                                    QBox         *box,
                                    QDispatchFunc dispatch,
                                    gboolean      agent);
Core     *core_ref                 (Core         *core);
void      core_unref               (Core         *core);
char     *core_next_id             (Core         *core);
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
gboolean  core_do_negotiate        (gpointer      data);
gboolean  core_do_negotiate_cancel (gpointer      data);
gboolean  core_do_close            (gpointer      data);
gboolean  core_do_fail             (gpointer      data);
void      core_execute_cancelled_cb (GCancellable *cancellable,
                                     gpointer      data);
void      core_link_cancellable    (GTask        *task,
                                    GCancellable *cancellable,
                                    Request      *request,
                                    GCallback     callback);
void      core_agent_notice        (Core         *core,
                                    AgentNotice   notice);

/* Worker thread: shared by q-qmp-core.c and q-qmp-core-agent.c. */
gboolean  traffic_logged           (void);
void      log_traffic              (Core         *core,
                                    gboolean      sent,
                                    JsonObject   *message);
void      take_task_return_error   (GTask       **slot,
                                    GError       *error);
void      take_task_return_pointer (GTask       **slot,
                                    gpointer      value,
                                    GDestroyNotify destroy);
#define take_task_return_new_error(slot, domain, code, ...) \
  take_task_return_error ((slot), g_error_new ((domain), (code), __VA_ARGS__))
void      core_close               (Core         *core,
                                    const GError *error);
void      core_write_next          (Core         *core);
gboolean  core_write_now           (Core         *core,
                                    GBytes       *bytes);
void      core_arm_deadline        (Core         *core);
void      core_finish_sent         (Core         *core,
                                    Pending      *p,
                                    JsonObject   *response);
void      core_queue_emission      (Core         *core,
                                    Emission     *e);
GBytes   *serialize_command        (const char   *command,
                                    JsonObject   *arguments,
                                    gboolean      oob,
                                    const char   *id);

/* The guest agent's dialect (q-qmp-core-agent.c), worker thread. */
gboolean  core_agent_write_one     (Core         *core);
void      core_agent_handle_message (Core        *core,
                                     JsonObject  *message,
                                     const GError *number_error);
void      core_agent_abandon       (Core         *core,
                                    Pending      *p);

/* Negotiation (q-qmp-core-negotiate.c), worker thread. */
void      core_greeting_arrived    (Core         *core);

/* Direct writes (q-qmp-core-direct.c). */
void      core_submit              (Core         *core,
                                    Pending      *p);
void      core_execute_arrived     (Core         *core);
void      core_adopt_direct        (Core         *core);
void      core_update_wire         (Core         *core);
gboolean  core_do_adopt            (gpointer      data);
void      core_write_rest          (Core         *core,
                                    GBytes       *bytes,
                                    gsize         offset);
void      core_fail_sent           (Core         *core,
                                    const GError *error);

/* Starts a command (any thread); what QQmpClient and QGuestAgent share.
 * @source_object becomes the task's source. */
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

Pending  *pending_new              (Core         *core,
                                    const char   *command,
                                    JsonObject   *arguments,
                                    gboolean      oob);
void      pending_free             (Pending      *p);
void      emission_free            (Emission     *e);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Core, core_unref)

G_END_DECLS
