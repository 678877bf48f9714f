# test_errors.py - the library's errors as Python exception classes
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""Every error the override raises is a ``GLib.Error`` subclass chosen by
domain and code (``qmachine.LaunchError``, ``qmachine.CommandError``,
``qmachine.Timeout``...), from the blocking methods, from the introspected
``*_finish`` and other failing methods, and from ``QmpClient``; most
mappings are checked against a real QEMU (``-machine none``)."""

import os
import subprocess
import sys
import textwrap
import threading

import pytest

from gi.repository import GLib, Gio, QMachine

import qmachine

from conftest import FAST_ARGS, PYTHON_SRCDIR

MACHINE_ERROR = QMachine.machine_error_quark()
QMP_ERROR = QMachine.qmp_error_quark()
IO_ERROR = Gio.io_error_quark()

ALL = ['Error', 'AlreadyLaunchedError', 'NotLaunchedError', 'LaunchError',
       'AbnormalShutdownError', 'NoConnectionError', 'AddDeviceError',
       'ProtocolError', 'CommandError', 'Timeout', 'Cancelled']


def check(err, cls, domain, code):
    """*err* is exactly *cls*, and still the GLib.Error it was."""
    assert type(err) is cls, (type(err), err)
    assert isinstance(err, qmachine.Error)
    assert isinstance(err, GLib.Error)
    assert err.matches(domain, code), (err.domain, err.code, err.message)
    assert err.domain == GLib.quark_to_string(domain)
    assert err.code == int(code)
    return err


# --------------------------------------------------------------------------
# The classes


def test_classes_are_exported_from_both_places():
    for name in ALL:
        cls = getattr(qmachine, name)
        assert cls is getattr(QMachine, name)
        assert issubclass(cls, GLib.Error)
        assert issubclass(cls, qmachine.Error)
        assert cls.__module__ == 'qmachine'
        assert name in qmachine.__all__
    assert issubclass(qmachine.Timeout, TimeoutError)
    assert issubclass(qmachine.Timeout, OSError)


@pytest.mark.parametrize('code, name', [
    ('FAILED', 'Error'),
    ('ALREADY_LAUNCHED', 'AlreadyLaunchedError'),
    ('NOT_LAUNCHED', 'NotLaunchedError'),
    ('LAUNCH_FAILED', 'LaunchError'),
    ('ABNORMAL_SHUTDOWN', 'AbnormalShutdownError'),
    ('NO_CONNECTION', 'NoConnectionError'),
    ('ADD_DEVICE', 'AddDeviceError'),
    ('PROTOCOL', 'ProtocolError'),
])
def test_machine_error_codes(code, name):
    value = getattr(QMachine.MachineError, code)
    cls = QMachine.error_class(MACHINE_ERROR, value)
    assert cls is getattr(qmachine, name)
    assert QMachine.error_class('q-machine-error-quark', value) is cls


def test_every_machine_error_code_is_mapped():
    mapped = {QMachine.error_class(MACHINE_ERROR, int(v))
              for v in QMachine.MachineError.__enum_values__.values()}
    assert len(mapped) == len(QMachine.MachineError.__enum_values__)


def test_other_domains_and_codes():
    assert QMachine.error_class(IO_ERROR, Gio.IOErrorEnum.TIMED_OUT) is qmachine.Timeout
    assert QMachine.error_class(IO_ERROR, Gio.IOErrorEnum.CANCELLED) is qmachine.Cancelled
    assert QMachine.error_class(IO_ERROR, Gio.IOErrorEnum.CLOSED) is qmachine.Error
    assert QMachine.error_class(GLib.file_error_quark(), 4) is qmachine.Error
    for value in QMachine.QmpError.__enum_values__.values():
        assert QMachine.error_class(QMP_ERROR, value) is qmachine.CommandError


@pytest.mark.parametrize('code, message, qmp_class, desc', [
    ('GENERIC_ERROR', 'bad', 'GenericError', 'bad'),
    ('COMMAND_NOT_FOUND', 'no such', 'CommandNotFound', 'no such'),
    ('DEVICE_NOT_ACTIVE', 'x', 'DeviceNotActive', 'x'),
    ('DEVICE_NOT_FOUND', 'x', 'DeviceNotFound', 'x'),
    ('KVM_MISSING_CAP', 'x', 'KVMMissingCap', 'x'),
    ('UNKNOWN_CLASS', '[NewClass] what QEMU said', 'NewClass', 'what QEMU said'),
])
def test_command_error_attributes(code, message, qmp_class, desc):
    err = qmachine.CommandError(message, 'q-qmp-error-quark',
                                int(getattr(QMachine.QmpError, code)))
    assert (err.qmp_class, err.desc) == (qmp_class, desc)
    assert err.message == message


def test_repr_str_and_copy():
    err = qmachine.Timeout('late', 'g-io-error-quark', 24)
    assert repr(err) == "qmachine.Timeout('late', 'g-io-error-quark', 24)"
    assert str(err) == 'g-io-error-quark: late (24)'
    copy = err.copy()
    assert type(copy) is qmachine.Timeout and copy.message == 'late'


def test_plain_glib_errors_are_converted_once():
    plain = GLib.Error('gone', 'g-io-error-quark', int(Gio.IOErrorEnum.CANCELLED))
    convert = sys.modules['gi.overrides.QMachine']._convert
    err = convert(plain)
    check(err, qmachine.Cancelled, IO_ERROR, Gio.IOErrorEnum.CANCELLED)
    assert convert(err) is err


# --------------------------------------------------------------------------
# Against QEMU


def test_launch_error(machine):
    machine.add_args('-no-such-option')
    with pytest.raises(qmachine.LaunchError) as excinfo:
        machine.launch()
    err = check(excinfo.value, qmachine.LaunchError, MACHINE_ERROR,
                QMachine.MachineError.LAUNCH_FAILED)
    assert err.exit_code == 1 == machine.exit_code
    assert '-no-such-option' in err.full_args
    assert err.full_args == machine.get_full_args()
    assert 'invalid option' in err.log
    assert 'invalid option' in err.message


def test_already_and_not_launched(machine):
    with pytest.raises(qmachine.NotLaunchedError) as excinfo:
        machine.cmd('query-status')
    check(excinfo.value, qmachine.NotLaunchedError, MACHINE_ERROR,
          QMachine.MachineError.NOT_LAUNCHED)
    machine.launch()
    with pytest.raises(qmachine.AlreadyLaunchedError):
        machine.launch()
    machine.shutdown()


def test_command_error(machine):
    machine.launch()
    with pytest.raises(qmachine.CommandError) as excinfo:
        machine.cmd('no-such-command')
    err = check(excinfo.value, qmachine.CommandError, QMP_ERROR,
                QMachine.QmpError.COMMAND_NOT_FOUND)
    assert err.qmp_class == 'CommandNotFound'
    assert err.desc == 'The command no-such-command has not been found'
    with pytest.raises(qmachine.CommandError) as excinfo:
        machine.cmd('stop', bogus=1)
    assert excinfo.value.qmp_class == 'GenericError'
    # The same from the introspected QmpClient.
    client = machine.get_qmp_client()
    with pytest.raises(qmachine.CommandError) as excinfo:
        client.execute('no-such-command', None, QMachine.QmpExecuteFlags.NONE,
                       None, None)
    assert excinfo.value.qmp_class == 'CommandNotFound'
    machine.shutdown()


def test_timeout(machine):
    machine.launch()
    with pytest.raises(TimeoutError) as excinfo:
        machine.event_wait('STOP', timeout=0.05)
    err = check(excinfo.value, qmachine.Timeout, IO_ERROR, Gio.IOErrorEnum.TIMED_OUT)
    assert isinstance(err, OSError)
    with pytest.raises(qmachine.Timeout):
        machine.events_wait(['STOP', ('RESUME', None)], timeout=0)
    machine.shutdown()


def test_launch_timeout_is_a_timeout(machine):
    machine.set_wrapper(['sh', '-c', 'exec sleep 600', 'sh'])
    machine.set_qmp_timeout(300)
    with pytest.raises(qmachine.Timeout):
        machine.launch()


@pytest.mark.parametrize('when', ['before', 'during'])
def test_cancelled(machine, when):
    machine.launch()
    cancellable = Gio.Cancellable()
    if when == 'before':
        cancellable.cancel()
    else:
        threading.Timer(0.2, cancellable.cancel).start()
    with pytest.raises(qmachine.Cancelled) as excinfo:
        machine.event_wait('STOP', timeout=30, cancellable=cancellable)
    check(excinfo.value, qmachine.Cancelled, IO_ERROR, Gio.IOErrorEnum.CANCELLED)
    assert machine.is_running()
    machine.shutdown()


def test_abnormal_shutdown(machine):
    machine.launch()
    with pytest.raises(qmachine.AbnormalShutdownError):
        machine.wait(timeout=0.2)
    assert machine.exit_code == -9


def test_no_connection(machine):
    machine.set_qmp_monitor(False)
    machine.launch()
    with pytest.raises(qmachine.NoConnectionError):
        machine.cmd('query-status')
    machine.shutdown()


def test_introspected_methods_raise_the_classes(machine, loop_runner):
    # add_fd is not overridden: the wrapper converts its GLib.Error.
    with pytest.raises(qmachine.AddDeviceError):
        machine.add_fd(1, 1, 'stdout', None)
    # Nor is cmd_finish, used from a main loop.
    context = GLib.MainContext.new()
    context.push_thread_default()
    try:
        runner = loop_runner(context)
        errors = []

        @runner.checked
        def done(vm, result):
            try:
                vm.cmd_finish(result)
            except GLib.Error as err:
                errors.append(err)
            runner.done()

        vm = QMachine.Machine(machine.get_binary())
        vm.set_base_temp_dir(machine.get_base_temp_dir())
        vm.add_args(*FAST_ARGS)
        vm.launch()
        vm.cmd_async('no-such-command', None, None, done)
        runner.run()
        vm.shutdown()
    finally:
        context.pop_thread_default()
    assert len(errors) == 1
    assert type(errors[0]) is qmachine.CommandError
    assert errors[0].qmp_class == 'CommandNotFound'


# --------------------------------------------------------------------------
# A silent import


def _env(**extra):
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [PYTHON_SRCDIR] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
    env.pop('PYTHONWARNINGS', None)
    env.update(extra)
    return env


@pytest.mark.parametrize('how', [
    ['-W', 'default'],
    ['-W', 'error::ImportWarning'],
    ['-W', 'always::ImportWarning'],
    'PYTHONWARNINGS=default',
])
@pytest.mark.parametrize('module', ['qmachine', 'qmachine.compat'])
def test_import_is_silent(how, module, tmp_path):
    if isinstance(how, str):
        name, value = how.split('=')
        args, env = [], _env(**{name: value})
    else:
        args, env = how, _env()
    proc = subprocess.run([sys.executable, *args, '-c', f'import {module}'],
                          env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ''
    assert proc.stdout == ''


def test_only_that_warning_is_ignored(tmp_path):
    # Other ImportWarnings, and the filters of the program, are untouched.
    script = textwrap.dedent('''
        import warnings
        before = list(warnings.filters)
        import qmachine
        assert warnings.filters == before, (warnings.filters, before)
        warnings.warn('another', ImportWarning)
    ''')
    proc = subprocess.run([sys.executable, '-W', 'default', '-c', script],
                          env=_env(), cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert 'ImportWarning: another' in proc.stderr
    assert 'DynamicImporter' not in proc.stderr
