#!/usr/bin/env python3
# md2man.py PAGE.md OUT.1 NAME SECTION SUMMARY: the tool's man page, made
# from its one source, docs/tool.md. Handles what that page uses:
# headings, paragraphs, lists, fenced code and tables; links and inline
# code become plain text and bold.
#
# Copyright 2026 The qmachine authors
# SPDX-License-Identifier: LGPL-2.1-or-later

import re
import sys

src, out, name, section, summary = sys.argv[1:6]
lines = open(src, encoding='utf-8').read().splitlines()


UNICODE = {'…': '...', '—': '\\(em', '–': '\\(en', '→': '\\(->', '‘': "'", '’': "'",
           '“': '"', '”': '"', '×': '\\(mu', '≥': '\\(>=', '≤': '\\(<='}


def ascii_roff(text):
    return ''.join(UNICODE.get(c, c) for c in text)


def inline(text):
    text = ascii_roff(text.replace('\\', '\\e'))
    text = re.sub(r'\[([a-z]+)@([^\]]+)\]', lambda m: m.group(2).split('.')[-1], text)
    text = re.sub(r'\[([^\]]+)\]\([^)]+\)', r'\1', text)
    text = re.sub(r'`([^`]+)`', r'\\fB\1\\fR', text)
    text = re.sub(r'\*\*([^*]+)\*\*', r'\\fB\1\\fR', text)
    if text.startswith(('.', "'")):
        text = '\\&' + text
    return text


roff = [f'.TH {name.upper()} {section} "" "{name}" "User Commands"',
        '.SH NAME', f'{name} \\- {summary}']
in_code = False
for line in lines:
    if line.startswith(('Title:', 'SPDX-License-Identifier:')) or line.startswith('# '):
        continue
    if line.startswith('```'):
        roff.append('.fi' if in_code else '.nf')
        in_code = not in_code
        continue
    if in_code:
        code = ascii_roff(line.replace('\\', '\\e'))
        roff.append(code if not code.startswith(('.', "'")) else '\\&' + code)
        continue
    if line.startswith('## '):
        roff.append('.SH ' + line[3:].upper())
    elif line.startswith('### '):
        roff.append('.SS ' + line[4:])
    elif line.startswith('| ---') or line.startswith('|---'):
        continue
    elif line.startswith('|'):
        cells = [inline(c.strip()) for c in line.strip('|').split('|')]
        roff.append('.TP')
        roff.append(cells[0])
        roff.append(' '.join(cells[1:]))
    elif re.match(r'^\s*[-*] ', line):
        roff.append('.IP \\(bu 2')
        roff.append(inline(re.sub(r'^\s*[-*] ', '', line)))
    elif line.strip() == '':
        roff.append('.PP')
    else:
        roff.append(inline(line.strip()))

with open(out, 'w', encoding='utf-8') as f:
    f.write('\n'.join(roff) + '\n')
