#!/usr/bin/env python3
# gen-gjs-reference.py GIR OUTPUT.md: the JavaScript (GJS) reference page.
#
# Reads the GIR that g-ir-scanner wrote (XML) and writes a gi-docgen content
# page that shows every class, method, property and signal of the namespace
# the way a GJS program spells it: all in-arguments in order (GJS accepts no
# fewer, so nullable ones are passed as `null`), out-arguments folded into
# the returned value (an array when there is more than one value), the
# async/finish pairs as promises through Gio._promisify, and each entry
# linked to the C page of the same function.  Nothing in the page is kept by
# hand: the per-class sections come from the GIR and the introduction is
# the same for every build.
#
# Copyright 2026 The qmachine authors
# SPDX-License-Identifier: LGPL-2.1-or-later

import argparse
import re
import sys
import xml.etree.ElementTree as ET

CORE = '{http://www.gtk.org/introspection/core/1.0}'
GLIB = '{http://www.gtk.org/introspection/glib/1.0}'

# The variable a page uses for an instance of each class.
INSTANCE_NAMES = {
    'Machine': 'vm',
    'Console': 'console',
    'GuestAgent': 'agent',
    'QmpClient': 'client',
    'QtestClient': 'qtest',
}

NUMBER_TYPES = {
    'gint', 'guint', 'gint8', 'guint8', 'gint16', 'guint16', 'gint32',
    'guint32', 'gint64', 'guint64', 'glong', 'gulong', 'gsize', 'gssize',
    'gshort', 'gushort', 'gfloat', 'gdouble', 'goffset', 'gchar', 'guchar',
    'GType', 'GQuark', 'gintptr', 'guintptr', 'int', 'double',
}

# Words a parameter cannot be named in a JavaScript module (strict code).
JS_RESERVED = {
    'arguments', 'eval', 'function', 'default', 'class', 'new', 'delete',
    'in', 'var', 'let', 'const', 'this', 'with', 'yield', 'await', 'enum',
    'static', 'package', 'private', 'public', 'interface', 'protected',
    'implements', 'return', 'switch', 'case', 'do', 'for', 'while', 'if',
    'else', 'try', 'catch', 'finally', 'throw', 'typeof', 'instanceof',
    'void', 'break', 'continue', 'debugger', 'export', 'import', 'super',
    'extends', 'null', 'true', 'false',
}


# Names a page writes differently, being reserved in JavaScript.
RENAMED = {'arguments': 'args', 'function': 'func', 'default': 'default_value'}


def js_name(name):
    """A parameter name usable as a JavaScript identifier."""
    if name in RENAMED:
        return RENAMED[name]
    return name + '_' if name in JS_RESERVED else name


def qualify(ns, name):
    """A GIR type name as GJS code writes it: `QMachine.Machine`."""
    return name if '.' in name else f'{ns}.{name}'


def js_type(ns, node):
    """The JavaScript type of a <type>/<array> holder (parameter, return
    value, property, field)."""
    array = node.find(CORE + 'array')
    if array is not None:
        inner = js_type(ns, array)
        if inner in ('number',) and array.find(CORE + 'type') is not None \
                and array.find(CORE + 'type').get('name') in ('guint8', 'gchar'):
            return 'Uint8Array'
        return f'{inner}[]'
    t = node.find(CORE + 'type')
    if t is None:
        return 'any'
    name = t.get('name', '')
    if name == 'none':
        return 'void'
    if name == 'gboolean':
        return 'boolean'
    if name in NUMBER_TYPES:
        return 'number'
    if name in ('utf8', 'filename', 'gunichar'):
        return 'string'
    if name == 'gpointer':
        return 'any'
    if name == 'GLib.PtrArray' or name == 'GLib.List' or name == 'GLib.SList':
        inner = js_type(ns, t)
        return f'{inner}[]'
    if name == 'Gio.AsyncReadyCallback':
        return '(source, result) => void'
    return qualify(ns, name)


def first_paragraph(elem):
    """The first paragraph of an element's doc comment, on one line (it is
    gi-docgen markdown already, so its links resolve on the page)."""
    doc = elem.find(CORE + 'doc')
    if doc is None or not (doc.text or '').strip():
        return ''
    para = doc.text.strip().split('\n\n', 1)[0]
    if para.lstrip().startswith(('```', '|', '-', '#')):
        return ''
    return ' '.join(para.split())


