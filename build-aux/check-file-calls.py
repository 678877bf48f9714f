#!/usr/bin/env python3
# check-file-calls.py [--dot | --list] [DIR]: files call in one direction.
#
# Copyright 2026 The qmachine authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The library's .c files should form layers: a file may call functions of
# the files below it, never of a file that (directly or through others)
# calls back into it. A loop between files means neither can be read,
# tested or changed on its own, and it is usually a sign that a function
# sits in the wrong file. This script finds the functions each .c file of
# DIR (default: the qmachine/ next to build-aux/) defines without `static`,
# the names each file calls or takes the address of, draws an edge from
# file A to file B when A uses such a function of B, and reports every
# strongly connected group of files (a loop) with the functions on each of
# its edges, so that you can see what to move. It exits 1 when there is a
# loop. It reads GNU-style C by lines, not with a compiler: definitions
# must have the function name at column 0 and a `{` alone on a line after
# the parameters; calls hidden in header macros are not seen. --dot prints
# the graph for Graphviz, --list the files layer by layer, callers on top.

import argparse
import os
import re
import sys

IGNORED = {'q-spawn-helper.c'}  # a separate program, not part of the library
KEYWORDS = set('if for while switch return sizeof case do else goto typeof '
               '_Alignof alignof defined __attribute__ __typeof__'.split())
IDENT = re.compile(r'[A-Za-z_]\w*')
DEF_NAME = re.compile(r'([A-Za-z_]\w*)\s*\(')
TYPE_LINE = re.compile(r'[A-Za-z_][\w\s*]*')
MEMBER = re.compile(r'(?:\.|->)\s*\Z')
GTYPE = re.compile(r'^G_DEFINE_\w*TYPE\w*\s*\(\s*\w+\s*,\s*(\w+)', re.M)
GQUARK = re.compile(r'^G_DEFINE_QUARK\s*\([^,]*,\s*(\w+)', re.M)


