/* q-waiter-private.h: a wait that ends on a match, a timeout or a
 * cancellation, shared by event waits and console waits
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <gio/gio.h>

#include "q-worker-private.h"

G_BEGIN_DECLS

/* The first member of an owner's own waiter struct. The owner keeps its
 * waiters in a list under its own lock; a match found by the owner takes
 * the waiter out of the list and completes it. The timeout source and the
 * cancellable handler armed here hold the owner's box and the waiter's id,
 * never the waiter or the owner, and both go in q_waiter_clear(). */
typedef struct
{
  guint64       id;
  GTask        *task;
  GSource      *timeout;
  GCancellable *cancellable;
  gulong        cancel_id;
} QWaiter;

typedef struct
{
  /* Under nothing: takes the waiter @id out of @object's list (under the
   * owner's lock), or returns NULL when it already ended. */
  QWaiter *(*take)          (gpointer  object,
                             guint64   id);
  /* The error of a waiter that timed out. */
  GError  *(*timeout_error) (gpointer  object,
                             QWaiter  *waiter);
  /* Frees the owner's waiter (which calls q_waiter_clear). */
  void     (*free)          (QWaiter  *waiter);
} QWaiterClass;

/* Under the owner's lock, once @waiter is in its list with its id and
 * task set: arms the timeout (on the worker) and connects @cancellable. */
void q_waiter_arm   (QWaiter            *waiter,
                     const QWaiterClass *klass,
                     QBox               *box,
                     int                 timeout_msec,
                     GCancellable       *cancellable);

/* Takes the waiter @id out of *@list (QWaiter-first structs) under
 * @mutex; NULL when it already ended. The usual `take` of a QWaiterClass. */
QWaiter *q_waiter_list_take (GList  **list,
                             GMutex  *mutex,
                             guint64  id);

/* Destroys the timeout, disconnects the cancellable, drops the task. Any
 * thread, never from inside the waiter's cancellable handler (which only
 * schedules work on the worker). */
void q_waiter_clear (QWaiter            *waiter);

G_END_DECLS
