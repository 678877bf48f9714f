/* q-machine-events.c: the event queue, event waits and the event signal
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Events arrive on the worker through the QMP client's event hook, in
 * order: a waiter that matches takes the event, otherwise it is queued
 * (bounded by event-queue-limit). The `event` signal is re-emitted in the
 * owner's context from the client's own (bounded) emission queue.
 *
 * Waiters live in self->waiters under the machine mutex. A waiter's own
 * task has no source object and its callback data holds the machine's box,
 * so a pending wait never keeps the machine alive; its timeout source and
 * cancellable handler hold the box and the waiter's id, and both go when
 * the waiter is freed. Only once the wait is over is the caller's task
 * made, with the machine as its source object, as GIO callers expect.
 */

#include "config.h"

#include "q-error.h"
#include "q-machine-private.h"
#include "q-util-private.h"
#include "q-waiter-private.h"

typedef struct
{
  QWaiter     base;
  char      **names;
  JsonArray  *matches;
  char       *what;       /* for messages: "STOP", "STOP|RESUME", "any" */
  int         timeout_msec;
} Waiter;

/* The caller's side of a wait, carried by the waiter's task. */
typedef struct
{
  QBox                *box;
  GAsyncReadyCallback  callback;
  gpointer             user_data;
  gpointer             source_tag;
} WaitCall;

static guint64 next_waiter_id = 1;   /* under the machine mutex; unique per process is enough */

static void
waiter_free (Waiter *w)
{
  q_waiter_clear (&w->base);
  g_strfreev (w->names);
  g_clear_pointer (&w->matches, json_array_unref);
  g_free (w->what);
  g_free (w);
}

static QWaiter *
waiter_take (gpointer object,
             guint64  id)
{
  QMachine *self = object;

  return q_waiter_list_take (&self->waiters, &self->mutex, id);
}

static GError *
waiter_timeout_error (gpointer  object,
                      QWaiter  *base)
{
  Waiter *w = (Waiter *)base;

  return g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "No %s event within %d ms",
                      w->what, w->timeout_msec);
}

static const QWaiterClass waiter_class = {
  waiter_take,
  waiter_timeout_error,
  (void (*) (QWaiter *))waiter_free,
};

static gboolean
waiter_matches (Waiter     *w,
                JsonObject *event)
{
  const char *name = q_json_get_string (event, "event");
  g_autoptr(JsonNode) node = NULL;

  if (name == NULL)
    return FALSE;

  for (guint i = 0; w->names[i]; i++)
    {
      JsonNode *match = NULL;

      if (g_strcmp0 (w->names[i], "*") != 0 && g_strcmp0 (w->names[i], name) != 0)
        continue;
      if (w->matches != NULL && i < json_array_get_length (w->matches))
        match = json_array_get_element (w->matches, i);
      if (node == NULL)
        {
          node = json_node_new (JSON_NODE_OBJECT);
          json_node_set_object (node, event);
        }
      if (match == NULL || JSON_NODE_HOLDS_NULL (match) || q_event_match (node, match))
        return TRUE;
    }

  return FALSE;
}

/* Worker thread: STOP and RESUME say whether the guest's CPUs run. */
static void
machine_note_run_state (QMachine   *self,
                        JsonObject *event)
{
  const char *name = q_json_get_string (event, "event");
  gboolean paused, changed;

  if (g_strcmp0 (name, "STOP") == 0)
    paused = TRUE;
  else if (g_strcmp0 (name, "RESUME") == 0)
    paused = FALSE;
  else
    return;

  q_leaf_lock (&self->mutex);
  changed = self->paused != paused;
  self->paused = paused;
  q_leaf_unlock (&self->mutex);
  /* The event itself is on its way to the owner's context, where
   * machine_qmp_event_cb delivers this first. */
  if (changed)
    machine_notify_with_event (self, PROP_PAUSED);
}

/* Worker thread: what the guest agent needs to know of the guest. */
static void
machine_notice_agent (Run        *run,
                      JsonObject *event)
{
  const char *name = q_json_get_string (event, "event");

  if (g_strcmp0 (name, "SHUTDOWN") == 0 || g_strcmp0 (name, "RESET") == 0)
    q_guest_agent_notice (run->agent, AGENT_NOTICE_GUEST_RESET);
  else if (g_strcmp0 (name, "SUSPEND") == 0 || g_strcmp0 (name, "SUSPEND_DISK") == 0)
    q_guest_agent_notice (run->agent, AGENT_NOTICE_GUEST_SUSPENDED);
  else if (g_strcmp0 (name, "VSERPORT_CHANGE") == 0)
    {
      JsonObject *data = q_json_get_object (event, "data");
      JsonNode *open = data ? json_object_get_member (data, "open") : NULL;

      if (g_strcmp0 (q_json_get_string (data, "id"), Q_AGENT_DEVICE_ID) == 0 &&
          open != NULL && JSON_NODE_HOLDS_VALUE (open) &&
          json_node_get_value_type (open) == G_TYPE_BOOLEAN)
        q_guest_agent_notice (run->agent, json_node_get_boolean (open) ? AGENT_NOTICE_PORT_OPENED
                                                                        : AGENT_NOTICE_PORT_CLOSED);
    }
}

