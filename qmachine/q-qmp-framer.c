/* q-qmp-framer.c: QMP's byte stream into JSON objects
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>

#include "q-error.h"
#include "q-qmp-framer-private.h"

void
q_qmp_framer_init (QQmpFramer *framer,
                   guint64     max_size)
{
  framer->inbuf = g_byte_array_new ();
  framer->scanned = 0;
  framer->parser = json_parser_new_immutable ();
  framer->max_size = max_size;
}

void
q_qmp_framer_clear (QQmpFramer *framer)
{
  g_clear_pointer (&framer->inbuf, g_byte_array_unref);
  g_clear_object (&framer->parser);
}

/* A linear pre-check so that a hostile peer cannot make the recursive
 * JSON parser overflow the stack. */
static gboolean
json_depth_ok (const char *data,
               gsize       len)
{
  gboolean in_string = FALSE;
  gboolean escaped = FALSE;
  int depth = 0;

  for (gsize i = 0; i < len; i++)
    {
      char c = data[i];

      if (in_string)
        {
          if (escaped)
            escaped = FALSE;
          else if (c == '\\')
            escaped = TRUE;
          else if (c == '"')
            in_string = FALSE;
          continue;
        }

      if (c == '"')
        in_string = TRUE;
      else if (c == '{' || c == '[')
        {
          if (++depth > Q_QMP_FRAMER_MAX_DEPTH)
            return FALSE;
        }
      else if (c == '}' || c == ']')
        depth--;
    }

  return TRUE;
}

/* Parses one line. Returns FALSE with @error on a protocol violation;
 * *@stop is set when the consumer asked to stop. */
static gboolean
framer_parse_line (QQmpFramer      *framer,
                   const char      *line,
                   gsize            len,
                   QQmpFramerFunc   func,
                   gpointer         user_data,
                   gboolean        *stop,
                   GError         **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(JsonObject) message = NULL;
  JsonNode *root;

  while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
    len--;
  while (len > 0 && (line[0] == ' ' || line[0] == '\t' || line[0] == '\r'))
    line++, len--;
  if (len == 0)
    return TRUE;

  if (!json_depth_ok (line, len))
    {
      g_set_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                   "QMP message nested deeper than %d levels", Q_QMP_FRAMER_MAX_DEPTH);
      return FALSE;
    }

  if (!json_parser_load_from_data (framer->parser, line, len, &local_error))
    {
      g_set_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                   "Malformed JSON from the QMP peer: %s", local_error->message);
      return FALSE;
    }

  root = json_parser_get_root (framer->parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                   "QMP message is not a JSON object");
      return FALSE;
    }

  message = json_object_ref (json_node_get_object (root));
  /* Drop the parser's tree right away: messages can be big. */
  json_parser_load_from_data (framer->parser, "{}", 2, NULL);
  *stop = !func (message, user_data);

  return TRUE;
}

gboolean
q_qmp_framer_push (QQmpFramer      *framer,
                   const guint8    *data,
                   gsize            len,
                   QQmpFramerFunc   func,
                   gpointer         user_data,
                   GError         **error)
{
  gsize start = 0;
  gboolean stop = FALSE;

  g_byte_array_append (framer->inbuf, data, len);

  for (;;)
    {
      const guint8 *nl;
      gsize line_len;

      nl = memchr (framer->inbuf->data + framer->scanned, '\n',
                   framer->inbuf->len - framer->scanned);
      if (nl == NULL)
        break;

      line_len = nl - (framer->inbuf->data + start);
      if (line_len > framer->max_size)
        goto too_big;

      if (!framer_parse_line (framer, (const char *)framer->inbuf->data + start, line_len,
                              func, user_data, &stop, error))
        return FALSE;

      start += line_len + 1;
      framer->scanned = start;
      if (stop)
        return TRUE;
    }

  if (start > 0)
    g_byte_array_remove_range (framer->inbuf, 0, start);
  framer->scanned = framer->inbuf->len;

  if (framer->inbuf->len > framer->max_size)
    goto too_big;

  return TRUE;

too_big:
  g_set_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
               "QMP message larger than the limit of %" G_GUINT64_FORMAT " bytes",
               framer->max_size);
  return FALSE;
}
