/* q-util-private.h
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Type-checked member access for untrusted JSON: never a critical. */
static inline JsonObject *
q_json_get_object (JsonObject *object,
                   const char *name)
{
  JsonNode *node = object ? json_object_get_member (object, name) : NULL;

  return node && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static inline JsonArray *
q_json_get_array (JsonObject *object,
                  const char *name)
{
  JsonNode *node = object ? json_object_get_member (object, name) : NULL;

  return node && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
}

static inline const char *
q_json_get_string (JsonObject *object,
                   const char *name)
{
  JsonNode *node = object ? json_object_get_member (object, name) : NULL;

  if (node && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    return json_node_get_string (node);
  return NULL;
}

GError *q_qmp_error_from_json (JsonObject          *error_object);
int      q_open_private_file   (const char          *path,
                                const char          *what,
                                GError             **error);
char    *q_qemu_opt_quote      (const char          *value,
                                const char          *what,
                                GError             **error);
gboolean q_machine_name_is_valid (const char        *name);
char   *q_shell_join          (const char * const  *argv);

G_END_DECLS
