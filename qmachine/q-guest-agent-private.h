/* q-guest-agent-private.h
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "q-guest-agent.h"
#include "q-qmp-core-private.h"

G_BEGIN_DECLS

/* An agent whose signals go to @context (the machine's owner context)
 * rather than the calling thread's. */
QGuestAgent *q_guest_agent_new_with_context (GIOStream    *stream,
                                             GMainContext *context);
/* Worker thread: what the machine saw happen to the guest or the port. */
void         q_guest_agent_notice           (QGuestAgent  *self,
                                             AgentNotice   notice);
/* Any thread: closes the channel; commands fail with @error (NULL: closed). */
void         q_guest_agent_fail             (QGuestAgent  *self,
                                             const GError *error);

/* For the helpers' files (q-guest-agent-commands.c, -exec.c, -files.c). */
gboolean     q_guest_agent_check_result     (QGuestAgent  *self,
                                             GAsyncResult *result,
                                             gpointer      source_tag);
void         q_guest_agent_resync_async     (QGuestAgent         *self,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data);
void         q_guest_agent_execute_detached (QGuestAgent  *self,
                                             const char   *command,
                                             JsonObject   *arguments);

/* Strict base64 for what the agent sends (it encodes with
 * g_base64_encode: the standard alphabet, padded, no line breaks). Text
 * of another length, a character outside the alphabet, padding anywhere
 * but at the end, or bits set after the last byte are refused with
 * Q_MACHINE_ERROR_PROTOCOL naming @what, never read as other data.
 * q_guest_agent_base64_check() stores the decoded size; the checked text
 * is then decoded into exactly that many bytes at @out. */
gboolean     q_guest_agent_base64_check     (const char   *text,
                                             gsize         len,
                                             gsize        *decoded_len,
                                             const char   *what,
                                             GError      **error);
void         q_guest_agent_base64_decode    (const char   *text,
                                             gsize         len,
                                             guint8       *out);
/* The base64 string member @name of @object, decoded strictly (missing:
 * empty; not a string, or not base64: Q_MACHINE_ERROR_PROTOCOL). */
GBytes      *q_guest_agent_get_base64       (JsonObject   *object,
                                             const char   *name,
                                             const char   *what,
                                             GError      **error);

G_END_DECLS