void
queued_event_free (QueuedEvent *qe)
{
  json_object_unref (qe->event);
  g_free (qe);
}

/* Under the machine mutex (or in finalize). */
void
machine_clear_events_locked (QMachine *self)
{
  g_queue_clear_full (&self->events, (GDestroyNotify)queued_event_free);
  g_queue_init (&self->events);
  self->queued_event_bytes = 0;
}

/* Under the machine mutex: takes @link out of the queue, and returns its
 * event. */
static JsonObject *
machine_take_event_locked (QMachine *self,
                           GList    *link)
{
  QueuedEvent *qe = link->data;
  JsonObject *event = g_steal_pointer (&qe->event);

  self->queued_event_bytes -= qe->cost;
  g_queue_delete_link (&self->events, link);
  g_free (qe);
  return event;
}

/* Worker thread, from the QMP client's event hook, in arrival order. The
 * hook's data is a reference to the run. */
void
machine_event_hook (JsonObject *event,
                    gsize       cost,
                    gpointer    user_data)
{
  Run *run = user_data;
  g_autoptr(QMachine) self = NULL;
  Waiter *taken = NULL;
  guint dropped = 0;
  guint limit = 0;
  guint64 bytes = 0;

  /* Set before the run was scheduled; the run holds it. */
  if (run->agent != NULL)
    machine_notice_agent (run, event);

  self = q_box_dup (run->box);
  if (self != NULL)
    machine_note_run_state (self, event);

  if (self == NULL)
    return;

  q_leaf_lock (&self->mutex);
  for (GList *l = self->waiters; l; l = l->next)
    {
      Waiter *w = l->data;
      if (waiter_matches (w, event))
        {
          taken = w;
          self->waiters = g_list_delete_link (self->waiters, l);
          break;
        }
    }
  if (taken == NULL)
    {
      QueuedEvent *qe = g_new0 (QueuedEvent, 1);

      qe->event = json_object_ref (event);
      qe->cost = cost;
      /* The oldest go while over either bound; the newest stays. */
      while (self->events.length > 0 &&
             (self->events.length >= MAX (self->event_queue_limit, 1) ||
              self->queued_event_bytes + cost > self->event_queue_bytes))
        {
          json_object_unref (machine_take_event_locked (self, self->events.head));
          dropped = ++self->dropped_events;
        }
      g_queue_push_tail (&self->events, qe);
      self->queued_event_bytes += cost;
      limit = self->event_queue_limit;
      bytes = self->event_queue_bytes;
    }
  q_leaf_unlock (&self->mutex);

  if (dropped == 1 || (dropped > 0 && dropped % 1000 == 0))
    q_log_later (self->owner_context, G_LOG_LEVEL_WARNING,
                 "QMachine %s: event queue full (limit %u events, %" G_GUINT64_FORMAT
                 " bytes): %u oldest events dropped so far", self->name, limit, bytes, dropped);

  if (taken != NULL)
    {
      g_task_return_pointer (taken->base.task, json_object_ref (event), (GDestroyNotify)json_object_unref);
      waiter_free (taken);
    }
}

/* Any thread (dispose runs where the last reference goes). */
void
machine_fail_waiters (QMachine   *self,
                      const char *why)
{
  GList *waiters;

  q_leaf_lock (&self->mutex);
  waiters = g_steal_pointer (&self->waiters);
  q_leaf_unlock (&self->mutex);

  for (GList *l = waiters; l; l = l->next)
    {
      Waiter *w = l->data;
      g_task_return_new_error (w->base.task, Q_MACHINE_ERROR, Q_MACHINE_ERROR_NOT_LAUNCHED,
                               "%s before the awaited event arrived", why);
      waiter_free (w);
    }
  g_list_free (waiters);
}

