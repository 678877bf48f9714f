/* q-console-private.h
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "q-console.h"

G_BEGIN_DECLS

QConsole *q_console_new   (GSocket      *socket,
                           GMainContext *owner_context,
                           gboolean      drain,
                           gsize         buffer_size,
                           int           log_fd);
void      q_console_close (QConsole     *self);

G_END_DECLS
