#!/usr/bin/env python3
#
# reference_style_script.py - a script written for qemu.machine.QEMUMachine
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Written as a user of QEMU's Python package would write it.  The one line
# that differs is the import: to run it with QEMU's own class, swap the two
# import lines below (qemu.machine comes from QEMU's python/ directory).

import sys

# from qemu.machine import QEMUMachine
from qmachine.compat import QEMUMachine


def main() -> int:
    binary = sys.argv[1] if len(sys.argv) > 1 else 'qemu-system-x86_64'

    # The class docstring's usage.
    with QEMUMachine(binary) as vm:
        vm.add_args('-machine', 'none', '-nodefaults')
        vm.launch()
        print('running:', vm.is_running())
    # vm is guaranteed to be shut down here
    print('running after the with block:', vm.is_running())

    # A typical test: launch, query, stop, wait for the event, shut down.
    vm = QEMUMachine(binary)
    vm.set_machine('none')
    vm.add_args('-nodefaults')
    vm.launch()
    result = vm.qmp('query-status')
    print('query-status:', result['return']['status'])
    assert result['return']['status'] == 'running', result

    vm.cmd('stop')
    event = vm.event_wait('STOP', timeout=10.0)
    assert event is not None and event['event'] == 'STOP', event
    print('event:', event['event'])

    result = vm.qmp('query-status')
    print('query-status:', result['return']['status'])
    assert result == {'return': {**result['return'], 'status': 'paused'}}, result

    vm.shutdown()
    print('exit code:', vm.exitcode())
    return 0 if vm.exitcode() == 0 else 1


if __name__ == '__main__':
    sys.exit(main())
