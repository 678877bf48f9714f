/* q-machine-devices.c: what a machine gives its guest besides the monitor:
 * the serial console, the guest agent's channel and qtest's (their configuration
 * and the objects of the current run)
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "q-machine-private.h"

/**
 * q_machine_set_console:
 * @self: a `QMachine`
 * @device_type: (nullable): a device such as `isa-serial`, or %NULL for
 *   `-serial chardev:console` (the machine's default serial device)
 * @console_index: which serial port; the ones before it get `-serial null`
 *
 * Gives the machine a console on a socketpair. Call before launch.
 * @device_type is passed to QEMU as one device name (`-device
 * TYPE,chardev=console`): a comma in it is quoted, so it cannot add
 * properties; a name that is empty, starts with `{` or holds a control
 * character makes the launch fail with %G_IO_ERROR_INVALID_ARGUMENT's text
 * in a %Q_MACHINE_ERROR_LAUNCH_FAILED error.
 *
 * Since: 1.0
 */
void
q_machine_set_console (QMachine   *self,
                       const char *device_type,
                       guint       console_index)
{
  g_return_if_fail (Q_IS_MACHINE (self));

  self->console_set = TRUE;
  machine_set_str (&self->console_device_type, device_type);
  self->console_index = console_index;
}

/**
 * q_machine_get_drain_console:
 * @self: a `QMachine`
 *
 * Gets [property@QMachine.Machine:drain-console].
 *
 * Returns: whether the console is drained
 *
 * Since: 1.0
 */
gboolean
q_machine_get_drain_console (QMachine *self)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), FALSE);
  return self->drain_console;
}

/**
 * q_machine_set_drain_console:
 * @self: a `QMachine`
 * @drain: whether to drain the console
 *
 * Sets [property@QMachine.Machine:drain-console]. Takes effect at the next
 * launch.
 *
 * Since: 1.0
 */
void
q_machine_set_drain_console (QMachine *self,
                             gboolean  drain)
{
  g_return_if_fail (Q_IS_MACHINE (self));

  drain = !!drain;
  if (self->drain_console != drain)
    {
      self->drain_console = drain;
      machine_notify_now (self, PROP_DRAIN_CONSOLE);
    }
}

/**
 * q_machine_get_console_log:
 * @self: a `QMachine`
 *
 * Gets [property@QMachine.Machine:console-log].
 *
 * Returns: (nullable) (type filename): the console log path
 *
 * Since: 1.0
 */
const char *
q_machine_get_console_log (QMachine *self)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);
  return self->console_log;
}

/**
 * q_machine_set_console_log:
 * @self: a `QMachine`
 * @path: (nullable) (type filename): where to log the console, or %NULL
 *
 * Sets [property@QMachine.Machine:console-log].
 *
 * Since: 1.0
 */
void
q_machine_set_console_log (QMachine   *self,
                           const char *path)
{
  g_return_if_fail (Q_IS_MACHINE (self));

  if (machine_set_str (&self->console_log, path))
    machine_notify_now (self, PROP_CONSOLE_LOG);
}

/**
 * q_machine_get_console_buffer_size:
 * @self: a `QMachine`
 *
 * Gets [property@QMachine.Machine:console-buffer-size].
 *
 * Returns: the buffer size in bytes
 *
 * Since: 1.0
 */
guint
q_machine_get_console_buffer_size (QMachine *self)
{
  g_return_val_if_fail (Q_IS_MACHINE (self), 0);
  return self->console_buffer_size;
}

/**
 * q_machine_set_console_buffer_size:
 * @self: a `QMachine`
 * @size: bytes of console output to keep (at least 1)
 *
 * Sets [property@QMachine.Machine:console-buffer-size]. Takes effect at
 * the next launch.
 *
 * Since: 1.0
 */
