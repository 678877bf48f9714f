#!/usr/bin/env python3
# gen-python-reference.py OUTPUT.md: the Python reference page.
#
# Imports the `qmachine` package (which loads gi.repository.QMachine with
# its override) and writes a gi-docgen content page from what it finds:
# for each class of the namespace, the members the override defines (their
# signatures as Python sees them, seconds and dicts included, and their
# docstrings), then the introspected methods it leaves as they are, in
# PyGObject's notation with a link to the C function, then the signals;
# the exception classes; the module's functions; and qmachine.compat.
# Run it with a python3 that has PyGObject and with GI_TYPELIB_PATH,
# LD_LIBRARY_PATH and PYTHONPATH pointing at the typelib, the library and
# qmachine/python (docs/meson.build does so for the build tree).
#
# Copyright 2026 The qmachine authors
# SPDX-License-Identifier: LGPL-2.1-or-later

import inspect
import re
import sys
import warnings

NS = 'QMachine'

CLASSES = ['Machine', 'Console', 'GuestAgent', 'QmpClient', 'QtestClient']

INSTANCE_NAMES = {
    'Machine': 'vm',
    'Console': 'console',
    'GuestAgent': 'agent',
    'QmpClient': 'client',
    'QtestClient': 'qtest',
}


def md_doc(obj):
    """An object's docstring as gi-docgen markdown: reST's ``code`` and
    :role:`name` become code spans."""
    doc = inspect.getdoc(obj) if obj is not None else None
    if not doc:
        return ''
    doc = re.sub(r':(?:class|meth|func|attr|exc|data|mod):`~?([^`]+)`', r'`\1`', doc)
    doc = re.sub(r'``([^`]+)``', r'`\1`', doc)
    # A reST literal block ("::" then an indented block) as a code block.
    lines = []
    in_block = False
    for line in doc.split('\n'):
        if in_block:
            if line.strip() and not line.startswith(' '):
                lines.append('```')
                in_block = False
            else:
                lines.append(line[4:] if line.startswith('    ') else line)
                continue
        if line.rstrip().endswith('::'):
            lines.append(line.rstrip()[:-1])
            lines.append('')
            lines.append('```python')
            in_block = True
            continue
        lines.append(line)
    if in_block:
        lines.append('```')
    return '\n'.join(lines).strip()


def signature(func, drop_self=True):
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return '(...)'
    params = list(sig.parameters.values())
    if drop_self and params and params[0].name in ('self', 'cls'):
        params = params[1:]
    return str(sig.replace(parameters=params))


def gi_signature(info):
    """PyGObject's own description of an introspected function: its
    docstring is `name(self, arg:Type=None, ...) -> Ret`."""
    doc = (getattr(info, '__doc__', None) or '').strip().split('\n', 1)[0]
    if not doc:
        return None
    doc = re.sub(r'\(self, ', '(', doc)
    doc = re.sub(r'\(self\)', '()', doc)
    return doc


def c_link(cls_name, info):
    # PyGObject appends `_` to names that are Python keywords (`in_`); the
    # C reference has the GIR's name.
    name = info.get_name_unescaped()
    if info.is_constructor():
        return f'[ctor@{NS}.{cls_name}.{name}]'
    if info.is_method():
        return f'[method@{NS}.{cls_name}.{name}]'
    return f'[func@{NS}.{cls_name}.{name}]'


def type_name(type_info):
    tag = type_info.get_tag_as_string()
    if tag == 'interface':
        iface = type_info.get_interface()
        return f'{iface.get_namespace()}.{iface.get_name()}'
    return {'gboolean': 'bool', 'gint32': 'int', 'guint32': 'int',
            'gint64': 'int', 'guint64': 'int', 'gdouble': 'float',
            'utf8': 'str', 'filename': 'str', 'void': 'None'}.get(tag, tag)


