/* q-qmp-core-qtest.c: qtest's dialect of the engine (worker thread)
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * QQtestClient makes its core with core_qtest_dialect. The engine calls
 * this file only through that table; this file calls the engine.
 *
 * QEMU's qtest protocol is text: one command per line, one reply line per
 * command, in order (`OK [TEXT]`, `FAIL [TEXT]`, `ERR [TEXT]`), and
 * `IRQ raise N` / `IRQ lower N` lines at any time in between. There is no
 * greeting and no id. The framer's lines mode checks each line (size,
 * control characters, UTF-8) and hands it over as {"line": TEXT}.
 */

#include "config.h"

#include <string.h>

#include "q-error.h"
#include "q-qmp-core-private.h"
#include "q-qtest-client.h"

static void
qtest_protocol_error (Core       *core,
                      const char *what,
                      const char *line)
{
  g_autoptr(GError) error = NULL;
  gsize len = strlen (line);

  if (len > 80)
    error = g_error_new (Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                         "%s from the qtest peer: \"%.64s…\" (%" G_GSIZE_FORMAT " bytes)",
                         what, line, len);
  else
    error = g_error_new (Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                         "%s from the qtest peer: \"%s\"", what, line);
  core_close (core, error);
}

/* `IRQ raise N` / `IRQ lower N`: N as QEMU prints it (%d). */
static gboolean
qtest_parse_irq (const char *rest,
                 gint64     *line,
                 gboolean   *level)
{
  const char *number;
  char *end = NULL;

  if (g_str_has_prefix (rest, "raise "))
    {
      *level = TRUE;
      number = rest + 6;
    }
  else if (g_str_has_prefix (rest, "lower "))
    {
      *level = FALSE;
      number = rest + 6;
    }
  else
    return FALSE;

  if (!g_ascii_isdigit (number[0]) && !(number[0] == '-' && g_ascii_isdigit (number[1])))
    return FALSE;
  *line = g_ascii_strtoll (number, &end, 10);
  return *end == '\0' && *line >= G_MININT && *line <= G_MAXINT;
}

/* The text after a reply's word: "" for the word alone, what follows its
 * space otherwise; NULL when @line is not that word. */
static const char *
qtest_reply_text (const char *line,
                  const char *word)
{
  gsize n = strlen (word);

  if (strncmp (line, word, n) != 0)
    return NULL;
  if (line[n] == '\0')
    return line + n;
  if (line[n] == ' ')
    return line + n + 1;
  return NULL;
}

static void
qtest_handle_message (Core               *core,
                      JsonObject         *message,
                      const QQmpJsonInfo *info)
{
  const char *line = json_object_get_string_member_with_default (message, "line", "");
  const char *text;
  Pending *p;

  if (g_str_has_prefix (line, "IRQ "))
    {
      gint64 number;
      gboolean level;
      Emission *e;

      if (!qtest_parse_irq (line + 4, &number, &level))
        {
          qtest_protocol_error (core, "A malformed IRQ line", line);
          return;
        }
      e = g_new0 (Emission, 1);
      e->kind = EMIT_EVENT;
      e->name = g_strdup ("IRQ");
      e->object = json_object_new ();
      json_object_set_int_member (e->object, "line", number);
      json_object_set_boolean_member (e->object, "level", level);
      e->cost = Q_QTEST_IRQ_EMISSION_COST;
      core_queue_emission (core, e);
      return;
    }

  /* Replies come in order and carry nothing that says whose they are:
   * one that no command waits for means the stream is out of step. */
  p = g_queue_peek_head (&core->sent);
  if (p == NULL)
    {
      qtest_protocol_error (core, "A reply that no command waits for", line);
      return;
    }

  if ((text = qtest_reply_text (line, "OK")) != NULL)
    {
      if (p->task != NULL)
        take_task_return_pointer (&p->task, g_strdup (text), g_free);
    }
  else if ((text = qtest_reply_text (line, "FAIL")) != NULL ||
           (text = qtest_reply_text (line, "ERR")) != NULL)
    {
      int code = line[0] == 'F' ? Q_QTEST_ERROR_FAILED : Q_QTEST_ERROR_ERROR;

      if (p->task == NULL)
        ;
      else if (*text != '\0')
        take_task_return_error (&p->task, g_error_new_literal (Q_QTEST_ERROR, code, text));
      else
        take_task_return_new_error (&p->task, Q_QTEST_ERROR, code,
                                    "QEMU refused the qtest command %s", p->command);
    }
  else
    {
      qtest_protocol_error (core, "A reply that is neither OK, FAIL nor ERR", line);
      return;
    }

  core_finish_sent (core, p, NULL);
}

/* Pipelined, in order: QEMU answers each line before it reads the next. */
static gboolean
qtest_write_one (Core *core)
{
  Pending *p = g_queue_pop_head (&core->outq);

  if (p == NULL)
    {
      if (core->closing)
        core_close (core, NULL);
      return FALSE;
    }
  return core_write_pending (core, p);
}

static void
qtest_setup (Core *core)
{
  core->max_message_size = Q_QTEST_CLIENT_DEFAULT_MAX_LINE_SIZE;
  core->framer.max_size = core->max_message_size;
  q_qmp_framer_set_lines (&core->framer);
  /* Plain in-order commands: callers may write them themselves. */
  core->direct_allowed = TRUE;
}

static GError *
qtest_timeout_error (Core    *core,
                     Pending *p)
{
  return g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                      "No reply to the qtest command %s within %d ms",
                      p->command, p->timeout_msec);
}

/* A written command whose caller stopped waiting keeps its slot (no
 * abandon hook): its late reply must not go to the next command. */
const CoreDialect core_qtest_dialect = {
  .no_stream      = "The qtest client was created without a stream",
  .channel        = "qtest channel",
  .was_closed     = "The qtest channel was closed",
  .is_closed      = "The qtest channel is closed",
  .read_failed    = "Reading from the qtest peer failed",
  .write_failed   = "Writing to the qtest peer failed",
  .peer_closed    = "The qtest peer closed the channel (QEMU exited?)",
  .command        = "The qtest command",
  .task_name      = "[qmachine] qtest command",
  .raw_task_name  = "[qmachine] qtest command",
  .setup          = qtest_setup,
  .write_one      = qtest_write_one,
  .handle_message = qtest_handle_message,
  .timeout_error  = qtest_timeout_error,
};
