/* q-qmp-core-qmp.c: QMP's dialect of the engine (worker thread): the
 * greeting and qmp_capabilities, the routing of what QEMU sends, and which
 * command may be written next
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * QQmpClient makes its core with core_qmp_dialect. The engine calls this
 * file only through that table; this file calls the engine.
 */

#include "config.h"

#include "q-error.h"
#include "q-qmp-core-private.h"
#include "q-util-private.h"

/* ------------------------------------------------------------------------ */
/* Negotiation                                                              */

static void core_send_capabilities (Core *core);

static void
capabilities_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(Core) core = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;
  g_autoptr(GTask) task = NULL;

  ret = g_task_propagate_pointer (G_TASK (result), &error);
  task = g_steal_pointer (&core->negotiate_task);

  if (task == NULL)
    return;

  if (ret == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  core->negotiated = TRUE;
  /* Callers may write commands themselves from now on, unless
   * out-of-band replies can overtake (q-qmp-core-direct.c). */
  core->direct_allowed = !core->oob_enabled;
  core_update_wire (core);
  g_task_return_boolean (task, TRUE);
}

static void
core_send_capabilities (Core *core)
{
  g_autoptr(JsonObject) args = NULL;
  GTask *task;
  Pending *p;

  if (core->negotiate_flags & Q_QMP_NEGOTIATE_FLAGS_OOB)
    {
      JsonObject *greeting;
      JsonArray *caps;
      gboolean offered = FALSE;

      q_leaf_lock (&core->mutex);
      greeting = core->greeting;
      caps = q_json_get_array (greeting, "capabilities");
      for (guint i = 0; caps && i < json_array_get_length (caps); i++)
        {
          JsonNode *n = json_array_get_element (caps, i);
          if (JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING &&
              g_strcmp0 (json_node_get_string (n), "oob") == 0)
            offered = TRUE;
        }
      q_leaf_unlock (&core->mutex);

      if (!offered)
        {
          task = g_steal_pointer (&core->negotiate_task);
          g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                                   "The QMP server does not offer out-of-band execution");
          g_object_unref (task);
          return;
        }

      args = json_object_new ();
      {
        JsonArray *enable = json_array_new ();
        json_array_add_string_element (enable, "oob");
        json_object_set_array_member (args, "enable", enable);
      }
      core->oob_enabled = TRUE;
    }

  p = pending_new (core, "qmp_capabilities", args, FALSE);
  p->task = g_task_new (NULL, NULL, capabilities_cb, core_ref (core));
  g_task_set_source_tag (p->task, core_send_capabilities);

  g_hash_table_insert (core->pending, p->id, p);
  g_queue_push_tail (&core->outq, p);
  core_write_next (core);
}

gboolean
core_do_negotiate (gpointer data)
{
  Request *r = data;
  Core *core = r->core;
  gboolean have_greeting;

  if (core->closed)
    {
      take_task_return_error (&r->task, core_closed_error (core));
      return G_SOURCE_REMOVE;
    }
  if (g_task_return_error_if_cancelled (r->task))
    return G_SOURCE_REMOVE;
  if (core->negotiate_task != NULL || core->negotiated)
    {
      take_task_return_new_error (&r->task, G_IO_ERROR, G_IO_ERROR_PENDING,
                               core->negotiated ? "QMP capabilities are already negotiated"
                                                : "QMP negotiation is already in progress");
      return G_SOURCE_REMOVE;
    }

  core->negotiate_task = g_steal_pointer (&r->task);
  core->negotiate_flags = GPOINTER_TO_UINT (g_task_get_task_data (core->negotiate_task));

  q_leaf_lock (&core->mutex);
  have_greeting = core->greeting != NULL;
  q_leaf_unlock (&core->mutex);

  if (have_greeting)
    core_send_capabilities (core);

  return G_SOURCE_REMOVE;
}

gboolean
core_do_negotiate_cancel (gpointer data)
{
  Request *r = data;
  Core *core = r->core;

  /* Only the wait for the greeting is cancelled here; once
   * qmp_capabilities is in flight, its own cancellation applies. */
  if (core->negotiate_task != NULL && (gpointer)core->negotiate_task == r->task_key)
    {
      GTask *task = g_steal_pointer (&core->negotiate_task);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               "Waiting for the QMP greeting was cancelled");
      g_object_unref (task);
    }

  return G_SOURCE_REMOVE;
}

