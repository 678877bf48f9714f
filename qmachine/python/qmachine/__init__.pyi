# __init__.pyi - types of the qmachine package
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later

from gi.repository import GLib as GLib, Gio as Gio

from . import QMachine as QMachine
from .QMachine import (
    AbnormalShutdownError as AbnormalShutdownError,
    AddDeviceError as AddDeviceError,
    AlreadyLaunchedError as AlreadyLaunchedError,
    Cancelled as Cancelled,
    CommandError as CommandError,
    Error as Error,
    LaunchError as LaunchError,
    NoConnectionError as NoConnectionError,
    NotLaunchedError as NotLaunchedError,
    ProtocolError as ProtocolError,
    Timeout as Timeout,
)

__all__: list[str]