class Param:
    def __init__(self, ns, elem, index):
        self.index = index
        self.name = elem.get('name')
        self.direction = elem.get('direction', 'in')
        self.nullable = elem.get('nullable') == '1' or elem.get('allow-none') == '1'
        self.optional = elem.get('optional') == '1'
        self.type = js_type(ns, elem)
        self.is_callback = elem.get('scope') is not None
        self.closure = elem.get('closure')
        self.destroy = elem.get('destroy')
        array = elem.find(CORE + 'array')
        self.length = array.get('length') if array is not None else None
        t = elem.find(CORE + 'type')
        self.gtype = t.get('name') if t is not None else None


class Callable:
    """One function of the GIR with the GJS view of its arguments."""

    def __init__(self, ns, elem, kind):
        self.ns = ns
        self.elem = elem
        self.kind = kind  # 'method', 'constructor', 'function'
        self.name = elem.get('name')
        self.throws = elem.get('throws') == '1'
        self.deprecated = elem.get('deprecated') == '1'
        params = elem.find(CORE + 'parameters')
        plist = [] if params is None else params.findall(CORE + 'parameter')
        self.params = [Param(ns, p, i) for i, p in enumerate(plist)]
        ret = elem.find(CORE + 'return-value')
        self.ret_type = js_type(ns, ret) if ret is not None else 'void'
        self.ret_skip = ret is not None and ret.get('skip') == '1'
        self.ret_nullable = ret is not None and (ret.get('nullable') == '1')
        ret_array = ret.find(CORE + 'array') if ret is not None else None
        hidden = set()
        for p in self.params:
            if p.is_callback:
                for attr in (p.closure, p.destroy):
                    if attr is not None:
                        hidden.add(int(attr))
            elif p.gtype == 'gpointer' and p.closure is not None:
                hidden.add(p.index)
            if p.destroy is not None:
                hidden.add(int(p.destroy))
            if p.length is not None:
                hidden.add(int(p.length))
        if ret_array is not None and ret_array.get('length') is not None:
            hidden.add(int(ret_array.get('length')))
        # user_data after an async callback that names no closure
        for p in self.params:
            if p.gtype == 'gpointer' and p.name == 'user_data':
                hidden.add(p.index)
        self.visible = [p for p in self.params if p.index not in hidden]

    @property
    def ins(self):
        return [p for p in self.visible if p.direction in ('in', 'inout')]

    @property
    def outs(self):
        return [p for p in self.visible if p.direction in ('out', 'inout')]

    @property
    def async_callback(self):
        for p in self.ins:
            if p.gtype == 'Gio.AsyncReadyCallback':
                return p
        return None

    def results(self):
        """(name, type) of each value GJS returns, in order."""
        values = []
        if self.ret_type != 'void' and not self.ret_skip:
            rtype = self.ret_type + (' | null' if self.ret_nullable else '')
            values.append(('ok' if self.ret_type == 'boolean' else 'result', rtype))
        for p in self.outs:
            nullable = p.nullable and p.type not in ('number', 'boolean')
            values.append((js_name(p.name), p.type + (' | null' if nullable else '')))
        return values

    def result_text(self):
        values = self.results()
        if not values:
            return 'void'
        if len(values) == 1:
            return values[0][1]
        return '[' + ', '.join(f'{n}: {t}' for n, t in values) + ']'

    def binding(self, prefix=''):
        """`const x = `, `const [a, b] = ` or nothing."""
        values = self.results()
        if not values:
            return prefix
        if len(values) == 1:
            return f'const {values[0][0]} = {prefix}'
        return 'const [' + ', '.join(n for n, _ in values) + f'] = {prefix}'

    def signature(self, params):
        return ', '.join(
            f'{js_name(p.name)}: {p.type}' + (' | null' if p.nullable else '')
            for p in params)

    @staticmethod
    def example_args(params):
        # A cancellable is nearly always null; other nullable arguments
        # keep their names (the signature line says they take null).
        return ', '.join('null' if p.nullable and p.gtype == 'Gio.Cancellable'
                         else js_name(p.name) for p in params)


def c_link(ns, cls, fn):
    if fn.kind == 'method':
        return f'[method@{ns}.{cls}.{fn.name}]'
    if fn.kind == 'constructor':
        return f'[ctor@{ns}.{cls}.{fn.name}]'
    if cls is None:
        return f'[func@{ns}.{fn.name}]'
    return f'[func@{ns}.{cls}.{fn.name}]'


