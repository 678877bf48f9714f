/* q-worker.c
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "q-worker-private.h"

/* One process-wide worker thread owns every socket, child watch and timer
 * of every QQmpClient, QMachine and QConsole, as GDBus does with its
 * shared worker. Objects marshal signals and results back to the context
 * of their owner. The thread never exits (nor does the spawner below,
 * which forks QEMU: PR_SET_PDEATHSIG follows the forking thread, so that
 * thread must outlive every QEMU). */

static GMainContext *worker_context;
static GThread *worker_thread;
static GThread *spawner_thread;   /* set once, before anything runs on it */

static gpointer
q_worker_main (gpointer data)
{
  GMainContext *context = data;

  g_main_context_push_thread_default (context);
  for (;;)
    g_main_context_iteration (context, TRUE);

  return NULL;
}

GMainContext *
q_worker_get_context (void)
{
  static gsize initialized;

  if (g_once_init_enter (&initialized))
    {
      worker_context = g_main_context_new ();
      worker_thread = g_thread_new ("qmachine-worker", q_worker_main, worker_context);
      g_once_init_leave (&initialized, 1);
    }

  return worker_context;
}

gboolean
q_worker_is_current (void)
{
  q_worker_get_context ();
  return g_thread_self () == worker_thread;
}

#ifndef G_DISABLE_ASSERT
/* How many leaf locks this thread holds (at most one, by the lock order;
 * counted, so that the check stays right should that change). */
static __thread guint leaf_locks_held;

void
q_leaf_lock (GMutex *mutex)
{
  g_mutex_lock (mutex);
  leaf_locks_held++;
}

void
q_leaf_unlock (GMutex *mutex)
{
  g_assert (leaf_locks_held > 0);
  leaf_locks_held--;
  g_mutex_unlock (mutex);
}

void
q_assert_no_leaf_lock (const char *what)
{
  if (G_UNLIKELY (leaf_locks_held > 0))
    g_error ("qmachine: %s with one of its locks held (docs/internals.md, \"Lock order\")", what);
}
#endif

typedef struct
{
  GLogLevelFlags  level;
  char           *text;
} LaterLog;

#define LATER_LOG_MAX 64
static int later_logs;        /* atomic: messages waiting */
static int later_logs_lost;   /* atomic */

static gboolean
log_later_cb (gpointer data)
{
  LaterLog *l = data;
  int lost = g_atomic_int_exchange (&later_logs_lost, 0);

  g_atomic_int_add (&later_logs, -1);
  if (lost > 0)
    g_log (G_LOG_DOMAIN, l->level, "%s (and %d more messages not shown)", l->text, lost);
  else
    g_log (G_LOG_DOMAIN, l->level, "%s", l->text);
  g_free (l->text);
  g_free (l);
  return G_SOURCE_REMOVE;
}

void
q_log_later (GMainContext   *context,
             GLogLevelFlags  level,
             const char     *format,
             ...)
{
  LaterLog *l;
  va_list args;

  q_assert_no_leaf_lock ("a message logged");
  if (g_atomic_int_add (&later_logs, 1) >= LATER_LOG_MAX)
    {
      g_atomic_int_add (&later_logs, -1);
      g_atomic_int_inc (&later_logs_lost);
      return;
    }
  l = g_new0 (LaterLog, 1);
  l->level = level;
  va_start (args, format);
  l->text = g_strdup_vprintf (format, args);
  va_end (args);
  q_schedule_in_context (context ? context : g_main_context_default (), log_later_cb, l, NULL);
}

gboolean
q_is_internal_thread (void)
{
  GThread *self = g_thread_self ();

  return self == worker_thread || (spawner_thread != NULL && self == spawner_thread);
}

static GMainContext *dispatcher_context (QDispatcher *dispatcher);

typedef struct
{
  guint         id;
  GObject      *object;   /* the reference taken in dispose */
  GMainContext *owner;
  GSource      *source;   /* in the owner's context, once handed over */
} Handoff;

/* Handoffs waiting for their owner: whichever comes first takes one, the
 * idle source in the owner's context or a blocking call made on a thread
 * whose thread-default context is the owner's (a script that never
 * iterates its context still makes blocking calls). */
