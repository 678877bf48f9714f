/* fuzz-qmp.c: arbitrary peer bytes through the QMP framer, the strict JSON
 * check, json-glib and what the client reads out of a message
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A libFuzzer target (build-aux/fuzz.sh builds it with clang) and, with
 * fuzz-replay.c, an ordinary test that replays the corpus in every CI run.
 * The first input byte chooses how the rest is split into reads, so the
 * fuzzer also explores messages cut at every point.
 */

#include "config.h"

#include <stdint.h>

#include "q-error.h"
#include "q-qmp-framer-private.h"
#include "q-util-private.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static gboolean
on_message (JsonObject *message,
            gpointer    user_data)
{
  guint *count = user_data;
  JsonObject *error_obj;
  JsonNode *node;

  (*count)++;
  if (message == NULL)
    return *count < 10000;   /* a line the agent dialect dropped */

  /* What the client looks at in a message, type-checked. */
  (void)q_json_get_object (message, "QMP");
  (void)q_json_get_string (message, "event");
  (void)q_json_get_array (q_json_get_object (message, "QMP"), "capabilities");
  if ((error_obj = q_json_get_object (message, "error")) != NULL)
    {
      GError *error = q_qmp_error_from_json (error_obj);
      g_error_free (error);
    }
  if ((node = json_object_get_member (message, "id")) != NULL)
    (void)json_node_get_value_type (node);

  /* Re-serializing must work on whatever was accepted. */
  {
    g_autoptr(JsonNode) root = json_node_new (JSON_NODE_OBJECT);
    g_autofree char *text = NULL;

    json_node_set_object (root, message);
    text = json_to_string (root, FALSE);
    g_assert_nonnull (text);
  }

  return *count < 10000;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  QQmpFramer framer;
  guint count = 0;
  gsize chunk;
  gsize off;

  if (size == 0)
    return 0;

  /* The first byte: the chunk size (low 7 bits; 0: all at once) and, in
   * its top bit, the guest agent's dialect (0xFF resets, bad lines
   * dropped), with a resynchronisation pending for odd sizes. */
  chunk = (data[0] & 0x7F) == 0 ? size : (data[0] & 0x7F);
  q_qmp_framer_init (&framer, 1024 * 1024);
  if (data[0] & 0x80)
    {
      q_qmp_framer_set_agent (&framer);
      if (size & 1)
        q_qmp_framer_skip_to_delimiter (&framer);
    }
  data++, size--;

  for (off = 0; off < size; off += chunk)
    {
      g_autoptr(GError) error = NULL;

      if (!q_qmp_framer_push (&framer, data + off, MIN (chunk, size - off),
                              on_message, &count, &error))
        {
          /* Every refusal is a clear protocol error. */
          g_assert_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL);
          break;
        }
    }
  q_qmp_framer_clear (&framer);

  return 0;
}