def callable_entry(ns, cls, fn, finish, target):
    """Markdown lines for one function (its finish function folded in)."""
    out = [f'#### `{fn.name}`', '']
    ins = fn.ins
    cb = fn.async_callback
    code = []
    if cb is not None:
        args = [p for p in ins if p is not cb]
        code.append(f'// {fn.name}({fn.signature(args)})')
        if finish is not None:
            holder = f'{ns}.{cls}.prototype' if fn.kind == 'method' else f'{ns}.{cls}'
            code.append(f"Gio._promisify({holder}, '{fn.name}', '{finish.name}');")
            code.append(finish.binding('await ') + f'{target}.{fn.name}({fn.example_args(args)});')
            code.append(f'// resolves with {finish.result_text()}')
            cb_args = fn.example_args(args)
            cb_args = (cb_args + ', ' if cb_args else '')
            code.append('// or, without promises:')
            code.append(f'{target}.{fn.name}({cb_args}(source, res) => {{')
            code.append(f'    {finish.binding()}source.{finish.name}(res);')
            code.append('});')
        else:
            code.append(f'{target}.{fn.name}({fn.example_args(args)}, (source, res) => {{ … }});')
    else:
        code.append(f'// {fn.name}({fn.signature(ins)}): {fn.result_text()}')
        code.append(fn.binding() + f'{target}.{fn.name}({fn.example_args(ins)});')
    out += ['```js'] + code + ['```', '']
    notes = []
    summary = first_paragraph(fn.elem)
    if summary:
        notes.append(summary)
    throws = fn.throws or (finish is not None and finish.throws)
    if throws:
        if cb is not None and finish is not None:
            notes.append('Failures reject the promise (or are thrown by '
                         f'`{finish.name}`) as a `GLib.Error`.')
        else:
            notes.append('Failures are thrown as a `GLib.Error`.')
    if fn.deprecated:
        notes.append('Deprecated.')
    link = c_link(ns, cls, fn)
    notes.append(f'C: {link}.')
    out += [' '.join(notes), '']
    return out


def class_section(ns, cls_elem):
    name = cls_elem.get('name')
    target = INSTANCE_NAMES.get(name, name[0].lower() + name[1:])
    out = [f'## {ns}.{name}', '']
    summary = first_paragraph(cls_elem)
    if summary:
        out += [summary, '']
    out += [f'C reference: [class@{ns}.{name}]. Below, `{target}` is a '
            f'`{ns}.{name}`.', '']

    ctors = [Callable(ns, e, 'constructor') for e in cls_elem.findall(CORE + 'constructor')]
    funcs = [Callable(ns, e, 'function') for e in cls_elem.findall(CORE + 'function')]
    methods = [Callable(ns, e, 'method') for e in cls_elem.findall(CORE + 'method')]
    by_name = {f.name: f for f in ctors + funcs + methods}

    def finish_of(fn):
        finish_name = fn.elem.get(GLIB + 'finish-func')
        if finish_name is None:
            base = fn.name[:-len('_async')] if fn.name.endswith('_async') else fn.name
            finish_name = base + '_finish'
        return by_name.get(finish_name)

    finishes = set()
    for fn in ctors + funcs + methods:
        if fn.async_callback is not None:
            f = finish_of(fn)
            if f is not None:
                finishes.add(f.name)

    props = cls_elem.findall(CORE + 'property')
    construct = [p for p in props if p.get('writable') == '1']
    if ctors or construct:
        out += ['### Constructors', '']
        if construct:
            first = construct[0]
            out += ['Any writable property can be set at construction, '
                    'with its name as in JavaScript:', '',
                    '```js',
                    f"const {target} = new {ns}.{name}({{{first.get('name').replace('-', '_')}: …}});",
                    '```', '']
        for fn in ctors:
            if fn.name in finishes:
                continue
            out += callable_entry(ns, name, fn, finish_of(fn) if fn.async_callback else None,
                                  f'{ns}.{name}')

    if funcs:
        out += ['### Static functions', '']
        for fn in funcs:
            if fn.name in finishes:
                continue
            out += callable_entry(ns, name, fn, finish_of(fn) if fn.async_callback else None,
                                  f'{ns}.{name}')

    if methods:
        out += ['### Methods', '']
        for fn in methods:
            if fn.name in finishes:
                continue
            out += callable_entry(ns, name, fn, finish_of(fn) if fn.async_callback else None,
                                  target)

    if props:
        out += ['### Properties', '',
                f'Read and written as fields: `{target}.qmp_timeout` and '
                f'`{target}.qmpTimeout` both name `qmp-timeout`.'
                if name == 'Machine' else
                'Read and written as fields, with `-` as `_` (or in camelCase).',
                '',
                '| Property | Type | Access | C |',
                '| --- | --- | --- | --- |']
        for p in props:
            pname = p.get('name')
            access = []
            if p.get('readable', '1') == '1':
                access.append('read')
            if p.get('writable') == '1':
                access.append('write')
            if p.get('construct-only') == '1':
                access.append('construct-only')
            out.append(f"| `{target}.{pname.replace('-', '_')}` | `{js_type(ns, p)}` | "
                       f"{', '.join(access)} | [property@{ns}.{name}:{pname}] |")
        out.append('')

    signals = cls_elem.findall(GLIB + 'signal')
    if signals:
        out += ['### Signals', '']
        for s in signals:
            sname = s.get('name')
            params = s.find(CORE + 'parameters')
            plist = [] if params is None else params.findall(CORE + 'parameter')
            args = [target] + [js_name(p.get('name').replace('-', '_')) for p in plist]
            types = ', '.join(f"{js_name(p.get('name').replace('-', '_'))}: {js_type(ns, p)}"
                              for p in plist)
            ret = s.find(CORE + 'return-value')
            rtype = js_type(ns, ret) if ret is not None else 'void'
            detail = '::DETAIL' if s.get('detailed') == '1' else ''
            example = sname
            if s.get('detailed') == '1' and sname == 'event':
                example = 'event::STOP'
            out += [f'#### `{sname}`', '', '```js',
                    f"// handler({target}{', ' + types if types else ''}): {rtype}",
                    f"const id = {target}.connect('{example}', ({', '.join(args)}) => {{ … }});",
                    f'{target}.disconnect(id);',
                    '```', '']
            notes = []
            summary = first_paragraph(s)
            if summary:
                notes.append(summary)
            if detail:
                notes.append(f"Detailed: `'{sname}::NAME'` connects to one name, "
                             f"`'{sname}'` to all.")
            notes.append(f'C: [signal@{ns}.{name}::{sname}].')
            out += [' '.join(notes), '']
    return out


