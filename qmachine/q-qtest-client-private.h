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

G_END_DECLS