static GMutex handoff_lock;
static GList *handoffs;
static int n_handoffs;   /* atomic: a blocking call skips the lock when 0 */
static guint next_handoff_id;

static void
handoff_release (Handoff *h)
{
  if (h->source != NULL)
    {
      g_source_destroy (h->source);
      g_source_unref (h->source);
    }
  g_object_unref (h->object);
  g_main_context_unref (h->owner);
  g_free (h);
}

static gboolean
unref_in_owner_cb (gpointer data)
{
  guint id = GPOINTER_TO_UINT (data);
  Handoff *taken = NULL;

  q_leaf_lock (&handoff_lock);
  for (GList *l = handoffs; l; l = l->next)
    if (((Handoff *)l->data)->id == id)
      {
        taken = l->data;
        handoffs = g_list_delete_link (handoffs, l);
        g_atomic_int_add (&n_handoffs, -1);
        break;
      }
  q_leaf_unlock (&handoff_lock);

  if (taken != NULL)
    {
      g_clear_pointer (&taken->source, g_source_unref);   /* being dispatched */
      handoff_release (taken);
    }
  return G_SOURCE_REMOVE;
}

/* Back on the internal thread, after the g_object_unref() that called
 * dispose has returned: only now may the owner drop the reference, or it
 * could drop it first and leave the last one to that unref after all. */
static gboolean
handoff_cb (gpointer data)
{
  Handoff *h = data;
  GSource *source = g_idle_source_new ();

  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, unref_in_owner_cb, GUINT_TO_POINTER (h->id), NULL);
  g_source_set_static_name (source, "[qmachine] last reference");
  q_leaf_lock (&handoff_lock);
  h->source = g_source_ref (source);
  handoffs = g_list_prepend (handoffs, h);
  g_atomic_int_inc (&n_handoffs);
  q_leaf_unlock (&handoff_lock);
  g_source_attach (source, h->owner);
  g_source_unref (source);
  return G_SOURCE_REMOVE;
}

/* Drops the references handed to @context's thread (the caller's). */
static void
handoffs_run_for (GMainContext *context)
{
  GList *mine = NULL;

  if (g_atomic_int_get (&n_handoffs) == 0)
    return;
  q_leaf_lock (&handoff_lock);
  for (GList *l = handoffs; l; )
    {
      GList *next = l->next;

      if (((Handoff *)l->data)->owner == context)
        {
          handoffs = g_list_remove_link (handoffs, l);
          mine = g_list_concat (l, mine);
          g_atomic_int_add (&n_handoffs, -1);
        }
      l = next;
    }
  q_leaf_unlock (&handoff_lock);

  g_list_free_full (mine, (GDestroyNotify)handoff_release);
}

gboolean
q_dispose_on_owner (gpointer     object,
                    QDispatcher *dispatcher)
{
  Handoff *h;

  q_assert_no_leaf_lock ("a public object disposed");
  if (!q_is_internal_thread ())
    return FALSE;

  /* A new reference before GObject checks the count again: it stops, and
   * the owner's context drops the last one (dispose runs again there). */
  g_debug ("%s %p: last reference dropped on qmachine's thread, handed to its owner's context",
           G_OBJECT_TYPE_NAME (object), object);
  h = g_new0 (Handoff, 1);
  h->id = g_atomic_int_add (&next_handoff_id, 1);
  h->object = g_object_ref (object);
  h->owner = g_main_context_ref (dispatcher ? dispatcher_context (dispatcher)
                                            : g_main_context_default ());
  if (q_worker_is_current ())
    q_worker_schedule (handoff_cb, h, NULL);
  else
    q_spawner_schedule (handoff_cb, h, NULL);
  return TRUE;
}

void
q_schedule_in_context (GMainContext   *context,
                       GSourceFunc     func,
                       gpointer        data,
                       GDestroyNotify  notify)
{
  GSource *source = g_idle_source_new ();

  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, func, data, notify);
  g_source_set_static_name (source, "[qmachine] dispatch");
  g_source_attach (source, context);
  g_source_unref (source);
}

