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
  framer->agent = FALSE;
  framer->skip_to_delimiter = FALSE;
  framer->discarding = FALSE;
  framer->dropped_oversize = FALSE;
}

void
q_qmp_framer_clear (QQmpFramer *framer)
{
  g_clear_pointer (&framer->inbuf, g_byte_array_unref);
  g_clear_object (&framer->parser);
}

void
q_qmp_framer_set_agent (QQmpFramer *framer)
{
  framer->agent = TRUE;
}

void
q_qmp_framer_skip_to_delimiter (QQmpFramer *framer)
{
  g_assert (framer->agent);
  framer->skip_to_delimiter = TRUE;
}

/* ------------------------------------------------------------------------ */
/* Strict JSON (RFC 8259), checked before json-glib sees anything          */

/* json-glib 1.6 is lenient (C comments, single-quoted strings) and
 * recursive, so a hostile peer could make it accept what QEMU never sends
 * or recurse until the stack overflows. This checker follows RFC 8259's
 * grammar exactly, in one pass, without recursion, and counts the depth
 * as the grammar nests: only text that passes it reaches json-glib, whose
 * recursion is then bounded by Q_QMP_FRAMER_MAX_DEPTH. */

typedef struct
{
  const guint8 *p;
  gsize         len;
  gsize         i;
  gsize         tokens;   /* as QEMU's JSON lexer counts them, roughly */
  const char   *what;     /* the violation, for the error */
} Scan;

static inline void
scan_ws (Scan *s)
{
  while (s->i < s->len && (s->p[s->i] == ' ' || s->p[s->i] == '\t' ||
                           s->p[s->i] == '\n' || s->p[s->i] == '\r'))
    s->i++;
}

static gboolean
scan_fail (Scan       *s,
           const char *what)
{
  s->what = what;
  return FALSE;
}

static gboolean
scan_string (Scan *s)
{
  s->i++;   /* the opening quote */
  while (s->i < s->len)
    {
      guint8 c = s->p[s->i];

      if (c == '"')
        {
          s->i++;
          return TRUE;
        }
      if (c == '\\')
        {
          if (++s->i >= s->len)
            break;
          switch (s->p[s->i])
            {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
              s->i++;
              break;
            case 'u':
              for (int k = 1; k <= 4; k++)
                if (s->i + k >= s->len || !g_ascii_isxdigit (s->p[s->i + k]))
                  return scan_fail (s, "a bad \\u escape in a string");
              s->i += 5;
              break;
            default:
              return scan_fail (s, "a bad escape in a string");
            }
          continue;
        }
      if (c < 0x20)
        return scan_fail (s, "a control character in a string");
      if (c < 0x80)
        {
          s->i++;
          continue;
        }
      {
        gunichar u = g_utf8_get_char_validated ((const char *)s->p + s->i, s->len - s->i);

        if (u == (gunichar)-1 || u == (gunichar)-2)
          return scan_fail (s, "invalid UTF-8 in a string");
        s->i += g_utf8_skip[c];
      }
    }

  return scan_fail (s, "an unterminated string");
}

static gboolean
scan_digits (Scan *s)
{
  gsize start = s->i;

  while (s->i < s->len && g_ascii_isdigit (s->p[s->i]))
    s->i++;
  return s->i > start;
}

static gboolean
scan_number (Scan *s)
{
  if (s->p[s->i] == '-')
    s->i++;
  if (s->i < s->len && s->p[s->i] == '0')
    s->i++;
  else if (!scan_digits (s))
    return scan_fail (s, "a malformed number");
  if (s->i < s->len && s->p[s->i] == '.')
    {
      s->i++;
      if (!scan_digits (s))
        return scan_fail (s, "a malformed number");
    }
  if (s->i < s->len && (s->p[s->i] == 'e' || s->p[s->i] == 'E'))
    {
      s->i++;
      if (s->i < s->len && (s->p[s->i] == '+' || s->p[s->i] == '-'))
        s->i++;
      if (!scan_digits (s))
        return scan_fail (s, "a malformed number");
    }
  return TRUE;
}

static gboolean
scan_literal (Scan       *s,
              const char *word)
{
  gsize n = strlen (word);

  if (s->len - s->i < n || memcmp (s->p + s->i, word, n) != 0)
    return scan_fail (s, "an unexpected character");
  s->i += n;
  return TRUE;
}

/* Whether @data is exactly one JSON value (surrounded by whitespace only)
 * nested at most @max_depth deep. Otherwise fills @s->what (NULL when the
 * depth was exceeded). */
