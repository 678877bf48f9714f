# qemu/machine/qtest.py - qemu.machine.qtest, served by qmachine.compat.qtest
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""``qemu.machine.qtest`` on qmachine (``qmachine.compat.qtest``)."""

from qmachine.compat import QEMUMachine  # noqa: F401
from qmachine.compat.qtest import (  # noqa: F401
    QEMUQtestMachine,
    QEMUQtestProtocol,
    SocketAddrT,
)

__all__ = ['QEMUQtestProtocol', 'QEMUQtestMachine']
