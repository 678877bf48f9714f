#!/usr/bin/env python3
# docs-links.py - the documentation pages, as a reader of the repository
# sees them and as gi-docgen builds them.
#
# Copyright 2026 The qmachine authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The pages in docs/ are written to read well where they are stored (a
# forge, an editor): links between pages point at the `.md` files, and the
# API is named as C code (`q_machine_launch()`, `QMachine:event-queue-limit`,
# `QMachine::exited`, `QMachine`). For the site, this script rewrites each
# page into the build directory: `.md` links become `.html`, and each
# code span that names something of the GIR becomes gi-docgen's reference
# (`[method@QMachine.Machine.launch]`), so the site links it. Fenced code
# blocks are left as they are.
#
# Usage:
#   docs-links.py site GIR OUTDIR PAGE...   rewrite PAGEs for gi-docgen
#   docs-links.py repo GIR PAGE...          rewrite gi-docgen references in
#                                           PAGEs into the repository form
#                                           (in place; for converting once)
#   docs-links.py check GIR PAGE...         fail if a page holds a
#                                           gi-docgen reference or .html link

import os
import re
import sys
import xml.etree.ElementTree as ET

NS = {'g': 'http://www.gtk.org/introspection/core/1.0',
      'c': 'http://www.gtk.org/introspection/c/1.0'}
C_ID = '{http://www.gtk.org/introspection/c/1.0}identifier'
C_TYPE = '{http://www.gtk.org/introspection/c/1.0}type'


# What the pages name of GLib, GIO and json-glib, in both forms.
OTHERS = [
    ('`JsonObject`', '[struct@Json.Object]'), ('`JsonNode`', '[struct@Json.Node]'),
    ('`JsonArray`', '[struct@Json.Array]'), ('`GBytes`', '[struct@GLib.Bytes]'),
    ('`GMainContext`', '[struct@GLib.MainContext]'), ('`GMainLoop`', '[struct@GLib.MainLoop]'),
    ('`GPtrArray`', '[struct@GLib.PtrArray]'), ('`GRegex`', '[struct@GLib.Regex]'),
    ('`GUnixFDList`', '[class@Gio.UnixFDList]'),
    ('`GSocketConnection`', '[class@Gio.SocketConnection]'),
    ('`GIOStream`', '[class@Gio.IOStream]'),
    ('`GUnixSocketAddress`', '[class@Gio.UnixSocketAddress]'),
    ('`GTask`', '[class@Gio.Task]'), ('`GInetSocketAddress`', '[class@Gio.InetSocketAddress]'),
    ('`GCancellable`', '[class@Gio.Cancellable]'), ('`GSubprocess`', '[class@Gio.Subprocess]'),
    ('`GSocketAddress`', '[class@Gio.SocketAddress]'),
    ('`GDataInputStream`', '[class@Gio.DataInputStream]'),
    ('`g_subprocess_wait()`', '[method@Gio.Subprocess.wait]'),
    ('`g_main_context_push_thread_default()`', '[method@GLib.MainContext.push_thread_default]'),
]
GLIB_ERROR_DOMAIN = '{http://www.gtk.org/introspection/glib/1.0}error-domain'


