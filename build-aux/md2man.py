#!/usr/bin/env python3
# md2man.py PAGE.md OUT.1 NAME SECTION SUMMARY: the tool's man page, made
# from its one source, docs/tool.md (md2man.py --check OUT.1: its lint).
# Handles what that page uses:
# headings, paragraphs, lists, fenced code and tables.
#
# The page's layout: "# Title", an introduction (the DESCRIPTION), then
# "## Synopsis" (one code block, one form a line) and the other sections,
# which keep their order. Inline code is bold, with its upper-case
# placeholders (FILE, QEMU-ARGS, N) in italics; *emphasis* is italic;
# a link to another documentation page reads "TEXT in the qmachine
# documentation", one within the page is the section's name.
#
# Copyright 2026 The qmachine authors
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import re
import shutil
import subprocess
import sys


def check(page):
    # md2man.py --check PAGE.1: man renders PAGE without a warning and
    # lexgrog finds its NAME section (the test suite's man page check).
    missing = [tool for tool in ('man', 'lexgrog') if shutil.which(tool) is None]
    if missing:
        print(f'md2man.py: {" and ".join(missing)} missing (Debian: man-db): skipped')
        sys.exit(77)
    env = dict(os.environ, MANWIDTH='80', LC_ALL='C.UTF-8')
    man = subprocess.run(['man', '--warnings', '-l', page], env=env, text=True,
                         capture_output=True)
    lexgrog = subprocess.run(['lexgrog', page], env=env, text=True, capture_output=True)
    print(lexgrog.stdout + lexgrog.stderr, end='')
    if man.returncode != 0 or man.stderr:
        sys.exit(f'md2man.py: man --warnings on {page}:\n{man.stderr}')
    if lexgrog.returncode != 0:
        sys.exit(f'md2man.py: lexgrog cannot parse the NAME section of {page}')
    headings = [line for line in man.stdout.splitlines() if re.match(r'^[A-Z]', line)]
    for heading in ('NAME', 'SYNOPSIS', 'DESCRIPTION', 'OPTIONS', 'EXIT STATUS', 'SEE ALSO'):
        if heading not in headings:
            sys.exit(f'md2man.py: {page} has no {heading} section')
    for line in man.stdout.splitlines():
        if re.search(r'`|\*\*|\]\(|\[\w+@|\.html|(?<![\w*])\*\w+\*', line):
            sys.exit(f'md2man.py: markdown left in {page}: {line.strip()}')


if sys.argv[1:2] == ['--check']:
    check(sys.argv[2])
    sys.exit(0)

src, out, name, section, summary = sys.argv[1:6]
lines = open(src, encoding='utf-8').read().splitlines()

UNICODE = {'…': '...', '—': '\\(em', '–': '\\(en', '→': '\\(->', '‘': "'", '’': "'",
           '“': '"', '”': '"', '×': '\\(mu', '≥': '\\(>=', '≤': '\\(<='}
# Characters that groff would otherwise typeset as something else.
CODE = {'\\': '\\e', '-': '\\-', "'": '\\(aq', '`': '\\(ga', '^': '\\(ha', '~': '\\(ti'}
PLACEHOLDER = re.compile(r'(\b[A-Z][A-Z0-9_]*(?:-[A-Z][A-Z0-9_]*)*\b)')
# Upper-case words that are typed as they are, not placeholders.
LITERAL = {'ACPI', 'ESC', 'JSON', 'PNG', 'QEMU', 'QMP', 'TCG', 'US',
           'POWERDOWN', 'RESUME', 'SHUTDOWN', 'STOP', 'SIGINT', 'SIGKILL', 'SIGTERM'}


def ascii_roff(text):
    return ''.join(UNICODE.get(c) or (c if ord(c) < 128 else f'\\[u{ord(c):04X}]')
                   for c in text)


def safe_start(line):
    # A line starting with . or ' would be a request.
    return '\\&' + line if line.startswith(('.', "'")) else line


def code_roff(text):
    return ascii_roff(''.join(CODE.get(c, c) for c in text))


def code_span(text):
    # Placeholders in italics, the rest (typed as it is) in bold.
    parts = []
    for i, part in enumerate(PLACEHOLDER.split(text)):
        if part.strip():
            italic = i % 2 and part not in LITERAL
            parts.append(('\\fI' if italic else '\\fB') + code_roff(part) + '\\fR')
        else:
            parts.append(part)
    return ''.join(parts)


def gi_link(match):
    # [class@QMachine.Machine] -> QMachine, [method@QMachine.Machine.qmp] -> q_machine_qmp()
    kind, target = match.group(1), match.group(2).split('.')
    if kind in ('method', 'func', 'ctor') and len(target) >= 3:
        snake = re.sub(r'(?<!^)([A-Z])', r'_\1', target[1]).lower()
        return f'\\fBq_{snake}_{target[2]}\\fR()'
    return '\\fBQ' + target[1] + '\\fR'


