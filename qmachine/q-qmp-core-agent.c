/* q-qmp-core-agent.c: the guest agent's dialect of the engine (worker
 * thread)
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * QGuestAgent makes its core with core_agent_dialect. The engine calls
 * this file only through that table; this file calls the engine.
 */

#include "config.h"

#include <string.h>

#include "q-error.h"
#include "q-qmp-core-private.h"
#include "q-util-private.h"

/* qemu-ga has no greeting, no ids and no events, answers one command at a
 * time, and restarts with the guest; garbage on its serial line or a reply
 * that came too late would pair the next reply with the wrong command. So
 * one command is in flight at a time, and before a command goes out on a
 * stream that may be out of step (new, after a timeout, a cancel, a bad
 * line, a reply nobody waited for, a reset) the core sends 0xFF and
 * guest-sync-delimited with a random id, drops everything up to the 0xFF
 * the agent writes before its answer, and then everything until the answer
 * carrying that id. Unanswered, it tries again with a longer wait. */

#define AGENT_SYNC_FIRST_MSEC 1000
#define AGENT_SYNC_MAX_MSEC   8000

static void
core_agent_set_up (Core     *core,
                   gboolean  up)
{
  Emission *e;

  if (core->agent_up == up)
    return;
  core->agent_up = up;
  e = g_new0 (Emission, 1);
  e->kind = EMIT_AGENT_STATE;
  e->up = up;
  core_queue_emission (core, e);
}

static Pending *
core_agent_sync_new (Core *core)
{
  g_autoptr(JsonObject) args = json_object_new ();
  Pending *p;
  GBytes *bytes;
  gsize len;
  const guint8 *data;
  guint8 *buf;
  gint64 wait_ms;

  p = g_new0 (Pending, 1);
  p->id = core_next_id (core);
  p->command = g_strdup ("guest-sync-delimited");
  p->own = TRUE;
  p->sync_value = g_random_int_range (1, G_MAXINT32);
  json_object_set_int_member (args, "id", p->sync_value);

  /* 0xFF first: the agent drops the partial input it may hold. */
  bytes = serialize_command (p->command, args, FALSE, NULL);
  data = g_bytes_get_data (bytes, &len);
  buf = g_malloc (len + 1);
  buf[0] = 0xFF;
  memcpy (buf + 1, data, len);
  p->bytes = g_bytes_new_take (buf, len + 1);
  g_bytes_unref (bytes);

  if (traffic_logged ())
    {
      g_autoptr(JsonObject) shown = json_object_new ();
      json_object_set_string_member (shown, "execute", p->command);
      json_object_set_object_member (shown, "arguments", json_object_ref (args));
      log_traffic (core, TRUE, shown);
    }

  wait_ms = MIN ((gint64)AGENT_SYNC_FIRST_MSEC << MIN (core->agent_sync_attempts, 8),
                 AGENT_SYNC_MAX_MSEC);
  core->agent_sync_attempts++;
  p->timeout_msec = (int)wait_ms;
  p->deadline = g_get_monotonic_time () + wait_ms * 1000;
  g_hash_table_insert (core->pending, p->id, p);

  return p;
}

/* Forgets a written command whose reply will not be waited for (timed
 * out, cancelled, or done without one): the stream is out of step until
 * the next resynchronisation. */
static void
agent_abandon (Core    *core,
               Pending *p)
{
  g_assert (p->sent);
  core->agent_synced = FALSE;
  if (!p->barrier)
    core_agent_set_up (core, FALSE);
  core_forget_sent (core, p);
}

/* One command at a time, each behind a resynchronisation when the stream
 * may be out of step. */
