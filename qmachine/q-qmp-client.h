/* q-qmp-client.h
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(QMACHINE_INSIDE) && !defined(QMACHINE_COMPILATION)
# error "Only <qmachine.h> can be included directly."
#endif

#include <gio/gio.h>
#include <gio/gunixfdlist.h>
#include <json-glib/json-glib.h>

#include "q-version-macros.h"

G_BEGIN_DECLS

/**
 * Q_QMP_CLIENT_DEFAULT_MAX_MESSAGE_SIZE:
 *
 * The default of [property@QMachine.QmpClient:max-message-size]: 10 MiB.
 *
 * Since: 1.0
 */
#define Q_QMP_CLIENT_DEFAULT_MAX_MESSAGE_SIZE (10 * 1024 * 1024)

/**
 * Q_QMP_CLIENT_DEFAULT_MAX_MESSAGE_NODES:
 *
 * The default of [property@QMachine.QmpClient:max-message-nodes]: 262144
 * JSON values, 16 times the largest reply of QEMU 7.2
 * (`query-qmp-schema`, 15742 values).
 *
 * Since: 1.0
 */
#define Q_QMP_CLIENT_DEFAULT_MAX_MESSAGE_NODES 262144

/**
 * Q_QMP_CLIENT_DEFAULT_MAX_QUEUED_EVENT_BYTES:
 *
 * The default of [property@QMachine.QmpClient:max-queued-event-bytes]:
 * 16 MiB.
 *
 * Since: 1.0
 */
#define Q_QMP_CLIENT_DEFAULT_MAX_QUEUED_EVENT_BYTES (16 * 1024 * 1024)

/**
 * QQmpNegotiateFlags:
 * @Q_QMP_NEGOTIATE_FLAGS_NONE: no optional capability
 * @Q_QMP_NEGOTIATE_FLAGS_OOB: enable out-of-band execution (fails with
 *   `G_IO_ERROR_NOT_SUPPORTED` when the server does not offer it)
 *
 * Capabilities to enable in [method@QMachine.QmpClient.negotiate].
 *
 * Since: 1.0
 */
typedef enum /*< flags >*/
{
  Q_QMP_NEGOTIATE_FLAGS_NONE = 0,
  Q_QMP_NEGOTIATE_FLAGS_OOB  = 1 << 0,
} QQmpNegotiateFlags;

/**
 * QQmpExecuteFlags:
 * @Q_QMP_EXECUTE_FLAGS_NONE: an ordinary in-band command
 * @Q_QMP_EXECUTE_FLAGS_OOB: send as `exec-oob` (needs OOB negotiated)
 *
 * Flags for [method@QMachine.QmpClient.execute].
 *
 * Since: 1.0
 */
typedef enum /*< flags >*/
{
  Q_QMP_EXECUTE_FLAGS_NONE = 0,
  Q_QMP_EXECUTE_FLAGS_OOB  = 1 << 0,
} QQmpExecuteFlags;

#define Q_TYPE_QMP_CLIENT (q_qmp_client_get_type ())

QMACHINE_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (QQmpClient, q_qmp_client, Q, QMP_CLIENT, GObject)

QMACHINE_AVAILABLE_IN_ALL
QQmpClient *q_qmp_client_new                   (GIOStream            *stream) G_GNUC_WARN_UNUSED_RESULT;
QMACHINE_AVAILABLE_IN_ALL
GIOStream  *q_qmp_client_get_stream            (QQmpClient           *self);
QMACHINE_AVAILABLE_IN_ALL
guint64     q_qmp_client_get_max_message_size  (QQmpClient           *self);
QMACHINE_AVAILABLE_IN_ALL
guint       q_qmp_client_get_max_queued_events (QQmpClient           *self);
QMACHINE_AVAILABLE_IN_ALL
void        q_qmp_client_set_max_queued_events (QQmpClient           *self,
                                                guint                 max_queued_events);
QMACHINE_AVAILABLE_IN_ALL
guint64     q_qmp_client_get_max_queued_event_bytes (QQmpClient      *self);
QMACHINE_AVAILABLE_IN_ALL
void        q_qmp_client_set_max_queued_event_bytes (QQmpClient      *self,
                                                     guint64          max_queued_event_bytes);
