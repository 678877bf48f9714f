/* q-qmp-framer.c: QMP's byte stream into JSON objects
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <math.h>
#include <string.h>

#include "q-error.h"
#include "q-qmp-framer-private.h"

void
q_qmp_framer_init (QQmpFramer *framer,
                   guint64     max_size,
                   gsize       max_nodes)
{
  framer->inbuf = g_byte_array_new ();
  framer->scanned = 0;
  framer->parser = json_parser_new_immutable ();
  framer->max_size = max_size;
  framer->max_nodes = max_nodes;
  framer->agent = FALSE;
  framer->skip_to_delimiter = FALSE;
  framer->discarding = FALSE;
  framer->dropped_oversize = FALSE;
  framer->dropped_too_many = FALSE;
  framer->lines = FALSE;
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
q_qmp_framer_set_lines (QQmpFramer *framer)
{
  framer->lines = TRUE;
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
  gsize         nodes;    /* values so far */
  gsize         max_nodes;
  gboolean      too_many_nodes;
  QQmpJsonInfo *info;     /* NULL: numbers are not checked (outgoing text) */
  gboolean      in_id;    /* inside the value of a top-level "id" member */
} Scan;

void
q_qmp_json_info_clear (QQmpJsonInfo *info)
{
  g_clear_error (&info->number_error);
}

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
              /* json-glib would end the string there: another value. */
              if (memcmp (s->p + s->i + 1, "0000", 4) == 0)
                return scan_fail (s, "a NUL character (\\u0000) in a string");
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

/* The literal as shown in an error: whole when short, its start and its
 * length otherwise (a hostile one can be megabytes long). */
static char *
number_text (const guint8 *p,
             gsize         len)
{
  if (len <= 40)
    return g_strndup ((const char *)p, len);
  return g_strdup_printf ("%.24s… (%" G_GSIZE_FORMAT " characters)", (const char *)p, len);
}

/* json-glib reads an integer literal as a gint64 and anything else as a
 * double, without telling of an overflow: 2^63 reads as -2^63, a
 * 100-digit integer as -1, 1e400 as infinity. Such a number is noted
 * (the first one), so that no value it became is ever used. A fraction or
 * exponent is read as the nearest double (1e-400 as 0), as RFC 8259
 * allows. */
static void
check_number (Scan    *s,
              gsize    start,
              gboolean integer)
{
  const guint8 *p = s->p + start;
  gsize len = s->i - start;
  const char *why = NULL;

  /* After the first, only one in the id still matters. */
  if (s->info == NULL || (s->info->number_error != NULL && !s->in_id))
    return;

  if (integer)
    {
      gboolean negative = p[0] == '-';
      const guint8 *digits = p + negative;
      gsize ndigits = len - negative;

      /* No leading zeros (the grammar forbids them), so the length
       * decides but for 19 digits. */
      if (ndigits > 19 ||
          (ndigits == 19 &&
           memcmp (digits, negative ? "9223372036854775808" : "9223372036854775807", 19) > 0))
        why = "outside the range of a signed 64-bit integer";
    }
  else
    {
      char small[64];
      g_autofree char *big = NULL;
      char *text = small;

      if (len < sizeof small)
        {
          memcpy (small, p, len);
          small[len] = '\0';
        }
      else
        text = big = g_strndup ((const char *)p, len);
      if (isinf (g_ascii_strtod (text, NULL)))
        why = "too large for a double";
    }

  if (why == NULL)
    return;
  if (s->info->number_error == NULL)
    {
      g_autofree char *shown = number_text (p, len);

      s->info->number_error =
        g_error_new (Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                     "the number %s at byte %" G_GSIZE_FORMAT " is %s", shown, start, why);
    }
  if (s->in_id)
    s->info->number_in_id = TRUE;
}

