/* q-worker-private.h
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

GMainContext *q_worker_get_context     (void);
gboolean      q_worker_is_current      (void);
/* Logs in @context (the owner's), not on the calling thread: the worker
 * never runs an application's log handler. At most 64 messages wait at
 * a time; more are counted and the count is logged with the next. */
void          q_log_later              (GMainContext   *context,
                                        GLogLevelFlags  level,
                                        const char     *format,
                                        ...) G_GNUC_PRINTF (3, 4);

/* Leaf locks (docs/internals.md, "Lock order") are taken through these,
 * so that debug builds check the rule that nothing calls out while one
 * is held: a public object's dispose (its last reference dropped under a
 * lock), a dispatch that emits signals and a log call assert that the
 * thread holds none. Release builds (G_DISABLE_ASSERT) check nothing. */
#ifndef G_DISABLE_ASSERT
void          q_leaf_lock              (GMutex         *mutex);
void          q_leaf_unlock            (GMutex         *mutex);
void          q_assert_no_leaf_lock    (const char     *what);
#else
#define q_leaf_lock(mutex)        g_mutex_lock (mutex)
#define q_leaf_unlock(mutex)      g_mutex_unlock (mutex)
#define q_assert_no_leaf_lock(what) G_STMT_START { } G_STMT_END
#endif

/* Whether this is the worker or the spawner thread. */
gboolean      q_is_internal_thread     (void);
void          q_worker_schedule        (GSourceFunc     func,
                                        gpointer        data,
                                        GDestroyNotify  notify);
/* Runs @func on the spawner thread (fork and exec only; never exits). */
void          q_spawner_schedule       (GSourceFunc     func,
                                        gpointer        data,
                                        GDestroyNotify  notify);
void          q_schedule_in_context    (GMainContext   *context,
                                        GSourceFunc     func,
                                        gpointer        data,
                                        GDestroyNotify  notify);
GSource      *q_worker_timeout_source  (int             timeout_msec,
                                        GSourceFunc     func,
                                        gpointer        data,
                                        GDestroyNotify  notify);

/* Destroys *@source (if any) and clears it. */
void          q_destroy_source         (GSource       **source);

/* Sync wrappers: run an _async function on a private, pushed main
 * context and wait on that context only, so the application's main
 * context is never iterated (no re-entrancy). The I/O itself runs on
 * the worker thread, so this cannot deadlock. */
typedef struct
{
  GMainContext *context;
  GAsyncResult *result;
  gboolean      bailed;    /* the _async function refused its arguments */
} QSyncCall;

void          q_sync_call_begin        (QSyncCall      *call);
void          q_sync_call_done         (GObject        *object,
                                        GAsyncResult   *result,
                                        gpointer        user_data);
/* The result, or NULL at once when the _async function bailed out on a
 * precondition (q_return_async_if_fail): the wrapper then returns its
 * failure value, the critical already given. */
GAsyncResult *q_sync_call_end          (QSyncCall      *call);
void          q_sync_call_bail         (GAsyncReadyCallback callback,
                                        gpointer        user_data);

/* The precondition check of every _async function: the critical of
 * g_return_if_fail(), and a blocking wrapper waiting for @callback is
 * released at once instead of waiting for a callback that will never
 * come. So a wrapper and its _async share one check. */
#define q_return_async_if_fail(expr, callback, user_data)                 \
  G_STMT_START {                                                          \
    if (G_LIKELY (expr)) { } else                                         \
      {                                                                   \
        g_return_if_fail_warning (G_LOG_DOMAIN, G_STRFUNC, #expr);        \
        q_sync_call_bail ((callback), (user_data));                       \
        return;                                                           \
      }                                                                   \
  } G_STMT_END

/* QBox: how records on the worker (a Run, a QMP core, a console's
 * emissions) reach their public object. A refcounted pointer to the
 * object, cleared by the object's dispose under one process-wide lock:
 * q_box_dup() returns a strong reference or NULL, never an object being
 * finalized. (GLib 2.74's GWeakRef can hand out an object another thread
 * is finalizing, and g_signal_connect_object does not survive
 * finalization in another thread.) */
typedef struct _QBox QBox;

QBox         *q_box_new                (gpointer        object);
QBox         *q_box_ref                (QBox           *box);
void          q_box_unref              (QBox           *box);
gpointer      q_box_dup                (QBox           *box);
void          q_box_clear              (QBox           *box);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QBox, q_box_unref)

/* QDispatcher: the one way work reaches an object's owner context. Each
 * object keeps what waits for delivery in bounded queues of its own and
 * calls q_dispatcher_wakeup() (any thread); at most one source per object
 * is attached to the owner's context at a time, and it holds only the
 * dispatcher (never the object: it reaches it through its box). Dispose
 * calls q_dispatcher_close(), which destroys that source, so a context
 * that is never iterated keeps nothing alive. */
typedef struct _QDispatcher QDispatcher;
typedef void (*QDispatchFunc) (gpointer object);

QDispatcher  *q_dispatcher_new         (GMainContext   *context,
                                        QBox           *box,
                                        QDispatchFunc   func);
void          q_dispatcher_wakeup      (QDispatcher    *dispatcher);
void          q_dispatcher_close       (QDispatcher    *dispatcher);
void          q_dispatcher_unref       (QDispatcher    *dispatcher);

/* The end of a public object's dispose, instead of chaining up, when it
 * returns TRUE: the last reference went on one of qmachine's own threads
 * (a worker-side q_box_dup() held it), and GObject would go on to run the
 * application's weak notifies, handlers' destroy notifies and finalize
 * there. The object takes a new reference, which @dispatcher's context
 * drops: dispose then runs again there and chains up. So everything
 * dispose itself does (killing QEMU, failing waits) happens at once, and
 * the application's code runs in the owner's context. Dispose must be
 * idempotent. */
gboolean      q_dispose_on_owner       (gpointer        object,
                                        QDispatcher    *dispatcher);

/* Test hooks: fault injection that tests turn on with the environment
 * variable QMACHINE_TEST_FAULTS (comma-separated names); read once. */
gboolean      q_test_fault             (const char     *name);

G_END_DECLS
