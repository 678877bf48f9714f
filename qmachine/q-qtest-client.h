/* q-qtest-client.h
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

#include "q-version-macros.h"

G_BEGIN_DECLS

/**
 * Q_QTEST_CLIENT_DEFAULT_MAX_LINE_SIZE:
 *
 * The default of [property@QMachine.QtestClient:max-line-size]: 1 MiB.
 *
 * Since: 1.0
 */
#define Q_QTEST_CLIENT_DEFAULT_MAX_LINE_SIZE (1024 * 1024)

/**
 * QQtestWidth:
 * @Q_QTEST_WIDTH_BYTE: one byte (`inb`, `outb`, `readb`, `writeb`)
 * @Q_QTEST_WIDTH_WORD: two bytes (`inw`, `outw`, `readw`, `writew`)
 * @Q_QTEST_WIDTH_LONG: four bytes (`inl`, `outl`, `readl`, `writel`)
 * @Q_QTEST_WIDTH_QUAD: eight bytes (`readq`, `writeq`; not for ports)
 *
 * The width of a port or memory access.
 *
 * Since: 1.0
 */
typedef enum
{
  Q_QTEST_WIDTH_BYTE = 1,
  Q_QTEST_WIDTH_WORD = 2,
  Q_QTEST_WIDTH_LONG = 4,
  Q_QTEST_WIDTH_QUAD = 8,
} QQtestWidth;

#define Q_TYPE_QTEST_CLIENT (q_qtest_client_get_type ())

QMACHINE_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (QQtestClient, q_qtest_client, Q, QTEST_CLIENT, GObject)

QMACHINE_AVAILABLE_IN_ALL
QQtestClient *q_qtest_client_new               (GIOStream    *stream) G_GNUC_WARN_UNUSED_RESULT;
QMACHINE_AVAILABLE_IN_ALL
GIOStream    *q_qtest_client_get_stream        (QQtestClient *self);
QMACHINE_AVAILABLE_IN_ALL
int           q_qtest_client_get_timeout       (QQtestClient *self);
QMACHINE_AVAILABLE_IN_ALL
void          q_qtest_client_set_timeout       (QQtestClient *self,
                                                int           timeout_msec);
QMACHINE_AVAILABLE_IN_ALL
guint64       q_qtest_client_get_max_line_size (QQtestClient *self);
QMACHINE_AVAILABLE_IN_ALL
void          q_qtest_client_set_max_line_size (QQtestClient *self,
                                                guint64       max_line_size);
QMACHINE_AVAILABLE_IN_ALL
gboolean      q_qtest_client_is_closed         (QQtestClient *self);
QMACHINE_AVAILABLE_IN_ALL
void          q_qtest_client_close             (QQtestClient *self);

QMACHINE_AVAILABLE_IN_ALL
void q_qtest_client_command_async (QQtestClient         *self,
                                   const char           *command,
                                   GCancellable         *cancellable,
                                   GAsyncReadyCallback   callback,
                                   gpointer              user_data);
QMACHINE_AVAILABLE_IN_ALL
char *q_qtest_client_command_finish (QQtestClient         *self,
                                     GAsyncResult         *result,
                                     GError              **error);
QMACHINE_AVAILABLE_IN_ALL
char *q_qtest_client_command (QQtestClient         *self,
                              const char           *command,
                              GCancellable         *cancellable,
                              GError              **error);

QMACHINE_AVAILABLE_IN_ALL
void q_qtest_client_in_async (QQtestClient         *self,
                              QQtestWidth           width,
                              guint16               port,
                              GCancellable         *cancellable,
                              GAsyncReadyCallback   callback,
                              gpointer              user_data);
QMACHINE_AVAILABLE_IN_ALL
gboolean q_qtest_client_in_finish (QQtestClient         *self,
                                   GAsyncResult         *result,
                                   guint32              *value,
                                   GError              **error);
QMACHINE_AVAILABLE_IN_ALL
gboolean q_qtest_client_in (QQtestClient         *self,
                            QQtestWidth           width,
                            guint16               port,
                            guint32              *value,
                            GCancellable         *cancellable,
                            GError              **error);

