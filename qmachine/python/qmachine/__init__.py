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

Uninstalled use (a source tree): when the directory that holds this package
also holds ``QMachine.py`` (the override module, as in ``qmachine/python/``
of the source tree), that directory is put first on
``gi.overrides.__path__``, so the override next to this package wins over
an installed one.  Installed, the package lives in ``site-packages`` and the
override in PyGObject's own overrides directory; nothing is changed then.
"""

import os

import gi
import gi.overrides

__all__ = ['QMachine', 'GLib', 'Gio']

_here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isfile(os.path.join(_here, 'QMachine.py')):
    if _here in gi.overrides.__path__:
        gi.overrides.__path__.remove(_here)
    gi.overrides.__path__.insert(0, _here)

gi.require_version('QMachine', '1.0')

from gi.repository import GLib, Gio, QMachine  # noqa: E402

if not hasattr(QMachine, 'OVERRIDES_API'):
    raise ImportError(
        'gi.repository.QMachine was loaded without its Python overrides '
        '(QMachine.py in gi.overrides): install qmachine with introspection '
        'enabled, or import qmachine before gi.repository.QMachine when '
        'running from a source tree')
