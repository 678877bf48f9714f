#!/usr/bin/env python3
# gen-vala-reference.py [--vapi VAPI] [--gir GIR] [--valadoc URL] OUTPUT.md:
# the Vala reference page.
#
# Writes a gi-docgen content page that explains how the C API is named and
# called in Vala and lists every declaration of the generated
# qmachine-1.vapi, class by class, as Vala code (the CCode attributes left
# out).  Each entry links to the C function of the same name (when the GIR
# has it) and, when valadoc's HTML was built (--valadoc, a URL relative to
# the page), to its valadoc page.  Without --vapi (a build without
# -Dvapi=true) the page says how to get the bindings and this reference.
#
# Copyright 2026 The qmachine authors
# SPDX-License-Identifier: LGPL-2.1-or-later

import argparse
import re
import sys
import xml.etree.ElementTree as ET

CORE = '{http://www.gtk.org/introspection/core/1.0}'
GLIB = '{http://www.gtk.org/introspection/glib/1.0}'

INTRO = '''\
Title: Vala reference
SPDX-License-Identifier: LGPL-2.1-or-later

# Vala reference

Vala programs use qmachine through `qmachine-1.vapi`, generated from the
GIR when the library is built with `-Dvapi=true` and installed with it.
{generated}

## How the C API looks from Vala

**Names.** The namespace is `Q`, after the C prefix: `QMachine` is
`Q.Machine`, `q_machine_launch (vm, …)` is `vm.launch (…)`, the flags
`Q_MACHINE_SHUTDOWN_FLAGS_HARD` are `Q.MachineShutdownFlags.HARD`, the
constants `Q_MACHINE_DEFAULT_QMP_TIMEOUT` are
`Q.MACHINE_DEFAULT_QMP_TIMEOUT`. The package is `qmachine-1`; QMP values
are json-glib's, so `json-glib-1.0` comes along:

```sh
valac --pkg qmachine-1 --pkg json-glib-1.0 --pkg gio-2.0 program.vala
```

**Constructors** are `new`: `var vm = new Q.Machine ("qemu-system-x86_64");`.

**Async methods** are Vala `async` methods: `yield vm.launch_async (null);`
inside an `async` function (started with `.begin ()` and a main loop), and
the `_finish` function is called for you. The blocking twins
(`vm.launch (null)`) run the same operation on a private main context.

**Errors** are exceptions: every function that takes a `GError **` in C
`throws GLib.Error`, and the error domains are Vala `errordomain`s, so a
code is caught by name:

```vala
try {
    vm.launch (null);
    var status = vm.cmd ("query-status", null, null);
    print ("%s\\n", status.get_object ().get_string_member ("status"));
} catch (Q.MachineError.LAUNCH_FAILED e) {
    printerr ("QEMU did not start: %s\\n", e.message);
} catch (Q.QmpError e) {
    printerr ("QEMU refused the command: %s\\n", e.message);
} catch (Error e) {
    printerr ("%s\\n", e.message);
}
```

**QMP arguments** are a `Json.Object` (or `null`), results a `Json.Node`:

```vala
var args = new Json.Object ();
args.set_string_member ("command-line", "info version");
var text = yield vm.cmd_async ("human-monitor-command", args, null);
print ("%s", text.get_string ());
```

**Out-arguments** are `out` parameters:
`int code; bool ended = vm.get_exit_code (out code);`.

**Signals** are connected with `connect`, a detail in brackets:

```vala
vm.event["STOP"].connect ((name, event) => print ("%s\\n", name));
vm.exited.connect ((exit_code) => print ("QEMU exited: %d\\n", exit_code));
```

**Properties** are fields: `vm.qmp_timeout = 5000;`.

Timeouts are milliseconds, `-1` waiting forever, as in C.
[Getting started in Vala](getting-started-vala.html) has a complete
program.
'''

NOT_BUILT = '''\

## The declarations

This build has no bindings to list: configure with `-Dvapi=true` (it needs
`vapigen`, from Debian's `valac`) and rebuild, and this page lists every
declaration of `qmachine-1.vapi`; with `valadoc` installed (Debian's
`valadoc` package) the build also makes the valadoc reference and links
it from here.
'''


def strip_attributes(line):
    """A vapi line without its [CCode (...)] attributes."""
    line = re.sub(r'\[CCode \([^\]]*\)\]\s*', '', line)
    return ' '.join(line.split())


class Decl:
    def __init__(self, kind, name, text):
        self.kind = kind
        self.name = name
        self.text = text
        self.members = []


