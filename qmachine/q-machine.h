/* q-machine.h
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

#include "q-console.h"
#include "q-guest-agent.h"
#include "q-qtest-client.h"
#include "q-qmp-client.h"
#include "q-version-macros.h"

G_BEGIN_DECLS

/**
 * QMachineState:
 * @Q_MACHINE_STATE_NOT_LAUNCHED: no QEMU process (never launched, or
 *   shut down and cleaned up)
 * @Q_MACHINE_STATE_LAUNCHING: QEMU is starting; QMP is not ready yet
 * @Q_MACHINE_STATE_RUNNING: QEMU runs and QMP (if enabled) is negotiated
 * @Q_MACHINE_STATE_SHUTTING_DOWN: a shutdown, kill or wait is in progress
 *
 * The lifecycle of a [class@QMachine.Machine].
 *
 * Since: 1.0
 */
typedef enum
{
  Q_MACHINE_STATE_NOT_LAUNCHED,
  Q_MACHINE_STATE_LAUNCHING,
  Q_MACHINE_STATE_RUNNING,
  Q_MACHINE_STATE_SHUTTING_DOWN,
} QMachineState;

/**
 * QMachineShutdownFlags:
 * @Q_MACHINE_SHUTDOWN_FLAGS_NONE: a graceful shutdown (`quit`, or SIGTERM
 *   without QMP), escalating to SIGKILL on failure
 * @Q_MACHINE_SHUTDOWN_FLAGS_HARD: kill QEMU at once with SIGKILL, and do
 *   not warn about it
 *
 * Flags for [method@QMachine.Machine.shutdown].
 *
 * Since: 1.0
 */
typedef enum /*< flags >*/
{
  Q_MACHINE_SHUTDOWN_FLAGS_NONE = 0,
  Q_MACHINE_SHUTDOWN_FLAGS_HARD = 1 << 0,
} QMachineShutdownFlags;

/**
 * Q_MACHINE_DEFAULT_QMP_TIMEOUT:
 *
 * The default of [property@QMachine.Machine:qmp-timeout], in milliseconds.
 *
 * Since: 1.0
 */
#define Q_MACHINE_DEFAULT_QMP_TIMEOUT 30000

/**
 * Q_MACHINE_DEFAULT_EVENT_QUEUE_LIMIT:
 *
 * The default of [property@QMachine.Machine:event-queue-limit].
 *
 * Since: 1.0
 */
#define Q_MACHINE_DEFAULT_EVENT_QUEUE_LIMIT 1024

/**
 * Q_MACHINE_DEFAULT_EVENT_QUEUE_BYTES:
 *
 * The default of [property@QMachine.Machine:event-queue-bytes]: 16 MiB.
 *
 * Since: 1.0
 */
#define Q_MACHINE_DEFAULT_EVENT_QUEUE_BYTES (16 * 1024 * 1024)

#define Q_TYPE_MACHINE (q_machine_get_type ())

QMACHINE_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (QMachine, q_machine, Q, MACHINE, GObject)

QMACHINE_AVAILABLE_IN_ALL
QMachine            *q_machine_new                (const char            *binary) G_GNUC_WARN_UNUSED_RESULT;

QMACHINE_AVAILABLE_IN_ALL
const char          *q_machine_get_binary         (QMachine              *self);
QMACHINE_AVAILABLE_IN_ALL
const char * const  *q_machine_get_args           (QMachine              *self);
QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_add_args           (QMachine              *self,
                                                   const char            *first_arg,
                                                   ...) G_GNUC_NULL_TERMINATED;
QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_add_argv           (QMachine              *self,
                                                   const char * const    *argv);
QMACHINE_AVAILABLE_IN_ALL
const char * const  *q_machine_get_wrapper        (QMachine              *self);
QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_set_wrapper        (QMachine              *self,
                                                   const char * const    *wrapper);