static void
core_greeting_arrived (Core *core)
{
  if (core->negotiate_task != NULL)
    core_send_capabilities (core);
}

/* ------------------------------------------------------------------------ */
/* Routing what QEMU sends                                                  */

/* The written out-of-band command a reply's id names, or NULL: only
 * out-of-band commands carry ids (numbers on the wire, strings in the
 * table). */
static Pending *
core_lookup_sent_oob (Core     *core,
                      JsonNode *id_node)
{
  char key[24];
  Pending *p;

  if (!JSON_NODE_HOLDS_VALUE (id_node) || json_node_get_value_type (id_node) != G_TYPE_INT64)
    return NULL;
  g_snprintf (key, sizeof key, "%" G_GINT64_FORMAT, json_node_get_int (id_node));
  p = g_hash_table_lookup (core->pending, key);
  return p != NULL && p->sent && p->oob ? p : NULL;
}

/* The oldest in-band command written and not yet answered: in-band replies
 * carry no id, QEMU answers them in order. */
static Pending *
core_oldest_inband (Core *core)
{
  for (GList *l = core->sent.head; l; l = l->next)
    {
      Pending *p = l->data;
      if (!p->oob)
        return p;
    }
  return NULL;
}

static void
core_handle_return (Core               *core,
                    JsonObject         *message,
                    const QQmpJsonInfo *info)
{
  JsonNode *id_node = json_object_get_member (message, "id");
  Pending *p;

  if (info->number_error != NULL && info->number_in_id)
    {
      /* Its id read as another number: it could go to the wrong command. */
      g_debug ("QMP: reply with an unreadable id dropped: %s", info->number_error->message);
      return;
    }

  if (id_node != NULL)
    p = core_lookup_sent_oob (core, id_node);
  else if ((p = core_oldest_inband (core)) == NULL && json_object_has_member (message, "error"))
    /* An id-less error with only out-of-band commands out: QEMU could not
     * parse one of them, and cannot tell which. Fail the oldest rather
     * than leave it hanging. */
    p = g_queue_peek_head (&core->sent);

  if (p == NULL)
    {
      g_debug ("QMP: reply that no command waits for dropped");
      return;
    }

  if (info->number_error != NULL)
    {
      /* json-glib read a number of it as another value: the command fails
       * rather than return what QEMU did not say; the connection, in step,
       * stays up (QEMU writes uint64 values above G_MAXINT64 as they are,
       * in qom-get replies for one). */
      if (p->task != NULL)
        take_task_return_new_error (&p->task, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                                    "The reply to the QMP command %s cannot be read: %s",
                                    p->command, info->number_error->message);
      core_finish_sent (core, p, NULL);
      return;
    }

  core_finish_sent (core, p, message);
}