static gboolean
agent_write_one (Core *core)
{
  Pending *p = g_queue_peek_head (&core->outq);

  if (p == NULL)
    {
      if (core->closing)
        core_close (core, NULL);
      return FALSE;
    }
  if (core->inband_in_flight > 0)
    return FALSE;

  if (core->agent_synced)
    {
      g_queue_pop_head (&core->outq);
      if (p->barrier)
        {
          /* A user's sync: the stream is in step now. */
          if (p->task != NULL)
            take_task_return_pointer (&p->task, json_node_new (JSON_NODE_NULL),
                                      (GDestroyNotify)json_node_unref);
          g_hash_table_remove (core->pending, p->id);
          return TRUE;
        }
    }
  else
    {
      p = core_agent_sync_new (core);
      if (core->deadline_source == NULL || p->deadline < core->deadline_armed)
        core_arm_deadline (core);
      /* Whatever arrives before the agent's 0xFF is stale. */
      q_qmp_framer_skip_to_delimiter (&core->framer);
    }

  return core_write_pending (core, p);
}

/* @message is NULL for a line the framer dropped. */
static void
agent_handle_message (Core               *core,
                      JsonObject         *message,
                      const QQmpJsonInfo *info)
{
  Pending *p = g_queue_peek_head (&core->sent);
  const GError *number_error = info != NULL ? info->number_error : NULL;
  JsonNode *ret;

  if (message == NULL)
    {
      /* A line that was not a message (the framer logged why). One too
       * big to be anything but the reply in flight fails that command:
       * the reply will not come again. */
      if ((core->framer.dropped_oversize || core->framer.dropped_too_many) &&
          p != NULL && !p->own)
        {
          if (p->task == NULL)
            ;
          else if (core->framer.dropped_oversize)
            take_task_return_new_error (&p->task, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                                        "The guest agent's reply to %s is larger than %"
                                        G_GUINT64_FORMAT " MiB", p->command,
                                        core->framer.max_size / (1024 * 1024));
          else
            take_task_return_new_error (&p->task, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                                        "The guest agent's reply to %s holds more than %"
                                        G_GSIZE_FORMAT " JSON values", p->command,
                                        core->framer.max_nodes);
          agent_abandon (core, p);
          core_write_next (core);
          return;
        }
      if (p == NULL || !p->own)
        core->agent_synced = FALSE;
      return;
    }

  if (p == NULL)
    {
      g_debug ("Guest agent: message that no command waits for dropped");
      core->agent_synced = FALSE;
      return;
    }

  if (p->own)
    {
      ret = json_object_get_member (message, "return");
      if (number_error == NULL && ret != NULL && JSON_NODE_HOLDS_VALUE (ret) &&
          json_node_get_value_type (ret) == G_TYPE_INT64 &&
          json_node_get_int (ret) == p->sync_value)
        {
          core->agent_synced = TRUE;
          core->agent_sync_attempts = 0;
          core_agent_set_up (core, TRUE);
          core_finish_sent (core, p, NULL);
        }
      else
        g_debug ("Guest agent: stale message dropped while resynchronising");
      return;
    }

  if (!json_object_has_member (message, "return") && !json_object_has_member (message, "error"))
    {
      g_debug ("Guest agent: message of unknown kind dropped");
      core->agent_synced = FALSE;
      return;
    }

  core_agent_set_up (core, TRUE);
  if (p->no_reply)
    /* An error, or a success it was not supposed to send: either way the
     * guest's state is in doubt. */
    core->agent_synced = FALSE;
  if (number_error != NULL)
    {
      /* The reply is in step but a number of it read as another value:
       * its command fails, the channel stays. */
      if (p->task != NULL)
        take_task_return_new_error (&p->task, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                                    "The guest agent's reply to %s cannot be read: %s",
                                    p->command, number_error->message);
      core_finish_sent (core, p, NULL);
      return;
    }
  core_finish_sent (core, p, message);
}

