#!/usr/bin/env python3
# first.py: the first program of docs/getting-started-python.md
#
# Copyright 2026 The qmachine authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Starts an empty machine (-machine none: no guest to fetch), asks QEMU
# its version over QMP and shuts it down, with the blocking API.

import qmachine
from gi.repository import QMachine

vm = QMachine.Machine('qemu-system-x86_64')
vm.set_machine('none')
vm.launch()
qemu = vm.cmd('query-version')['qemu']
print(f"QEMU {qemu['major']}.{qemu['minor']} runs (pid {vm.get_pid()})")
vm.shutdown()
print('shut down cleanly')