static void
qmp_handle_message (Core               *core,
                    JsonObject         *message,
                    const QQmpJsonInfo *info)
{
  JsonNode *node;

  if (json_object_has_member (message, "QMP"))
    {
      JsonObject *qmp = q_json_get_object (message, "QMP");
      gboolean first;

      if (qmp == NULL)
        {
          g_autoptr(GError) error =
            g_error_new (Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                         "QMP greeting is not an object");
          core_close (core, error);
          return;
        }
      if (info->number_error != NULL)
        {
          g_autoptr(GError) error =
            g_error_new (Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                         "The QMP greeting cannot be read: %s", info->number_error->message);
          core_close (core, error);
          return;
        }

      q_leaf_lock (&core->mutex);
      first = core->greeting == NULL;
      if (first)
        core->greeting = json_object_ref (qmp);
      q_leaf_unlock (&core->mutex);

      if (first)
        core_greeting_arrived (core);
      else
        g_debug ("QMP: second greeting ignored");
      return;
    }

  if ((node = json_object_get_member (message, "event")) != NULL)
    {
      QQmpEventHook hook;
      gpointer hook_data;
      Emission *e;

      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
        {
          g_debug ("QMP: event without a string name dropped");
          return;
        }

      if (info->number_error != NULL)
        {
          /* Nobody waits for an event in particular: it goes, counted as
           * an event the application did not get. */
          q_leaf_lock (&core->mutex);
          core->dropped_events++;
          q_leaf_unlock (&core->mutex);
          g_debug ("QMP: event %s dropped: %s", json_node_get_string (node),
                   info->number_error->message);
          return;
        }

      e = g_new0 (Emission, 1);
      e->kind = EMIT_EVENT;
      e->name = g_strdup (json_node_get_string (node));
      e->object = json_object_ref (message);
      e->cost = info->size + EVENT_NODE_COST * info->nodes;

      hook = core->event_hook;
      hook_data = core->hook_data;
      if (hook != NULL)
        hook (message, e->cost, hook_data);

      core_queue_emission (core, e);
      return;
    }

  if (json_object_has_member (message, "return") || json_object_has_member (message, "error"))
    {
      core_handle_return (core, message, info);
      return;
    }

  if (((node = json_object_get_member (message, "id")) != NULL && !info->number_in_id) ||
      (node == NULL && core_oldest_inband (core) != NULL))
    {
      /* A reply that is neither success nor failure: its command fails
       * now with a protocol error instead of waiting for its deadline.
       * Without an id it stands where the oldest in-band command's reply
       * goes (in-band replies come in order and carry no id). */
      Pending *p = node != NULL ? core_lookup_sent_oob (core, node) : core_oldest_inband (core);

      if (p != NULL)
        {
          if (p->task != NULL)
            take_task_return_new_error (&p->task, Q_MACHINE_ERROR, Q_MACHINE_ERROR_PROTOCOL,
                                        "QMP reply to %s has neither \"return\" nor \"error\"",
                                        p->command);
          core_finish_sent (core, p, NULL);
          return;
        }
    }

  g_debug ("QMP: message of unknown kind dropped");
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */

/* Starts writing the next command that may go. Returns TRUE when it was
 * written at once and the next may follow. */
static gboolean
qmp_write_one (Core *core)
{
  Pending *p;

  if (g_queue_is_empty (&core->outq))
    {
      if (core->closing)
        core_close (core, NULL);
      return FALSE;
    }

  /* Each fd-bearing message replaces the fds QEMU has stashed, so an
   * fd-bearing command waits until the previous one has been answered;
   * commands behind it wait too, to keep their order. In-band commands
   * over the OOB limit wait, but out-of-band ones pass them: that is what
   * out-of-band is for. */
  p = NULL;
  for (GList *l = core->outq.head; l; l = l->next)
    {
      Pending *candidate = l->data;

      if (candidate->fds != NULL && core->fd_in_flight > 0)
        break;
      if (!candidate->oob && core->oob_enabled &&
          core->inband_in_flight >= MAX_INBAND_IN_FLIGHT_OOB)
        continue;
      p = candidate;
      g_queue_delete_link (&core->outq, l);
      break;
    }
  if (p == NULL)
    {
      /* Only held commands are left: they wait for replies, which a
       * close does not wait for. */
      if (core->closing)
        core_close (core, NULL);
      return FALSE;
    }

  return core_write_pending (core, p);
}

/* ------------------------------------------------------------------------ */
/* What else the engine asks                                                */

static GError *
qmp_timeout_error (Core    *core,
                   Pending *p)
{
  return g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                      "No reply to the QMP command %s within %d ms",
                      p->command, p->timeout_msec);
}

static void
qmp_close (Core         *core,
           const GError *error)
{
  g_autoptr(GTask) negotiate_task = g_steal_pointer (&core->negotiate_task);

  if (negotiate_task != NULL)
    g_task_return_error (negotiate_task, g_error_copy (error));
}

static void
qmp_finalize (Core *core)
{
  g_assert (core->negotiate_task == NULL);
  g_clear_pointer (&core->greeting, json_object_unref);
}

/* A written command whose caller stopped waiting keeps its slot (no
 * abandon hook): replies come in order, and its late one must not go to
 * the next command. */
const CoreDialect core_qmp_dialect = {
  .no_stream      = "The QMP client was created without a stream",
  .channel        = "QMP connection",
  .was_closed     = "The QMP connection was closed",
  .is_closed      = "The QMP connection is closed",
  .read_failed    = "Reading from the QMP peer failed",
  .write_failed   = "Writing to the QMP peer failed",
  .peer_closed    = "The QMP peer closed the connection",
  .command        = "The QMP command",
  .task_name      = "[qmachine] qmp execute",
  .raw_task_name  = "[qmachine] qmp execute-raw",
  .write_one      = qmp_write_one,
  .handle_message = qmp_handle_message,
  .timeout_error  = qmp_timeout_error,
  .close          = qmp_close,
  .finalize       = qmp_finalize,
};