QMACHINE_AVAILABLE_IN_ALL
guint       q_qmp_client_get_max_message_nodes (QQmpClient           *self);
QMACHINE_AVAILABLE_IN_ALL
void        q_qmp_client_set_max_message_nodes (QQmpClient           *self,
                                                guint                 max_message_nodes);
QMACHINE_AVAILABLE_IN_ALL
guint       q_qmp_client_get_dropped_events    (QQmpClient           *self);
QMACHINE_AVAILABLE_IN_ALL
void        q_qmp_client_set_max_message_size  (QQmpClient           *self,
                                                guint64               max_message_size);
QMACHINE_AVAILABLE_IN_ALL
JsonObject *q_qmp_client_get_greeting          (QQmpClient           *self);
QMACHINE_AVAILABLE_IN_ALL
gboolean    q_qmp_client_is_closed             (QQmpClient           *self);

QMACHINE_AVAILABLE_IN_ALL
void        q_qmp_client_negotiate_async       (QQmpClient           *self,
                                                QQmpNegotiateFlags    flags,
                                                GCancellable         *cancellable,
                                                GAsyncReadyCallback   callback,
                                                gpointer              user_data);
QMACHINE_AVAILABLE_IN_ALL
gboolean    q_qmp_client_negotiate_finish      (QQmpClient           *self,
                                                GAsyncResult         *result,
                                                GError              **error);
QMACHINE_AVAILABLE_IN_ALL
gboolean    q_qmp_client_negotiate             (QQmpClient           *self,
                                                QQmpNegotiateFlags    flags,
                                                GCancellable         *cancellable,
                                                GError              **error);

QMACHINE_AVAILABLE_IN_ALL
void        q_qmp_client_execute_async         (QQmpClient           *self,
                                                const char           *command,
                                                JsonObject           *arguments,
                                                QQmpExecuteFlags      flags,
                                                GUnixFDList          *fds,
                                                GCancellable         *cancellable,
                                                GAsyncReadyCallback   callback,
                                                gpointer              user_data);
QMACHINE_AVAILABLE_IN_ALL
JsonNode   *q_qmp_client_execute_finish        (QQmpClient           *self,
                                                GAsyncResult         *result,
                                                GError              **error);
QMACHINE_AVAILABLE_IN_ALL
JsonNode   *q_qmp_client_execute               (QQmpClient           *self,
                                                const char           *command,
                                                JsonObject           *arguments,
                                                QQmpExecuteFlags      flags,
                                                GUnixFDList          *fds,
                                                GCancellable         *cancellable,
                                                GError              **error);

QMACHINE_AVAILABLE_IN_ALL
void        q_qmp_client_execute_raw_async     (QQmpClient           *self,
                                                const char           *command,
                                                JsonObject           *arguments,
                                                QQmpExecuteFlags      flags,
                                                GUnixFDList          *fds,
                                                GCancellable         *cancellable,
                                                GAsyncReadyCallback   callback,
                                                gpointer              user_data);
QMACHINE_AVAILABLE_IN_ALL
JsonObject *q_qmp_client_execute_raw_finish    (QQmpClient           *self,
                                                GAsyncResult         *result,
                                                GError              **error);
QMACHINE_AVAILABLE_IN_ALL
JsonObject *q_qmp_client_execute_raw           (QQmpClient           *self,
                                                const char           *command,
                                                JsonObject           *arguments,
                                                QQmpExecuteFlags      flags,
                                                GUnixFDList          *fds,
                                                GCancellable         *cancellable,
                                                GError              **error);

QMACHINE_AVAILABLE_IN_ALL
void        q_qmp_client_close_async           (QQmpClient           *self,
                                                GCancellable         *cancellable,
                                                GAsyncReadyCallback   callback,
                                                gpointer              user_data);
QMACHINE_AVAILABLE_IN_ALL
gboolean    q_qmp_client_close_finish          (QQmpClient           *self,
                                                GAsyncResult         *result,
                                                GError              **error);
QMACHINE_AVAILABLE_IN_ALL
gboolean    q_qmp_client_close                 (QQmpClient           *self,
                                                GCancellable         *cancellable,
                                                GError              **error);

G_END_DECLS