void
q_worker_schedule (GSourceFunc    func,
                   gpointer       data,
                   GDestroyNotify notify)
{
  q_schedule_in_context (q_worker_get_context (), func, data, notify);
}

/* The spawner: a second thread that never exits, for fork and exec only.
 * GLib waits for the child's exec when a child_setup is set (ours sets
 * the parent-death signal), so spawning on the I/O worker would stall the
 * I/O of every running machine for each launch. PR_SET_PDEATHSIG follows
 * the thread that forked: this one lives as long as the process. */
static GMainContext *
q_spawner_get_context (void)
{
  static gsize initialized;
  static GMainContext *spawner_context;

  if (g_once_init_enter (&initialized))
    {
      spawner_context = g_main_context_new ();
      spawner_thread = g_thread_new ("qmachine-spawn", q_worker_main, spawner_context);
      g_once_init_leave (&initialized, 1);
    }

  return spawner_context;
}

void
q_spawner_schedule (GSourceFunc    func,
                    gpointer       data,
                    GDestroyNotify notify)
{
  q_schedule_in_context (q_spawner_get_context (), func, data, notify);
}

GSource *
q_worker_timeout_source (int            timeout_msec,
                         GSourceFunc    func,
                         gpointer       data,
                         GDestroyNotify notify)
{
  GSource *source;

  if (timeout_msec < 0)
    return NULL;

  source = g_timeout_source_new (timeout_msec);
  g_source_set_callback (source, func, data, notify);
  g_source_set_static_name (source, "[qmachine] timeout");
  g_source_attach (source, q_worker_get_context ());

  return source;
}

/* Each thread keeps one private context for its blocking calls, taken
 * while a call runs (a blocking call made inside another, which only
 * qmachine's own callbacks could do, gets a new one). Every task a call
 * starts returns before the call does, so nothing of one call is left in
 * the context for the next. */
static GPrivate sync_context = G_PRIVATE_INIT ((GDestroyNotify)g_main_context_unref);

void
q_sync_call_begin (QSyncCall *call)
{
  GMainContext *caller = g_main_context_get_thread_default ();

  /* Objects this thread owns that went while it did not iterate its
   * context (see q_dispose_on_owner). */
  handoffs_run_for (caller ? caller : g_main_context_default ());

  call->context = g_private_get (&sync_context);
  if (call->context != NULL)
    g_private_set (&sync_context, NULL);
  else
    call->context = g_main_context_new ();
  call->result = NULL;
  call->bailed = FALSE;
  g_main_context_push_thread_default (call->context);
}

void
q_sync_call_bail (GAsyncReadyCallback callback,
                  gpointer            user_data)
{
  if (callback == q_sync_call_done)
    ((QSyncCall *)user_data)->bailed = TRUE;
}

void
q_sync_call_done (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  QSyncCall *call = user_data;

  call->result = g_object_ref (result);
}

GAsyncResult *
q_sync_call_end (QSyncCall *call)
{
  while (call->result == NULL && !call->bailed)
    g_main_context_iteration (call->context, TRUE);

  g_main_context_pop_thread_default (call->context);
  if (g_private_get (&sync_context) == NULL)
    g_private_set (&sync_context, g_steal_pointer (&call->context));
  else
    g_clear_pointer (&call->context, g_main_context_unref);

  return g_steal_pointer (&call->result);
}

/* ------------------------------------------------------------------------ */
/* QBox                                                                     */

struct _QBox
{
  gatomicrefcount  ref_count;
  GObject         *object;      /* under box_lock */
};

/* Taken for a pointer copy and a g_object_ref only: never held across a
 * call into other code, so it needs no place in the lock order. */
static GMutex box_lock;

QBox *
q_box_new (gpointer object)
{
  QBox *box = g_new0 (QBox, 1);

  g_atomic_ref_count_init (&box->ref_count);
  box->object = object;
  return box;
}

QBox *
q_box_ref (QBox *box)
{
  g_atomic_ref_count_inc (&box->ref_count);
  return box;
}

void
q_box_unref (QBox *box)
{
  if (g_atomic_ref_count_dec (&box->ref_count))
    g_free (box);
}

