# qemu/__init__.py - qmachine's stand-in for QEMU's `qemu` Python package
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""qmachine's ``qemu`` shim: put its directory first on ``PYTHONPATH`` and
a suite written for QEMU's Python packages runs on qmachine.

- ``qemu.machine`` (``QEMUMachine``, ``qemu.machine.machine``,
  ``qemu.machine.qtest``) is always qmachine's compat layer
  (``qmachine.compat``, ``qmachine.compat.qtest``).
- ``qemu.qmp``, ``qemu.utils`` and anything else are looked up in the other
  ``qemu`` directories on ``sys.path`` first (the ``qemu.qmp`` package from
  PyPI, or QEMU's own ``python/`` directory), so the real ones are used
  when present; only when none has them do this shim's minimal equivalents
  (``_fallback/``) answer: the exception classes and types of ``qemu.qmp``,
  a synchronous ``qemu.qmp.legacy.QEMUMonitorProtocol``, and
  ``qemu.utils``' helpers.

The search follows ``sys.path`` as it changes (iotests append QEMU's
``python/`` directory to it before importing ``qemu.machine``).
"""

import os
import sys
from typing import Iterator, List

_HERE = os.path.dirname(os.path.abspath(__file__))
_FALLBACK = os.path.join(_HERE, '_fallback')


def _other_portions() -> List[str]:
    """The ``qemu`` directories on ``sys.path`` other than this one."""
    found: List[str] = []
    for entry in sys.path:
        candidate = os.path.join(entry or os.curdir, 'qemu')
        if not os.path.isdir(candidate):
            continue
        try:
            if os.path.samefile(candidate, _HERE):
                continue
        except OSError:
            continue
        real = os.path.realpath(candidate)
        if real not in found:
            found.append(real)
    return found


class _SearchPath(list):  # type: ignore[type-arg]
    """``qemu.__path__``: this directory, the other ``qemu`` directories on
    ``sys.path`` (computed at each lookup), then the fallbacks."""

    def _entries(self) -> List[str]:
        return [_HERE] + _other_portions() + [_FALLBACK]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries())

    def __len__(self) -> int:
        return len(self._entries())

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        return self._entries()[index]

    def __contains__(self, item: object) -> bool:
        return item in self._entries()

    def __repr__(self) -> str:
        return f'_SearchPath({self._entries()!r})'


__path__ = _SearchPath()  # noqa: F811


def _ensure_qmachine() -> None:
    """Makes ``qmachine`` importable when it is not yet: the shim lives in
    ``<pythondir>/qmachine/shim/qemu`` when installed and in
    ``qmachine/python/shim/qemu`` in a source tree."""
    import importlib.util
    if importlib.util.find_spec('qmachine') is not None:
        return
    shim = os.path.dirname(_HERE)
    for candidate in (os.path.dirname(shim),                     # source
                      os.path.dirname(os.path.dirname(shim))):   # installed
        if os.path.isfile(os.path.join(candidate, 'qmachine', '__init__.py')):
            sys.path.append(candidate)
            return
