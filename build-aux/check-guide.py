#!/usr/bin/env python3
# check-guide.py GUIDE.md PROGRAM.c: the guide's ```c block is the program
# (from its first #include on), so the guide shows what the tests run.
#
# Copyright 2026 The qmachine authors
# SPDX-License-Identifier: LGPL-2.1-or-later

import sys

guide, program = (open(path, encoding='utf-8').read() for path in sys.argv[1:3])
block = guide.split('```c\n', 1)[1].split('```', 1)[0]
code = program[program.index('#include <qmachine.h>'):]
if block != code:
    sys.exit(f'{sys.argv[1]} does not show {sys.argv[2]} as it is: update the guide')
print('the guide shows the program as it is')
