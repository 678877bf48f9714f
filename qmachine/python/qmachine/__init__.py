# qmachine/__init__.py - the qmachine Python package
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""Python helpers on top of ``gi.repository.QMachine``.

``qmachine.compat.QEMUMachine`` is a drop-in replacement for
``qemu.machine.QEMUMachine``.  Importing this package loads
``gi.repository.QMachine`` 1.0 with its Pythonic overrides and re-exports
it as ``qmachine.QMachine``.

The library's errors are exception classes, all ``GLib.Error`` subclasses
(so ``except GLib.Error`` and ``err.matches(domain, code)`` keep working):

- :class:`Error`: the base; errors without a more specific class;
- :class:`LaunchError` (``MachineError.LAUNCH_FAILED``; ``exit_code``,
  ``full_args``, ``log``), :class:`NotLaunchedError`,
  :class:`AlreadyLaunchedError`, :class:`AbnormalShutdownError`,
  :class:`NoConnectionError`, :class:`AddDeviceError`,
  :class:`ProtocolError`: the codes of ``MachineError``;
- :class:`CommandError`: QEMU refused a command (``QmpError``), with
  ``qmp_class`` (``'GenericError'``...) and ``desc``;
- :class:`Timeout`: ``Gio.IOErrorEnum.TIMED_OUT``, also a builtin
  ``TimeoutError``;
- :class:`Cancelled`: ``Gio.IOErrorEnum.CANCELLED``.

Importing is silent: PyGObject 3.42's importer warns
(``ImportWarning: DynamicImporter.exec_module() not found``) under
``-W default``; that one warning is ignored while this package imports
``gi.repository`` modules.

Uninstalled use (a source tree): when the directory that holds this package
also holds ``QMachine.py`` (the override module, as in ``qmachine/python/``
of the source tree), that directory is put first on
``gi.overrides.__path__``, so the override next to this package wins over
an installed one.  Installed, the package lives in ``site-packages`` and the
override in PyGObject's own overrides directory; nothing is changed then.
"""

import os
import warnings

import gi
import gi.overrides

_ERRORS = [
    'Error',
    'AlreadyLaunchedError',
    'NotLaunchedError',
    'LaunchError',
    'AbnormalShutdownError',
    'NoConnectionError',
    'AddDeviceError',
    'ProtocolError',
    'CommandError',
    'Timeout',
    'Cancelled',
]

__all__ = ['QMachine', 'GLib', 'Gio'] + _ERRORS

_here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isfile(os.path.join(_here, 'QMachine.py')):
    if _here in gi.overrides.__path__:
        gi.overrides.__path__.remove(_here)
    gi.overrides.__path__.insert(0, _here)

gi.require_version('QMachine', '1.0')

with warnings.catch_warnings():
    # PyGObject before 3.44 loads gi.repository modules with a PEP 302
    # loader (no exec_module), and Python warns about that on each first
    # import of a namespace; exactly that warning is ignored here.
    warnings.filterwarnings(
        'ignore', category=ImportWarning,
        message=r'DynamicImporter\.exec_module\(\) not found')
    from gi.repository import GLib, Gio, QMachine  # noqa: E402

if not hasattr(QMachine, 'OVERRIDES_API'):
    raise ImportError(
        'gi.repository.QMachine was loaded without its Python overrides '
        '(QMachine.py in gi.overrides): install qmachine with introspection '
        'enabled, or import qmachine before gi.repository.QMachine when '
        'running from a source tree')

Error = QMachine.Error
AlreadyLaunchedError = QMachine.AlreadyLaunchedError
NotLaunchedError = QMachine.NotLaunchedError
LaunchError = QMachine.LaunchError
AbnormalShutdownError = QMachine.AbnormalShutdownError
NoConnectionError = QMachine.NoConnectionError
AddDeviceError = QMachine.AddDeviceError
ProtocolError = QMachine.ProtocolError
CommandError = QMachine.CommandError
Timeout = QMachine.Timeout
Cancelled = QMachine.Cancelled
