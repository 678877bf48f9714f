# qemu/utils/qemu_ga_client.py - qemu.utils.qemu_ga_client, on qmachine
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""``QemuGuestAgentClient`` and ``QemuGuestAgent`` from
``qmachine.compat`` (fallback for ``qemu.utils.qemu_ga_client``)."""

from .. import _ensure_qmachine  # type: ignore[attr-defined]

_ensure_qmachine()

from qmachine.compat import (  # noqa: E402
    QemuGuestAgent,
    QemuGuestAgentClient,
)

__all__ = ['QemuGuestAgent', 'QemuGuestAgentClient']