static gboolean
json_scan (Scan  *s,
           guint  max_depth)
{
  guint8 stack[Q_QMP_FRAMER_MAX_DEPTH];   /* '{' or '[' */
  guint depth = 0;

  g_assert (max_depth <= Q_QMP_FRAMER_MAX_DEPTH);

value:
  scan_ws (s);
  if (s->i >= s->len)
    {
      scan_fail (s, "a truncated message");
      goto fail;
    }
  switch (s->p[s->i])
    {
    case '{':
    case '[':
      if (depth >= max_depth)
        return FALSE;
      s->tokens++;
      stack[depth++] = s->p[s->i++];
      scan_ws (s);
      if (s->i < s->len && s->p[s->i] == (stack[depth - 1] == '{' ? '}' : ']'))
        {
          s->i++;
          depth--;
          goto after_value;
        }
      if (stack[depth - 1] == '{')
        goto key;
      goto value;
    case '"':
      s->tokens++;
      if (!scan_string (s))
        goto fail;
      goto after_value;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
      s->tokens++;
      if (!scan_number (s))
        goto fail;
      goto after_value;
    case 't':
      s->tokens++;
      if (!scan_literal (s, "true"))
        goto fail;
      goto after_value;
    case 'f':
      s->tokens++;
      if (!scan_literal (s, "false"))
        goto fail;
      goto after_value;
    case 'n':
      s->tokens++;
      if (!scan_literal (s, "null"))
        goto fail;
      goto after_value;
    default:
      scan_fail (s, "an unexpected character");
      goto fail;
    }

key:
  scan_ws (s);
  if (s->i >= s->len || s->p[s->i] != '"')
    {
      scan_fail (s, "an object key that is not a string");
      goto fail;
    }
  if (!scan_string (s))
    goto fail;
  scan_ws (s);
  if (s->i >= s->len || s->p[s->i] != ':')
    {
      scan_fail (s, "a missing ':' in an object");
      goto fail;
    }
  s->i++;
  s->tokens += 2;   /* the key and the colon */
  goto value;

after_value:
  scan_ws (s);
  if (depth == 0)
    {
      if (s->i < s->len)
        {
          scan_fail (s, "trailing characters after the message");
          goto fail;
        }
      return TRUE;
    }
  if (s->i >= s->len)
    {
      scan_fail (s, "a truncated message");
      goto fail;
    }
  if (s->p[s->i] == ',')
    {
      s->i++;
      s->tokens++;
      if (stack[depth - 1] == '{')
        goto key;
      goto value;
    }
  if (s->p[s->i] == (stack[depth - 1] == '{' ? '}' : ']'))
    {
      s->i++;
      s->tokens++;
      depth--;
      goto after_value;
    }
  scan_fail (s, stack[depth - 1] == '{' ? "a missing ',' or '}' in an object"
                                        : "a missing ',' or ']' in an array");

fail:
  return FALSE;
}

gboolean
q_qmp_json_check (const guint8  *data,
                  gsize          len,
                  guint          max_depth,
                  GError       **error)
{
  Scan s = { data, len, 0, 0, NULL };

  if (json_scan (&s, max_depth))
    return TRUE;
  if (s.what == NULL)
    g_set_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                 "QMP message nested deeper than %u levels", max_depth);
  else
    g_set_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                 "Malformed JSON from the QMP peer: %s at byte %" G_GSIZE_FORMAT,
                 s.what, s.i);
  return FALSE;
}

/* QEMU reads a command that breaks its JSON limits (invalid UTF-8, deeper
 * than 1024, over 2 Mi tokens or 64 MiB) as several broken ones and
 * answers each: replies matched by order would then go to the wrong
 * commands. Nothing is sent that QEMU would not read as one message. */
