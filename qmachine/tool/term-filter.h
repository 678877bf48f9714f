/* term-filter.h: terminal queries taken out of a guest's console output
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A guest's console can print escape sequences that ask the terminal
 * something (ESC[6n, the cursor position; ESC[c, the terminal's identity;
 * OSC colour queries…). Written to the user's terminal, they make it
 * answer into the tool's standard input. The filter drops those queries
 * and keeps everything else (text, colours, cursor motion). */
typedef struct
{
  GString *held;      /* an escape sequence cut at the end of a chunk */
} TermFilter;

void term_filter_init  (TermFilter *filter);
void term_filter_clear (TermFilter *filter);
void term_filter_feed  (TermFilter *filter,
                        const char *data,
                        gsize       len,
                        GString    *out);
void term_filter_flush (TermFilter *filter,
                        GString    *out);

G_END_DECLS
