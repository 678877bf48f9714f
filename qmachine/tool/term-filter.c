/* term-filter.c: terminal queries taken out of a guest's console output
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>

#include "term-filter.h"

#define ESC 0x1b
#define BEL 0x07

/* An unfinished sequence longer than this is not a query: it goes out as
 * it is rather than being held for ever. */
#define HELD_MAX 256

typedef enum
{
  SEQ_KEEP,
  SEQ_DROP,
  SEQ_INCOMPLETE,
} SeqKind;

/* CSI sequences that ask the terminal for a report. */
static gboolean
csi_is_query (const guchar *params,
              gsize         n_params,
              const guchar *inter,
              gsize         n_inter,
              guchar        final)
{
  char lead = n_params > 0 ? params[0] : '\0';

  if (n_inter == 1 && inter[0] == '$' && final == 'p')
    return TRUE;                        /* DECRQM: is a mode set */
  if (n_inter != 0)
    return FALSE;
  switch (final)
    {
    case 'n':                           /* DSR: status, cursor position */
      return lead != '>';
    case 'c':                           /* DA1, DA2 (>), DA3 (=) */
      return TRUE;
    case 'x':                           /* DECREQTPARM */
      return n_params <= 1;
    case 'q':                           /* XTVERSION */
      return lead == '>';
    case 'u':                           /* keyboard protocol flags */
      return n_params == 1 && lead == '?';
    case 't':                           /* window reports (size, title…) */
      {
        int op = 0;

        for (gsize i = 0; i < n_params && g_ascii_isdigit (params[i]) && op < 100; i++)
          op = op * 10 + (params[i] - '0');
        return op >= 11 && op <= 21;
      }
    default:
      return FALSE;
    }
}

static SeqKind
scan_csi (const guchar *s,
          gsize         len,
          gsize        *seq_len)
{
  gsize params_end, i = 2;

  while (i < len && s[i] >= 0x30 && s[i] <= 0x3f)
    i++;
  params_end = i;
  while (i < len && s[i] >= 0x20 && s[i] <= 0x2f)
    i++;
  if (i == len)
    return SEQ_INCOMPLETE;
  if (s[i] < 0x40 || s[i] > 0x7e)
    {
      /* Not a CSI sequence after all: what was read goes out as text. */
      *seq_len = i;
      return SEQ_KEEP;
    }
  *seq_len = i + 1;
  return csi_is_query (s + 2, params_end - 2, s + params_end, i - params_end, s[i])
         ? SEQ_DROP : SEQ_KEEP;
}

/* OSC (ESC ]) and DCS (ESC P) strings, ended by BEL or ST (ESC \). */
static SeqKind
scan_string (const guchar *s,
             gsize         len,
             gsize        *seq_len)
{
  const guchar *payload = s + 2;
  gsize n_payload, i = 2;

  while (i < len && s[i] != BEL && s[i] != ESC)
    i++;
  if (i == len || (s[i] == ESC && i + 1 == len))
    return SEQ_INCOMPLETE;
  n_payload = i - 2;
  if (s[i] == BEL)
    *seq_len = i + 1;
  else if (s[i + 1] == '\\')
    *seq_len = i + 2;
  else
    *seq_len = i;                       /* cut short by another sequence */

  if (s[1] == ']')                      /* OSC 4;N;? 10;? 11;? 52;c;? … */
    return n_payload >= 2 && payload[n_payload - 2] == ';' && payload[n_payload - 1] == '?'
           ? SEQ_DROP : SEQ_KEEP;
  /* DCS $q (DECRQSS) and +q (XTGETTCAP) */
  return n_payload >= 2 && (payload[0] == '$' || payload[0] == '+') && payload[1] == 'q'
         ? SEQ_DROP : SEQ_KEEP;
}

/* The escape sequence at S (S[0] is ESC), of which LEN bytes are there. */
static SeqKind
scan_sequence (const guchar *s,
               gsize         len,
               gsize        *seq_len)
{
  if (len < 2)
    return SEQ_INCOMPLETE;
  switch (s[1])
    {
    case '[':
      return scan_csi (s, len, seq_len);
    case ']':
    case 'P':
      return scan_string (s, len, seq_len);
    case 'Z':                           /* DECID: the old DA1 */
      *seq_len = 2;
      return SEQ_DROP;
    default:
      *seq_len = 1;
      return SEQ_KEEP;
    }
}

void
term_filter_init (TermFilter *filter)
{
  filter->held = g_string_new (NULL);
}

void
term_filter_clear (TermFilter *filter)
{
  if (filter->held != NULL)
    g_string_free (g_steal_pointer (&filter->held), TRUE);
}

/* Appends DATA to OUT without the terminal queries in it. An escape
 * sequence cut by the end of DATA is held until the next call. */
void
term_filter_feed (TermFilter *filter,
                  const char *data,
                  gsize       len,
                  GString    *out)
{
  g_autoptr(GString) joined = NULL;
  const guchar *s = (const guchar *)data;
  gsize i = 0;

  if (filter->held->len > 0)
    {
      joined = g_steal_pointer (&filter->held);
      filter->held = g_string_new (NULL);
      g_string_append_len (joined, data, len);
      s = (const guchar *)joined->str;
      len = joined->len;
    }

  while (i < len)
    {
      const guchar *esc = memchr (s + i, ESC, len - i);
      gsize seq_len = 0;
      SeqKind kind;

      if (esc == NULL)
        {
          g_string_append_len (out, (const char *)s + i, len - i);
          break;
        }
      g_string_append_len (out, (const char *)s + i, esc - (s + i));
      i = esc - s;
      kind = scan_sequence (s + i, len - i, &seq_len);
      if (kind == SEQ_INCOMPLETE)
        {
          if (len - i <= HELD_MAX)
            {
              g_string_append_len (filter->held, (const char *)s + i, len - i);
              break;
            }
          kind = SEQ_KEEP;
          seq_len = 1;
        }
      if (kind == SEQ_KEEP)
        g_string_append_len (out, (const char *)s + i, seq_len);
      i += seq_len;
    }
}

/* The end of the output: a sequence still held goes out as it is. */
void
term_filter_flush (TermFilter *filter,
                   GString    *out)
{
  g_string_append_len (out, filter->held->str, filter->held->len);
  g_string_truncate (filter->held, 0);
}
