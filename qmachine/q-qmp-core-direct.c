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
 * Only plain in-band commands go this way, on a socket whose dialect
 * allows it (direct_allowed: QMP once negotiated without out-of-band;
 * not the guest agent, which resynchronises first): not fd-bearing ones
 * (SCM_RIGHTS needs sendmsg and one at a time), not out-of-band ones.
 *
 * This file is the wire lock's side of it, below the engine: the caller's
 * write, and what the worker learns under the lock. The worker's side
 * (adopting the commands) is in q-qmp-core.c.
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
  gboolean idle = core->socket_streams && core->direct_allowed &&
                  !core->closing && !core->closed &&
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
  if (!core->socket_streams || p->oob || p->fds != NULL || p->barrier ||
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

/* Any thread: writes @p when it may. Returns TRUE when it did (see
 * above for *@post_adopt); otherwise the caller posts it to the worker,
 * which is counted here, under the same lock, so that no later command
 * overtakes it. */
gboolean
core_write_direct (Core     *core,
                   Pending  *p,
                   gboolean *post_adopt)
{
  gboolean written;

  q_leaf_lock (&core->wire_mutex);
  written = core_try_write_direct_locked (core, p, post_adopt);
  if (!written)
    core->executes_posted++;
  q_leaf_unlock (&core->wire_mutex);

  return written;
}

/* Worker: an execute request has arrived (called first thing, before
 * adopting what callers wrote). */
void
core_direct_arrived (Core *core)
{
  q_leaf_lock (&core->wire_mutex);
  g_assert (core->executes_posted > 0);
  core->executes_posted--;
  core->wire_idle = FALSE;   /* until this one is written */
  q_leaf_unlock (&core->wire_mutex);
}

/* Worker: moves what callers wrote, in the order they wrote it, to
 * @out. */
void
core_direct_take (Core   *core,
                  GQueue *out)
{
  q_leaf_lock (&core->wire_mutex);
  *out = core->direct_sent;
  g_queue_init (&core->direct_sent);
  q_leaf_unlock (&core->wire_mutex);
}