gpointer
q_box_dup (QBox *box)
{
  gpointer ret = NULL;

  q_leaf_lock (&box_lock);
  if (box->object != NULL)
    ret = g_object_ref (box->object);
  q_leaf_unlock (&box_lock);

  return ret;
}

void
q_box_clear (QBox *box)
{
  q_leaf_lock (&box_lock);
  box->object = NULL;
  q_leaf_unlock (&box_lock);
}

/* ------------------------------------------------------------------------ */
/* QDispatcher                                                              */

struct _QDispatcher
{
  gatomicrefcount  ref_count;
  GMainContext    *context;
  QBox            *box;
  QDispatchFunc    func;

  GMutex           mutex;
  GSource         *source;      /* attached and not yet dispatched */
  gboolean         closed;
};

static GMainContext *
dispatcher_context (QDispatcher *dispatcher)
{
  return dispatcher->context;   /* set at creation */
}

static QDispatcher *
q_dispatcher_ref (QDispatcher *d)
{
  g_atomic_ref_count_inc (&d->ref_count);
  return d;
}

void
q_dispatcher_unref (QDispatcher *d)
{
  if (!g_atomic_ref_count_dec (&d->ref_count))
    return;

  g_assert (d->source == NULL);
  g_main_context_unref (d->context);
  q_box_unref (d->box);
  g_mutex_clear (&d->mutex);
  g_free (d);
}

QDispatcher *
q_dispatcher_new (GMainContext  *context,
                  QBox          *box,
                  QDispatchFunc  func)
{
  QDispatcher *d = g_new0 (QDispatcher, 1);

  g_atomic_ref_count_init (&d->ref_count);
  d->context = g_main_context_ref (context);
  d->box = q_box_ref (box);
  d->func = func;
  g_mutex_init (&d->mutex);
  return d;
}

static gboolean
q_dispatcher_dispatch (gpointer data)
{
  QDispatcher *d = data;
  gpointer object;

  /* Clear first: what the callback delivers may wake us again. */
  q_leaf_lock (&d->mutex);
  g_clear_pointer (&d->source, g_source_unref);
  q_leaf_unlock (&d->mutex);

  if ((object = q_box_dup (d->box)) != NULL)
    {
      q_assert_no_leaf_lock ("a dispatch that emits signals");
      d->func (object);
      g_object_unref (object);
    }

  return G_SOURCE_REMOVE;
}

void
q_dispatcher_wakeup (QDispatcher *d)
{
  GSource *source = NULL;

  q_leaf_lock (&d->mutex);
  if (!d->closed && d->source == NULL)
    {
      source = g_idle_source_new ();
      g_source_set_priority (source, G_PRIORITY_DEFAULT);
      g_source_set_callback (source, q_dispatcher_dispatch, q_dispatcher_ref (d),
                             (GDestroyNotify)q_dispatcher_unref);
      g_source_set_static_name (source, "[qmachine] dispatch");
      d->source = g_source_ref (source);
      /* Attached under the lock, so close cannot miss it. */
      g_source_attach (source, d->context);
    }
  q_leaf_unlock (&d->mutex);

  if (source != NULL)
    g_source_unref (source);
}

void
q_dispatcher_close (QDispatcher *d)
{
  GSource *source;

  q_leaf_lock (&d->mutex);
  d->closed = TRUE;
  source = g_steal_pointer (&d->source);
  q_leaf_unlock (&d->mutex);

  if (source != NULL)
    {
      g_source_destroy (source);
      g_source_unref (source);
    }
}

/* ------------------------------------------------------------------------ */
/* Fault injection for tests                                                */

gboolean
q_test_fault (const char *name)
{
  static char **faults;
  static gsize initialized;

  if (g_once_init_enter (&initialized))
    {
      const char *env = g_getenv ("QMACHINE_TEST_FAULTS");

      faults = env && *env ? g_strsplit (env, ",", -1) : NULL;
      g_once_init_leave (&initialized, 1);
    }

  return faults != NULL && g_strv_contains ((const char * const *)faults, name);
}

void
q_destroy_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_source_unref (*source);
      *source = NULL;
    }
}
