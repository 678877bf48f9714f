# test_stubs.py - the typing stubs match the runtime classes
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""``qmachine/QMachine.pyi`` and ``qmachine/__init__.pyi`` describe the
override for type checkers and editors.  These tests read the stubs with
``ast`` and compare them with the runtime: each stubbed method exists, with
the parameter names, kinds and defaults of the override's Python method (or
the argument names of the introspected function it is); each method and
property the override defines in Python is stubbed; the exception classes
and exports agree.  With mypy installed, a sample program is checked too."""

import ast
import inspect
import os
import subprocess
import sys

import pytest

from gi.repository import GLib, QMachine

import qmachine

from conftest import PYTHON_SRCDIR

PACKAGE = os.path.join(PYTHON_SRCDIR, 'qmachine')
OVERRIDE = sys.modules['gi.overrides.QMachine']
CLASSES = ['Machine', 'Console', 'GuestAgent', 'QmpClient', 'ExecResult']
HERE = os.path.dirname(os.path.abspath(__file__))


def parse(name):
    with open(os.path.join(PACKAGE, name), encoding='utf-8') as f:
        return ast.parse(f.read())


STUB = parse('QMachine.pyi')
STUB_CLASSES = {node.name: node for node in STUB.body
                if isinstance(node, ast.ClassDef)}
STUB_FUNCTIONS = {node.name: node for node in STUB.body
                  if isinstance(node, ast.FunctionDef)}


def decorators(node):
    return {d.id if isinstance(d, ast.Name) else ast.unparse(d)
            for d in node.decorator_list}


def stub_members(cls_node):
    """name -> FunctionDef (the getter for properties)."""
    members = {}
    for node in cls_node.body:
        if isinstance(node, ast.FunctionDef) and node.name not in members:
            members[node.name] = node
    return members


def stub_parameters(node, skip_first):
    """[(name, kind, default)] of a stub function; default is
    inspect.Parameter.empty, or ... for "some default"."""
    args = node.args
    out = []
    positional = args.posonlyargs + args.args
    defaults = [inspect.Parameter.empty] * (len(positional) - len(args.defaults))
    defaults += [ast.literal_eval(d) if not (isinstance(d, ast.Constant) and d.value is Ellipsis)
                 else ... for d in args.defaults]
    for i, (arg, default) in enumerate(zip(positional, defaults)):
        kind = (inspect.Parameter.POSITIONAL_ONLY if i < len(args.posonlyargs)
                else inspect.Parameter.POSITIONAL_OR_KEYWORD)
        out.append((arg.arg, kind, default))
    if args.vararg:
        out.append((args.vararg.arg, inspect.Parameter.VAR_POSITIONAL,
                    inspect.Parameter.empty))
    for arg, default in zip(args.kwonlyargs, args.kw_defaults):
        out.append((arg.arg, inspect.Parameter.KEYWORD_ONLY,
                    inspect.Parameter.empty if default is None else ast.literal_eval(default)))
    if args.kwarg:
        out.append((args.kwarg.arg, inspect.Parameter.VAR_KEYWORD,
                    inspect.Parameter.empty))
    return out[1:] if skip_first else out


def runtime_parameters(func, skip_first):
    params = list(inspect.signature(func).parameters.values())
    out = [(p.name, p.kind, p.default) for p in params]
    return out[1:] if skip_first else out


def gi_argument_names(info):
    return [a.get_name() for a in info.get_arguments()
            if int(a.get_direction()) != 1]  # GI_DIRECTION_OUT


def compare(where, node, runtime, skip_first):
    """Checks one stubbed function against its runtime object."""
    expected = stub_parameters(node, skip_first)
    func = runtime
    if isinstance(func, (staticmethod, classmethod)):
        func = func.__func__
    info = getattr(func, '__gi_function__', None)
    if info is None and type(func).__name__ == 'FunctionInfo':
        info = func
    if info is not None:
        # Introspected (possibly wrapped to convert errors): the names of
        # its in-arguments, all positional.
        names = [name for name, _, _ in expected]
        assert names == gi_argument_names(info), where
        return
    assert inspect.isfunction(func), (where, func)
    actual = runtime_parameters(func, skip_first)
    assert [(n, k) for n, k, _ in actual] == [(n, k) for n, k, _ in expected], where
    for (name, _, default), (_, _, stub_default) in zip(actual, expected):
        if stub_default is ...:
            assert default is not inspect.Parameter.empty, f'{where}: {name}'
        else:
            assert default == stub_default, f'{where}: {name}'
            assert type(default) is type(stub_default), f'{where}: {name}'


@pytest.mark.parametrize('class_name', CLASSES)
def test_stubbed_methods_match_the_runtime(class_name):
    cls = getattr(QMachine, class_name)
    for name, node in stub_members(STUB_CLASSES[class_name]).items():
        if name == '__getattr__':
            continue
        where = f'{class_name}.{name}'
        runtime = None
        for klass in cls.__mro__:
            if name in klass.__dict__:
                runtime = klass.__dict__[name]
                break
        if runtime is None:
            runtime = getattr(cls, name, None)
        assert runtime is not None, f'{where} is stubbed but does not exist'
        if 'property' in decorators(node):
            assert isinstance(runtime, property), where
            continue
        static = isinstance(runtime, staticmethod) or 'staticmethod' in decorators(node)
        if 'classmethod' in decorators(node):
            compare(where, node, getattr(cls, name), skip_first=True)
        else:
            compare(where, node, runtime, skip_first=not static)


@pytest.mark.parametrize('class_name', CLASSES)
def test_every_python_method_is_stubbed(class_name):
    cls = getattr(QMachine, class_name)
    stubbed = stub_members(STUB_CLASSES[class_name])
    for name, value in vars(cls).items():
        if name.startswith('_') and name not in ('__init__', '__new__'):
            continue
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if hasattr(value, '__gi_function__'):
            continue    # an introspected method, wrapped: optional
        if inspect.isfunction(value) or isinstance(value, property):
            assert name in stubbed, f'{class_name}.{name} has no stub'


def test_module_functions():
    for name, node in STUB_FUNCTIONS.items():
        runtime = getattr(QMachine, name)
        if type(runtime).__name__ == 'FunctionInfo':
            assert [n for n, _, _ in stub_parameters(node, False)] == \
                gi_argument_names(runtime), name
        else:
            compare(name, node, runtime, skip_first=False)


def test_everything_exported_is_stubbed():
    stubbed = set(STUB_CLASSES) | set(STUB_FUNCTIONS)
    stubbed |= {t.id for node in STUB.body if isinstance(node, ast.AnnAssign)
                for t in [node.target]}
    for name in OVERRIDE.__all__:
        assert name in stubbed, name


def test_exception_classes():
    for name in qmachine._ERRORS:
        node = STUB_CLASSES[name]
        runtime = getattr(QMachine, name)
        bases = [ast.unparse(b) for b in node.bases]
        assert bases == [('GLib.Error' if b is GLib.Error else b.__name__)
                         for b in runtime.__bases__], name
    command = stub_members(STUB_CLASSES['CommandError'])
    assert {'qmp_class', 'desc'} <= set(command)
    launch = {t.target.id for t in STUB_CLASSES['LaunchError'].body
              if isinstance(t, ast.AnnAssign)}
    assert launch == {'exit_code', 'full_args', 'log'}
    for attribute in launch:
        assert hasattr(qmachine.LaunchError, attribute)


def test_package_stub_exports():
    stub = parse('__init__.pyi')
    names = set()
    for node in stub.body:
        if isinstance(node, ast.ImportFrom):
            names |= {alias.asname or alias.name for alias in node.names}
    assert set(qmachine.__all__) <= names
    assert os.path.isfile(os.path.join(PACKAGE, 'py.typed'))


def _mypy():
    try:
        import mypy  # noqa: F401
    except ImportError:
        pytest.skip('mypy is not installed (python3-mypy)')


def run_mypy(*args):
    return subprocess.run(
        [sys.executable, '-m', 'mypy', '--ignore-missing-imports',
         '--no-incremental', '--cache-dir', os.devnull,
         '--show-error-codes', '--no-error-summary', *args],
        env=dict(os.environ, MYPYPATH=PYTHON_SRCDIR), cwd=PYTHON_SRCDIR,
        capture_output=True, text=True, timeout=300, check=False)


def test_mypy_accepts_the_package():
    # compat.py (annotated) against the stubs of the override.
    _mypy()
    proc = run_mypy('-p', 'qmachine')
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_checks_a_sample_against_the_stubs():
    _mypy()
    proc = run_mypy(os.path.join(HERE, 'stubs_sample.py'))
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    # The sample's two deliberate mistakes, and nothing else.
    with open(os.path.join(HERE, 'stubs_sample.py'), encoding='utf-8') as f:
        marked = [i + 1 for i, line in enumerate(f) if '# E:' in line]
    flagged = sorted({int(line.split(':')[1]) for line in lines
                      if 'stubs_sample.py' in line})
    assert flagged == marked, proc.stdout + proc.stderr
    assert all('stubs_sample.py' in line for line in lines), proc.stdout
