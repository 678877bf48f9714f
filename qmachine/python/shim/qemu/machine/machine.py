# qemu/machine/machine.py - qemu.machine.machine, served by qmachine.compat
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""``qemu.machine.machine`` on qmachine (``qmachine.compat``)."""

from typing import Any, Dict, Tuple, Union

from qmachine.compat import (  # noqa: F401
    LOG,
    AbnormalShutdown,
    QEMUMachine,
    QEMUMachineAddDeviceError,
    QEMUMachineError,
    VMLaunchFailure,
)

QMPMessage = Dict[str, Any]
QMPReturnValue = object
SocketAddrT = Union[str, Tuple[str, int]]

__all__ = [
    'QEMUMachine',
    'QEMUMachineError',
    'QEMUMachineAddDeviceError',
    'VMLaunchFailure',
    'AbnormalShutdown',
]