def gir_names(path):
    """Pairs (repository form, gi-docgen reference) for the GIR's API."""
    root = ET.parse(path).getroot()
    ns = root.find('g:namespace', NS)
    nsname = ns.get('name')
    pairs = list(OTHERS)
    for kind, tag in (('class', 'class'), ('struct', 'record'), ('enum', 'enumeration'),
                      ('flags', 'bitfield'), ('iface', 'interface')):
        for t in ns.findall(f'g:{tag}', NS):
            name, ctype = t.get('name'), t.get(C_TYPE)
            if ctype:
                k = 'error' if kind == 'enum' and t.get(GLIB_ERROR_DOMAIN) else kind
                pairs.append((f'`{ctype}`', f'[{k}@{nsname}.{name}]'))
            for m in t.findall('g:method', NS):
                pairs.append((f'`{m.get(C_ID)}()`', f'[method@{nsname}.{name}.{m.get("name")}]'))
            for m in t.findall('g:constructor', NS):
                pairs.append((f'`{m.get(C_ID)}()`', f'[ctor@{nsname}.{name}.{m.get("name")}]'))
            for m in t.findall('g:function', NS):
                pairs.append((f'`{m.get(C_ID)}()`', f'[type_func@{nsname}.{name}.{m.get("name")}]'))
            for p in t.findall('g:property', NS):
                pairs.append((f'`{ctype}:{p.get("name")}`', f'[property@{nsname}.{name}:{p.get("name")}]'))
            for s in t.findall('{http://www.gtk.org/introspection/glib/1.0}signal'):
                pairs.append((f'`{ctype}::{s.get("name")}`', f'[signal@{nsname}.{name}::{s.get("name")}]'))
    for f in ns.findall('g:function', NS):
        pairs.append((f'`{f.get(C_ID)}()`', f'[func@{nsname}.{f.get("name")}]'))
    return pairs


FENCE = re.compile(r'(^```.*?^```[^\n]*\n?)', re.S | re.M)


def outside_fences(text, fn):
    """Applies fn to the text outside fenced code blocks."""
    parts = FENCE.split(text)
    return ''.join(p if i % 2 else fn(p) for i, p in enumerate(parts))


def to_site(text, pairs):
    by_repo = dict(pairs)

    def rewrite(chunk):
        chunk = re.sub(r'\]\(([A-Za-z0-9_-]+)\.md(#[^)]*)?\)',
                       lambda m: f']({m.group(1)}.html{m.group(2) or ""})', chunk)
        # A code span that is a link's text stays as it is.
        return re.sub(r'(?<!\[)`[^`\n]+`(?!\])',
                      lambda m: by_repo.get(m.group(0), m.group(0)), chunk)

    return outside_fences(text, rewrite)


def to_repo(text, pairs):
    by_ref = {ref: repo for repo, ref in pairs}

    def rewrite(chunk):
        chunk = re.sub(r'\]\(([A-Za-z0-9_-]+)\.html(#[^)]*)?\)',
                       lambda m: f']({m.group(1)}.md{m.group(2) or ""})', chunk)
        return re.sub(r'\[[a-z_]+@[^\]\s]+\]',
                      lambda m: by_ref.get(m.group(0), m.group(0)), chunk)

    return outside_fences(text, rewrite)


def main(argv):
    if len(argv) < 3 or argv[1] not in ('site', 'repo', 'check'):
        sys.exit(__doc__ or 'usage: docs-links.py site|repo|check GIR ...')
    mode, gir = argv[1], argv[2]
    pairs = gir_names(gir)
    if mode == 'site':
        outdir, pages = argv[3], argv[4:]
        os.makedirs(outdir, exist_ok=True)
        for page in pages:
            with open(page, encoding='utf-8') as f:
                text = f.read()
            with open(os.path.join(outdir, os.path.basename(page)), 'w', encoding='utf-8') as f:
                f.write(to_site(text, pairs))
        return 0
    bad = 0
    for page in argv[3:]:
        with open(page, encoding='utf-8') as f:
            text = f.read()
        if mode == 'repo':
            with open(page, 'w', encoding='utf-8') as f:
                f.write(to_repo(text, pairs))
            continue
        left = outside_fences(text, lambda c: c)
        found = []

        def note(chunk):
            found.extend(re.findall(r'\[[a-z_]+@[^\]\s]+\]', chunk))
            found.extend(re.findall(r'\]\([A-Za-z0-9_-]+\.html[^)]*\)', chunk))
            return chunk

        outside_fences(left, note)
        for item in found:
            print(f'{page}: {item}: write the repository form (see build-aux/docs-links.py)')
            bad += 1
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