def parse_vapi(path):
    """The namespace's top-level declarations, each with its members."""
    decls = []
    current = None
    depth = 0
    flags = False
    with open(path, encoding='utf-8') as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith(('/*', '//', '*')):
                continue
            if line.startswith('['):
                # an attribute line of its own: [CCode (...)], [Version (...)], [Flags]
                if line.startswith('[Flags]'):
                    flags = True
                continue
            opens = line.count('{')
            closes = line.count('}')
            if depth == 1 and line.startswith('public'):
                m = re.match(r'public (?:(?:sealed|abstract) )?(class|enum|errordomain|struct|interface|const|static|delegate)\b', line)
                if m is None:
                    raise SystemExit(f'{path}: cannot read "{line}"')
                kind = m.group(1)
                if kind in ('class', 'enum', 'errordomain', 'struct', 'interface'):
                    name = re.match(rf'.*?{kind} (\w+)', line).group(1)
                    if kind == 'enum' and flags:
                        kind = 'flags'
                    current = Decl(kind, name, strip_attributes(line.rstrip('{').strip()))
                    decls.append(current)
                else:
                    name = re.search(r'(\w+)\s*(?:\(|;)', line).group(1)
                    decls.append(Decl(kind, name, strip_attributes(line)))
                flags = False
            elif depth == 2 and current is not None:
                if line.startswith('public'):
                    current.members.append(strip_attributes(line))
                elif current.kind in ('enum', 'flags', 'errordomain') and not line.startswith('}'):
                    current.members.append(line.rstrip(',;'))
            depth += opens - closes
            if depth <= 1:
                current = None
    return decls



def member_name(decl, text):
    if text.startswith(('public signal', 'public virtual signal')):
        return 'signal', re.search(r'(\w+)\s*\(', text).group(1)
    if re.search(r'\{\s*(?:owned )?(?:get|set|construct)\b', text):
        return 'property', re.search(r'(\w+)\s*\{', text).group(1)
    m = re.search(r'(@?\w+(?:\.\w+)?)\s*\(', text)
    if m is None:
        return 'value', text.split()[-1].rstrip(';')
    name = m.group(1)
    if name == decl.name or name.startswith(decl.name + '.'):
        return 'constructor', name
    return 'method', name


def gir_index(path):
    """What the GIR has, to link to the C pages only where they exist."""
    if path is None:
        return None
    root = ET.parse(path).getroot()
    ns = root.find(CORE + 'namespace')
    index = {'ns': ns.get('name'), 'types': {}}
    for elem in ns:
        name = elem.get('name')
        if name is None:
            continue
        tag = elem.tag.split('}')[1]
        entry = {'tag': tag, 'error': elem.get(GLIB + 'error-domain') is not None,
                 'method': set(), 'ctor': set(), 'type_func': set(),
                 'property': set(), 'signal': set()}
        for child in elem:
            cname = child.get('name')
            ctag = child.tag.split('}')[1]
            if ctag == 'method':
                entry['method'].add(cname)
            elif ctag == 'constructor':
                entry['ctor'].add(cname)
            elif ctag == 'function':
                entry['type_func'].add(cname)
            elif ctag == 'property':
                entry['property'].add(cname.replace('-', '_'))
            elif ctag == 'signal':
                entry['signal'].add(cname.replace('-', '_'))
        index['types'][name] = entry
    return index


def c_link(gir, decl, kind, name):
    if gir is None:
        return None
    ns = gir['ns']
    t = gir['types'].get(decl.name)
    if t is None:
        return None
    if kind == 'method' and name in t['method']:
        return f'[method@{ns}.{decl.name}.{name}]'
    if kind == 'method' and name in t['type_func']:
        return f'[func@{ns}.{decl.name}.{name}]'
    if kind == 'constructor':
        # `Q.GuestAgent.for_address` is q_guest_agent_new_for_address
        cname = 'new' if name == decl.name else name.split('.', 1)[1]
        for candidate in (cname, 'new_' + cname):
            if candidate in t['ctor']:
                return f'[ctor@{ns}.{decl.name}.{candidate}]'
            if candidate in t['type_func']:
                return f'[func@{ns}.{decl.name}.{candidate}]'
    if kind == 'property' and name in t['property']:
        return f"[property@{ns}.{decl.name}:{name.replace('_', '-')}]"
    if kind == 'signal' and name in t['signal']:
        return f"[signal@{ns}.{decl.name}::{name.replace('_', '-')}]"
    return None


