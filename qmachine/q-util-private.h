/* q-util-private.h
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <gio/gio.h>
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

/* A boolean member that is true (anything else: FALSE). */
static inline gboolean
q_json_get_boolean (JsonObject *object,
                    const char *name)
{
  JsonNode *node = object ? json_object_get_member (object, name) : NULL;

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == G_TYPE_BOOLEAN && json_node_get_boolean (node);
}

/* An integer member; FALSE when missing or of another type. */
static inline gboolean
q_json_get_int (JsonObject *object,
                const char *name,
                gint64     *value)
{
  JsonNode *node = object ? json_object_get_member (object, name) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  *value = json_node_get_int (node);
  return TRUE;
}


GError *q_qmp_error_from_json (JsonObject          *error_object);
char    *q_qemu_opt_quote      (const char          *value,
                                const char          *what,
                                GError             **error);
char    *q_qemu_opt_quote_implied (const char        *value,
                                   const char        *what,
                                   GError           **error);
gboolean q_machine_name_is_valid (const char        *name);
char   *q_shell_join          (const char * const  *argv);

/* The longest unix socket path taken: GUnixSocketAddress keeps at most 107
 * bytes and cuts a longer path short without a word, so a socket would be
 * bound or reached at another path; 107 bytes may be such a cut. */
#define Q_MAX_UNIX_PATH 106

/* FALSE with G_IO_ERROR_FILENAME_TOO_LONG for a unix socket address whose
 * path is longer than Q_MAX_UNIX_PATH; @what names it in the message. */
gboolean q_check_socket_address (GSocketAddress     *address,
                                 const char         *what,
                                 GError            **error);

/* The spawn helper's protocol (q-spawn-helper.c) and where it is: the
 * absolute path, or NULL when there is none (spawn by fork). */
#define Q_SPAWN_HELPER_MAGIC "qmachine-spawn-1"
#define Q_SPAWN_HELPER_MAX_KEEP 256   /* the report descriptor included */
const char *q_spawn_helper_path (void);

G_END_DECLS
