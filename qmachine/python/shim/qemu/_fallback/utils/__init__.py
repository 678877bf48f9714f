# qemu/utils/__init__.py - qmachine's fallback for qemu.utils
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""What suites import from ``qemu.utils`` (used only when QEMU's own
``python/`` directory is not on ``sys.path``): ``VerboseProcessError``,
``add_visual_margin``, ``get_info_usernet_hostfwd_port``,
``kvm_available``, ``tcg_available``, ``list_accel``."""

import re
import subprocess
import textwrap
from typing import Optional

from .accel import kvm_available, list_accel, tcg_available

__all__ = (
    'VerboseProcessError',
    'add_visual_margin',
    'get_info_usernet_hostfwd_port',
    'kvm_available',
    'list_accel',
    'tcg_available',
)


def get_info_usernet_hostfwd_port(info_usernet_output: str) -> Optional[int]:
    """The host port of the first TCP host forward in the output of HMP's
    ``info usernet``, or None."""
    for line in info_usernet_output.split('\r\n'):
        match = re.search(r'TCP.HOST_FORWARD.*127\.0\.0\.1\s+(\d+)\s+10\.',
                          line)
        if match is not None:
            return int(match.group(1))
    return None


def add_visual_margin(content: str = '', width: Optional[int] = None,
                      name: Optional[str] = None, padding: int = 1,
                      upper_left: str = '┏', lower_left: str = '┗',
                      horizontal: str = '━', vertical: str = '┃') -> str:
    """*content* with a line to its left and a rule above and below it
    (the rule above holds *name*), *width* columns wide (72 by default)."""
    width = 72 if width is None else width
    top = upper_left + horizontal * 2
    if name is not None:
        top += f' {name} '
    top = top.ljust(width, horizontal)[:width] if width else top
    prefix = vertical + ' ' * padding
    body = [prefix + line if line else vertical
            for line in content.splitlines()]
    bottom = lower_left + horizontal * (max(width, 3) - 1)
    return '\n'.join([top] + body + [bottom])


class VerboseProcessError(subprocess.CalledProcessError):
    """A ``CalledProcessError`` whose text holds the process's output."""

    def __str__(self) -> str:
        text = super().__str__()
        for title, data in (('output', self.output),
                            ('stderr', self.stderr)):
            if not data:
                continue
            if isinstance(data, bytes):
                data = data.decode('utf-8', errors='replace')
            text += '\n' + add_visual_margin(
                textwrap.dedent(str(data)).rstrip(), name=title)
        return text