def decl_link(gir, decl):
    if gir is None:
        return None
    ns = gir['ns']
    t = gir['types'].get(decl.name)
    if t is None:
        return None
    if t['tag'] == 'class':
        return f'[class@{ns}.{decl.name}]'
    if t['tag'] == 'bitfield':
        return f'[flags@{ns}.{decl.name}]'
    if t['tag'] == 'enumeration':
        return f'[error@{ns}.{decl.name}]' if t['error'] else f'[enum@{ns}.{decl.name}]'
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--vapi')
    parser.add_argument('--gir')
    parser.add_argument('--valadoc', help='URL of the valadoc package directory, relative to the page')
    parser.add_argument('output')
    opts = parser.parse_args()

    if opts.vapi is None:
        generated = ('This build was configured without `-Dvapi=true`, so '
                     'the page only explains the names.')
        text = INTRO.replace("{generated}", generated) + NOT_BUILT
        with open(opts.output, 'w', encoding='utf-8') as f:
            f.write(text)
        return

    decls = parse_vapi(opts.vapi)
    if not any(d.kind == 'class' and d.members for d in decls):
        sys.exit(f'{opts.vapi}: no class with members found')
    gir = gir_index(opts.gir)
    vd = opts.valadoc.rstrip('/') if opts.valadoc else None

    generated = ('This page is generated from that file by '
                 '`build-aux/gen-vala-reference.py`: every declaration, as '
                 'Vala code, linked to the C function it calls')
    if vd:
        generated += (f' and to its page in the [valadoc reference]({vd}/index.htm), '
                      'built by `valadoc` from the same `.vapi` with the '
                      "descriptions of the GIR.")
    else:
        generated += ('. The valadoc reference is built too when `valadoc` '
                      "is installed (Debian's `valadoc` package).")

    out = [INTRO.replace("{generated}", generated), '## The declarations', '']
    if vd:
        out += [f'The [valadoc reference]({vd}/index.htm) has a page for each '
                'of them.', '']
    order = [('class', 'Classes'), ('errordomain', 'Error domains'),
             ('enum', 'Enumerations'), ('flags', 'Flags'),
             ('const', 'Constants'), ('static', 'Functions')]
    for kind, heading in order:
        group = [d for d in decls if d.kind == kind]
        if not group:
            continue
        out += [f'### {heading}', '']
        if kind in ('const', 'static'):
            out += ['```vala'] + [d.text for d in group] + ['```', '']
            rows = []
            for d in group:
                links = []
                if vd:
                    links.append(f'[valadoc]({vd}/Q.{d.name}.html)')
                # the quark functions are documented with their error domains
                if kind == 'static' and gir is not None and not d.name.endswith('_error_quark'):
                    links.append(f"[func@{gir['ns']}.{d.name}]")
                if links:
                    rows.append(f'- `Q.{d.name}`: ' + ', '.join(links))
            out += rows + ['']
            continue
        for d in group:
            out += [f'#### `Q.{d.name}`', '']
            links = []
            if vd:
                links.append(f'[valadoc]({vd}/Q.{d.name}.html)')
            link = decl_link(gir, d)
            if link:
                links.append(f'C: {link}')
            if links:
                out += [', '.join(links) + '.', '']
            if kind in ('enum', 'flags', 'errordomain'):
                values = [m for m in d.members if not m.startswith('public')]
                funcs = [m for m in d.members if m.startswith('public')]
                out += ['```vala', d.text + ' {',
                        '    ' + ',\n    '.join(values) + (';' if funcs else ''),
                        ] + [f'    {m}' for m in funcs] + ['}', '```', '']
                continue
            out += ['| Vala | Links |', '| --- | --- |']
            for m in d.members:
                mkind, name = member_name(d, m)
                links = []
                if vd:
                    page = name if mkind != 'constructor' else (
                        name if '.' in name else f'{d.name}')
                    links.append(f'[valadoc]({vd}/Q.{d.name}.{page}.html)')
                link = c_link(gir, d, mkind, name.lstrip('@'))
                if link:
                    links.append(link)
                cell = m.replace('|', '\\|')
                out.append(f'| `{cell}` | ' + ', '.join(links) + ' |')
            out.append('')

    text = '\n'.join(out) + '\n'
    text = re.sub(r'\n{3,}', '\n\n', text)
    with open(opts.output, 'w', encoding='utf-8') as f:
        f.write(text)


if __name__ == '__main__':
    main()