INTRO = '''\
Title: JavaScript (GJS) reference
SPDX-License-Identifier: LGPL-2.1-or-later

# JavaScript (GJS) reference

This page is generated from the GIR (`{ns}-{version}.gir`) by
`build-aux/gen-gjs-reference.py`: every class, method, property and signal
of the namespace, written as a GJS program calls it. Each entry links to
the C function it calls, where the full description is.

## How the C API looks from GJS

```js
import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Json from 'gi://Json';
import {ns} from 'gi://{ns}?version={version}';
```

**Every argument is passed.** GJS wants all of a function's in-arguments,
in the C order: `vm.launch()` fails with *At least 1 argument required*
and `vm.cmd('query-status')` with *At least 3 arguments required*. Pass
`null` for a nullable argument you do not use (a `Gio.Cancellable`, QMP
arguments, a match), as in `vm.launch(null)` and
`vm.cmd('query-status', null, null)`. Timeouts are milliseconds, as in C;
`-1` waits forever.

**Out-arguments are returned.** A C function's out-arguments come back as
return values: with more than one value the call returns an array, the C
return value first, so `const [ended, code] = vm.get_exit_code()`. The
`GError **` argument is not passed either: a failure is thrown as a
`GLib.Error` (`try`/`catch`, with `error.matches({ns}.machine_error_quark(),
{ns}.MachineError.NOT_LAUNCHED)` or `error.message`).

**Async calls as promises.** Each `_async` method takes the same arguments
as its blocking twin and a callback; once `Gio._promisify` has wrapped it,
calling it without the callback returns a promise that resolves with what
the `_finish` function returns (and rejects with its error):

```js
Gio._promisify({ns}.Machine.prototype, 'launch_async', 'launch_finish');
Gio._promisify({ns}.Machine.prototype, 'cmd_async', 'cmd_finish');
await vm.launch_async(null);
const status = await vm.cmd_async('query-status', null, null);
```

The blocking forms (`vm.launch(null)`, `vm.cmd(…)`) run the same
operation to its end on a private main context; see
[Threads and main contexts](threading.html).

**QMP arguments are a `Json.Object`; results are `Json.Node`s.** Build the
arguments from a JSON text, or member by member:

```js
const args = Json.from_string('{{"device": "ide0", "force": true}}').get_object();
vm.cmd('eject', args, null);

const hmp = new Json.Object();
hmp.set_string_member('command-line', 'info version');
const text = vm.cmd('human-monitor-command', hmp, null).get_string();
```

A result is read with json-glib's accessors, or turned into a plain
JavaScript value through its JSON text:

```js
const node = vm.cmd('query-status', null, null);
const running = node.get_object().get_boolean_member('running');
const status = JSON.parse(Json.to_string(node, false));   // {{status: 'running', …}}
```

Events (from `event_wait`, `get_event` and the `event` signal) are
`Json.Object`s: `event.get_string_member('event')`,
`event.get_object_member('data')`.

**Signals** are connected with `connect`; a detailed signal takes its
detail after `::`:

```js
const id = vm.connect('event::STOP', (vm, name, event) => {{
    print(`${{name}} at ${{event.get_object_member('timestamp').get_int_member('seconds')}}`);
}});
vm.connect('exited', (vm, exitCode) => print(`QEMU exited with ${{exitCode}}`));
```

**Properties** are fields: `vm.qmp_timeout = 5000`, with `-` written `_`
(or in camelCase: `vm.qmpTimeout`).

[Getting started in JavaScript](getting-started-gjs.html) has a complete
program.
'''


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('gir')
    parser.add_argument('output')
    opts = parser.parse_args()

    root = ET.parse(opts.gir).getroot()
    namespace = root.find(CORE + 'namespace')
    ns = namespace.get('name')
    version = namespace.get('version')

    out = [INTRO.format(ns=ns, version=version)]
    lines = []
    classes = namespace.findall(CORE + 'class')
    if not classes:
        sys.exit(f'{opts.gir}: no class in namespace {ns}')
    lines += ['## Contents', '']
    for c in classes:
        lines.append(f"- [{ns}.{c.get('name')}](#{ns.lower()}{c.get('name').lower()})")
    lines += ['- [Functions](#functions)', '- [Enumerations and flags](#enumerations-and-flags)',
              '- [Constants](#constants)', '']
    for c in classes:
        lines += class_section(ns, c)

    # The quark functions are documented with their error domains (C has
    # no page of their own for them): link there instead.
    C_ID = '{http://www.gtk.org/introspection/c/1.0}identifier'
    quark_domains = {}
    for e in namespace.findall(CORE + 'enumeration'):
        for f in e.findall(CORE + 'function'):
            quark_domains[f.get(C_ID)] = e.get('name')
    lines += ['## Functions', '']
    for e in namespace.findall(CORE + 'function'):
        fn = Callable(ns, e, 'function')
        entry = callable_entry(ns, None, fn, None, ns)
        domain = quark_domains.get(e.get(C_ID))
        if domain is not None:
            entry[-2] = entry[-2].replace(f'[func@{ns}.{fn.name}]',
                                          f'the error domain [error@{ns}.{domain}]')
        lines += entry

    lines += ['## Enumerations and flags', '']
    for e in namespace.findall(CORE + 'enumeration') + namespace.findall(CORE + 'bitfield'):
        ename = e.get('name')
        kind = 'flags' if e.tag == CORE + 'bitfield' else 'enum'
        lines += [f'#### `{ns}.{ename}`', '']
        members = ', '.join(f"`{ns}.{ename}.{m.get('name').upper()}`"
                            for m in e.findall(CORE + 'member'))
        lines += [members + '.', '']
        link = f'[flags@{ns}.{ename}]' if kind == 'flags' else \
            (f'[error@{ns}.{ename}]' if e.get(GLIB + 'error-domain') else f'[enum@{ns}.{ename}]')
        if kind == 'flags':
            lines += ['Combine flags with `|`.', '']
        lines += [f'C: {link}.', '']

    lines += ['## Constants', '', '| Constant | Value |', '| --- | --- |']
    for e in namespace.findall(CORE + 'constant'):
        lines.append(f"| `{ns}.{e.get('name')}` | `{e.get('value')}` |")
    lines.append('')

    text = '\n'.join(out + lines)
    text = re.sub(r'\n{3,}', '\n\n', text)
    with open(opts.output, 'w', encoding='utf-8') as f:
        f.write(text)


if __name__ == '__main__':
    main()
