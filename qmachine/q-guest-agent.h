/* q-guest-agent.h
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
#include <json-glib/json-glib.h>

#include "q-version-macros.h"

G_BEGIN_DECLS

/**
 * QGuestAgentPort:
 * @Q_GUEST_AGENT_PORT_VIRTIO_SERIAL: a virtio-serial port named
 *   `org.qemu.guest_agent.0` (what qemu-ga looks for by default; the
 *   guest needs the `virtio_console` driver)
 * @Q_GUEST_AGENT_PORT_ISA_SERIAL: an ISA serial port (a 16550 UART), for
 *   guests without virtio-serial; the agent runs with
 *   `qemu-ga -m isa-serial -p /dev/ttyS<N>`
 *
 * The device that carries the guest agent's channel.
 *
 * Since: 1.0
 */
typedef enum
{
  Q_GUEST_AGENT_PORT_VIRTIO_SERIAL,
  Q_GUEST_AGENT_PORT_ISA_SERIAL,
} QGuestAgentPort;

/**
 * Q_GUEST_AGENT_DEFAULT_TIMEOUT:
 *
 * The default of [property@QMachine.GuestAgent:timeout]: 30 seconds.
 *
 * Since: 1.0
 */
#define Q_GUEST_AGENT_DEFAULT_TIMEOUT 30000

/**
 * Q_GUEST_AGENT_DEFAULT_MAX_READ_SIZE:
 *
 * The default of [property@QMachine.GuestAgent:max-read-size]: 256 MiB.
 *
 * Since: 1.0
 */
#define Q_GUEST_AGENT_DEFAULT_MAX_READ_SIZE ((guint64) 268435456)

/**
 * Q_GUEST_AGENT_DEFAULT_MAX_COPY_SIZE:
 *
 * The default of [property@QMachine.GuestAgent:max-copy-size]: 4 GiB.
 *
 * Since: 1.0
 */
#define Q_GUEST_AGENT_DEFAULT_MAX_COPY_SIZE ((guint64) 4294967296)

#define Q_TYPE_GUEST_AGENT (q_guest_agent_get_type ())

QMACHINE_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (QGuestAgent, q_guest_agent, Q, GUEST_AGENT, GObject)