def strip(text):
    """Blank out comments and string/char literals, keeping every newline."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith('/*', i):
            end = text.find('*/', i + 2)
            end = n if end < 0 else end + 2
        elif text.startswith('//', i):
            end = text.find('\n', i)
            end = n if end < 0 else end
        elif c in '"\'':
            end = i + 1
            while end < n and text[end] != c and text[end] != '\n':
                end += 2 if text[end] == '\\' else 1
            end = min(end + 1, n)
            out.append(c + re.sub(r'[^\n]', ' ', text[i + 1:end - 1]) + c)
            i = end
            continue
        else:
            out.append(c)
            i += 1
            continue
        out.append(re.sub(r'[^\n]', ' ', text[i:end]))
        i = end
    return ''.join(out)


def definitions(code):
    """Yield (name, offset, is_static) for each function defined in code."""
    lines = code.split('\n')
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    for i, line in enumerate(lines):
        m = DEF_NAME.match(line)
        if not m or m.group(1) in KEYWORDS or m.group(1).isupper():
            continue
        # The return type: the non-empty lines just above, types only.
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        types = []
        while k >= 0 and lines[k].strip() and TYPE_LINE.fullmatch(lines[k].strip()):
            types.append(lines[k])
            k -= 1
        if not types:
            continue
        # The parameter list, then a line that is exactly `{`.
        depth, j, col = 0, i, m.end() - 1
        while j < len(lines):
            for ch in lines[j][col:]:
                depth += (ch == '(') - (ch == ')')
                if depth == 0:
                    break
            if depth == 0:
                break
            j, col = j + 1, 0
        if j >= len(lines) or ';' in lines[j] or '{' in lines[j]:
            continue
        j += 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        if j < len(lines) and lines[j].strip() == '{':
            static = any(re.search(r'\bstatic\b', t) for t in types)
            yield m.group(1), starts[i], static


def scan(directory):
    """Return {file: (code, external names, all names, header offsets)}."""
    files = {}
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if not name.endswith('.c') or name in IGNORED or not os.path.isfile(path):
            continue
        with open(path, encoding='utf-8', errors='replace') as f:
            code = strip(f.read())
        defs = list(definitions(code))
        external = {d for d, _, static in defs if not static}
        external |= {p + '_get_type' for p in GTYPE.findall(code)}
        external |= {p + '_quark' for p in GQUARK.findall(code)}
        own = {d for d, _, _ in defs} | external
        files[name] = (code, external, own, {off for _, off, _ in defs})
    return files


def graph(files):
    """Return {(caller, callee): set of function names} and warnings."""
    owner, warnings = {}, []
    for name, (_, external, _, _) in files.items():
        for func in external:
            if func in owner:
                warnings.append(f'{func} is defined in {owner[func]} and {name}')
            owner.setdefault(func, name)
    edges = {}
    for name, (code, _, own, headers) in files.items():
        for m in IDENT.finditer(code):
            func = m.group()
            callee = owner.get(func)
            if callee is None or callee == name or func in own:
                continue  # not ours, or this file's own (a static shadows)
            if m.start() in headers or MEMBER.search(code, max(0, m.start() - 40), m.start()):
                continue
            edges.setdefault((name, callee), set()).add(func)
    return edges, warnings


def components(nodes, succ):
    """Tarjan's strongly connected components, callees before callers."""
    index, low, stack, on_stack, result = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in succ[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                scc.append(w)
                if w == v:
                    break
            result.append(sorted(scc))

    for v in nodes:
        if v not in index:
            visit(v)
    return result


def main():
    default = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'qmachine')
    parser = argparse.ArgumentParser(description='Check that no two .c files call each other.')
    parser.add_argument('directory', nargs='?', default=os.path.normpath(default))
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument('--dot', action='store_true', help='print the file graph in Graphviz dot')
    mode.add_argument('--list', action='store_true', help='print the files layer by layer')
    args = parser.parse_args()

    files = scan(args.directory)
    edges, warnings = graph(files)
    for warning in warnings:
        print(f'check-file-calls: warning: {warning}', file=sys.stderr)
    nodes = sorted(files)
    succ = {v: sorted(b for a, b in edges if a == v) for v in nodes}
    sccs = components(nodes, succ)
    loops = [scc for scc in sccs if len(scc) > 1]
    loop_of = {v: n for n, scc in enumerate(loops, 1) for v in scc}

    if args.dot:
        print('digraph files {\n  node [shape=box, fontname="monospace"];')
        for v in nodes:
            print(f'  "{v}"' + (' [color=red]' if v in loop_of else '') + ';')
        for (a, b), funcs in sorted(edges.items()):
            red = ', color=red' if loop_of.get(a, 0) == loop_of.get(b, -1) else ''
            print(f'  "{a}" -> "{b}" [tooltip="{", ".join(sorted(funcs))}"{red}];')
        print('}')
        return 0
    if args.list:
        layer = {}
        for scc in sccs:  # Tarjan emits callees first
            level = max((layer[w] + 1 for v in scc for w in succ[v] if w not in scc), default=0)
            layer.update((v, level) for v in scc)
        for level in range(max(layer.values(), default=-1), -1, -1):
            print(f'layer {level}:')
            for v in (v for v in nodes if layer[v] == level):
                mark = f' [loop {loop_of[v]}]' if v in loop_of else ''
                print(f'  {v}{mark}: {" ".join(succ[v]) or "-"}')
        return 0

    for n, scc in enumerate(loops, 1):
        print(f'loop {n}: {" ".join(scc)}')
        for (a, b), funcs in sorted(edges.items()):
            if a in scc and b in scc:
                print(f'  {a} -> {b}: {", ".join(sorted(funcs))}')
    summary = f'{len(loops)} loop{"s" if len(loops) != 1 else ""}' if loops else 'no loop'
    print(f'check-file-calls: {len(nodes)} files, {len(edges)} edge{"s" if len(edges) != 1 else ""}, '
          f'{summary}')
    return 1 if loops else 0


if __name__ == '__main__':
    sys.exit(main())