static gboolean
scan_number (Scan *s)
{
  gsize start = s->i;
  gboolean integer = TRUE;

  if (s->p[s->i] == '-')
    s->i++;
  if (s->i < s->len && s->p[s->i] == '0')
    s->i++;
  else if (!scan_digits (s))
    return scan_fail (s, "a malformed number");
  if (s->i < s->len && s->p[s->i] == '.')
    {
      s->i++;
      integer = FALSE;
      if (!scan_digits (s))
        return scan_fail (s, "a malformed number");
    }
  if (s->i < s->len && (s->p[s->i] == 'e' || s->p[s->i] == 'E'))
    {
      s->i++;
      integer = FALSE;
      if (s->i < s->len && (s->p[s->i] == '+' || s->p[s->i] == '-'))
        s->i++;
      if (!scan_digits (s))
        return scan_fail (s, "a malformed number");
    }
  check_number (s, start, integer);
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
 * nested at most @max_depth deep, with at most @s->max_nodes values.
 * Otherwise fills @s->what (NULL when the depth or the node count was
 * exceeded; @s->too_many_nodes tells which). */
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
  /* Each value becomes a node of json-glib's tree (its cost is measured
   * in docs/security.md): counted before json-glib sees any. */
  if (++s->nodes > s->max_nodes)
    {
      s->too_many_nodes = TRUE;
      return FALSE;
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
  {
    gsize key_start = s->i;

    if (!scan_string (s))
      goto fail;
    /* A reply's id routes it: a number there that json-glib cannot hold
     * would route it wrongly (the id is written as QEMU got it, escapes
     * and all, so the raw comparison is the right one). */
    if (depth == 1)
      s->in_id = s->i - key_start == 4 && memcmp (s->p + key_start, "\"id\"", 4) == 0;
  }
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
  if (depth == 1)
    s->in_id = FALSE;   /* a top-level member's value is complete */
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
                  gsize          max_nodes,
                  QQmpJsonInfo  *info,
                  GError       **error)
{
  Scan s = { data, len, 0, 0, NULL, 0, max_nodes, FALSE, info, FALSE };

  /* Numbers are checked when @info is given: a caller that only asks
   * whether the text is acceptable has no use for them. */
  if (info != NULL)
    {
      info->size = len;
      info->nodes = 0;
      info->number_error = NULL;
      info->number_in_id = FALSE;
    }
  if (json_scan (&s, max_depth))
    {
      if (info != NULL)
        info->nodes = s.nodes;
      return TRUE;
    }
  if (info != NULL)
    {
      q_qmp_json_info_clear (info);
      info->nodes = s.nodes;   /* past max_nodes when that was the violation */
    }
  if (s.too_many_nodes)
    g_set_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                 "QMP message with more than %" G_GSIZE_FORMAT " JSON values (the limit "
                 "of max-message-nodes)", max_nodes);
  else if (s.what == NULL)
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
  Scan s = { data, len, 0, 0, NULL, 0, G_MAXSIZE, FALSE, NULL, FALSE };

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

/* Lines mode: one text line, checked, as {"line": TEXT}. An empty line
 * is a line too (it is no reply, which the consumer says). */
static gboolean
framer_text_line (QQmpFramer      *framer,
                  const char      *line,
                  gsize            len,
                  QQmpFramerFunc   func,
                  gpointer         user_data,
                  gboolean        *stop,
                  GError         **error)
{
  g_autoptr(JsonObject) message = NULL;
  g_autofree char *text = NULL;
  QQmpJsonInfo info = { 0 };
  const char *end;

  if (len > 0 && line[len - 1] == '\r')
    len--;
  for (gsize i = 0; i < len; i++)
    {
      guchar c = line[i];

      if (c == '\0' || (c < 0x20 && c != '\t') || c == 0x7F)
        {
          g_set_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                       "A line from the qtest peer holds a control character "
                       "(0x%02x at byte %" G_GSIZE_FORMAT ")", c, i);
          return FALSE;
        }
    }
  if (!g_utf8_validate_len (line, len, &end))
    {
      g_set_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                   "A line from the qtest peer is not valid UTF-8 (at byte %" G_GSIZE_FORMAT ")",
                   (gsize)(end - line));
      return FALSE;
    }

  text = g_strndup (line, len);
  message = json_object_new ();
  json_object_set_string_member (message, "line", text);
  info.size = len;
  info.nodes = 2;
  *stop = !func (message, &info, user_data);

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
  QQmpJsonInfo info;

  if (framer->lines)
    return framer_text_line (framer, line, len, func, user_data, stop, error);

  while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
    len--;
  while (len > 0 && (line[0] == ' ' || line[0] == '\t' || line[0] == '\r'))
    line++, len--;
  if (len == 0)
    return TRUE;

  if (!q_qmp_json_check ((const guint8 *)line, len, Q_QMP_FRAMER_MAX_DEPTH, framer->max_nodes,
                         &info, error))
    {
      framer->dropped_too_many = info.nodes > framer->max_nodes;
      return FALSE;
    }

  /* A number json-glib cannot hold does not stop the parse: the message's
   * structure is sound and its size checked, and the consumer needs its
   * kind (a reply, an event) to fail or drop just that message. */
  if (!json_parser_load_from_data (framer->parser, line, len, &local_error))
    {
      q_qmp_json_info_clear (&info);
      g_set_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                   "Malformed JSON from the QMP peer: %s", local_error->message);
      return FALSE;
    }

  /* Taken from the parser, which keeps nothing: messages can be big. */
  root = json_parser_steal_root (framer->parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      q_qmp_json_info_clear (&info);
      g_set_error (error, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                   "QMP message is not a JSON object");
      return FALSE;
    }

  message = json_object_ref (json_node_get_object (root));
  *stop = !func (message, &info, user_data);
  q_qmp_json_info_clear (&info);

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
               "%s larger than the limit of %" G_GUINT64_FORMAT " bytes",
               framer->lines ? "A line from the qtest peer" : "QMP message",
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
          go_on = func (NULL, NULL, user_data);
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
                  stop = !func (NULL, NULL, user_data);
                  framer->dropped_too_many = FALSE;
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