/* Owner's context: the client's `event` signal, connected with the box. */
void
machine_qmp_event_cb (QQmpClient *client,
                      const char *name,
                      JsonObject *event,
                      QBox       *box)
{
  g_autoptr(QMachine) self = q_box_dup (box);

  if (self == NULL)
    return;
  /* What the event changed (machine_note_run_state) is notified before
   * the event is emitted, as it would be by the machine's dispatcher. */
  machine_deliver_pending (self);
  g_signal_emit (self, q_machine_signals [SIGNAL_EVENT], g_quark_from_string (name), name, event);
}

/* The caller's context: the wait is over. Hands the result to a task of
 * the machine's, which calls the caller back with the machine as the
 * source object (if the machine is gone, with none). */
static void
wait_done_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  WaitCall *call = user_data;
  g_autoptr(QMachine) self = q_box_dup (call->box);
  g_autoptr(GTask) task = g_task_new (self, NULL, call->callback, call->user_data);
  g_autoptr(GError) error = NULL;
  JsonObject *event;

  g_task_set_source_tag (task, call->source_tag);
  g_task_set_name (task, "[qmachine] event wait");
  event = g_task_propagate_pointer (G_TASK (result), &error);
  if (event != NULL)
    g_task_return_pointer (task, event, (GDestroyNotify)json_object_unref);
  else
    g_task_return_error (task, g_steal_pointer (&error));

  q_box_unref (call->box);
  g_free (call);
}

/* A wait's result is the machine's task, or, when the machine was
 * disposed before the wait ended, a task of the same source tag with no
 * source object (see wait_done_cb), which holds the error saying so. */
static gboolean
wait_result_is_valid (QMachine     *self,
                      GAsyncResult *result,
                      gpointer      source_tag)
{
  if (self != NULL && g_task_is_valid (result, self))
    return TRUE;
  return g_task_is_valid (result, NULL) &&
         g_task_get_source_tag (G_TASK (result)) == source_tag;
}

static void
events_wait_common (QMachine            *self,
                    const char * const  *names,
                    JsonArray           *matches,
                    int                  timeout_msec,
                    gpointer             source_tag,
                    GCancellable        *cancellable,
                    GAsyncReadyCallback  callback,
                    gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  JsonObject *found = NULL;
  WaitCall *call;
  Waiter *w;

  /* No source object: see the top of this file. */
  call = g_new0 (WaitCall, 1);
  call->box = q_box_ref (self->box);
  call->callback = callback;
  call->user_data = user_data;
  call->source_tag = source_tag;
  task = g_task_new (NULL, cancellable, wait_done_cb, call);
  g_task_set_source_tag (task, source_tag);
  g_task_set_name (task, "[qmachine] event wait");
  g_task_set_check_cancellable (task, FALSE);

  w = g_new0 (Waiter, 1);
  w->names = g_strdupv ((char **)names);
  w->matches = matches ? json_array_ref (matches) : NULL;
  w->what = g_str_equal (w->names[0], "*") && w->names[1] == NULL ? g_strdup ("any")
                                                                 : g_strjoinv ("|", w->names);
  w->timeout_msec = timeout_msec;

  /* Looking in the queue and registering happen under one lock with the
   * reader's queueing, so no event can slip between the two. */
  q_leaf_lock (&self->mutex);
  for (GList *l = self->events.head; l; l = l->next)
    {
      if (waiter_matches (w, ((QueuedEvent *)l->data)->event))
        {
          found = machine_take_event_locked (self, l);
          break;
        }
    }
  if (found == NULL && self->run != NULL && timeout_msec != 0 &&
      !(cancellable && g_cancellable_is_cancelled (cancellable)))
    {
      w->base.id = next_waiter_id++;
      w->base.task = g_steal_pointer (&task);
      self->waiters = g_list_append (self->waiters, w);
      q_waiter_arm (&w->base, &waiter_class, self->box, timeout_msec, cancellable);
      q_leaf_unlock (&self->mutex);
      return;
    }
  q_leaf_unlock (&self->mutex);

  if (found != NULL)
    g_task_return_pointer (task, found, (GDestroyNotify)json_object_unref);
  else if (cancellable && g_cancellable_is_cancelled (cancellable))
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "The wait was cancelled");
  else if (timeout_msec == 0)
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                             "No %s event queued", w->what);
  else
    g_task_return_new_error (task, Q_MACHINE_ERROR, Q_MACHINE_ERROR_NOT_LAUNCHED,
                             "The machine %s is not launched and no %s event is queued",
                             self->name, w->what);
  waiter_free (w);
}

/**
 * q_machine_get_event:
 * @self: a `QMachine`
 *
 * Takes the oldest queued event.
 *
 * Returns: (transfer full) (nullable): the event, or %NULL when none is
 *   queued
 *
 * Since: 1.0
 */