QMACHINE_AVAILABLE_IN_ALL
void q_qtest_client_out_async (QQtestClient         *self,
                               QQtestWidth           width,
                               guint16               port,
                               guint32               value,
                               GCancellable         *cancellable,
                               GAsyncReadyCallback   callback,
                               gpointer              user_data);
QMACHINE_AVAILABLE_IN_ALL
gboolean q_qtest_client_out_finish (QQtestClient         *self,
                                    GAsyncResult         *result,
                                    GError              **error);
QMACHINE_AVAILABLE_IN_ALL
gboolean q_qtest_client_out (QQtestClient         *self,
                             QQtestWidth           width,
                             guint16               port,
                             guint32               value,
                             GCancellable         *cancellable,
                             GError              **error);

QMACHINE_AVAILABLE_IN_ALL
void q_qtest_client_read_value_async (QQtestClient         *self,
                                      QQtestWidth           width,
                                      guint64               address,
                                      GCancellable         *cancellable,
                                      GAsyncReadyCallback   callback,
                                      gpointer              user_data);
QMACHINE_AVAILABLE_IN_ALL
gboolean q_qtest_client_read_value_finish (QQtestClient         *self,
                                           GAsyncResult         *result,
                                           guint64              *value,
                                           GError              **error);
QMACHINE_AVAILABLE_IN_ALL
gboolean q_qtest_client_read_value (QQtestClient         *self,
                                    QQtestWidth           width,
                                    guint64               address,
                                    guint64              *value,
                                    GCancellable         *cancellable,
                                    GError              **error);

QMACHINE_AVAILABLE_IN_ALL
void q_qtest_client_write_value_async (QQtestClient         *self,
                                       QQtestWidth           width,
                                       guint64               address,
                                       guint64               value,
                                       GCancellable         *cancellable,
                                       GAsyncReadyCallback   callback,
                                       gpointer              user_data);
QMACHINE_AVAILABLE_IN_ALL
gboolean q_qtest_client_write_value_finish (QQtestClient         *self,
                                            GAsyncResult         *result,
                                            GError              **error);
QMACHINE_AVAILABLE_IN_ALL
gboolean q_qtest_client_write_value (QQtestClient         *self,
                                     QQtestWidth           width,
                                     guint64               address,
                                     guint64               value,
                                     GCancellable         *cancellable,
                                     GError              **error);

QMACHINE_AVAILABLE_IN_ALL
void q_qtest_client_read_memory_async (QQtestClient         *self,
                                       guint64               address,
                                       gsize                 size,
                                       GCancellable         *cancellable,
                                       GAsyncReadyCallback   callback,
                                       gpointer              user_data);
QMACHINE_AVAILABLE_IN_ALL
GBytes *q_qtest_client_read_memory_finish (QQtestClient         *self,
                                           GAsyncResult         *result,
                                           GError              **error);
QMACHINE_AVAILABLE_IN_ALL
GBytes *q_qtest_client_read_memory (QQtestClient         *self,
                                    guint64               address,
                                    gsize                 size,
                                    GCancellable         *cancellable,
                                    GError              **error);

QMACHINE_AVAILABLE_IN_ALL
void q_qtest_client_write_memory_async (QQtestClient         *self,
                                        guint64               address,
                                        GBytes               *data,
                                        GCancellable         *cancellable,
                                        GAsyncReadyCallback   callback,
                                        gpointer              user_data);
QMACHINE_AVAILABLE_IN_ALL
gboolean q_qtest_client_write_memory_finish (QQtestClient         *self,
                                             GAsyncResult         *result,
                                             GError              **error);
QMACHINE_AVAILABLE_IN_ALL
gboolean q_qtest_client_write_memory (QQtestClient         *self,
                                      guint64               address,
                                      GBytes               *data,
                                      GCancellable         *cancellable,
                                      GError              **error);

QMACHINE_AVAILABLE_IN_ALL
void q_qtest_client_memset_async (QQtestClient         *self,
                                  guint64               address,
                                  gsize                 size,
                                  guint8                pattern,
                                  GCancellable         *cancellable,
                                  GAsyncReadyCallback   callback,
                                  gpointer              user_data);
QMACHINE_AVAILABLE_IN_ALL
gboolean q_qtest_client_memset_finish (QQtestClient         *self,
                                       GAsyncResult         *result,
                                       GError              **error);
