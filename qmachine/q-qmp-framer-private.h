/* q-qmp-framer-private.h: QMP's byte stream into JSON objects
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Deepest nesting accepted from a peer, checked before the recursive
 * parser sees a message. QEMU's deepest replies (block backing chains)
 * stay far below it. */
#define Q_QMP_FRAMER_MAX_DEPTH 128

/* What the checker learnt about a message that is valid JSON, and what
 * the framer hands its consumer with each message. */
typedef struct
{
  gsize     size;           /* bytes of the message as received (its line, trimmed) */
  gsize     nodes;          /* JSON values in it: what json-glib makes a node of each */
  GError   *number_error;   /* owned: the first number json-glib cannot hold
                             * exactly (an integer outside gint64, a magnitude
                             * beyond a double), or NULL */
  gboolean  number_in_id;   /* such a number (not only the first) is inside the
                             * top-level "id" member */
} QQmpJsonInfo;

void      q_qmp_json_info_clear (QQmpJsonInfo *info);

/* Splits the stream into CRLF/LF-terminated messages, enforces the size
 * and depth limits, and parses each into a JsonObject. Owned and used by
 * one thread (the worker); holds no references to anything else. */
typedef struct
{
  GByteArray *inbuf;
  gsize       scanned;        /* bytes of inbuf known to hold no newline */
  JsonParser *parser;
  guint64     max_size;
  gsize       max_nodes;      /* most JSON values in one message */

  /* Guest agent dialect (q_qmp_framer_set_agent): a bad line is dropped
   * (the consumer is told with a NULL message) instead of ending the
   * stream, and a 0xFF byte discards the partial line before it. */
  gboolean    agent;
  gboolean    skip_to_delimiter;  /* drop everything up to the next 0xFF */
  gboolean    discarding;         /* inside a line over max_size: drop to its end */
  gboolean    dropped_oversize;   /* the line just reported as NULL was too long */
  gboolean    dropped_too_many;   /* … or held more than max_nodes values */

  /* Text lines (q_qmp_framer_set_lines, qtest's dialect): each line is
   * checked (no NUL or other control character but a tab, valid UTF-8,
   * at most max_size bytes) and handed over as an object with one string
   * member, "line"; a bad line ends the stream. */
  gboolean    lines;
} QQmpFramer;

/* Called for each message, in order; return FALSE to stop (the consumer
 * closed). @message and @info are borrowed. In the agent dialect,
 * @message (and @info) is NULL for a line that was dropped (not strict
 * JSON, not an object, too long, too many values).
 *
 * A message with @info->number_error set is valid JSON, but json-glib
 * read at least one of its numbers as another value: the consumer must
 * not use its values (it fails the command the reply is for, or drops
 * the event). */
typedef gboolean (*QQmpFramerFunc) (JsonObject         *message,
                                    const QQmpJsonInfo *info,
                                    gpointer            user_data);

/* Whether @data is one strict JSON value nested at most @max_depth deep
 * and holding at most @max_nodes values; G_MAXSIZE for no node limit.
 * @info (optional) is filled when it is: a number json-glib cannot hold is
 * reported there, not as a failure. */
gboolean  q_qmp_json_check    (const guint8   *data,
                               gsize           len,
                               guint           max_depth,
                               gsize           max_nodes,
                               QQmpJsonInfo   *info,
                               GError        **error);

/* What QEMU's JSON reader takes in one message (its lexer's limits, less a
 * margin). */
#define Q_QMP_MAX_OUTGOING_TOKENS 2000000
#define Q_QMP_MAX_OUTGOING_SIZE   (64000 * 1024)

/* Whether a serialized command (without its line feed) is one message to
 * QEMU; G_IO_ERROR_INVALID_ARGUMENT naming @command otherwise. */
gboolean  q_qmp_json_check_outgoing (const char   *command,
                                     const guint8 *data,
                                     gsize         len,
                                     GError      **error);
void      q_qmp_framer_init   (QQmpFramer     *framer,
                               guint64         max_size,
                               gsize           max_nodes);
void      q_qmp_framer_clear  (QQmpFramer     *framer);
void      q_qmp_framer_set_agent (QQmpFramer  *framer);
void      q_qmp_framer_set_lines (QQmpFramer  *framer);
/* Agent dialect: what arrives before the next 0xFF is dropped. */
void      q_qmp_framer_skip_to_delimiter (QQmpFramer *framer);
gboolean  q_qmp_framer_push   (QQmpFramer     *framer,
                               const guint8   *data,
                               gsize           len,
                               QQmpFramerFunc  func,
                               gpointer        user_data,
                               GError        **error);

G_END_DECLS
