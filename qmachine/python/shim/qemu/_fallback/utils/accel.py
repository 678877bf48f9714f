# qemu/utils/accel.py - qmachine's fallback for qemu.utils.accel
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""Which accelerators a QEMU binary has (fallback for ``qemu.utils.accel``)."""

import logging
import os
import platform
import subprocess
from typing import List, Optional

LOG = logging.getLogger(__name__)

# Host architectures KVM runs guests of, when the names differ.
_KVM_TARGETS = {
    'x86_64': ('x86_64', 'i386'),
    'aarch64': ('aarch64', 'arm'),
    'ppc64': ('ppc64', 'ppc'),
    'ppc64le': ('ppc64', 'ppc'),
    's390x': ('s390x',),
}


def list_accel(qemu_bin: str) -> List[str]:
    """The accelerators ``qemu_bin -accel help`` lists (empty on error or
    without a binary)."""
    if not qemu_bin:
        return []
    try:
        out = subprocess.run([qemu_bin, '-accel', 'help'],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, text=True, check=True,
                             timeout=60).stdout
    except (OSError, subprocess.SubprocessError) as err:
        LOG.debug('Failed to list the accelerators of %s: %s', qemu_bin, err)
        return []
    # The first line is a title ("Accelerators supported in QEMU binary:").
    return [line.strip() for line in out.splitlines()[1:] if line.strip()]


def kvm_available(target_arch: Optional[str] = None,
                  qemu_bin: Optional[str] = None) -> bool:
    """Whether KVM can run *target_arch* guests here (and *qemu_bin* has
    it, when given)."""
    host = platform.machine()
    if target_arch and target_arch not in _KVM_TARGETS.get(host, (host,)):
        return False
    if not os.access('/dev/kvm', os.R_OK | os.W_OK):
        return False
    if qemu_bin and 'kvm' not in list_accel(qemu_bin):
        return False
    return True


def tcg_available(qemu_bin: str) -> bool:
    """Whether *qemu_bin* has TCG."""
    return 'tcg' in list_accel(qemu_bin)