QMACHINE_AVAILABLE_IN_ALL
const char * const  *q_machine_get_environ        (QMachine              *self);
QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_set_environ        (QMachine              *self,
                                                   const char * const    *env);
QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_setenv             (QMachine              *self,
                                                   const char            *variable,
                                                   const char            *value);
QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_unsetenv           (QMachine              *self,
                                                   const char            *variable);
QMACHINE_AVAILABLE_IN_ALL
const char          *q_machine_get_name           (QMachine              *self);
QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_set_name           (QMachine              *self,
                                                   const char            *name);
QMACHINE_AVAILABLE_IN_ALL
const char          *q_machine_get_base_temp_dir  (QMachine              *self);
QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_set_base_temp_dir  (QMachine              *self,
                                                   const char            *base_temp_dir);
QMACHINE_AVAILABLE_IN_ALL
const char          *q_machine_get_log_dir        (QMachine              *self);
QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_set_log_dir        (QMachine              *self,
                                                   const char            *log_dir);
QMACHINE_AVAILABLE_IN_ALL
const char          *q_machine_get_temp_dir       (QMachine              *self);
QMACHINE_AVAILABLE_IN_ALL
GSocketAddress      *q_machine_get_monitor_address(QMachine              *self);
QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_set_monitor_address(QMachine              *self,
                                                   GSocketAddress        *address);
QMACHINE_AVAILABLE_IN_ALL
gboolean             q_machine_get_qmp_enabled    (QMachine              *self);
QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_set_qmp_monitor    (QMachine              *self,
                                                   gboolean               enabled);
QMACHINE_AVAILABLE_IN_ALL
int                  q_machine_get_qmp_timeout    (QMachine              *self);
QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_set_qmp_timeout    (QMachine              *self,
                                                   int                    timeout_msec);
QMACHINE_AVAILABLE_IN_ALL
const char          *q_machine_get_machine_type   (QMachine              *self);
QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_set_machine        (QMachine              *self,
                                                   const char            *machine_type);
QMACHINE_AVAILABLE_IN_ALL
guint                q_machine_get_event_queue_limit (QMachine           *self);
QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_set_event_queue_limit (QMachine           *self,
                                                      guint               limit);
QMACHINE_AVAILABLE_IN_ALL
guint64              q_machine_get_event_queue_bytes (QMachine           *self);
QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_set_event_queue_bytes (QMachine           *self,
                                                      guint64             bytes);
QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_set_console        (QMachine              *self,
                                                   const char            *device_type,
                                                   guint                  console_index);
QMACHINE_AVAILABLE_IN_ALL
gboolean             q_machine_get_drain_console  (QMachine              *self);
QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_set_drain_console  (QMachine              *self,
                                                   gboolean               drain);
QMACHINE_AVAILABLE_IN_ALL
const char          *q_machine_get_console_log    (QMachine              *self);
QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_set_console_log    (QMachine              *self,
                                                   const char            *path);
QMACHINE_AVAILABLE_IN_ALL
guint                q_machine_get_console_buffer_size (QMachine         *self);
QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_set_console_buffer_size (QMachine         *self,
                                                        guint             size);
QMACHINE_AVAILABLE_IN_ALL
QConsole            *q_machine_get_console        (QMachine              *self);
QMACHINE_AVAILABLE_IN_ALL
QConsole            *q_machine_dup_console        (QMachine              *self);
QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_screendump_async   (QMachine              *self,
                                                   const char            *device,
                                                   int                    head,
                                                   GCancellable          *cancellable,
                                                   GAsyncReadyCallback    callback,
                                                   gpointer               user_data);
QMACHINE_AVAILABLE_IN_ALL
GBytes              *q_machine_screendump_finish  (QMachine              *self,
                                                   GAsyncResult          *result,
                                                   GError               **error);
