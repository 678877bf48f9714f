/* q-qmp-core-negotiate.c: the greeting and qmp_capabilities (worker
 * thread)
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "q-error.h"
#include "q-qmp-core-private.h"
#include "q-util-private.h"

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

void
core_greeting_arrived (Core *core)
{
  if (core->negotiate_task != NULL)
    core_send_capabilities (core);
}