void
q_machine_set_console_buffer_size (QMachine *self,
                                   guint     size)
{
  g_return_if_fail (Q_IS_MACHINE (self));
  g_return_if_fail (size > 0);

  if (self->console_buffer_size != size)
    {
      self->console_buffer_size = size;
      machine_notify_now (self, PROP_CONSOLE_BUFFER_SIZE);
    }
}

/**
 * q_machine_get_console:
 * @self: a `QMachine`
 *
 * Gets the console of the current or last launch. It stays readable (its
 * buffered output) after shutdown, until the next launch replaces it.
 *
 * Returns: (transfer none) (nullable): the console, or %NULL when the
 *   machine has none or was never launched
 *
 * Since: 1.0
 */
QConsole *
q_machine_get_console (QMachine *self)
{
  QConsole *ret;

  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);

  q_leaf_lock (&self->mutex);
  ret = self->console;
  q_leaf_unlock (&self->mutex);

  return ret;
}

/**
 * q_machine_dup_console:
 * @self: a `QMachine`
 *
 * Gets the console of the current or last launch, as
 * [method@QMachine.Machine.get_console] does, with a reference of the
 * caller's own: use this from a thread other than the one that launches
 * the machine, where a relaunch could drop the console that
 * [method@QMachine.Machine.get_console] returned.
 *
 * Returns: (transfer full) (nullable): the console, or %NULL when the
 *   machine has none or was never launched
 *
 * Since: 1.0
 */
QConsole *
q_machine_dup_console (QMachine *self)
{
  QConsole *ret = NULL;

  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);

  q_leaf_lock (&self->mutex);
  if (self->console != NULL)
    ret = g_object_ref (self->console);
  q_leaf_unlock (&self->mutex);

  return ret;
}

/**
 * q_machine_add_guest_agent:
 * @self: a `QMachine`
 * @port: the device that carries the agent's channel
 *
 * Gives the guest a channel for QEMU's guest agent, `qemu-ga`: a
 * socketpair behind `-chardev socket,id=qmachine-ga,fd=N` and, for
 * %Q_GUEST_AGENT_PORT_VIRTIO_SERIAL, `-device virtio-serial` with a
 * `virtserialport` named `org.qemu.guest_agent.0` (id `qmachine-ga`),
 * or, for %Q_GUEST_AGENT_PORT_ISA_SERIAL, `-device isa-serial` (the
 * next free serial port). After each launch,
 * [method@QMachine.Machine.get_guest_agent] gives the client; the machine
 * tells it when the guest shuts down, resets or suspends and when the
 * virtio port opens or closes. Call before launch.
 *
 * Since: 1.0
 */
void
q_machine_add_guest_agent (QMachine        *self,
                           QGuestAgentPort  port)
{
  g_return_if_fail (Q_IS_MACHINE (self));
  g_return_if_fail (port == Q_GUEST_AGENT_PORT_VIRTIO_SERIAL || port == Q_GUEST_AGENT_PORT_ISA_SERIAL);

  self->agent_set = TRUE;
  self->agent_port = port;
}

/**
 * q_machine_get_guest_agent:
 * @self: a `QMachine`
 *
 * Gets the guest agent client of the current or last launch (see
 * [method@QMachine.Machine.add_guest_agent]). After shutdown its commands
 * fail at once; the next launch replaces it.
 *
 * Returns: (transfer none) (nullable): the agent client, or %NULL when the
 *   machine has no agent channel or was never launched
 *
 * Since: 1.0
 */
QGuestAgent *
q_machine_get_guest_agent (QMachine *self)
{
  QGuestAgent *ret;

  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);

  q_leaf_lock (&self->mutex);
  ret = self->agent;
  q_leaf_unlock (&self->mutex);

  return ret;
}

/**
 * q_machine_dup_guest_agent:
 * @self: a `QMachine`
 *
 * Gets the guest agent client of the current or last launch, as
 * [method@QMachine.Machine.get_guest_agent] does, with a reference of the
 * caller's own (see [method@QMachine.Machine.dup_console] for when that
 * matters).
 *
 * Returns: (transfer full) (nullable): the agent client, or %NULL when the
 *   machine has no agent channel or was never launched
 *
 * Since: 1.0
 */
