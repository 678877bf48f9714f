#!/usr/bin/env python3
# check-guide.py GUIDE.md PROGRAM: the guide's code block is the program
# (from its first include or import on), so the guide shows what the tests run.
# A block after a line `<!-- program: NAME -->` (NAME the program's file
# name) is compared with that program from its first line of code on (the
# header comment left out); otherwise the guide's first block of the
# program's language is.
#
# Copyright 2026 The qmachine authors
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import re
import sys

program_path = sys.argv[2]
guide, program = (open(path, encoding='utf-8').read() for path in sys.argv[1:3])
marker = f'<!-- program: {os.path.basename(program_path)} -->\n'
COMMENT = ('#', '//', '/*', ' *', ' */')
if marker in guide:
    block = guide.split(marker, 1)[1].split('\n', 1)[1].split('```', 1)[0]
    lines = program.splitlines(keepends=True)
    start = 0
    while start < len(lines) and (not lines[start].strip() or lines[start].startswith(COMMENT)):
        start += 1
    code = ''.join(lines[start:])
else:
    # Blocks marked for other programs are not this one's.
    guide = re.sub(r'<!-- program: [^>]* -->\n```[a-z]*\n.*?```', '', guide, flags=re.S)
if marker in guide:
    pass
elif program_path.endswith('.vala'):
    block = guide.split('```vala\n', 1)[1].split('```', 1)[0]
    code = program[program.index('static async bool run'):]
elif program_path.endswith('.js'):
    block = guide.split('```js\n', 1)[1].split('```', 1)[0]
    code = program[program.index("import GLib from 'gi://GLib';"):]
elif program_path.endswith('.py'):
    block = guide.split('```python\n', 1)[1].split('```', 1)[0]
    code = program[program.index('import os'):]
else:
    block = guide.split('```c\n', 1)[1].split('```', 1)[0]
    code = program[program.index('#include <qmachine.h>'):]
if block != code:
    sys.exit(f'{sys.argv[1]} does not show {sys.argv[2]} as it is: update the guide')
print('the guide shows the program as it is')