def class_section(QMachine, name):
    cls = getattr(QMachine, name)
    overridden = cls.__module__ == 'gi.overrides.QMachine'
    base = cls.__mro__[1] if overridden else cls
    info = base.__info__
    var = INSTANCE_NAMES.get(name, name.lower())
    c_methods = {m.get_name(): m for m in info.get_methods()}

    out = [f'## {NS}.{name}', '']
    if overridden:
        doc = md_doc(cls)
        if doc:
            out += [doc, '']
        out += [f'C reference: [class@{NS}.{name}]. Below, `{var}` is a '
                f'`{NS}.{name}`.', '']
    else:
        out += [f'The override leaves `{NS}.{name}` as introspected: every '
                f'method is as in the C reference, [class@{NS}.{name}], '
                'called as PyGObject maps it (below). Below, '
                f'`{var}` is a `{NS}.{name}`.', '']

    own = []
    props = []
    wrapped = set()
    if overridden:
        for attr, value in cls.__dict__.items():
            if attr.startswith('_'):
                if attr == '__init__':
                    own.append((attr, value))
                continue
            func = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
            if hasattr(func, '__gi_function__'):
                wrapped.add(attr)
            elif isinstance(value, property):
                props.append((attr, value))
            elif callable(func):
                own.append((attr, value))

    if own:
        out += ['### Methods of the override', '',
                'Defined in Python by the override: these are the signatures '
                'to call (timeouts in seconds, `None` waiting forever; QMP '
                'values as `dict`/`list`/`str`/`int`/`float`/`bool`/`None`).',
                '']
        for attr, value in own:
            func = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
            if attr == '__init__':
                call = f'{NS}.{name}{signature(func)}'
                title = 'constructor'
            elif isinstance(value, (staticmethod, classmethod)):
                call = f'{NS}.{name}.{attr}{signature(func, drop_self=isinstance(value, classmethod))}'
                title = attr
            else:
                call = f'{var}.{attr}{signature(func)}'
                title = attr
            out += [f'#### `{title}`', '', '```python', call, '```', '']
            doc = md_doc(func)
            if doc:
                out += [doc, '']
            c_info = c_methods.get(attr)
            if c_info is not None:
                out += [f'Replaces the introspected call; C: {c_link(name, c_info)}.', '']

    if props:
        out += ['### Properties of the override', '']
        for attr, value in props:
            out += [f'#### `{attr}`', '', '```python', f'{var}.{attr}', '```', '']
            doc = md_doc(value)
            if doc:
                out += [doc, '']

    rest = [m for n, m in c_methods.items() if n not in dict(own)]
    if rest:
        out += ['### Introspected methods', '',
                'As in the C reference (follow the link for the description), '
                'called as PyGObject maps them: out-arguments are returned '
                '(a tuple when there are several values), a `GError` is '
                'raised, timeouts are milliseconds and JSON values are '
                '`Json` objects (`QMachine.to_python()` converts them).'
                + (' Those marked *raises* raise the `qmachine` exception '
                   'classes below.' if overridden else ''), '',
                '| Call | C |', '| --- | --- |']
        for m in rest:
            sig = gi_signature(getattr(base, m.get_name(), None)) or f'{m.get_name()}(...)'
            prefix = f'{NS}.{name}.' if not m.is_method() else f'{var}.'
            mark = ' *raises*' if m.get_name() in wrapped else ''
            sig = sig.replace('|', '\\|')
            out.append(f'| `{prefix}{sig}`{mark} | {c_link(name, m)} |')
        out.append('')

    signals = info.get_signals()
    if signals:
        out += ['### Signals', '']
        for s in signals:
            sname = s.get_name()
            args = [var] + [a.get_name() for a in s.get_arguments()]
            types = ', '.join(f'{a.get_name()}: {type_name(a.get_type())}'
                              for a in s.get_arguments())
            detail = f'{sname}::STOP' if sname == 'event' else sname
            out += [f'#### `{sname}`', '', '```python',
                    f'def handler({", ".join(args)}):  # {types or "no arguments"}',
                    '    ...',
                    f"handler_id = {var}.connect('{detail}', handler)",
                    '```', '',
                    f'C: [signal@{NS}.{name}::{sname}].', '']
        if name == 'Machine':
            out += ['`vm.connect_event(name, handler)` connects a handler that '
                    'receives the event as a `dict` instead.', '']
    return out