JsonObject *
q_machine_get_event (QMachine *self)
{
  JsonObject *ret;

  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);

  q_leaf_lock (&self->mutex);
  ret = self->events.head ? machine_take_event_locked (self, self->events.head) : NULL;
  q_leaf_unlock (&self->mutex);

  return ret;
}

/**
 * q_machine_get_events:
 * @self: a `QMachine`
 *
 * Takes all queued events, oldest first.
 *
 * Returns: (transfer container) (element-type Json.Object): the events
 *
 * Since: 1.0
 */
GPtrArray *
q_machine_get_events (QMachine *self)
{
  GPtrArray *ret;

  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);

  ret = g_ptr_array_new_with_free_func ((GDestroyNotify)json_object_unref);
  q_leaf_lock (&self->mutex);
  while (self->events.head != NULL)
    g_ptr_array_add (ret, machine_take_event_locked (self, self->events.head));
  q_leaf_unlock (&self->mutex);

  return ret;
}

/**
 * q_machine_event_wait_async:
 * @self: a `QMachine`
 * @name: (nullable): the event name, such as `STOP`; %NULL or `*` for any
 *   event
 * @match: (nullable): a sub-dict the event must contain, see
 *   [func@QMachine.event_match]
 * @timeout_msec: how long to wait, 0 to look in the queue only, or -1
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called with the event
 * @user_data: closure data for @callback
 *
 * Waits for an event. The queue is searched first (oldest first) and a
 * matching event is taken out of it; otherwise the next matching event is
 * taken as it arrives, and events that do not match stay queued. A waiter
 * registered before a command is sent sees every event that command
 * causes. Times out with `G_IO_ERROR_TIMED_OUT`; fails with
 * `Q_MACHINE_ERROR_NOT_LAUNCHED` if QEMU exits first.
 *
 * A pending wait does not keep the machine alive: when the last
 * reference to the machine goes while it waits, the machine is disposed
 * (QEMU is killed) and @callback runs with a %NULL source object and a
 * `Q_MACHINE_ERROR_NOT_LAUNCHED` error that nobody needs to finish.
 *
 * Since: 1.0
 */