QMACHINE_AVAILABLE_IN_ALL
gboolean q_qtest_client_memset (QQtestClient         *self,
                                guint64               address,
                                gsize                 size,
                                guint8                pattern,
                                GCancellable         *cancellable,
                                GError              **error);

QMACHINE_AVAILABLE_IN_ALL
void q_qtest_client_clock_step_async (QQtestClient         *self,
                                      gint64                step_ns,
                                      GCancellable         *cancellable,
                                      GAsyncReadyCallback   callback,
                                      gpointer              user_data);
QMACHINE_AVAILABLE_IN_ALL
gboolean q_qtest_client_clock_step_finish (QQtestClient         *self,
                                           GAsyncResult         *result,
                                           gint64               *clock_ns,
                                           GError              **error);
QMACHINE_AVAILABLE_IN_ALL
gboolean q_qtest_client_clock_step (QQtestClient         *self,
                                    gint64                step_ns,
                                    gint64               *clock_ns,
                                    GCancellable         *cancellable,
                                    GError              **error);

QMACHINE_AVAILABLE_IN_ALL
void q_qtest_client_clock_set_async (QQtestClient         *self,
                                     gint64                ns,
                                     GCancellable         *cancellable,
                                     GAsyncReadyCallback   callback,
                                     gpointer              user_data);
QMACHINE_AVAILABLE_IN_ALL
gboolean q_qtest_client_clock_set_finish (QQtestClient         *self,
                                          GAsyncResult         *result,
                                          gint64               *clock_ns,
                                          GError              **error);
QMACHINE_AVAILABLE_IN_ALL
gboolean q_qtest_client_clock_set (QQtestClient         *self,
                                   gint64                ns,
                                   gint64               *clock_ns,
                                   GCancellable         *cancellable,
                                   GError              **error);

QMACHINE_AVAILABLE_IN_ALL
void q_qtest_client_irq_intercept_in_async (QQtestClient         *self,
                                            const char           *qom_path,
                                            GCancellable         *cancellable,
                                            GAsyncReadyCallback   callback,
                                            gpointer              user_data);
QMACHINE_AVAILABLE_IN_ALL
gboolean q_qtest_client_irq_intercept_in_finish (QQtestClient         *self,
                                                 GAsyncResult         *result,
                                                 GError              **error);
QMACHINE_AVAILABLE_IN_ALL
gboolean q_qtest_client_irq_intercept_in (QQtestClient         *self,
                                          const char           *qom_path,
                                          GCancellable         *cancellable,
                                          GError              **error);

QMACHINE_AVAILABLE_IN_ALL
void q_qtest_client_irq_intercept_out_async (QQtestClient         *self,
                                             const char           *qom_path,
                                             GCancellable         *cancellable,
                                             GAsyncReadyCallback   callback,
                                             gpointer              user_data);
QMACHINE_AVAILABLE_IN_ALL
gboolean q_qtest_client_irq_intercept_out_finish (QQtestClient         *self,
                                                  GAsyncResult         *result,
                                                  GError              **error);
QMACHINE_AVAILABLE_IN_ALL
gboolean q_qtest_client_irq_intercept_out (QQtestClient         *self,
                                           const char           *qom_path,
                                           GCancellable         *cancellable,
                                           GError              **error);

QMACHINE_AVAILABLE_IN_ALL
void q_qtest_client_set_irq_in_async (QQtestClient         *self,
                                      const char           *qom_path,
                                      const char           *name,
                                      int                   line,
                                      int                   level,
                                      GCancellable         *cancellable,
                                      GAsyncReadyCallback   callback,
                                      gpointer              user_data);
QMACHINE_AVAILABLE_IN_ALL
gboolean q_qtest_client_set_irq_in_finish (QQtestClient         *self,
                                           GAsyncResult         *result,
                                           GError              **error);
QMACHINE_AVAILABLE_IN_ALL
gboolean q_qtest_client_set_irq_in (QQtestClient         *self,
                                    const char           *qom_path,
                                    const char           *name,
                                    int                   line,
                                    int                   level,
                                    GCancellable         *cancellable,
                                    GError              **error);

G_END_DECLS
