/* q-qmp-core-direct.c: a command written by the caller's thread
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A command normally travels to the worker, which writes it: one thread
 * wake-up on the way out, before QEMU sees a byte. When the worker has
 * nothing of its own queued or being written, and no other command is on
 * its way to it, nothing can be ahead of a new command on the wire, so the
 * caller's thread writes it straight into the socket (non-blocking) and
 * leaves the bookkeeping (the table of commands, their deadline, the
 * reply) to the worker, which adopts the command before it reads a reply,
 * cancels, times out or closes anything.
 *
 * Only plain in-band commands on a negotiated QMP socket go this way: not
 * fd-bearing ones (SCM_RIGHTS needs sendmsg and one at a time), not
 * out-of-band ones, not the guest agent's (it resynchronises first).
 *
 * Order: a caller writes only while wire_idle is set and no execute
 * request is posted; the worker clears wire_idle (under wire_mutex)
 * before it writes anything, and adopts what callers wrote before its
 * own commands go into `sent`, so `sent` is always in wire order.
 */

#include "config.h"

#include "q-qmp-core-private.h"

/* Worker: whether callers may write. Called wherever what it depends on
 * may have changed (after writing, on negotiation, on closing). */
void
core_update_wire (Core *core)
{
  gboolean idle = core->socket_streams && !core->agent && core->negotiated &&
                  !core->oob_enabled && !core->closing && !core->closed &&
                  !core->writing && g_queue_is_empty (&core->outq);

  q_leaf_lock (&core->wire_mutex);
  /* A caller's short write leaves the rest to the worker: nobody else
   * writes before it has adopted the command and written the rest. */
  core->wire_idle = idle && !core->direct_short;
  q_leaf_unlock (&core->wire_mutex);
}

/* Any thread: writes @p's bytes at once when nothing can be ahead of them
 * (see above). Returns TRUE when it did, all or (a short write) the
 * start; *@post_adopt then says whether the worker must be told (for a
 * deadline its timer does not cover, or the rest of a short write);
 * otherwise it adopts @p when it next reads. */
static gboolean
core_try_write_direct_locked (Core     *core,
                              Pending  *p,
                              gboolean *post_adopt)
{
  g_autoptr(GError) error = NULL;
  gsize len;
  const char *buf;
  gssize n;

  *post_adopt = FALSE;
  if (!core->socket_streams || core->agent || p->oob || p->fds != NULL || p->barrier ||
      p->bytes == NULL || !core->wire_idle || core->executes_posted > 0)
    return FALSE;
  /* Cancelled since it was checked: the worker returns that at once.
   * Checked under the lock, so a cancel after it finds the command
   * adopted (the worker's adoption waits for this lock). */
  if (p->task != NULL && g_cancellable_is_cancelled (g_task_get_cancellable (p->task)))
    return FALSE;

  buf = g_bytes_get_data (p->bytes, &len);
  n = g_socket_send_with_blocking (core->socket, buf, len, FALSE, NULL, &error);
  if (n <= 0)
    {
      /* Full, or failing: the worker takes this and what follows, in
       * order, and meets the error itself if there is one. */
      core->wire_idle = FALSE;
      return FALSE;
    }

  p->direct_written = n;
  p->sent = TRUE;
  if ((gsize)n < len)
    {
      core->wire_idle = FALSE;
      core->direct_short = TRUE;
      *post_adopt = TRUE;
    }
  if (p->deadline != 0 && (core->deadline_hint == 0 || p->deadline < core->deadline_hint))
    *post_adopt = TRUE;
  g_queue_push_tail (&core->direct_sent, p);
  return TRUE;
}

/* Any thread: hands @p (with its task) to the worker, writing it first
 * when it may. */
void
core_submit (Core    *core,
             Pending *p)
{
  gboolean post_adopt = FALSE;
  gboolean written;
  Request *r;

  q_leaf_lock (&core->wire_mutex);
  written = core_try_write_direct_locked (core, p, &post_adopt);
  if (!written)
    core->executes_posted++;
  q_leaf_unlock (&core->wire_mutex);

  if (written && !post_adopt)
    return;

  r = request_new (core);
  if (!written)
    {
      r->pending = p;
      q_worker_schedule (core_do_execute, r, (GDestroyNotify)request_free);
    }
  else
    q_worker_schedule (core_do_adopt, r, (GDestroyNotify)request_free);
}

/* Worker: an execute request has arrived (called first thing). */
void
core_execute_arrived (Core *core)
{
  q_leaf_lock (&core->wire_mutex);
  g_assert (core->executes_posted > 0);
  core->executes_posted--;
  core->wire_idle = FALSE;   /* until this one is written */
  q_leaf_unlock (&core->wire_mutex);
  core_adopt_direct (core);
}

/* Worker: takes in what callers wrote, in the order they wrote it. Runs
 * before anything looks at `sent` or at the table of commands. */
void
core_adopt_direct (Core *core)
{
  GQueue adopted = G_QUEUE_INIT;
  gboolean rearm = FALSE;
  Pending *p;

  q_leaf_lock (&core->wire_mutex);
  if (g_queue_is_empty (&core->direct_sent))
    {
      q_leaf_unlock (&core->wire_mutex);
      return;
    }
  adopted = core->direct_sent;
  g_queue_init (&core->direct_sent);
  q_leaf_unlock (&core->wire_mutex);

  while ((p = g_queue_pop_head (&adopted)))
    {
      gsize len = g_bytes_get_size (p->bytes);

      g_hash_table_insert (core->pending, p->id, p);
      g_queue_push_tail (&core->sent, p);
      core->inband_in_flight++;
      if (p->deadline != 0 && (core->deadline_source == NULL || p->deadline < core->deadline_armed))
        rearm = TRUE;
      if (p->direct_written < len)
        {
          /* A short write is always the last a caller made. */
          g_assert (g_queue_is_empty (&adopted));
          q_leaf_lock (&core->wire_mutex);
          core->direct_short = FALSE;
          q_leaf_unlock (&core->wire_mutex);
          if (!core->closed)
            core_write_rest (core, p->bytes, p->direct_written);
        }
    }

  if (core->closed)
    {
      /* Closed in between: what callers wrote fails as the rest did. */
      core_fail_sent (core, NULL);
      return;
    }
  if (rearm)
    core_arm_deadline (core);
}

gboolean
core_do_adopt (gpointer data)
{
  Request *r = data;

  core_adopt_direct (r->core);
  core_update_wire (r->core);
  return G_SOURCE_REMOVE;
}