void
q_machine_event_wait_async (QMachine            *self,
                            const char          *name,
                            JsonNode            *match,
                            int                  timeout_msec,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  const char *names[] = { name ? name : "*", NULL };
  g_autoptr(JsonArray) matches = NULL;

  q_return_async_if_fail (Q_IS_MACHINE (self), callback, user_data);
  q_return_async_if_fail (timeout_msec >= -1, callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  if (match != NULL)
    {
      matches = json_array_new ();
      json_array_add_element (matches, json_node_copy (match));
    }

  events_wait_common (self, names, matches, timeout_msec, q_machine_event_wait_async,
                      cancellable, callback, user_data);
}

/**
 * q_machine_event_wait_finish:
 * @self: a `QMachine`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.Machine.event_wait_async].
 *
 * If the machine was disposed before the wait ended, the wait fails with
 * %Q_MACHINE_ERROR_NOT_LAUNCHED, the callback gets no source object, and
 * @self may be %NULL here.
 *
 * Returns: (transfer full): the event
 *
 * Since: 1.0
 */
JsonObject *
q_machine_event_wait_finish (QMachine      *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (self == NULL || Q_IS_MACHINE (self), NULL);
  g_return_val_if_fail (wait_result_is_valid (self, result, q_machine_event_wait_async), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * q_machine_event_wait:
 * @self: a `QMachine`
 * @name: (nullable): the event name; %NULL or `*` for any event
 * @match: (nullable): a sub-dict the event must contain
 * @timeout_msec: how long to wait, 0 to look in the queue only, or -1
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.Machine.event_wait_async].
 *
 * Returns: (transfer full): the event
 *
 * Since: 1.0
 */
JsonObject *
q_machine_event_wait (QMachine      *self,
                      const char    *name,
                      JsonNode      *match,
                      int            timeout_msec,
                      GCancellable  *cancellable,
                      GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);
  g_return_val_if_fail (timeout_msec >= -1, NULL);

  q_sync_call_begin (&call);
  q_machine_event_wait_async (self, name, match, timeout_msec, cancellable, q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return NULL;

  /* Not through @self: another thread may have dropped the machine's
   * last reference, which ends the wait with an error (wait_done_cb). */
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * q_machine_events_wait_async:
 * @self: a `QMachine`
 * @names: (array zero-terminated=1): event names (`*` for any event)
 * @matches: (nullable): for each name, a match object or JSON null (any);
 *   missing entries match any event of that name
 * @timeout_msec: how long to wait, 0 to look in the queue only, or -1
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called with the first event that qualifies
 * @user_data: closure data for @callback
 *
 * Like [method@QMachine.Machine.event_wait_async], for the first event that
 * matches any of several name/match pairs.
 *
 * Since: 1.0
 */
void
q_machine_events_wait_async (QMachine            *self,
                             const char * const  *names,
                             JsonArray           *matches,
                             int                  timeout_msec,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  q_return_async_if_fail (Q_IS_MACHINE (self), callback, user_data);
  q_return_async_if_fail (names != NULL && names[0] != NULL, callback, user_data);
  q_return_async_if_fail (timeout_msec >= -1, callback, user_data);
  q_return_async_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), callback, user_data);

  events_wait_common (self, names, matches, timeout_msec, q_machine_events_wait_async,
                      cancellable, callback, user_data);
}

/**
 * q_machine_events_wait_finish:
 * @self: a `QMachine`
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Completes [method@QMachine.Machine.events_wait_async]. As for
 * [method@QMachine.Machine.event_wait_finish], @self may be %NULL when the
 * machine was disposed before the wait ended.
 *
 * Returns: (transfer full): the event
 *
 * Since: 1.0
 */
JsonObject *
q_machine_events_wait_finish (QMachine      *self,
                              GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (self == NULL || Q_IS_MACHINE (self), NULL);
  g_return_val_if_fail (wait_result_is_valid (self, result, q_machine_events_wait_async), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * q_machine_events_wait:
 * @self: a `QMachine`
 * @names: (array zero-terminated=1): event names
 * @matches: (nullable): for each name, a match object or JSON null
 * @timeout_msec: how long to wait, 0 to look in the queue only, or -1
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a `GError`
 *
 * The sync variant of [method@QMachine.Machine.events_wait_async].
 *
 * Returns: (transfer full): the event
 *
 * Since: 1.0
 */
JsonObject *
q_machine_events_wait (QMachine            *self,
                       const char * const  *names,
                       JsonArray           *matches,
                       int                  timeout_msec,
                       GCancellable        *cancellable,
                       GError             **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  QSyncCall call;

  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);
  g_return_val_if_fail (names != NULL && names[0] != NULL, NULL);
  g_return_val_if_fail (timeout_msec >= -1, NULL);

  q_sync_call_begin (&call);
  q_machine_events_wait_async (self, names, matches, timeout_msec, cancellable,
                               q_sync_call_done, &call);
  result = q_sync_call_end (&call);
  if (result == NULL)
    return NULL;

  /* Not through @self: another thread may have dropped the machine's
   * last reference, which ends the wait with an error (wait_done_cb). */
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * q_event_match:
 * @event: (nullable): an event, or any part of one
 * @match: (nullable): the match criteria: a sub-dict
 *
 * Checks an event against match criteria with the semantics of
 * `QEMUMachine.event_match`: %NULL (or JSON null) matches anything; an
 * object matches when every one of its members is in @event and matches
 * recursively, a null member meaning "present, any value"; anything else
 * matches an equal value. So `{"foo": null}` matches `{"foo": {"bar": 1}}`,
 * `{"foo": {"abc": null}}` does not match `{"foo": {"bar": 1}}`, and
 * `{"foo": {"rab": 2}}` matches `{"foo": {"bar": 1, "rab": 2}}`. A null in
 * @match cannot require a null in @event.
 *
 * Returns: whether @event matches
 *
 * Since: 1.0
 */
gboolean
q_event_match (JsonNode *event,
               JsonNode *match)
{
  JsonObject *mobj;
  JsonObject *eobj;
  gboolean ret = TRUE;
  GList *members;

  if (match == NULL || JSON_NODE_HOLDS_NULL (match))
    return TRUE;
  if (event == NULL)
    return FALSE;

  if (!JSON_NODE_HOLDS_OBJECT (match))
    return json_node_equal (event, match);
  if (!JSON_NODE_HOLDS_OBJECT (event))
    return FALSE;

  mobj = json_node_get_object (match);
  eobj = json_node_get_object (event);
  members = json_object_get_members (mobj);
  for (GList *l = members; l && ret; l = l->next)
    {
      const char *key = l->data;

      if (!json_object_has_member (eobj, key))
        ret = FALSE;
      else
        ret = q_event_match (json_object_get_member (eobj, key),
                             json_object_get_member (mobj, key));
    }
  g_list_free (members);

  return ret;
}
