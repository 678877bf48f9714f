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
 * of their owner. The thread never exits: QEMU processes spawned from it
 * get a parent-death signal tied to this thread (PR_SET_PDEATHSIG follows
 * the spawning thread), so it must outlive them all. */

static GMainContext *worker_context;
static GThread *worker_thread;

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

void
q_sync_call_begin (QSyncCall *call)
{
  call->context = g_main_context_new ();
  call->result = NULL;
  g_main_context_push_thread_default (call->context);
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
  while (call->result == NULL)
    g_main_context_iteration (call->context, TRUE);

  g_main_context_pop_thread_default (call->context);
  g_main_context_unref (call->context);
  call->context = NULL;

  return g_steal_pointer (&call->result);
}
