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
void          q_worker_schedule        (GSourceFunc     func,
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

/* Sync wrappers: run an _async function on a private, pushed main
 * context and wait on that context only, so the application's main
 * context is never iterated (no re-entrancy). The I/O itself runs on
 * the worker thread, so this cannot deadlock. */
typedef struct
{
  GMainContext *context;
  GAsyncResult *result;
} QSyncCall;

void          q_sync_call_begin        (QSyncCall      *call);
void          q_sync_call_done         (GObject        *object,
                                        GAsyncResult   *result,
                                        gpointer        user_data);
GAsyncResult *q_sync_call_end          (QSyncCall      *call);

G_END_DECLS
