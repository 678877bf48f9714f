/* test-term-filter.c: the tool drops a guest's terminal queries and keeps
 * the rest of its console output
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>

#include "term-filter.h"

/* INPUT fed in pieces of CHUNK bytes (all at once when 0), then flushed. */
static char *
filter (const char *input,
        gsize       chunk)
{
  TermFilter f;
  GString *out = g_string_new (NULL);
  gsize len = strlen (input);

  term_filter_init (&f);
  for (gsize i = 0; i < len; i += chunk ? chunk : len)
    term_filter_feed (&f, input + i, MIN (chunk ? chunk : len, len - i), out);
  term_filter_flush (&f, out);
  term_filter_clear (&f);
  return g_string_free (out, FALSE);
}

static const struct {
  const char *input;
  const char *output;
} cases[] = {
  /* queries go */
  { "a\033[6nb", "ab" },
  { "\033[5n\033[?6n", "" },
  { "x\033[c\033[0c\033[>c\033[=cy", "xy" },
  { "\033[18t\033[14t", "" },
  { "\033[?25$p\033[>q\033[?u\033Z\033[x", "" },
  { "\033]11;?\007\033]4;1;?\033\\\033]52;c;?\007.", "." },
  { "\033P$qm\033\\\033P+q544e\033\\", "" },
  /* the rest stays */
  { "plain text\r\n", "plain text\r\n" },
  { "\033[1;31mred\033[0m \033[2J\033[H\033[?25l\033[8;24;80t", "\033[1;31mred\033[0m \033[2J\033[H\033[?25l\033[8;24;80t" },
  { "\033]0;title\007\033(B\0337\0338", "\033]0;title\007\033(B\0337\0338" },
  { "caf\xc3\xa9 \033[6n\xe2\x80\xa6", "caf\xc3\xa9 \xe2\x80\xa6" },
  /* an unfinished sequence at the end goes out as it is */
  { "end\033[", "end\033[" },
};

static void
test_queries (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    for (gsize chunk = 0; chunk <= 4; chunk++)
      {
        g_autofree char *out = filter (cases[i].input, chunk);

        g_test_message ("case %" G_GSIZE_FORMAT ", chunks of %" G_GSIZE_FORMAT, i, chunk);
        g_assert_cmpstr (out, ==, cases[i].output);
      }
}

static void
test_long_sequence (void)
{
  /* An endless OSC string is not held back for ever. */
  g_autoptr(GString) input = g_string_new ("\033]0;");
  TermFilter f;
  GString *out = g_string_new (NULL);

  for (int i = 0; i < 1000; i++)
    g_string_append_c (input, 'x');
  term_filter_init (&f);
  term_filter_feed (&f, input->str, input->len, out);
  g_assert_cmpuint (out->len, ==, input->len);
  term_filter_clear (&f);
  g_string_free (out, TRUE);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tool/term-filter/queries", test_queries);
  g_test_add_func ("/tool/term-filter/long-sequence", test_long_sequence);
  return g_test_run ();
}
