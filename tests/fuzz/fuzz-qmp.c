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

#include <math.h>
#include <stdint.h>

#include "q-error.h"
#include "q-qmp-framer-private.h"
#include "q-util-private.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Small enough that the fuzzer reaches it, big enough for real messages. */
#define FUZZ_MAX_NODES 4096

/* The values json-glib made of a message; a double's being finite is
 * checked on the way. */
static gsize
tree_nodes (JsonNode *node,
            gboolean  numbers_ok)
{
  gsize n = 1;

  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObjectIter iter;
      JsonNode *member;

      json_object_iter_init (&iter, json_node_get_object (node));
      while (json_object_iter_next (&iter, NULL, &member))
        n += tree_nodes (member, numbers_ok);
    }
  else if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (array); i++)
        n += tree_nodes (json_array_get_element (array, i), numbers_ok);
    }
  else if (numbers_ok && JSON_NODE_HOLDS_VALUE (node) &&
           json_node_get_value_type (node) == G_TYPE_DOUBLE)
    g_assert_true (isfinite (json_node_get_double (node)));

  return n;
}

static gboolean
on_message (JsonObject         *message,
            const QQmpJsonInfo *info,
            gpointer            user_data)
{
  guint *count = user_data;
  JsonObject *error_obj;
  JsonNode *node;

  (*count)++;
  if (message == NULL)
    return *count < 10000;   /* a line the agent dialect dropped */

  /* The checker's count is json-glib's (fewer only where a key repeats,
   * whose later value replaces the earlier), and within the limit; with
   * no number reported, no double overflowed. */
  {
    g_autoptr(JsonNode) root = json_node_new (JSON_NODE_OBJECT);
    gsize n;

    json_node_set_object (root, message);
    n = tree_nodes (root, info->number_error == NULL);
    g_assert_cmpuint (n, <=, info->nodes);
    g_assert_cmpuint (info->nodes, <=, FUZZ_MAX_NODES);
    g_assert_cmpuint (info->size, >, 0);
    if (info->number_error != NULL)
      g_assert_error (info->number_error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL);
    else
      g_assert_false (info->number_in_id);
  }

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
  q_qmp_framer_init (&framer, 1024 * 1024, FUZZ_MAX_NODES);
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
