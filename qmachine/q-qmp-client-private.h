/* q-qmp-client-private.h
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "q-qmp-client.h"

G_BEGIN_DECLS

/* Called on the worker thread, in arrival order, before the `event`
 * signal is marshalled to the owner's context. @event is borrowed; @cost
 * is what it counts for against a byte budget (its size as received plus
 * EVENT_NODE_COST per JSON value). */
typedef void (*QQmpEventHook)  (JsonObject   *event,
                                gsize         cost,
                                gpointer      user_data);
/* Called on the worker thread once the connection is closed; @error is
 * NULL for a close we asked for. */
typedef void (*QQmpClosedHook) (const GError *error,
                                gpointer      user_data);

void q_qmp_client_set_hooks      (QQmpClient     *self,
                                  QQmpEventHook   event_hook,
                                  QQmpClosedHook  closed_hook,
                                  gpointer        user_data,
                                  GDestroyNotify  destroy);
void q_qmp_client_set_owner_context (QQmpClient   *self,
                                     GMainContext *context);
/* The name the debug log gives the connection (QMACHINE_NAME). */
void q_qmp_client_set_log_name   (QQmpClient     *self,
                                  const char     *name);
void q_qmp_client_fail           (QQmpClient     *self,
                                  const GError   *error);

void q_qmp_client_execute_full_async (QQmpClient          *self,
                                      const char          *command,
                                      JsonObject          *arguments,
                                      QQmpExecuteFlags     flags,
                                      GUnixFDList         *fds,
                                      int                  timeout_msec,
                                      gboolean             raw,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data);

G_END_DECLS
