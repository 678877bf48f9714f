# qemu/machine/__init__.py - qemu.machine, served by qmachine.compat
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""``qemu.machine`` on qmachine: ``QEMUMachine`` is
``qmachine.compat.QEMUMachine``, ``QEMUQtestMachine`` and
``QEMUQtestProtocol`` come from ``qmachine.compat.qtest``."""

from .. import _ensure_qmachine

_ensure_qmachine()

# Through the qmachine package, which loads gi.repository.QMachine quietly.
from qmachine.compat import QEMUMachine  # noqa: E402
from qmachine.compat.qtest import (  # noqa: E402
    QEMUQtestMachine,
    QEMUQtestProtocol,
)

__all__ = (
    'QEMUMachine',
    'QEMUQtestProtocol',
    'QEMUQtestMachine',
)
