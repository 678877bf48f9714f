# qemu/qmp/qmp_client.py - qmachine's fallback for qemu.qmp.qmp_client's errors
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""``ExecuteError`` and ``ExecInterruptedError`` as ``qemu.qmp`` shapes
them (fallback, used only when the real ``qemu.qmp`` is not installed;
``qmachine.compat`` raises subclasses of these).  The asynchronous
``QMPClient`` is not provided: install the ``qemu.qmp`` package for it."""

from types import SimpleNamespace
from typing import Any

from .error import QMPError


class ExecuteError(QMPError):
    """QEMU answered a command with an error: ``sent``, ``received``,
    ``error`` (``error.class_``, ``error.desc``), ``error_class``."""

    def __init__(self, error_response: Any, sent: Any, received: Any):
        super().__init__(error_response, sent, received)
        self.sent = sent
        self.received = received
        if isinstance(error_response, dict):
            error = SimpleNamespace(
                class_=error_response.get('class', ''),
                desc=error_response.get('desc', ''))
            error.error = error
            error_response = error
        self.error = error_response

    @property
    def error_class(self) -> str:
        """The QMP error class (``'GenericError'``...)."""
        return str(self.error.error.class_)

    def __str__(self) -> str:
        return str(self.error.error.desc)


class ExecInterruptedError(QMPError):
    """The connection ended while a command waited for its reply."""


def __getattr__(name: str) -> Any:
    if name in ('QMPClient', 'EventListener'):
        raise ImportError(
            f'qemu.qmp.qmp_client.{name} is not provided by qmachine\'s '
            f'qemu shim: install the qemu.qmp package (pip install qemu.qmp)')
    raise AttributeError(name)
