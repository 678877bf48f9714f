/* q-error.h
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(QMACHINE_INSIDE) && !defined(QMACHINE_COMPILATION)
# error "Only <qmachine.h> can be included directly."
#endif

#include <glib.h>

#include "q-version-macros.h"

G_BEGIN_DECLS

/**
 * Q_MACHINE_ERROR:
 *
 * The error domain of [class@QMachine.Machine] and of protocol-level
 * failures of [class@QMachine.QmpClient].
 *
 * Since: 1.0
 */
#define Q_MACHINE_ERROR (q_machine_error_quark ())

/**
 * Q_QMP_ERROR:
 *
 * The error domain of errors that QEMU itself reported in reply to a QMP
 * command. The code is the QMP error class and the message QEMU's `desc`.
 *
 * Since: 1.0
 */
#define Q_QMP_ERROR (q_qmp_error_quark ())

/**
 * QMachineError:
 * @Q_MACHINE_ERROR_FAILED: a failure with no more specific code
 * @Q_MACHINE_ERROR_ALREADY_LAUNCHED: the machine is already launched
 * @Q_MACHINE_ERROR_NOT_LAUNCHED: the operation needs a launched machine
 * @Q_MACHINE_ERROR_LAUNCH_FAILED: QEMU could not be started or exited
 *   before it was ready; the message holds the exit status, the command
 *   line and QEMU's output
 * @Q_MACHINE_ERROR_ABNORMAL_SHUTDOWN: a graceful shutdown was asked for
 *   but QEMU had to be killed
 * @Q_MACHINE_ERROR_NO_CONNECTION: the operation needs a QMP monitor or a
 *   console that this machine does not have
 * @Q_MACHINE_ERROR_ADD_DEVICE: a device request conflicts with the
 *   machine's configuration
 * @Q_MACHINE_ERROR_PROTOCOL: the QMP peer broke the protocol (malformed
 *   JSON, a message that is not an object, a message over the size limit
 *   or nested too deeply, a reply with neither `return` nor `error`)
 *
 * Error codes of the `Q_MACHINE_ERROR` domain.
 *
 * Since: 1.0
 */
typedef enum
{
  Q_MACHINE_ERROR_FAILED,
  Q_MACHINE_ERROR_ALREADY_LAUNCHED,
  Q_MACHINE_ERROR_NOT_LAUNCHED,
  Q_MACHINE_ERROR_LAUNCH_FAILED,
  Q_MACHINE_ERROR_ABNORMAL_SHUTDOWN,
  Q_MACHINE_ERROR_NO_CONNECTION,
  Q_MACHINE_ERROR_ADD_DEVICE,
  Q_MACHINE_ERROR_PROTOCOL,
} QMachineError;

/**
 * QQmpError:
 * @Q_QMP_ERROR_GENERIC_ERROR: QMP class `GenericError`
 * @Q_QMP_ERROR_COMMAND_NOT_FOUND: QMP class `CommandNotFound`
 * @Q_QMP_ERROR_DEVICE_NOT_ACTIVE: QMP class `DeviceNotActive`
 * @Q_QMP_ERROR_DEVICE_NOT_FOUND: QMP class `DeviceNotFound`
 * @Q_QMP_ERROR_KVM_MISSING_CAP: QMP class `KVMMissingCap`
 * @Q_QMP_ERROR_UNKNOWN_CLASS: a class this version of qmachine does not
 *   know; the message starts with the class name in brackets
 *
 * Error codes of the `Q_QMP_ERROR` domain: the error classes of QMP.
 *
 * Since: 1.0
 */
typedef enum
{
  Q_QMP_ERROR_GENERIC_ERROR,
  Q_QMP_ERROR_COMMAND_NOT_FOUND,
  Q_QMP_ERROR_DEVICE_NOT_ACTIVE,
  Q_QMP_ERROR_DEVICE_NOT_FOUND,
  Q_QMP_ERROR_KVM_MISSING_CAP,
  Q_QMP_ERROR_UNKNOWN_CLASS,
} QQmpError;

/**
 * Q_QTEST_ERROR:
 *
 * The error domain of errors that QEMU reported in reply to a qtest
 * command ([class@QMachine.QtestClient]): the message is QEMU's text
 * after `FAIL` or `ERR`.
 *
 * Since: 1.0
 */
#define Q_QTEST_ERROR (q_qtest_error_quark ())

/**
 * QQtestError:
 * @Q_QTEST_ERROR_FAILED: QEMU answered `FAIL` (an unknown command, an
 *   unknown device, a command it cannot run without the qtest
 *   accelerator)
 * @Q_QTEST_ERROR_ERROR: QEMU answered `ERR`
 *
 * Error codes of the `Q_QTEST_ERROR` domain.
 *
 * Since: 1.0
 */
typedef enum
{
  Q_QTEST_ERROR_FAILED,
  Q_QTEST_ERROR_ERROR,
} QQtestError;

QMACHINE_AVAILABLE_IN_ALL
GQuark q_machine_error_quark (void);
QMACHINE_AVAILABLE_IN_ALL
GQuark q_qtest_error_quark   (void);
QMACHINE_AVAILABLE_IN_ALL
GQuark q_qmp_error_quark     (void);

G_END_DECLS
