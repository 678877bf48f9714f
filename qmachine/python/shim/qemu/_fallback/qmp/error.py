# qemu/qmp/error.py - qmachine's fallback for qemu.qmp's base errors
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""The base exception classes of ``qemu.qmp`` (used only when the real
``qemu.qmp`` package is not installed)."""


class QMPError(Exception):
    """The base of every QMP error."""


class ProtocolError(QMPError):
    """The peer broke the protocol."""

    def __init__(self, error_message: str = '', *args: object):
        super().__init__(error_message, *args)
        self.error_message = error_message

    def __str__(self) -> str:
        return self.error_message
