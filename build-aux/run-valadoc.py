#!/usr/bin/env python3
# run-valadoc.py [--werror] VALADOC ARGS...: runs valadoc and sorts its
# warnings.
#
# valadoc reads the descriptions of the GIR (--import) for the HTML
# reference of qmachine-1.vapi, and two kinds of warning come from what it
# cannot map, not from a mistake in the sources: the `callback` and
# `user_data` parameters of the C async functions (a Vala async method has
# neither), and links to signals written gi-docgen's way
# ([signal@QMachine.Machine::event]).  Those are counted and left out; any
# other line is printed, and with --werror a warning among them fails the
# run, as do valadoc's own failures.
#
# Copyright 2026 The qmachine authors
# SPDX-License-Identifier: LGPL-2.1-or-later

import re
import subprocess
import sys

EXPECTED = [
    re.compile(r"@param: warning: Unknown parameter `(callback|user_data)'"),
    re.compile(r"@link: warning: `Q\w+:[\w-]+' does not exist"),
]


def main():
    args = sys.argv[1:]
    werror = False
    if args and args[0] == '--werror':
        werror = True
        args = args[1:]
    if not args:
        sys.exit('usage: run-valadoc.py [--werror] VALADOC ARGS...')
    proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, check=False)
    known = 0
    unknown = []
    for line in proc.stdout.splitlines():
        if any(p.search(line) for p in EXPECTED):
            known += 1
        elif re.match(r'Succeeded - \d+ warning', line):
            continue
        elif line.strip():
            unknown.append(line)
    for line in unknown:
        print(line)
    if proc.returncode != 0:
        sys.exit(f'valadoc failed (exit status {proc.returncode})')
    warnings = [line for line in unknown if 'warning' in line or 'error' in line]
    if werror and warnings:
        sys.exit(f'valadoc: {len(warnings)} unexpected warning(s)')
    if known:
        print(f'valadoc: {known} warning(s) about async callbacks and signal links left out')


if __name__ == '__main__':
    main()
