#!/usr/bin/env python3
# bench-compat.py - what a QMP command costs from Python: qmachine.compat
# against the introspected API (numbers, not pass/fail)
#
# Copyright 2026 The qmachine authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage: bench-compat.py [--rounds N] [--json]
# Run from the build tree by `meson test -C _build --suite bench`, which
# sets GI_TYPELIB_PATH, LD_LIBRARY_PATH and PYTHONPATH.

import argparse
import json
import os
import statistics
import time

from qmachine.compat import QEMUMachine  # first: it puts the override in place
from gi.repository import QMachine

QEMU = os.environ.get('QMACHINE_TEST_QEMU', 'qemu-system-x86_64')
BLOCK = 200


def timed(call, samples):
    for _ in range(BLOCK):
        t0 = time.perf_counter()
        call()
        samples.append((time.perf_counter() - t0) * 1e6)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--rounds', type=int, default=10)
    parser.add_argument('--json', action='store_true')
    opts = parser.parse_args()

    gi_vm = QMachine.Machine.new(QEMU)
    gi_vm.set_machine('none')
    gi_vm.add_args(['-nodefaults'])
    gi_vm.launch()
    compat_vm = QEMUMachine(QEMU)
    compat_vm.set_machine('none')
    compat_vm.add_args('-nodefaults')
    compat_vm.launch()

    rows = {
        'gi-cmd': ('Machine.cmd() through GI', []),
        'gi-qmp': ('Machine.qmp() through GI', []),
        'compat-cmd': ('qmachine.compat QEMUMachine.cmd()', []),
        'compat-qmp': ('qmachine.compat QEMUMachine.qmp()', []),
    }
    calls = {
        'gi-cmd': lambda: gi_vm.cmd('query-status', None),
        'gi-qmp': lambda: gi_vm.qmp('query-status', None),
        'compat-cmd': lambda: compat_vm.cmd('query-status'),
        'compat-qmp': lambda: compat_vm.qmp('query-status'),
    }
    for _ in range(opts.rounds):
        for name, call in calls.items():
            timed(call, rows[name][1])

    compat_vm.shutdown()
    gi_vm.shutdown()

    result = {name: statistics.median(samples) for name, (_, samples) in rows.items()}
    if opts.json:
        print(json.dumps({'rounds': opts.rounds, 'qemu': QEMU,
                          'median_us': result, 'target_compat_cmd_us': 420}, indent=2))
        return
    print(f'query-status round trip from Python; {QEMU}; {opts.rounds} rounds of {BLOCK}; medians\n')
    for name, (what, _) in rows.items():
        print(f'{what:<40} {result[name]:8.1f} us')
    print(f"\ncompat cmd() target <= 420 us: {'met' if result['compat-cmd'] <= 420 else 'NOT met'}")


if __name__ == '__main__':
    main()