QMACHINE_AVAILABLE_IN_ALL
QGuestAgent *q_guest_agent_new                 (GIOStream           *stream);
QMACHINE_AVAILABLE_IN_ALL
void         q_guest_agent_new_for_address_async       (GSocketAddress      *address,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
QMACHINE_AVAILABLE_IN_ALL
QGuestAgent *q_guest_agent_new_for_address_finish      (GAsyncResult        *result,
                                                GError             **error);
QMACHINE_AVAILABLE_IN_ALL
QGuestAgent *q_guest_agent_new_for_address             (GSocketAddress      *address,
                                                GCancellable        *cancellable,
                                                GError             **error);

QMACHINE_AVAILABLE_IN_ALL
GIOStream   *q_guest_agent_get_stream          (QGuestAgent         *self);
QMACHINE_AVAILABLE_IN_ALL
gboolean     q_guest_agent_is_connected        (QGuestAgent         *self);
QMACHINE_AVAILABLE_IN_ALL
gboolean     q_guest_agent_is_closed           (QGuestAgent         *self);
QMACHINE_AVAILABLE_IN_ALL
int          q_guest_agent_get_timeout         (QGuestAgent         *self);
QMACHINE_AVAILABLE_IN_ALL
void         q_guest_agent_set_timeout         (QGuestAgent         *self,
                                                int                  timeout_msec);
QMACHINE_AVAILABLE_IN_ALL
guint64      q_guest_agent_get_max_read_size   (QGuestAgent         *self);
QMACHINE_AVAILABLE_IN_ALL
void         q_guest_agent_set_max_read_size   (QGuestAgent         *self,
                                                guint64              max_read_size);
QMACHINE_AVAILABLE_IN_ALL
guint64      q_guest_agent_get_max_copy_size   (QGuestAgent         *self);
QMACHINE_AVAILABLE_IN_ALL
void         q_guest_agent_set_max_copy_size   (QGuestAgent         *self,
                                                guint64              max_copy_size);
QMACHINE_AVAILABLE_IN_ALL
void         q_guest_agent_close               (QGuestAgent         *self);

QMACHINE_AVAILABLE_IN_ALL
void         q_guest_agent_execute_async       (QGuestAgent         *self,
                                                const char          *command,
                                                JsonObject          *arguments,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
QMACHINE_AVAILABLE_IN_ALL
JsonNode    *q_guest_agent_execute_finish      (QGuestAgent         *self,
                                                GAsyncResult        *result,
                                                GError             **error);
QMACHINE_AVAILABLE_IN_ALL
JsonNode    *q_guest_agent_execute             (QGuestAgent         *self,
                                                const char          *command,
                                                JsonObject          *arguments,
                                                GCancellable        *cancellable,
                                                GError             **error);

QMACHINE_AVAILABLE_IN_ALL
void         q_guest_agent_sync_async          (QGuestAgent         *self,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
QMACHINE_AVAILABLE_IN_ALL
gboolean     q_guest_agent_sync_finish         (QGuestAgent         *self,
                                                GAsyncResult        *result,
                                                GError             **error);
QMACHINE_AVAILABLE_IN_ALL
gboolean     q_guest_agent_sync                (QGuestAgent         *self,
                                                GCancellable        *cancellable,
                                                GError             **error);

QMACHINE_AVAILABLE_IN_ALL
void         q_guest_agent_ping_async          (QGuestAgent         *self,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
QMACHINE_AVAILABLE_IN_ALL
gboolean     q_guest_agent_ping_finish         (QGuestAgent         *self,
                                                GAsyncResult        *result,
                                                GError             **error);
QMACHINE_AVAILABLE_IN_ALL
gboolean     q_guest_agent_ping                (QGuestAgent         *self,
                                                GCancellable        *cancellable,
                                                GError             **error);

QMACHINE_AVAILABLE_IN_ALL
void         q_guest_agent_info_async          (QGuestAgent         *self,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
QMACHINE_AVAILABLE_IN_ALL
JsonObject  *q_guest_agent_info_finish         (QGuestAgent         *self,
                                                GAsyncResult        *result,
                                                GError             **error);
QMACHINE_AVAILABLE_IN_ALL
JsonObject  *q_guest_agent_info                (QGuestAgent         *self,
                                                GCancellable        *cancellable,
                                                GError             **error);

QMACHINE_AVAILABLE_IN_ALL
void         q_guest_agent_exec_async          (QGuestAgent         *self,
                                                const char * const  *argv,
                                                const char * const  *envp,
                                                GBytes              *input,
                                                int                  timeout_msec,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
QMACHINE_AVAILABLE_IN_ALL
gboolean     q_guest_agent_exec_finish         (QGuestAgent         *self,
                                                GAsyncResult        *result,
                                                int                 *exit_status,
                                                GBytes             **stdout_data,
                                                GBytes             **stderr_data,
                                                GError             **error);
QMACHINE_AVAILABLE_IN_ALL
gboolean     q_guest_agent_exec                (QGuestAgent         *self,
                                                const char * const  *argv,
                                                const char * const  *envp,
                                                GBytes              *input,
                                                int                  timeout_msec,
                                                int                 *exit_status,
                                                GBytes             **stdout_data,
                                                GBytes             **stderr_data,
                                                GCancellable        *cancellable,
                                                GError             **error);

QMACHINE_AVAILABLE_IN_ALL
void         q_guest_agent_file_read_async     (QGuestAgent         *self,
                                                const char          *path,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
QMACHINE_AVAILABLE_IN_ALL
GBytes      *q_guest_agent_file_read_finish    (QGuestAgent         *self,
                                                GAsyncResult        *result,
                                                GError             **error);
QMACHINE_AVAILABLE_IN_ALL
GBytes      *q_guest_agent_file_read           (QGuestAgent         *self,
                                                const char          *path,
                                                GCancellable        *cancellable,
                                                GError             **error);

QMACHINE_AVAILABLE_IN_ALL
void         q_guest_agent_file_write_async    (QGuestAgent         *self,
                                                const char          *path,
                                                GBytes              *data,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
QMACHINE_AVAILABLE_IN_ALL
gboolean     q_guest_agent_file_write_finish   (QGuestAgent         *self,
                                                GAsyncResult        *result,
                                                GError             **error);
QMACHINE_AVAILABLE_IN_ALL
gboolean     q_guest_agent_file_write          (QGuestAgent         *self,
                                                const char          *path,
                                                GBytes              *data,
                                                GCancellable        *cancellable,
                                                GError             **error);

QMACHINE_AVAILABLE_IN_ALL
void         q_guest_agent_copy_to_guest_async (QGuestAgent         *self,
                                                GFile               *source,
                                                const char          *guest_path,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
QMACHINE_AVAILABLE_IN_ALL
gboolean     q_guest_agent_copy_to_guest_finish (QGuestAgent        *self,
                                                 GAsyncResult       *result,
                                                 GError            **error);
QMACHINE_AVAILABLE_IN_ALL
gboolean     q_guest_agent_copy_to_guest       (QGuestAgent         *self,
                                                GFile               *source,
                                                const char          *guest_path,
                                                GCancellable        *cancellable,
                                                GError             **error);

QMACHINE_AVAILABLE_IN_ALL
void         q_guest_agent_copy_from_guest_async (QGuestAgent       *self,
                                                  const char        *guest_path,
                                                  GFile             *destination,
                                                  GCancellable      *cancellable,
                                                  GAsyncReadyCallback callback,
                                                  gpointer           user_data);
QMACHINE_AVAILABLE_IN_ALL
gboolean     q_guest_agent_copy_from_guest_finish (QGuestAgent      *self,
                                                   GAsyncResult     *result,
                                                   GError          **error);
QMACHINE_AVAILABLE_IN_ALL
gboolean     q_guest_agent_copy_from_guest     (QGuestAgent         *self,
                                                const char          *guest_path,
                                                GFile               *destination,
                                                GCancellable        *cancellable,
                                                GError             **error);

QMACHINE_AVAILABLE_IN_ALL
void         q_guest_agent_copy_from_guest_full_async (QGuestAgent  *self,
                                                       const char   *guest_path,
                                                       GFile        *destination,
                                                       guint         mode,
                                                       GCancellable *cancellable,
                                                       GAsyncReadyCallback callback,
                                                       gpointer      user_data);
QMACHINE_AVAILABLE_IN_ALL
gboolean     q_guest_agent_copy_from_guest_full_finish (QGuestAgent *self,
                                                        GAsyncResult *result,
                                                        GError     **error);
QMACHINE_AVAILABLE_IN_ALL
gboolean     q_guest_agent_copy_from_guest_full (QGuestAgent        *self,
                                                 const char         *guest_path,
                                                 GFile              *destination,
                                                 guint               mode,
                                                 GCancellable       *cancellable,
                                                 GError            **error);

QMACHINE_AVAILABLE_IN_ALL
void         q_guest_agent_shutdown_async      (QGuestAgent         *self,
                                                const char          *mode,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
QMACHINE_AVAILABLE_IN_ALL
gboolean     q_guest_agent_shutdown_finish     (QGuestAgent         *self,
                                                GAsyncResult        *result,
                                                GError             **error);
QMACHINE_AVAILABLE_IN_ALL
gboolean     q_guest_agent_shutdown            (QGuestAgent         *self,
                                                const char          *mode,
                                                GCancellable        *cancellable,
                                                GError             **error);

QMACHINE_AVAILABLE_IN_ALL
void         q_guest_agent_fsfreeze_async      (QGuestAgent         *self,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
QMACHINE_AVAILABLE_IN_ALL
int          q_guest_agent_fsfreeze_finish     (QGuestAgent         *self,
                                                GAsyncResult        *result,
                                                GError             **error);
QMACHINE_AVAILABLE_IN_ALL
int          q_guest_agent_fsfreeze            (QGuestAgent         *self,
                                                GCancellable        *cancellable,
                                                GError             **error);

QMACHINE_AVAILABLE_IN_ALL
void         q_guest_agent_fsthaw_async        (QGuestAgent         *self,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
QMACHINE_AVAILABLE_IN_ALL
int          q_guest_agent_fsthaw_finish       (QGuestAgent         *self,
                                                GAsyncResult        *result,
                                                GError             **error);
QMACHINE_AVAILABLE_IN_ALL
int          q_guest_agent_fsthaw              (QGuestAgent         *self,
                                                GCancellable        *cancellable,
                                                GError             **error);

QMACHINE_AVAILABLE_IN_ALL
void         q_guest_agent_network_interfaces_async (QGuestAgent    *self,
                                                     GCancellable   *cancellable,
                                                     GAsyncReadyCallback callback,
                                                     gpointer        user_data);
QMACHINE_AVAILABLE_IN_ALL
JsonArray   *q_guest_agent_network_interfaces_finish (QGuestAgent   *self,
                                                      GAsyncResult  *result,
                                                      GError       **error);
QMACHINE_AVAILABLE_IN_ALL
JsonArray   *q_guest_agent_network_interfaces  (QGuestAgent         *self,
                                                GCancellable        *cancellable,
                                                GError             **error);

G_END_DECLS
