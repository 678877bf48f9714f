/* q-console.h
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
 * QConsoleMatchFlags:
 * @Q_CONSOLE_MATCH_FLAGS_NONE: the pattern is a plain string
 * @Q_CONSOLE_MATCH_FLAGS_REGEX: the pattern is a Perl-compatible regular
 *   expression (see `GRegex`), matched against raw bytes, multi-line
 *
 * How [method@QMachine.Console.wait_for] reads its pattern.
 *
 * Since: 1.0
 */
typedef enum /*< flags >*/
{
  Q_CONSOLE_MATCH_FLAGS_NONE  = 0,
  Q_CONSOLE_MATCH_FLAGS_REGEX = 1 << 0,
} QConsoleMatchFlags;

/**
 * Q_CONSOLE_DEFAULT_BUFFER_SIZE:
 *
 * The default of [property@QMachine.Machine:console-buffer-size]: 4 MiB.
 *
 * Since: 1.0
 */
#define Q_CONSOLE_DEFAULT_BUFFER_SIZE (4 * 1024 * 1024)

#define Q_TYPE_CONSOLE (q_console_get_type ())

QMACHINE_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (QConsole, q_console, Q, CONSOLE, GObject)

QMACHINE_AVAILABLE_IN_ALL
GIOStream  *q_console_get_stream        (QConsole            *self);
QMACHINE_AVAILABLE_IN_ALL
GBytes     *q_console_get_output        (QConsole            *self);
QMACHINE_AVAILABLE_IN_ALL
guint64     q_console_get_dropped_bytes (QConsole            *self);
QMACHINE_AVAILABLE_IN_ALL
gboolean    q_console_is_closed         (QConsole            *self);

QMACHINE_AVAILABLE_IN_ALL
void        q_console_read_line_async   (QConsole            *self,
                                         int                  timeout_msec,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data);
QMACHINE_AVAILABLE_IN_ALL
char       *q_console_read_line_finish  (QConsole            *self,
                                         GAsyncResult        *result,
                                         GError             **error);
QMACHINE_AVAILABLE_IN_ALL
char       *q_console_read_line         (QConsole            *self,
                                         int                  timeout_msec,
                                         GCancellable        *cancellable,
                                         GError             **error);

QMACHINE_AVAILABLE_IN_ALL
void        q_console_wait_for_async    (QConsole            *self,
                                         const char          *pattern,
                                         QConsoleMatchFlags   flags,
                                         int                  timeout_msec,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data);
QMACHINE_AVAILABLE_IN_ALL
char       *q_console_wait_for_finish   (QConsole            *self,
                                         GAsyncResult        *result,
                                         GError             **error);
QMACHINE_AVAILABLE_IN_ALL
char       *q_console_wait_for          (QConsole            *self,
                                         const char          *pattern,
                                         QConsoleMatchFlags   flags,
                                         int                  timeout_msec,
                                         GCancellable        *cancellable,
                                         GError             **error);

QMACHINE_AVAILABLE_IN_ALL
void        q_console_write_async       (QConsole            *self,
                                         GBytes              *data,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data);
QMACHINE_AVAILABLE_IN_ALL
gboolean    q_console_write_finish      (QConsole            *self,
                                         GAsyncResult        *result,
                                         GError             **error);
QMACHINE_AVAILABLE_IN_ALL
gboolean    q_console_write             (QConsole            *self,
                                         GBytes              *data,
                                         GCancellable        *cancellable,
                                         GError             **error);
QMACHINE_AVAILABLE_IN_ALL
gboolean    q_console_write_text        (QConsole            *self,
                                         const char          *text,
                                         GCancellable        *cancellable,
                                         GError             **error);

G_END_DECLS
