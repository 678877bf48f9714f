/* q-qmp-core-message.c: what the engine and its dialects share about a
 * message: commands as bytes and as records, tasks returned, the traffic
 * in the debug log (any thread unless a comment says otherwise)
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The bottom of the engine's files: it calls none of them.
 */

#include "config.h"

#include <string.h>

#include "q-qmp-core-private.h"
#include "q-util-private.h"

/* ------------------------------------------------------------------------ */
/* The traffic in the debug log (G_MESSAGES_DEBUG=QMachine)                 */

gboolean
traffic_logged (void)
{
  return !g_log_writer_default_would_drop (G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN);
}

/* A copy of @node with the values of members that carry secrets (names
 * holding "password", "secret" or "key", and the `data` of secret
 * objects) replaced, for the log. */
static JsonNode *
redact (JsonNode *node)
{
  /* A new tree: parsed messages are immutable. */
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *object = json_node_get_object (node);
      JsonObject *out = json_object_new ();
      GList *members = json_object_get_members (object);
      const char *qom_type = q_json_get_string (object, "qom-type");
      gboolean secret_object = qom_type != NULL && strstr (qom_type, "secret") != NULL;
      JsonNode *ret = json_node_new (JSON_NODE_OBJECT);

      for (GList *l = members; l; l = l->next)
        {
          const char *name = l->data;
          g_autofree char *lower = g_ascii_strdown (name, -1);

          if (strstr (lower, "password") || strstr (lower, "secret") || strstr (lower, "key") ||
              (secret_object && g_str_equal (name, "data")))
            json_object_set_string_member (out, name, "<redacted>");
          else
            json_object_set_member (out, name, redact (json_object_get_member (object, name)));
        }
      g_list_free (members);
      json_node_take_object (ret, out);
      return ret;
    }
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);
      JsonArray *out = json_array_new ();
      JsonNode *ret = json_node_new (JSON_NODE_ARRAY);

      for (guint i = 0; i < json_array_get_length (array); i++)
        json_array_add_element (out, redact (json_array_get_element (array, i)));
      json_node_take_array (ret, out);
      return ret;
    }
  return json_node_copy (node);
}

/* A structured debug message: besides MESSAGE ("NAME: QMP -> {...}"),
 * QMACHINE_QMP says "sent" or "received" and QMACHINE_NAME names the
 * connection (the machine's name), for journald and custom log writers. */
void
log_traffic (Core       *core,
             gboolean    sent,
             JsonObject *message)
{
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  g_autoptr(JsonNode) shown = NULL;
  g_autofree char *text = NULL;
  g_autofree char *name = NULL;
  g_autofree char *line = NULL;
  GLogField fields[] = {
    { "GLIB_DOMAIN", G_LOG_DOMAIN, -1 },
    { "PRIORITY", "7", -1 },
    { "CODE_FILE", __FILE__, -1 },
    { "CODE_FUNC", G_STRFUNC, -1 },
    { "QMACHINE_QMP", sent ? "sent" : "received", -1 },
    { "MESSAGE", NULL, -1 },
    { "QMACHINE_NAME", NULL, -1 },
  };

  json_node_set_object (node, message);
  shown = redact (node);
  text = json_to_string (shown, FALSE);

  q_leaf_lock (&core->mutex);
  name = g_strdup (core->log_name);
  q_leaf_unlock (&core->mutex);

  line = g_strdup_printf ("%s%sQMP %s %s", name ? name : "", name ? ": " : "",
                          sent ? "->" : "<-", text);
  fields[5].value = line;
  fields[6].value = name;
  g_log_structured_array (G_LOG_LEVEL_DEBUG, fields,
                          name ? G_N_ELEMENTS (fields) : G_N_ELEMENTS (fields) - 1);
}

/* Return through a task held in @slot, and drop that reference. */
void
take_task_return_error (GTask  **slot,
                        GError  *error)
{
  GTask *task = g_steal_pointer (slot);

  g_task_return_error (task, error);
  g_object_unref (task);
}

void
take_task_return_boolean (GTask    **slot,
                          gboolean   value)
{
  GTask *task = g_steal_pointer (slot);

  g_task_return_boolean (task, value);
  g_object_unref (task);
}

void
take_task_return_pointer (GTask          **slot,
                          gpointer         value,
                          GDestroyNotify   destroy)
{
  GTask *task = g_steal_pointer (slot);

  g_task_return_pointer (task, value, destroy);
  g_object_unref (task);
}

/* ------------------------------------------------------------------------ */
/* Pending commands and emissions                                           */

void
pending_free (Pending *p)
{
  g_free (p->id);
  g_free (p->command);
  g_clear_pointer (&p->bytes, g_bytes_unref);
  g_clear_object (&p->fds);
  g_clear_object (&p->task);
  g_free (p);
}

void
emission_free (Emission *e)
{
  g_free (e->name);
  g_clear_pointer (&e->object, json_object_unref);
  g_clear_error (&e->error);
  g_free (e);
}

char *
core_next_id (Core *core)
{
  return g_strdup_printf ("%u", (guint)g_atomic_int_add (&core->id_counter, 1));
}

/* A command ready for core_do_execute. */
Pending *
pending_new (Core       *core,
             const char *command,
             JsonObject *arguments,
             gboolean    oob)
{
  Pending *p = g_new0 (Pending, 1);

  p->id = core_next_id (core);
  p->command = g_strdup (command);
  p->bytes = serialize_command (command, arguments, oob, p->id);
  p->oob = oob;
  if (traffic_logged ())
    {
      g_autoptr(JsonObject) shown = json_object_new ();

      json_object_set_string_member (shown, oob ? "exec-oob" : "execute", command);
      if (arguments != NULL)
        json_object_set_object_member (shown, "arguments", json_object_ref (arguments));
      if (oob)
        json_object_set_int_member (shown, "id", g_ascii_strtoll (p->id, NULL, 10));
      log_traffic (core, TRUE, shown);
    }

  return p;
}

/* Appends @text as a JSON string. */
static void
append_json_string (GString    *out,
                    const char *text)
{
  g_string_append_c (out, '"');
  for (const guchar *c = (const guchar *)text; *c; c++)
    {
      if (*c == '"' || *c == '\\')
        {
          g_string_append_c (out, '\\');
          g_string_append_c (out, *c);
        }
      else if (*c < 0x20)
        g_string_append_printf (out, "\\u%04x", *c);
      else
        g_string_append_c (out, *c);
    }
  g_string_append_c (out, '"');
}

/* The shortest message QEMU accepts: QEMU's monitor consumes its input a
 * byte per main-loop iteration, so every byte costs latency
 * (docs/benchmarks.md). In-band commands carry no id: QEMU answers them in
 * order. Out-of-band ones need one, as a number. */
GBytes *
serialize_command (const char *command,
                   JsonObject *arguments,
                   gboolean    oob,
                   const char *id)
{
  GString *s = g_string_sized_new (64);

  g_string_append (s, oob ? "{\"exec-oob\":" : "{\"execute\":");
  append_json_string (s, command);
  if (arguments != NULL)
    {
      g_autoptr(JsonGenerator) gen = json_generator_new ();
      g_autoptr(JsonNode) args = json_node_new (JSON_NODE_OBJECT);

      json_node_set_object (args, arguments);
      json_generator_set_root (gen, args);
      g_string_append (s, ",\"arguments\":");
      json_generator_to_gstring (gen, s);
    }
  if (oob)
    {
      g_string_append (s, ",\"id\":");
      g_string_append (s, id);
    }
  g_string_append (s, "}\n");

  return g_string_free_to_bytes (s);
}
