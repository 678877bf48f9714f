/* q-qtest-client-private.h
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "q-qtest-client.h"

G_BEGIN_DECLS

/* A client whose signals go to @context (the machine's owner context)
 * rather than the calling thread's. */
QQtestClient *q_qtest_client_new_with_context (GIOStream    *stream,
                                               GMainContext *context);
/* Any thread: closes the channel; commands fail with @error (NULL: closed). */
void          q_qtest_client_fail             (QQtestClient *self,
                                               const GError *error);

/* Shared by the typed commands (q-qtest-client-commands.c). */
#define VALID_WIDTH(w) ((w) == Q_QTEST_WIDTH_BYTE || (w) == Q_QTEST_WIDTH_WORD || \
                        (w) == Q_QTEST_WIDTH_LONG || (w) == Q_QTEST_WIDTH_QUAD)
#define WIDTH_MASK(w)  ((w) == Q_QTEST_WIDTH_QUAD ? G_MAXUINT64 : ((G_GUINT64_CONSTANT (1) << (8 * (w))) - 1))

gboolean      qtest_check_text   (const char          *text,
                                  gboolean             word,
                                  const char          *what,
                                  GError             **error);
void          qtest_return_now   (QQtestClient        *self,
                                  gpointer             source_tag,
                                  GError              *error,
                                  const char          *text,
                                  gpointer             task_data,
                                  GDestroyNotify       task_data_destroy,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data);
void          qtest_send         (QQtestClient        *self,
                                  char                *line,
                                  gsize                name_len,
                                  gpointer             task_data,
                                  GDestroyNotify       task_data_destroy,
                                  gpointer             source_tag,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data);
char         *qtest_finish_text  (QQtestClient        *self,
                                  GAsyncResult        *result,
                                  gpointer             source_tag,
                                  GError             **error);
gboolean      qtest_finish_ok    (QQtestClient        *self,
                                  GAsyncResult        *result,
                                  gpointer             source_tag,
                                  GError             **error);
gboolean      qtest_bad_reply    (GError             **error,
                                  const char          *command,
                                  const char          *why,
                                  const char          *text);
gboolean      qtest_parse_hex    (const char          *text,
                                  guint64              max,
                                  const char          *command,
                                  guint64             *value,
                                  GError             **error);

G_END_DECLS
