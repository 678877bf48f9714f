# qemu/qmp/__init__.py - qmachine's fallback for the qemu.qmp package
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""A minimal ``qemu.qmp`` for suites run on qmachine's ``qemu`` shim when
the real package (``pip install qemu.qmp``) is not installed: the
exception classes and types suites import (``QMPError``,
``ExecuteError``, ``ExecInterruptedError``, ``ConnectError``,
``StateError``, ``ProtocolError``, ``Runstate``, ``SocketAddrT``) and
``qemu.qmp.legacy.QEMUMonitorProtocol`` (synchronous, on
``QMachine.QmpClient``).  The asynchronous ``QMPClient`` is not here."""

from typing import Any

from .error import ProtocolError, QMPError
from .protocol import ConnectError, Runstate, SocketAddrT, StateError
from .qmp_client import ExecInterruptedError, ExecuteError

__all__ = (
    'QMPError',
    'ProtocolError',
    'ConnectError',
    'StateError',
    'ExecuteError',
    'ExecInterruptedError',
    'Runstate',
    'SocketAddrT',
)


def __getattr__(name: str) -> Any:
    if name in ('QMPClient', 'EventListener', 'Message'):
        raise ImportError(
            f'qemu.qmp.{name} is not provided by qmachine\'s qemu shim: '
            f'install the qemu.qmp package (pip install qemu.qmp)')
    raise AttributeError(name)
