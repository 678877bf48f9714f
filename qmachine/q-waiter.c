/* q-waiter.c: a wait that ends on a match, a timeout or a cancellation
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "q-waiter-private.h"

/* What a timeout or a cancellation carries: never the waiter itself. */
typedef struct
{
  const QWaiterClass *klass;
  QBox               *box;
  guint64             id;
  gboolean            cancelled;
} WaiterEnd;

static WaiterEnd *
waiter_end_new (const QWaiterClass *klass,
                QBox               *box,
                guint64             id,
                gboolean            cancelled)
{
  WaiterEnd *end = g_new0 (WaiterEnd, 1);

  end->klass = klass;
  end->box = q_box_ref (box);
  end->id = id;
  end->cancelled = cancelled;
  return end;
}

static void
waiter_end_free (WaiterEnd *end)
{
  q_box_unref (end->box);
  g_free (end);
}

/* Worker: ends the waiter if it is still waiting. */
static gboolean
waiter_end_cb (gpointer data)
{
  WaiterEnd *end = data;
  g_autoptr(GObject) object = q_box_dup (end->box);
  QWaiter *w;
  GError *error;

  if (object == NULL)
    return G_SOURCE_REMOVE;   /* its dispose ended every waiter */
  if ((w = end->klass->take (object, end->id)) == NULL)
    return G_SOURCE_REMOVE;

  if (end->cancelled)
    error = g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, "The wait was cancelled");
  else
    error = end->klass->timeout_error (object, w);
  g_task_return_error (w->task, error);
  /* When this is the timeout firing, destroying it in free is harmless. */
  end->klass->free (w);

  return G_SOURCE_REMOVE;
}

/* Any thread: the caller's cancellable fired. */
static void
waiter_cancelled_cb (GCancellable *cancellable,
                     WaiterEnd    *end)
{
  q_worker_schedule (waiter_end_cb, waiter_end_new (end->klass, end->box, end->id, TRUE),
                     (GDestroyNotify)waiter_end_free);
}

void
q_waiter_arm (QWaiter            *w,
              const QWaiterClass *klass,
              QBox               *box,
              int                 timeout_msec,
              GCancellable       *cancellable)
{
  if (timeout_msec > 0)
    w->timeout = q_worker_timeout_source (timeout_msec, waiter_end_cb,
                                          waiter_end_new (klass, box, w->id, FALSE),
                                          (GDestroyNotify)waiter_end_free);
  if (cancellable != NULL)
    {
      /* A cancellable already cancelled calls back at once: that only
       * schedules, so it is safe under the owner's lock. */
      w->cancellable = g_object_ref (cancellable);
      w->cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (waiter_cancelled_cb),
                                            waiter_end_new (klass, box, w->id, FALSE),
                                            (GDestroyNotify)waiter_end_free);
    }
}

void
q_waiter_clear (QWaiter *w)
{
  q_destroy_source (&w->timeout);
  if (w->cancel_id != 0)
    g_cancellable_disconnect (w->cancellable, w->cancel_id);
  w->cancel_id = 0;
  g_clear_object (&w->cancellable);
  g_clear_object (&w->task);
}

QWaiter *
q_waiter_list_take (GList  **list,
                    GMutex  *mutex,
                    guint64  id)
{
  QWaiter *w = NULL;

  q_leaf_lock (mutex);
  for (GList *l = *list; l; l = l->next)
    {
      if (((QWaiter *)l->data)->id == id)
        {
          w = l->data;
          *list = g_list_delete_link (*list, l);
          break;
        }
    }
  q_leaf_unlock (mutex);

  return w;
}