QGuestAgent *
q_machine_dup_guest_agent (QMachine *self)
{
  QGuestAgent *ret = NULL;

  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);

  q_leaf_lock (&self->mutex);
  if (self->agent != NULL)
    ret = g_object_ref (self->agent);
  q_leaf_unlock (&self->mutex);

  return ret;
}

/**
 * q_machine_add_qtest:
 * @self: a `QMachine`
 *
 * Gives the machine a qtest channel: a socketpair behind `-chardev
 * socket,id=qtest,fd=N -qtest chardev:qtest -qtest-log /dev/null` (the
 * chardev id `qtest` is taken). When the binary offers the qtest
 * accelerator (asked once per binary with `BINARY -accel help`), `-accel
 * qtest` is added too, and the guest's CPUs never run. Without it (as
 * in Debian's QEMU 7.2) the channel works with the machine's
 * accelerator: memory, I/O ports and interrupt interception do, the
 * clock commands fail with a `Q_QTEST_ERROR_FAILED` error saying the
 * accelerator is missing. Pass `-S` to keep the guest's CPUs stopped.
 * After each launch, [method@QMachine.Machine.get_qtest_client] gives
 * the client. Call before launch.
 *
 * Since: 1.0
 */
void
q_machine_add_qtest (QMachine *self)
{
  g_return_if_fail (Q_IS_MACHINE (self));

  self->qtest_set = TRUE;
}

/**
 * q_machine_set_qtest_log:
 * @self: a `QMachine`
 * @enabled: whether qtest's log goes to QEMU's log
 *
 * With @enabled, the qtest channel of [method@QMachine.Machine.add_qtest]
 * gets no `-qtest-log /dev/null`, so QEMU logs the channel (`[I +T]
 * OPENED`, every command and reply, `[I +T] CLOSED`) to its stderr, that
 * is, to the machine's log, as QEMU's own Python qtest machine has it.
 * The default is %FALSE: the log holds only what QEMU itself reports.
 * Call before launch; it takes effect at the next launch.
 *
 * Since: 1.0
 */
void
q_machine_set_qtest_log (QMachine *self,
                         gboolean  enabled)
{
  g_return_if_fail (Q_IS_MACHINE (self));

  self->qtest_log = !!enabled;
}

/**
 * q_machine_get_qtest_client:
 * @self: a `QMachine`
 *
 * Gets the qtest client of the current or last launch (see
 * [method@QMachine.Machine.add_qtest]). After shutdown its commands fail
 * at once; the next launch replaces it.
 *
 * Returns: (transfer none) (nullable): the qtest client, or %NULL when
 *   the machine has no qtest channel or was never launched
 *
 * Since: 1.0
 */
QQtestClient *
q_machine_get_qtest_client (QMachine *self)
{
  QQtestClient *ret;

  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);

  q_leaf_lock (&self->mutex);
  ret = self->qtest;
  q_leaf_unlock (&self->mutex);

  return ret;
}

/**
 * q_machine_dup_qtest_client:
 * @self: a `QMachine`
 *
 * Gets the qtest client of the current or last launch, as
 * [method@QMachine.Machine.get_qtest_client] does, with a reference of
 * the caller's own (see [method@QMachine.Machine.dup_console] for when
 * that matters).
 *
 * Returns: (transfer full) (nullable): the qtest client, or %NULL when
 *   the machine has no qtest channel or was never launched
 *
 * Since: 1.0
 */
QQtestClient *
q_machine_dup_qtest_client (QMachine *self)
{
  QQtestClient *ret = NULL;

  g_return_val_if_fail (Q_IS_MACHINE (self), NULL);

  q_leaf_lock (&self->mutex);
  if (self->qtest != NULL)
    ret = g_object_ref (self->qtest);
  q_leaf_unlock (&self->mutex);

  return ret;
}