def text_roff(text, sect):
    def link(match):
        label, target = match.group(1), match.group(2)
        if target.startswith('#'):
            return label.upper()
        if sect == 'SEE ALSO' or not re.match(r'^[\w-]+\.html', target):
            return label
        return label + ' in the qmachine documentation'

    text = ascii_roff(text.replace('\\', '\\e'))
    text = re.sub(r'\[([a-z]+)@([^\]]+)\]', gi_link, text)
    text = re.sub(r'\[([^\]]+)\]\(([^)]+)\)', link, text)
    text = re.sub(r'\*\*([^*]+)\*\*', r'\\fB\1\\fR', text)
    text = re.sub(r'(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])', r'\\fI\1\\fR', text)
    text = re.sub(r'\b([a-z][\w.-]*)\(([1-8])\)',
                  lambda m: f'\\fB{code_roff(m.group(1))}\\fR({m.group(2)})', text)
    return text


def inline(text, sect):
    pieces = text.split('`')
    return safe_start(''.join(code_span(p) if i % 2 else text_roff(p, sect)
                              for i, p in enumerate(pieces)))


def synopsis_line(line):
    # Literal words bold, placeholders italic, brackets and ellipses roman.
    out = []
    for token in re.split(r'(\s+|[\[\]|]|…)', line):
        if not token or token.isspace() or token in '[]|':
            out.append(token)
        elif token == '…':
            out.append('...')
        elif PLACEHOLDER.fullmatch(token):
            out.append(f'\\fI{code_roff(token)}\\fR')
        else:
            out.append(f'\\fB{code_roff(token)}\\fR')
    return ''.join(out)


# The page in sections: the introduction, then one per "## " heading.
sections = [['DESCRIPTION', []]]
for line in lines:
    if line.startswith(('Title:', 'SPDX-License-Identifier:', '# ')):
        continue
    if line.startswith('## '):
        sections.append([line[3:].strip().upper(), []])
    else:
        sections[-1][1].append(line)
order = [s for s in sections if s[0] == 'SYNOPSIS'] + [s for s in sections if s[0] != 'SYNOPSIS']


def render(sect, body):
    roff = []
    paragraph = []
    first = True                    # nothing yet under the heading
    gap = False                     # a blank line since the last block

    def block(macro):
        nonlocal first, gap
        flush()
        if macro != '.PP' or not first:
            roff.append(macro)
        first = gap = False

    def flush():
        if paragraph:
            # One sentence a line, as roff wants it.
            text = inline(' '.join(paragraph), sect)
            roff.extend(re.sub(r'([a-z0-9)][.?!]) (?=[A-Z(])', '\\1\n', text).split('\n'))
            paragraph.clear()

    i = 0
    while i < len(body):
        line = body[i]
        if line.startswith('```'):
            code = []
            i += 1
            while i < len(body) and not body[i].startswith('```'):
                code.append(body[i])
                i += 1
            if sect == 'SYNOPSIS':
                block('.nf')
                roff.extend(synopsis_line(c) for c in code)
                roff.append('.fi')
            else:
                block('.PP')
                roff.extend(['.RS 4', '.EX'])
                roff.extend(safe_start(code_roff(c)) for c in code)
                roff.extend(['.EE', '.RE'])
        elif line.startswith('### '):
            flush()
            roff.append('.SS ' + text_roff(line[4:].strip(), sect))
            first, gap = True, False
        elif line.startswith('|'):
            if i + 1 < len(body) and re.match(r'^\|\s*-', body[i + 1]):
                i += 1              # the header row and its rule
            else:
                cells = [inline(c.strip(), sect) for c in line.strip().strip('|').split(' | ')]
                block('.TP')
                roff.append(cells[0])
                roff.append(' '.join(cells[1:]))
        elif re.match(r'^[-*] ', line):
            block('.IP \\(bu 2')
            paragraph.append(line[2:].strip())
        elif line.strip() == '':
            flush()
            gap = True
        else:
            if not paragraph and (gap or first):
                block('.PP')
            paragraph.append(line.strip())
        i += 1
    flush()
    return roff


# No hyphenation (groff's man macros reset it from HY at each paragraph),
# ragged right: code and addresses stay whole.
roff = ['.nr HY 0', f'.TH {name.upper()} {section} "" "{name}" "User Commands"', '.ad l',
        '.SH NAME', f'{name} \\- {summary}']
for sect, body in order:
    roff.append('.SH ' + sect)
    roff.extend(render(sect, body))

with open(out, 'w', encoding='utf-8') as f:
    f.write('\n'.join(roff) + '\n')
