# qemu/qmp/protocol.py - qmachine's fallback for qemu.qmp.protocol's names
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""What suites import from ``qemu.qmp.protocol``: ``ConnectError``,
``StateError``, ``Runstate``, ``SocketAddrT`` (fallback, used only when the
real ``qemu.qmp`` is not installed)."""

from enum import Enum
from typing import Optional, Tuple, Union

from .error import QMPError

SocketAddrT = Union[str, Tuple[str, int]]


class Runstate(Enum):
    """The state of a connection."""
    IDLE = 'IDLE'
    CONNECTING = 'CONNECTING'
    RUNNING = 'RUNNING'
    DISCONNECTING = 'DISCONNECTING'


class ConnectError(QMPError):
    """Connecting (or accepting, or negotiating) failed."""

    def __init__(self, error_message: str = '',
                 exc: Optional[BaseException] = None):
        super().__init__(error_message, exc)
        self.error_message = error_message
        self.exc = exc

    def __str__(self) -> str:
        if self.exc is None:
            return self.error_message
        return f'{self.error_message}: {self.exc}'


class StateError(QMPError):
    """An operation was asked for in a state that cannot do it."""

    def __init__(self, error_message: str = '',
                 state: Optional[Runstate] = None,
                 required: Optional[Runstate] = None):
        super().__init__(error_message, state, required)
        self.error_message = error_message
        self.state = state
        self.required = required

    def __str__(self) -> str:
        return self.error_message