gboolean
q_qmp_json_check_outgoing (const char  *command,
                           const guint8 *data,
                           gsize        len,
                           GError     **error)
{
  Scan s = { data, len, 0, 0, NULL };

  if (!json_scan (&s, Q_QMP_FRAMER_MAX_DEPTH))
    {
      if (s.what == NULL)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     "The arguments of the QMP command %s nest deeper than %u levels",
                     command, Q_QMP_FRAMER_MAX_DEPTH);
      else
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     "The QMP command %s is not valid JSON text (%s at byte %" G_GSIZE_FORMAT
                     "); strings must be valid UTF-8", command, s.what, s.i);
      return FALSE;
    }
  if (s.tokens >= Q_QMP_MAX_OUTGOING_TOKENS || len >= Q_QMP_MAX_OUTGOING_SIZE)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "The QMP command %s is too big for QEMU (%" G_GSIZE_FORMAT " bytes, %"
                   G_GSIZE_FORMAT " JSON tokens; QEMU reads at most 64 MiB and 2 Mi tokens)",
                   command, len, s.tokens);
      return FALSE;
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
  g_autoptr(JsonNode) root = NULL;

  while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
    len--;
  while (len > 0 && (line[0] == ' ' || line[0] == '\t' || line[0] == '\r'))
    line++, len--;
  if (len == 0)
    return TRUE;

  if (!q_qmp_json_check ((const guint8 *)line, len, Q_QMP_FRAMER_MAX_DEPTH, error))
    return FALSE;

  if (!json_parser_load_from_data (framer->parser, line, len, &local_error))
    {
      g_set_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                   "Malformed JSON from the QMP peer: %s", local_error->message);
      return FALSE;
    }

  /* Taken from the parser, which keeps nothing: messages can be big. */
  root = json_parser_steal_root (framer->parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                   "QMP message is not a JSON object");
      return FALSE;
    }

  message = json_object_ref (json_node_get_object (root));
  *stop = !func (message, user_data);

  return TRUE;
}

static gboolean framer_push_agent (QQmpFramer     *framer,
                                   const guint8   *data,
                                   gsize           len,
                                   QQmpFramerFunc  func,
                                   gpointer        user_data);

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

  if (framer->agent)
    return framer_push_agent (framer, data, len, func, user_data);

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

/* ------------------------------------------------------------------------ */
/* The guest agent's dialect                                                */

/* The agent shares a serial line with whatever else the guest writes
 * there, and restarts with the guest: a bad line is no reason to give up
 * the channel. 0xFF never occurs in UTF-8 text; the agent writes it right
 * before the reply to guest-sync-delimited, so it marks where the stream
 * is known to be in step again. */

/* Frames @data, which holds no 0xFF. Returns FALSE when the consumer
 * stopped. */
static gboolean
framer_agent_segment (QQmpFramer     *framer,
                      const guint8   *data,
                      gsize           len,
                      QQmpFramerFunc  func,
                      gpointer        user_data)
{
  while (len > 0)
    {
      const guint8 *nl = memchr (data, '\n', len);
      gsize take = nl ? (gsize)(nl - data) : len;
      gboolean stop = FALSE;

      if (framer->discarding)
        {
          /* The rest of a line already reported as too long. */
          if (nl != NULL)
            framer->discarding = FALSE;
        }
      else if (framer->inbuf->len + take > framer->max_size)
        {
          gboolean go_on;

          g_byte_array_set_size (framer->inbuf, 0);
          framer->discarding = nl == NULL;
          framer->dropped_oversize = TRUE;
          go_on = func (NULL, user_data);
          framer->dropped_oversize = FALSE;
          if (!go_on)
            return FALSE;
        }
      else
        {
          g_byte_array_append (framer->inbuf, data, take);
          if (nl != NULL)
            {
              g_autoptr(GError) error = NULL;

              if (!framer_parse_line (framer, (const char *)framer->inbuf->data, framer->inbuf->len,
                                      func, user_data, &stop, &error))
                {
                  g_debug ("Guest agent: line dropped: %s", error->message);
                  stop = !func (NULL, user_data);
                }
              g_byte_array_set_size (framer->inbuf, 0);
              if (stop)
                return FALSE;
            }
        }

      if (nl == NULL)
        break;
      len -= take + 1;
      data += take + 1;
    }

  return TRUE;
}

static gboolean
framer_push_agent (QQmpFramer     *framer,
                   const guint8   *data,
                   gsize           len,
                   QQmpFramerFunc  func,
                   gpointer        user_data)
{
  while (len > 0)
    {
      const guint8 *ff = memchr (data, 0xFF, len);
      gsize take = ff ? (gsize)(ff - data) : len;

      if (!framer->skip_to_delimiter &&
          !framer_agent_segment (framer, data, take, func, user_data))
        return TRUE;

      if (ff == NULL)
        break;

      /* The delimiter: what was buffered before it is a broken line. */
      if (framer->inbuf->len > 0 && !framer->skip_to_delimiter)
        g_debug ("Guest agent: %u bytes before a 0xFF delimiter dropped", framer->inbuf->len);
      g_byte_array_set_size (framer->inbuf, 0);
      framer->discarding = FALSE;
      framer->skip_to_delimiter = FALSE;
      len -= take + 1;
      data += take + 1;
    }

  return TRUE;
}
