/* q-machine-state.c: the machine's state and what reaches its owner
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The bottom of the machine's family: the parts (launch, run, events,
 * devices, spawn) change the machine's state and queue notifications
 * here, and the owner's context delivers them through the machine's
 * dispatcher. Nothing here calls the files above it; q-machine.c, the
 * GObject, is the top: it registers the properties and signals that this
 * file emits.
 */

#include "config.h"

#include "q-machine-private.h"

GParamSpec *machine_properties [N_PROPS];
guint q_machine_signals [N_SIGNALS];

gboolean
machine_set_str (char       **ptr,
         const char  *value)
{
  if (g_strcmp0 (*ptr, value) == 0)
    return FALSE;
  g_free (*ptr);
  *ptr = g_strdup (value);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Notifications in the owner's context                                     */

/* Owner's context, from the dispatcher: delivers what is pending. */
void
machine_dispatch (gpointer object)
{
  QMachine *self = object;
  g_autoptr(GArray) exits = NULL;
  guint pending;

  q_leaf_lock (&self->mutex);
  pending = self->pending_notify;
  self->pending_notify = 0;
  if (self->pending_exits->len > 0)
    {
      exits = g_steal_pointer (&self->pending_exits);
      self->pending_exits = g_array_new (FALSE, FALSE, sizeof (int));
    }
  q_leaf_unlock (&self->mutex);

  g_object_freeze_notify (G_OBJECT (self));
  for (guint prop_id = 1; prop_id < N_PROPS; prop_id++)
    if (pending & (1u << prop_id))
      g_object_notify_by_pspec (G_OBJECT (self), machine_properties [prop_id]);
  g_object_thaw_notify (G_OBJECT (self));

  for (guint i = 0; exits && i < exits->len; i++)
    g_signal_emit (self, q_machine_signals [SIGNAL_EXITED], 0, g_array_index (exits, int, i));
}

/* Any thread: notify @prop_id in the owner's context. Coalesced: however
 * often it is called before the context dispatches, one notification. */
void
machine_notify_later (QMachine *self,
                      guint     prop_id)
{
  q_leaf_lock (&self->mutex);
  self->pending_notify |= 1u << prop_id;
  q_leaf_unlock (&self->mutex);

  q_dispatcher_wakeup (self->dispatcher);
}

/* Worker thread, from the event hook: like machine_notify_later, for a
 * change an event made (paused, from STOP and RESUME), without a wake-up
 * of its own: the machine's handler of that event, in the same owner
 * context, delivers it first (machine_deliver_pending), which saves the
 * owner's thread a wake-up per such event. */
void
machine_notify_with_event (QMachine *self,
                           guint     prop_id)
{
  q_leaf_lock (&self->mutex);
  self->pending_notify |= 1u << prop_id;
  q_leaf_unlock (&self->mutex);
}

/* Owner's context: delivers pending notifications and ::exited now. */
void
machine_deliver_pending (QMachine *self)
{
  machine_dispatch (self);
}

/* Any thread: emit ::exited in the owner's context. At most
 * MAX_PENDING_EXITS wait for a context that does not dispatch them; then
 * the oldest are dropped. */
void
machine_exited_later (QMachine *self,
                      int       exit_code)
{
  q_leaf_lock (&self->mutex);
  if (self->pending_exits->len >= MAX_PENDING_EXITS)
    g_array_remove_index (self->pending_exits, 0);
  g_array_append_val (self->pending_exits, exit_code);
  q_leaf_unlock (&self->mutex);

  q_dispatcher_wakeup (self->dispatcher);
}

/* Owner's thread: notify @prop_id now (the configuration setters). */
void
machine_notify_now (QMachine *self,
                    guint     prop_id)
{
  g_object_notify_by_pspec (G_OBJECT (self), machine_properties [prop_id]);
}

/* Must be called with the mutex held. Returns whether it changed. */
gboolean
machine_set_state_locked (QMachine      *self,
                          QMachineState  state)
{
  if (self->state == state)
    return FALSE;
  self->state = state;
  return TRUE;
}

void
machine_set_state (QMachine      *self,
                   QMachineState  state)
{
  gboolean changed;

  q_leaf_lock (&self->mutex);
  changed = machine_set_state_locked (self, state);
  q_leaf_unlock (&self->mutex);

  if (changed)
    machine_notify_later (self, PROP_STATE);
}

/* Owner's thread: one more argument (the caller notifies PROP_ARGS). */
void
machine_append_arg (QMachine   *self,
                    const char *arg)
{
  /* Keep the array NULL-terminated. */
  g_ptr_array_index (self->args, self->args->len - 1) = g_strdup (arg);
  g_ptr_array_add (self->args, NULL);
}