/* What the machine saw happen to the guest or its agent's port. */
void
core_agent_notice (Core        *core,
                   AgentNotice  notice)
{
  Pending *p;

  g_assert (q_worker_is_current ());
  g_assert (core->dialect == &core_agent_dialect);

  if (core->closed)
    return;

  p = g_queue_peek_head (&core->sent);

  if (notice == AGENT_NOTICE_PORT_OPENED)
    {
      core_agent_set_up (core, TRUE);
      /* A resynchronisation sent while nobody listened: start afresh. */
      if (p != NULL && p->own)
        {
          core->agent_sync_attempts = 0;
          agent_abandon (core, p);
          core_write_next (core);
        }
      return;
    }

  core->agent_synced = FALSE;
  if (notice != AGENT_NOTICE_GUEST_SUSPENDED)
    core_agent_set_up (core, FALSE);
  if (p == NULL)
    return;

  if (p->no_reply)
    {
      /* The guest's shutdown or reset is the success of guest-shutdown
       * (and of guest-suspend-disk, which powers off); its suspension that
       * of guest-suspend-*. The agent closing its port is not: it does so
       * on the way down, and when it crashes. */
      gboolean done = notice == AGENT_NOTICE_GUEST_RESET ||
                      (notice == AGENT_NOTICE_GUEST_SUSPENDED &&
                       g_str_has_prefix (p->command, "guest-suspend-"));

      if (!done)
        return;
      if (p->task != NULL)
        take_task_return_pointer (&p->task, json_node_new (JSON_NODE_NULL),
                                  (GDestroyNotify)json_node_unref);
      agent_abandon (core, p);
    }
  else if (notice != AGENT_NOTICE_GUEST_SUSPENDED)
    {
      if (p->task != NULL)
        take_task_return_new_error (&p->task, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                    notice == AGENT_NOTICE_PORT_CLOSED
                                    ? "The guest agent closed its port before answering %s"
                                    : "The guest was reset or shut down before its agent answered %s",
                                    p->command);
      agent_abandon (core, p);
    }
  core_write_next (core);
}

/* ------------------------------------------------------------------------ */
/* What else the engine asks                                                */

static void
agent_setup (Core *core)
{
  /* guest-exec-status carries up to 16 MiB of each output stream, in
   * base64. */
  core->max_message_size = Q_AGENT_MAX_MESSAGE_SIZE;
  core->framer.max_size = core->max_message_size;
  q_qmp_framer_set_agent (&core->framer);
}

static void
agent_queue (Core    *core,
             Pending *p)
{
  if (p->barrier)
    core->agent_synced = FALSE;   /* a user's sync resynchronises */
  p->no_reply = g_strcmp0 (p->command, "guest-shutdown") == 0 ||
                g_str_has_prefix (p->command, "guest-suspend-");
}

static GError *
agent_timeout_error (Core    *core,
                     Pending *p)
{
  if (p->sent)
    return g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                        "No reply from the guest agent to %s within %d ms",
                        p->command, p->timeout_msec);
  return g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                      "The guest agent did not answer within %d ms, so %s was "
                      "not sent (is qemu-ga running in the guest?)",
                      p->timeout_msec, p->command);
}

/* No greeting, no capabilities, no events: commands go at once. */
const CoreDialect core_agent_dialect = {
  .no_stream      = "The guest agent was created without a stream",
  .channel        = "Guest agent channel",
  .was_closed     = "The guest agent connection was closed",
  .is_closed      = "The guest agent's channel is closed",
  .read_failed    = "Reading from the guest agent's channel failed",
  .write_failed   = "Writing to the guest agent's channel failed",
  .peer_closed    = "The guest agent's channel was closed (QEMU exited?)",
  .command        = "The guest agent command",
  .task_name      = "[qmachine] guest agent execute",
  .raw_task_name  = "[qmachine] guest agent execute",
  .setup          = agent_setup,
  .queue          = agent_queue,
  .write_one      = agent_write_one,
  .handle_message = agent_handle_message,
  .timeout_error  = agent_timeout_error,
  .abandon        = agent_abandon,
};
