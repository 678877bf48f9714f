#!/usr/bin/env python3
# check-lang-refs.py DOCS_BUILD_DIR SITE_DIR: checks the generated Python,
# GJS and Vala references.
#
# Each page must exist, be more than a stub, and show the central calls in
# its language's form: Python's timeouts in seconds and QMP arguments as
# keywords, GJS's calls with every argument and its promises, Vala's
# declarations.  The site (gi-docgen's output) must have the three pages
# and list them on its index, and every valadoc link of the Vala page must
# lead to a file.  A generator that breaks or writes an empty page fails
# here.
#
# Copyright 2026 The qmachine authors
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import re
import sys

EXPECTED = {
    'python.md': [
        'vm.launch(cancellable=None)',
        'vm.cmd(command, /, args_dict=None, conv_keys=None, **kwargs)',
        'vm.qmp(command, /, args_dict=None, conv_keys=None, **kwargs)',
        'vm.event_wait(name, timeout=60.0, match=None, cancellable=None)',
        'vm.shutdown(hard=False, timeout=30, cancellable=None)',
        'console.wait_for(pattern, regex=False, timeout=60.0, cancellable=None)',
        "handler_id = vm.connect('event::STOP', handler)",
        '`qmachine.CommandError`',
        '`qmachine.Timeout`',
        '[method@QMachine.Machine.launch]',
        '### `qmachine.compat.QEMUMachine`',
    ],
    'gjs.md': [
        "Gio._promisify(QMachine.Machine.prototype, 'launch_async', 'launch_finish');",
        'const ok = await vm.launch_async(null);',
        'const ok = vm.launch(null);',
        'const result = vm.cmd(command, args, null);',
        'const result = await vm.cmd_async(command, args, null);',
        'const result = vm.event_wait(name, match, timeout_msec, null);',
        'const ok = vm.shutdown(flags, timeout_msec, null);',
        'const [ok, exit_code] = vm.get_exit_code();',
        "const id = vm.connect('event::STOP', (vm, name, event) => { … });",
        "Json.from_string('{\"device\": \"ide0\", \"force\": true}').get_object()",
        "hmp.set_string_member('command-line', 'info version');",
        '[method@QMachine.Machine.launch]',
    ],
}

VALA_EXPECTED = [
    '`public bool launch (GLib.Cancellable? cancellable = null) throws GLib.Error;`',
    '`public async bool launch_async (GLib.Cancellable? cancellable) throws GLib.Error;`',
    '`public Json.Node cmd (string command, Json.Object? arguments, GLib.Cancellable? cancellable = null) throws GLib.Error;`',
    '`public Json.Object event_wait (string? name, Json.Node? match, int timeout_msec, GLib.Cancellable? cancellable = null) throws GLib.Error;`',
    '`public bool shutdown (Q.MachineShutdownFlags flags, int timeout_msec, GLib.Cancellable? cancellable = null) throws GLib.Error;`',
    'yield vm.launch_async (null);',
    '[method@QMachine.Machine.launch]',
]

# Entries (#### headings and table rows) a page has at the least: the
# namespace has five classes of some dozens of methods each.
MIN_ENTRIES = {'python.md': 150, 'gjs.md': 150, 'vala.md': 150}


def entries(text):
    return sum(1 for line in text.splitlines()
               if line.startswith('#### ') or line.startswith('| `'))


def main():
    build_dir, site_dir = sys.argv[1:3]
    failures = []
    pages = {}
    for name in ('python.md', 'gjs.md', 'vala.md'):
        path = os.path.join(build_dir, name)
        try:
            with open(path, encoding='utf-8') as f:
                pages[name] = f.read()
        except OSError as err:
            failures.append(f'{name}: {err}')

    vala_built = 'vala.md' in pages and '## The declarations' in pages['vala.md'] \
        and 'This build has no bindings' not in pages['vala.md']
    checks = dict(EXPECTED)
    if vala_built:
        checks['vala.md'] = VALA_EXPECTED
    for name, needles in checks.items():
        text = pages.get(name)
        if text is None:
            continue
        for needle in needles:
            if needle not in text:
                failures.append(f'{name}: does not show {needle}')
        count = entries(text)
        if count < MIN_ENTRIES[name]:
            failures.append(f'{name}: {count} entries, fewer than {MIN_ENTRIES[name]}')

    # The site: the pages are rendered and listed on the index.
    index_path = os.path.join(site_dir, 'index.html')
    try:
        with open(index_path, encoding='utf-8') as f:
            index = f.read()
    except OSError as err:
        failures.append(f'site: {err}')
        index = ''
    for page in ('python.html', 'gjs.html', 'vala.html'):
        if not os.path.isfile(os.path.join(site_dir, page)):
            failures.append(f'site: no {page}')
        elif index and f'href="{page}"' not in index:
            failures.append(f'site: index.html does not link {page}')

    # Every valadoc link of the Vala page leads to a file.
    links = re.findall(r'\]\((\.\./[^)#]+)\)', pages.get('vala.md', ''))
    for link in sorted(set(links)):
        target = os.path.normpath(os.path.join(site_dir, link))
        if not os.path.isfile(target):
            failures.append(f'vala.md: {link} leads to no file')

    for failure in failures:
        print(failure)
    if failures:
        sys.exit(f'{len(failures)} problem(s) in the language references')
    print(f'python.md: {entries(pages["python.md"])} entries, '
          f'gjs.md: {entries(pages["gjs.md"])}, vala.md: {entries(pages["vala.md"])}'
          + (f' ({len(set(links))} valadoc links)' if links else ''))


if __name__ == '__main__':
    main()