QMACHINE_AVAILABLE_IN_ALL
GBytes              *q_machine_screendump         (QMachine              *self,
                                                   const char            *device,
                                                   int                    head,
                                                   GCancellable          *cancellable,
                                                   GError               **error);
QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_send_keys_async    (QMachine              *self,
                                                   const char            *combo,
                                                   int                    hold_time_msec,
                                                   GCancellable          *cancellable,
                                                   GAsyncReadyCallback    callback,
                                                   gpointer               user_data);
QMACHINE_AVAILABLE_IN_ALL
gboolean             q_machine_send_keys_finish   (QMachine              *self,
                                                   GAsyncResult          *result,
                                                   GError               **error);
QMACHINE_AVAILABLE_IN_ALL
gboolean             q_machine_send_keys          (QMachine              *self,
                                                   const char            *combo,
                                                   int                    hold_time_msec,
                                                   GCancellable          *cancellable,
                                                   GError               **error);
QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_send_text_async    (QMachine              *self,
                                                   const char            *text,
                                                   GCancellable          *cancellable,
                                                   GAsyncReadyCallback    callback,
                                                   gpointer               user_data);
QMACHINE_AVAILABLE_IN_ALL
gboolean             q_machine_send_text_finish   (QMachine              *self,
                                                   GAsyncResult          *result,
                                                   GError               **error);
QMACHINE_AVAILABLE_IN_ALL
gboolean             q_machine_send_text          (QMachine              *self,
                                                   const char            *text,
                                                   GCancellable          *cancellable,
                                                   GError               **error);
QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_pointer_move_async (QMachine              *self,
                                                   double                 x,
                                                   double                 y,
                                                   GCancellable          *cancellable,
                                                   GAsyncReadyCallback    callback,
                                                   gpointer               user_data);
QMACHINE_AVAILABLE_IN_ALL
gboolean             q_machine_pointer_move_finish (QMachine             *self,
                                                    GAsyncResult         *result,
                                                    GError              **error);
QMACHINE_AVAILABLE_IN_ALL
gboolean             q_machine_pointer_move       (QMachine              *self,
                                                   double                 x,
                                                   double                 y,
                                                   GCancellable          *cancellable,
                                                   GError               **error);
QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_pointer_click_async (QMachine             *self,
                                                    const char           *button,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
QMACHINE_AVAILABLE_IN_ALL
gboolean             q_machine_pointer_click_finish (QMachine            *self,
                                                     GAsyncResult        *result,
                                                     GError             **error);
QMACHINE_AVAILABLE_IN_ALL
gboolean             q_machine_pointer_click      (QMachine              *self,
                                                   const char            *button,
                                                   GCancellable          *cancellable,
                                                   GError               **error);

QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_add_guest_agent    (QMachine              *self,
                                                   QGuestAgentPort        port);
QMACHINE_AVAILABLE_IN_ALL
QGuestAgent         *q_machine_get_guest_agent    (QMachine              *self);
QMACHINE_AVAILABLE_IN_ALL
QGuestAgent         *q_machine_dup_guest_agent    (QMachine              *self);
QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_add_qtest          (QMachine              *self);
QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_set_qtest_log      (QMachine              *self,
                                                   gboolean               enabled);
QMACHINE_AVAILABLE_IN_ALL
QQtestClient        *q_machine_get_qtest_client   (QMachine              *self);
QMACHINE_AVAILABLE_IN_ALL
QQtestClient        *q_machine_dup_qtest_client   (QMachine              *self);
QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_add_monitor_null   (QMachine              *self);
QMACHINE_AVAILABLE_IN_ALL
gboolean             q_machine_add_fd             (QMachine              *self,
                                                   int                    fd,
                                                   int                    fdset,
                                                   const char            *opaque,
                                                   const char            *opts,
                                                   GError               **error);

QMACHINE_AVAILABLE_IN_ALL
QMachineState        q_machine_get_state          (QMachine              *self);
QMACHINE_AVAILABLE_IN_ALL
gboolean             q_machine_is_running         (QMachine              *self);
QMACHINE_AVAILABLE_IN_ALL
gboolean             q_machine_is_paused          (QMachine              *self);
QMACHINE_AVAILABLE_IN_ALL
int                  q_machine_get_pid            (QMachine              *self);
QMACHINE_AVAILABLE_IN_ALL
gboolean             q_machine_get_exit_code      (QMachine              *self,
                                                   int                   *exit_code);
QMACHINE_AVAILABLE_IN_ALL
const char          *q_machine_get_log            (QMachine              *self);
QMACHINE_AVAILABLE_IN_ALL
const char * const  *q_machine_get_full_args      (QMachine              *self);
QMACHINE_AVAILABLE_IN_ALL
char               **q_machine_dup_full_args      (QMachine              *self);
QMACHINE_AVAILABLE_IN_ALL
QQmpClient          *q_machine_get_qmp_client     (QMachine              *self);
QMACHINE_AVAILABLE_IN_ALL
QQmpClient          *q_machine_dup_qmp_client     (QMachine              *self);
QMACHINE_AVAILABLE_IN_ALL
guint                q_machine_get_dropped_events (QMachine              *self);

QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_launch_async       (QMachine              *self,
                                                   GCancellable          *cancellable,
                                                   GAsyncReadyCallback    callback,
                                                   gpointer               user_data);
QMACHINE_AVAILABLE_IN_ALL
gboolean             q_machine_launch_finish      (QMachine              *self,
                                                   GAsyncResult          *result,
                                                   GError               **error);
QMACHINE_AVAILABLE_IN_ALL
gboolean             q_machine_launch             (QMachine              *self,
                                                   GCancellable          *cancellable,
                                                   GError               **error);

QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_shutdown_async     (QMachine              *self,
                                                   QMachineShutdownFlags  flags,
                                                   int                    timeout_msec,
                                                   GCancellable          *cancellable,
                                                   GAsyncReadyCallback    callback,
                                                   gpointer               user_data);
QMACHINE_AVAILABLE_IN_ALL
gboolean             q_machine_shutdown_finish    (QMachine              *self,
                                                   GAsyncResult          *result,
                                                   GError               **error);
QMACHINE_AVAILABLE_IN_ALL
gboolean             q_machine_shutdown           (QMachine              *self,
                                                   QMachineShutdownFlags  flags,
                                                   int                    timeout_msec,
                                                   GCancellable          *cancellable,
                                                   GError               **error);

QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_kill_async         (QMachine              *self,
                                                   GCancellable          *cancellable,
                                                   GAsyncReadyCallback    callback,
                                                   gpointer               user_data);
QMACHINE_AVAILABLE_IN_ALL
gboolean             q_machine_kill_finish        (QMachine              *self,
                                                   GAsyncResult          *result,
                                                   GError               **error);
QMACHINE_AVAILABLE_IN_ALL
gboolean             q_machine_kill               (QMachine              *self,
                                                   GCancellable          *cancellable,
                                                   GError               **error);

QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_wait_async         (QMachine              *self,
                                                   int                    timeout_msec,
                                                   GCancellable          *cancellable,
                                                   GAsyncReadyCallback    callback,
                                                   gpointer               user_data);
QMACHINE_AVAILABLE_IN_ALL
gboolean             q_machine_wait_finish        (QMachine              *self,
                                                   GAsyncResult          *result,
                                                   GError               **error);
QMACHINE_AVAILABLE_IN_ALL
gboolean             q_machine_wait               (QMachine              *self,
                                                   int                    timeout_msec,
                                                   GCancellable          *cancellable,
                                                   GError               **error);

QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_qmp_async          (QMachine              *self,
                                                   const char            *command,
                                                   JsonObject            *arguments,
                                                   GCancellable          *cancellable,
                                                   GAsyncReadyCallback    callback,
                                                   gpointer               user_data);
QMACHINE_AVAILABLE_IN_ALL
JsonObject          *q_machine_qmp_finish         (QMachine              *self,
                                                   GAsyncResult          *result,
                                                   GError               **error);
QMACHINE_AVAILABLE_IN_ALL
JsonObject          *q_machine_qmp                (QMachine              *self,
                                                   const char            *command,
                                                   JsonObject            *arguments,
                                                   GCancellable          *cancellable,
                                                   GError               **error);

QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_cmd_async          (QMachine              *self,
                                                   const char            *command,
                                                   JsonObject            *arguments,
                                                   GCancellable          *cancellable,
                                                   GAsyncReadyCallback    callback,
                                                   gpointer               user_data);
QMACHINE_AVAILABLE_IN_ALL
JsonNode            *q_machine_cmd_finish         (QMachine              *self,
                                                   GAsyncResult          *result,
                                                   GError               **error);
QMACHINE_AVAILABLE_IN_ALL
JsonNode            *q_machine_cmd                (QMachine              *self,
                                                   const char            *command,
                                                   JsonObject            *arguments,
                                                   GCancellable          *cancellable,
                                                   GError               **error);

QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_send_fd_async      (QMachine              *self,
                                                   const char            *fdname,
                                                   int                    fd,
                                                   GCancellable          *cancellable,
                                                   GAsyncReadyCallback    callback,
                                                   gpointer               user_data);
QMACHINE_AVAILABLE_IN_ALL
gboolean             q_machine_send_fd_finish     (QMachine              *self,
                                                   GAsyncResult          *result,
                                                   GError               **error);
QMACHINE_AVAILABLE_IN_ALL
gboolean             q_machine_send_fd            (QMachine              *self,
                                                   const char            *fdname,
                                                   int                    fd,
                                                   GCancellable          *cancellable,
                                                   GError               **error);

QMACHINE_AVAILABLE_IN_ALL
JsonObject          *q_machine_get_event          (QMachine              *self);
QMACHINE_AVAILABLE_IN_ALL
GPtrArray           *q_machine_get_events         (QMachine              *self);

QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_event_wait_async   (QMachine              *self,
                                                   const char            *name,
                                                   JsonNode              *match,
                                                   int                    timeout_msec,
                                                   GCancellable          *cancellable,
                                                   GAsyncReadyCallback    callback,
                                                   gpointer               user_data);
QMACHINE_AVAILABLE_IN_ALL
JsonObject          *q_machine_event_wait_finish  (QMachine              *self,
                                                   GAsyncResult          *result,
                                                   GError               **error);
QMACHINE_AVAILABLE_IN_ALL
JsonObject          *q_machine_event_wait         (QMachine              *self,
                                                   const char            *name,
                                                   JsonNode              *match,
                                                   int                    timeout_msec,
                                                   GCancellable          *cancellable,
                                                   GError               **error);

QMACHINE_AVAILABLE_IN_ALL
void                 q_machine_events_wait_async  (QMachine              *self,
                                                   const char * const    *names,
                                                   JsonArray             *matches,
                                                   int                    timeout_msec,
                                                   GCancellable          *cancellable,
                                                   GAsyncReadyCallback    callback,
                                                   gpointer               user_data);
QMACHINE_AVAILABLE_IN_ALL
JsonObject          *q_machine_events_wait_finish (QMachine              *self,
                                                   GAsyncResult          *result,
                                                   GError               **error);
QMACHINE_AVAILABLE_IN_ALL
JsonObject          *q_machine_events_wait        (QMachine              *self,
                                                   const char * const    *names,
                                                   JsonArray             *matches,
                                                   int                    timeout_msec,
                                                   GCancellable          *cancellable,
                                                   GError               **error);

QMACHINE_AVAILABLE_IN_ALL
gboolean             q_event_match                (JsonNode              *event,
                                                   JsonNode              *match);

G_END_DECLS
