#!/usr/bin/env python3
# getting-started.py: the program of docs/getting-started-python.md
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Boots a Linux guest, waits for its console to print a ready marker, runs
# a QMP command, reacts to an event and shuts the guest down, with the
# blocking API of the Python override (timeouts in seconds, dicts for JSON).
#
# Usage: getting-started.py KERNEL INITRD [MARKER]

import os
import sys

import gi
gi.require_version('QMachine', '1.0')
from gi.repository import QMachine


def main(kernel, initrd, marker='QMACHINE-GUEST-READY'):
    # 1. Configure and launch.
    vm = QMachine.Machine('qemu-system-x86_64')
    vm.set_machine('pc')
    vm.add_args('-accel', os.environ.get('QMACHINE_ACCEL', 'tcg'),
                '-m', '256', '-nodefaults', '-no-reboot',
                '-kernel', kernel, '-initrd', initrd,
                '-append', 'console=ttyS0 panic=-1')
    vm.set_console(None, 0)
    vm.set_drain_console(True)
    vm.launch()
    print(f'QEMU runs (pid {vm.get_pid()})')
    try:
        # 2. Wait for the guest's console to say it is ready.
        print('console:', vm.get_console().wait_for(marker, timeout=120))

        # 3. Run a QMP command: its return value is a dict.
        print('query-status:', vm.cmd('query-status')['status'])

        # 4. React to an event: `stop` makes QEMU send STOP.
        vm.cmd('stop')
        event = vm.event_wait('STOP', timeout=10)
        print(f"event {event['event']}: the guest is paused; shutting down")
    finally:
        # 5. Shut down: quit, kill if needed, remove every file.
        vm.shutdown(timeout=10)
    print('shut down cleanly')


if __name__ == '__main__':
    if len(sys.argv) < 3:
        sys.exit(f'usage: {sys.argv[0]} KERNEL INITRD [MARKER]')
    main(*sys.argv[1:4])