def function_section(QMachine, names):
    out = ['## Functions', '',
           'Functions the override adds to the namespace (`from qmachine '
           'import QMachine`, then `QMachine.to_python(...)`).', '']
    for fname in names:
        func = getattr(QMachine, fname)
        out += [f'#### `{fname}`', '', '```python',
                f'{NS}.{fname}{signature(func, drop_self=False)}', '```', '']
        doc = md_doc(func)
        if doc:
            out += [doc, '']
    return out


def exception_section(qmachine):
    out = ['## Exceptions', '',
           'The library\'s errors are raised as these classes, exported by '
           'the `qmachine` package (and by `gi.repository.QMachine`). All are '
           '`GLib.Error` subclasses: `except GLib.Error` and '
           '`err.matches(domain, code)` keep working.', '',
           '| Class | Bases |', '| --- | --- |']
    classes = [getattr(qmachine, n) for n in qmachine._ERRORS]
    for c in classes:
        bases = ', '.join('`GLib.Error`' if b is qmachine.GLib.Error else
                          f'`{b.__module__}.{b.__qualname__}`'.replace('`builtins.', '`')
                          for b in c.__bases__)
        out.append(f'| `qmachine.{c.__name__}` | {bases} |')
    out.append('')
    for c in classes:
        out += [f'#### `qmachine.{c.__name__}`', '']
        doc = md_doc(c) if c.__doc__ else ''
        if doc:
            out += [doc, '']
        for attr, value in c.__dict__.items():
            if isinstance(value, property) and not attr.startswith('_'):
                out += [f'- `{attr}`: ' + (md_doc(value) or ''), '']
    return out


def plain_class_section(title, cls, var):
    out = [f'### `{title}`', '']
    doc = md_doc(cls)
    if doc:
        out += [doc, '']
    init = cls.__dict__.get('__init__')
    if init is not None:
        out += ['```python', f'{title}{signature(init)}', '```', '']
    for attr, value in cls.__dict__.items():
        if attr.startswith('_') and attr not in ('__enter__', '__exit__'):
            continue
        if isinstance(value, property):
            out += [f'#### `{var}.{attr}`', '']
            doc = md_doc(value)
            if doc:
                out += [doc, '']
        elif isinstance(value, (staticmethod, classmethod)) or callable(value):
            func = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
            drop = not isinstance(value, staticmethod)
            out += [f'#### `{attr}`', '', '```python',
                    f'{var}.{attr}{signature(func, drop_self=drop)}', '```', '']
            doc = md_doc(func)
            if doc:
                out += [doc, '']
    return out


INTRO = '''\
Title: Python reference
SPDX-License-Identifier: LGPL-2.1-or-later

# Python reference

This page is generated by `build-aux/gen-python-reference.py`, which
imports the `qmachine` package from the build tree and lists what Python
code finds in `gi.repository.QMachine` with qmachine's override loaded:
the methods the override defines, with their signatures and docstrings;
the introspected methods it leaves alone, as PyGObject maps them, each
linked to its C page; the exception classes; and `qmachine.compat`.
The typing stubs (`qmachine/QMachine.pyi`, installed with the package)
describe the same API for type checkers.

```python
import qmachine                      # loads the override; the exception classes
from qmachine import QMachine        # the same module as gi.repository.QMachine

vm = QMachine.Machine('qemu-system-x86_64')
vm.add_args('-machine', 'none')
vm.launch()
print(vm.cmd('query-status'))        # {{'status': 'running', ...}}
vm.cmd('human-monitor-command', command_line='info version')
event = vm.event_wait('STOP', timeout=5.0)   # seconds
vm.shutdown()
```

The override reshapes the **blocking** methods: timeouts are seconds
(`float` or `int`, `None` waits forever, `0` only looks at what is already
queued); QMP arguments are a `dict` or keyword arguments (with `_` turned
into `-`, as `qemu.machine` does); results and events are plain Python
values; `Ctrl-C` interrupts a blocking call. The `*_async`/`*_finish`
methods keep the C signatures (milliseconds, `Json` results); their JSON
inputs also take Python values. The migration guide,
[Migrating from qemu.machine](migrating.html), maps `qemu.machine` onto
both layers.

## Contents

{contents}
'''


NO_PYGOBJECT = '''\
Title: Python reference
SPDX-License-Identifier: LGPL-2.1-or-later

# Python reference

This reference is generated from the Python override as Python imports
it, and this build found no python3 with PyGObject: install Debian's
`python3-gi` (or make a python3 that can `import gi` the first on `PATH`),
reconfigure and rebuild. Meanwhile the typing stubs,
`qmachine/python/qmachine/QMachine.pyi`, list the same API.
'''


def main():
    if len(sys.argv) == 3 and sys.argv[1] == '--no-pygobject':
        with open(sys.argv[2], 'w', encoding='utf-8') as f:
            f.write(NO_PYGOBJECT)
        return
    if len(sys.argv) != 2:
        sys.exit('usage: gen-python-reference.py [--no-pygobject] OUTPUT.md')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        import qmachine
        import qmachine.compat
        from qmachine import QMachine

    if not hasattr(QMachine, 'OVERRIDES_API'):
        sys.exit('gi.repository.QMachine was loaded without the override')

    body = []
    contents = []
    for name in CLASSES:
        if not hasattr(QMachine, name):
            continue
        contents.append(f'- [{NS}.{name}](#{NS.lower()}{name.lower()})')
        body += class_section(QMachine, name)

    body += ['## QMachine.ExecResult', '']
    contents.append(f'- [{NS}.ExecResult](#{NS.lower()}execresult)')
    body += plain_class_section(f'{NS}.ExecResult', QMachine.ExecResult, 'result')[2:]

    contents.append('- [Exceptions](#exceptions)')
    body += exception_section(qmachine)

    override = sys.modules['gi.overrides.QMachine']
    functions = [n for n in override.__all__
                 if inspect.isfunction(getattr(override, n, None))]
    contents.append('- [Functions](#functions)')
    body += function_section(QMachine, functions)

    compat = qmachine.compat
    contents.append('- [qmachine.compat](#qmachinecompat)')
    body += ['## qmachine.compat', '']
    doc = md_doc(compat)
    if doc:
        body += [doc.split('\n\n', 1)[0], '',
                 'The differences from `qemu.machine` are listed in '
                 '[Migrating from qemu.machine](migrating.html).', '']
    for cname in compat.__all__:
        obj = getattr(compat, cname)
        if not inspect.isclass(obj):
            continue
        var = 'vm' if cname == 'QEMUMachine' else cname[0].lower() + cname[1:]
        if issubclass(obj, BaseException):
            body += [f'### `qmachine.compat.{cname}`', '']
            doc = md_doc(obj) if obj.__doc__ else ''
            if doc:
                body += [doc, '']
            continue
        body += plain_class_section(f'qmachine.compat.{cname}', obj, var)

    methods = sum(1 for line in body if line.startswith('#### ') or line.startswith('| `'))
    if methods < 50:
        sys.exit(f'only {methods} entries found: the override did not load as expected')

    text = INTRO.format(contents='\n'.join(contents)) + '\n' + '\n'.join(body) + '\n'
    text = re.sub(r'\n{3,}', '\n\n', text)
    with open(sys.argv[1], 'w', encoding='utf-8') as f:
        f.write(text)


if __name__ == '__main__':
    main()
