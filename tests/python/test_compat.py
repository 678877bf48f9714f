# test_compat.py - qmachine.compat.QEMUMachine against qemu.machine's API
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""Every constructor argument, method, property and exception of
``qemu.machine.QEMUMachine``, exercised on ``qmachine.compat.QEMUMachine``
with a real QEMU (``-machine none``; the console tests that need a guest are
in test_console_guest.py)."""

import inspect
import os
import signal
import socket

import pytest

from gi.repository import GLib, Gio, QMachine

from qmachine.compat import (
    AbnormalShutdown,
    ExecuteError,
    QEMUMachine,
    QEMUMachineAddDeviceError,
    QEMUMachineError,
    QMPConnectionError,
    VMLaunchFailure,
)

from conftest import FAST_ARGS, PYTHON_SRCDIR


@pytest.fixture
def base(tmp_path):
    """base_temp_dir for one test; it must be empty again at the end."""
    path = tmp_path / 'base'
    path.mkdir()
    yield str(path)
    assert os.listdir(path) == [], 'the machine left files behind'


@pytest.fixture
def new_vm(qemu_binary, base):
    """Makes QEMUMachines (-machine none) and shuts them all down after."""
    made = []

    def make(*args, **kwargs):
        kwargs.setdefault('args', FAST_ARGS)
        kwargs.setdefault('base_temp_dir', base)
        vm = QEMUMachine(qemu_binary, *args, **kwargs)
        made.append(vm)
        return vm

    yield make
    for vm in made:
        vm.shutdown(hard=True)


# --------------------------------------------------------------------------
# The API surface


REFERENCE_SIGNATURES = {
    '__init__': '(self, binary, args=(), wrapper=(), name=None, '
                "base_temp_dir='/var/tmp', monitor_address=None, "
                'drain_console=False, console_log=None, log_dir=None, '
                'qmp_timer=30, sock_dir=None)',
    'add_monitor_null': '(self)',
    'add_fd': "(self, fd, fdset, opaque, opts='')",
    'send_fd_scm': '(self, fd=None, file_path=None)',
    'is_running': '(self)',
    'exitcode': '(self)',
    'get_pid': '(self)',
    'launch': '(self)',
    'shutdown': '(self, hard=False, timeout=30)',
    'kill': '(self)',
    'wait': '(self, timeout=30)',
    'set_qmp_monitor': '(self, enabled=True)',
    'qmp': '(self, cmd, args_dict=None, conv_keys=None, **args)',
    'cmd': '(self, cmd, args_dict=None, conv_keys=None, **args)',
    'command': '(self, cmd, conv_keys=True, **args)',  # QEMU 7.2's cmd
    'get_qmp_event': '(self, wait=False)',
    'get_qmp_events': '(self, wait=False)',
    'event_match': '(event, match)',
    'event_wait': '(self, name, timeout=60.0, match=None)',
    'events_wait': '(self, events, timeout=60.0)',
    'get_log': '(self)',
    'add_args': '(self, *args)',
    'set_machine': '(self, machine_type)',
    'set_console': '(self, device_type=None, console_index=0)',
}


@pytest.mark.parametrize('name', sorted(REFERENCE_SIGNATURES))
def test_signature_matches_the_reference(name):
    """Same parameter names, order and defaults as qemu.machine's."""
    if name == 'event_match':
        assert isinstance(inspect.getattr_static(QEMUMachine, name), staticmethod)
    sig = inspect.signature(getattr(QEMUMachine, name))
    plain = sig.replace(
        parameters=[p.replace(annotation=inspect.Parameter.empty)
                    for p in sig.parameters.values()],
        return_annotation=inspect.Signature.empty)
    assert str(plain) == REFERENCE_SIGNATURES[name]


@pytest.mark.parametrize('name', ['console_socket', 'console_file', 'temp_dir',
                                  'log_dir', 'args', 'binary', 'sock_dir'])
def test_properties_exist(name):
    assert isinstance(inspect.getattr_static(QEMUMachine, name), property)


def test_exception_hierarchy():
    for cls in (QEMUMachineAddDeviceError, VMLaunchFailure, AbnormalShutdown,
                ExecuteError, QMPConnectionError):
        assert issubclass(cls, QEMUMachineError)
    assert issubclass(QEMUMachineError, Exception)
    assert issubclass(QMPConnectionError, ConnectionError)
    failure = VMLaunchFailure(exitcode=None, command='qemu -x', output=None)
    assert (failure.exitcode, failure.command, failure.output) == (None, 'qemu -x', None)
    assert failure.args == (None, 'qemu -x', None)
    assert str(failure) == '\n\tCommand: qemu -x\n\tOutput: None\n'


# --------------------------------------------------------------------------
# The reference's own usage and a typical test


def test_docstring_usage(qemu_binary, base):
    with QEMUMachine(qemu_binary, base_temp_dir=base) as vm:
        vm.add_args('-machine', 'none', '-nodefaults')
        vm.launch()
        assert vm.is_running()
        pid = vm.get_pid()
        assert isinstance(pid, int) and pid > 0
    # vm is guaranteed to be shut down here
    assert not vm.is_running()
    assert vm.get_pid() is None
    assert vm.exitcode() == 0


def test_context_manager_shuts_down_on_exception(new_vm):
    with pytest.raises(RuntimeError, match='inside the block'):
        with new_vm() as vm:
            vm.launch()
            raise RuntimeError('inside the block')
    assert not vm.is_running()
    assert vm.exitcode() == 0


def test_iotests_style(new_vm):
    vm = new_vm()
    vm.launch()
    result = vm.qmp('query-status')
    assert list(result) == ['return']
    assert result['return']['status'] == 'running'
    assert vm.cmd('stop') == {}
    event = vm.event_wait('STOP')
    assert event['event'] == 'STOP'
    assert set(event['timestamp']) == {'seconds', 'microseconds'}
    assert vm.qmp('query-status')['return']['status'] == 'paused'
    assert vm.qmp('cont') == {'return': {}}
    vm.shutdown()
    assert vm.exitcode() == 0
    assert vm.get_log() == ''


# --------------------------------------------------------------------------
# Lifecycle


def test_state_before_during_after(new_vm):
    vm = new_vm()
    assert not vm.is_running()
    assert vm.exitcode() is None
    assert vm.get_pid() is None
    assert vm.get_log() is None
    vm.launch()
    assert vm.is_running()
    assert vm.exitcode() is None
    pid = vm.get_pid()
    with open(f'/proc/{pid}/comm') as f:
        assert f.read().startswith('qemu-system')
    assert vm.get_log() is None       # only once QEMU has exited
    vm.shutdown()
    assert not vm.is_running()
    assert vm.exitcode() == 0
    assert vm.get_pid() is None
    assert vm.get_log() == ''

    # Shutting down again, killing or waiting do nothing now.
    vm.shutdown()
    vm.kill()
    vm.wait()
    assert vm.exitcode() == 0

    # And the object launches again.
    vm.launch()
    assert vm.exitcode() is None
    assert vm.cmd('query-status')['status'] == 'running'
    vm.shutdown(timeout=None)
    assert vm.exitcode() == 0


def test_launch_twice(new_vm):
    vm = new_vm()
    vm.launch()
    with pytest.raises(QEMUMachineError, match='VM already launched'):
        vm.launch()
    assert vm.is_running()
    vm.shutdown()


def test_vm_launch_failure(new_vm, base):
    vm = new_vm()
    vm.add_args('-no-such-option')
    with pytest.raises(VMLaunchFailure) as excinfo:
        vm.launch()
    failure = excinfo.value
    assert failure.exitcode == 1
    assert failure.command.startswith(vm.binary + ' ')
    assert failure.command.endswith('-machine none -nodefaults -no-such-option')
    assert 'invalid option' in failure.output
    text = str(failure)
    assert '\tExit code: 1\n' in text
    assert f'\tCommand: {failure.command}\n' in text
    assert f'\tOutput: {failure.output}\n' in text
    assert text.startswith('QEMUMachineError: QEMU failed to launch')
    # The cause chain ends at the library's GLib.Error.
    cause = failure.__cause__
    assert isinstance(cause, QEMUMachineError)
    assert isinstance(cause.__cause__, GLib.Error)
    assert cause.__cause__.matches(QMachine.machine_error_quark(),
                                   QMachine.MachineError.LAUNCH_FAILED)
    assert vm.get_log() == failure.output
    assert vm.exitcode() == 1
    assert not vm.is_running()
    assert os.listdir(base) == []
    # Not "already launched": it failed, so it may be tried again.
    with pytest.raises(VMLaunchFailure):
        vm.launch()


def test_vm_launch_failure_without_binary(tmp_path, base):
    vm = QEMUMachine(str(tmp_path / 'no-such-qemu'), base_temp_dir=base)
    with pytest.raises(VMLaunchFailure) as excinfo:
        vm.launch()
    assert excinfo.value.command.startswith(str(tmp_path / 'no-such-qemu'))
    assert not vm.is_running()


def test_abnormal_shutdown_of_a_stopped_qemu(new_vm):
    vm = new_vm()
    vm.launch()
    temp_dir = vm.temp_dir
    os.kill(vm.get_pid(), signal.SIGSTOP)
    with pytest.raises(AbnormalShutdown) as excinfo:
        vm.shutdown(timeout=0.5)
    assert str(excinfo.value) == 'Could not perform graceful shutdown'
    assert excinfo.value.__cause__.matches(
        QMachine.machine_error_quark(), QMachine.MachineError.ABNORMAL_SHUTDOWN)
    assert not vm.is_running()
    assert vm.exitcode() == -signal.SIGKILL
    assert vm.get_log() == ''
    assert not os.path.exists(temp_dir)
    # It recovers: launch again.
    vm.launch()
    assert vm.cmd('query-status')['status'] == 'running'
    vm.shutdown()


def test_kill_and_hard_shutdown(new_vm):
    vm = new_vm()
    vm.launch()
    vm.kill()
    assert vm.exitcode() == -signal.SIGKILL
    assert not vm.is_running()
    vm.launch()
    vm.shutdown(hard=True)
    assert vm.exitcode() == -signal.SIGKILL


def test_wait(new_vm):
    vm = new_vm()
    vm.launch()
    assert vm.cmd('quit') == {}
    vm.wait()
    assert vm.exitcode() == 0

    vm.launch()
    vm.qmp('quit')
    vm.wait(timeout=None)
    assert vm.exitcode() == 0

    # QEMU that does not exit by itself is killed.
    vm.launch()
    with pytest.raises(AbnormalShutdown):
        vm.wait(timeout=0.3)
    assert vm.exitcode() == -signal.SIGKILL


def test_shutdown_after_quit(new_vm):
    vm = new_vm()
    vm.launch()
    vm.cmd('quit')
    # No second quit is sent; the EOF that may beat the reply is fine.
    vm.shutdown()
    assert vm.exitcode() == 0


def test_set_qmp_monitor(new_vm):
    vm = new_vm()
    vm.set_qmp_monitor(False)
    vm.launch()
    assert vm.is_running()
    with pytest.raises(QEMUMachineError, match='no connection'):
        vm.qmp('query-status')
    with pytest.raises(QEMUMachineError, match='no connection'):
        vm.get_qmp_event()
    vm.shutdown()
    assert vm.exitcode() in (0, -signal.SIGTERM)
    vm.set_qmp_monitor()
    vm.launch()
    assert vm.cmd('query-status')['status'] == 'running'
    vm.shutdown()


# --------------------------------------------------------------------------
# Constructor arguments and properties


def test_binary_args_and_add_args(qemu_binary, new_vm):
    vm = new_vm(args=['-machine', 'none'])
    assert vm.binary == qemu_binary
    assert vm.args == ['-machine', 'none']
    vm.add_args('-nodefaults', '-S')
    # args is the live list, as in the reference.
    vm.args.extend(['-name', 'from-args'])
    assert vm.args == ['-machine', 'none', '-nodefaults', '-S', '-name', 'from-args']
    vm.launch()
    assert vm.cmd('query-status')['status'] == 'prelaunch'
    assert vm.cmd('query-name') == {'name': 'from-args'}
    full = vm._qemu_full_args
    assert full[0] == qemu_binary
    assert full[-6:] == ('-machine', 'none', '-nodefaults', '-S', '-name', 'from-args')
    vm.shutdown()


def test_wrapper_and_get_log(new_vm):
    vm = new_vm(wrapper=['sh', '-c', 'echo wrapped >&2; exec "$@"', 'sh'])
    vm.launch()
    assert vm.get_log() is None
    vm.shutdown()
    assert vm.get_log() == 'wrapped\n'


def test_name_log_dir_and_temp_dir(new_vm, tmp_path, base):
    logs = tmp_path / 'logs'
    logs.mkdir()
    vm = new_vm(name='pytest-vm', log_dir=str(logs))
    assert vm.log_dir == str(logs)
    temp_dir = vm.temp_dir
    assert os.path.isdir(temp_dir)
    assert os.path.dirname(temp_dir) == base
    assert os.path.basename(temp_dir).startswith('qemu-machine-')
    assert vm.temp_dir == temp_dir
    vm.launch()
    assert vm.temp_dir == temp_dir
    assert os.path.exists(logs / 'pytest-vm.log')
    vm.shutdown()
    assert not os.path.exists(temp_dir)
    assert os.path.exists(logs / 'pytest-vm.log')


def test_default_name_and_log_dir(new_vm):
    vm = new_vm()
    assert vm.log_dir == vm.temp_dir
    vm.launch()
    assert os.listdir(vm.temp_dir) == [f'{id(vm):x}.log']
    vm.shutdown()


@pytest.mark.parametrize('kind', ['socketpair', 'unix', 'inet', 'inet-name'])
def test_monitor_address(new_vm, sock_dir, kind):
    address = {
        'socketpair': None,
        'unix': str(sock_dir / 'qmp.sock'),
        'inet': ('127.0.0.1', 0),
        'inet-name': ('localhost', 0),
    }[kind]
    vm = new_vm(monitor_address=address)
    vm.launch()
    assert vm.qmp('query-status')['return']['status'] == 'running'
    if kind == 'unix':
        assert os.path.exists(address)
        assert f'socket,id=mon,path={address}' in vm._qemu_full_args
    vm.shutdown()
    assert vm.exitcode() == 0
    if kind == 'unix':
        assert not os.path.exists(address)


def test_qmp_timer(new_vm):
    # A "QEMU" that never opens its monitor.
    vm = new_vm(wrapper=['sh', '-c', 'exec sleep 600', 'sh'], qmp_timer=0.3)
    with pytest.raises(VMLaunchFailure) as excinfo:
        vm.launch()
    glib_error = excinfo.value.__cause__.__cause__
    assert glib_error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT)
    assert excinfo.value.exitcode == -signal.SIGKILL
    assert not vm.is_running()

    vm = new_vm(qmp_timer=None)
    vm.launch()
    assert vm.cmd('query-status')['status'] == 'running'
    vm.shutdown()


def test_set_machine(qemu_binary, new_vm):
    vm = new_vm(args=['-nodefaults'])
    vm.set_machine('none')
    vm.launch()
    assert vm.cmd('qom-get', path='/machine', property='type') == 'none-machine'
    full = vm._qemu_full_args
    assert full[full.index('-machine') + 1] == 'none'
    vm.shutdown()


def test_add_monitor_null(new_vm):
    vm = new_vm()
    vm.add_monitor_null()
    assert vm.args[-2:] == ['-monitor', 'null']
    vm.launch()
    chardevs = {c['label']: c['filename'] for c in vm.cmd('query-chardev')}
    assert 'null' in chardevs.values()
    vm.shutdown()


# --------------------------------------------------------------------------
# QMP


def test_qmp_and_cmd_arguments(new_vm):
    vm = new_vm()
    with pytest.raises(QEMUMachineError,
                       match='Attempt to access QMP with no connection'):
        vm.qmp('query-status')
    with pytest.raises(QEMUMachineError,
                       match='Attempt to access QMP with no connection'):
        vm.cmd('query-status')
    vm.launch()
    # Keyword names get '-' for '_'...
    assert vm.cmd('object-add', qom_type='secret', id='s0', data='a') == {}
    assert vm.qmp('object-add', qom_type='secret', id='s1', data='b') == {'return': {}}
    # ...unless conv_keys=False, or the arguments come as args_dict.
    response = vm.qmp('object-add', conv_keys=False, qom_type='secret',
                      id='s2', data='c')
    assert response['error']['class'] == 'GenericError'
    assert vm.cmd('object-add', {'qom-type': 'secret', 'id': 's3',
                                 'data': 'd'}) == {}
    assert vm.cmd('object-add', conv_keys=False,
                  **{'qom-type': 'secret', 'id': 's4', 'data': 'e'}) == {}
    children = {p['name'] for p in vm.cmd('qom-list', path='/objects')}
    assert {'s0', 's1', 's3', 's4'} <= children
    assert 's2' not in children
    # The reference asserts on mixed forms.
    with pytest.raises(AssertionError):
        vm.qmp('object-add', {'id': 'x'}, qom_type='secret')
    with pytest.raises(AssertionError):
        vm.cmd('object-add', {'id': 'x'}, conv_keys=True)
    vm.shutdown()


def test_cmd_raises_execute_error(new_vm):
    vm = new_vm()
    vm.launch()
    with pytest.raises(ExecuteError) as excinfo:
        vm.cmd('no-such-command', some_arg=1)
    err = excinfo.value
    assert err.error_class == 'CommandNotFound'
    assert err.error.class_ == 'CommandNotFound'
    assert err.desc == 'The command no-such-command has not been found'
    assert str(err) == err.desc
    assert err.sent == {'execute': 'no-such-command',
                        'arguments': {'some-arg': 1}}
    assert err.received == {'error': {'class': 'CommandNotFound',
                                      'desc': err.desc}}
    # qmp() hands the same error back in the response.
    assert vm.qmp('no-such-command') == err.received
    with pytest.raises(ExecuteError) as excinfo:
        vm.cmd('stop', bogus=1)
    assert excinfo.value.error_class == 'GenericError'
    vm.shutdown()


def test_qmp_command_timeout(new_vm):
    vm = new_vm(qmp_timer=0.5)
    vm.launch()
    os.kill(vm.get_pid(), signal.SIGSTOP)
    try:
        with pytest.raises(TimeoutError):
            vm.qmp('query-status')
    finally:
        os.kill(vm.get_pid(), signal.SIGCONT)
    vm.shutdown(hard=True)


# --------------------------------------------------------------------------
# Events


def test_get_qmp_event_and_events(new_vm):
    vm = new_vm()
    with pytest.raises(QEMUMachineError):
        vm.get_qmp_event()
    with pytest.raises(QEMUMachineError):
        vm.get_qmp_events()
    vm.launch()
    assert vm.get_qmp_event() is None
    assert vm.get_qmp_events() == []
    vm.cmd('stop')
    vm.cmd('cont')
    vm.cmd('stop')
    assert vm.get_qmp_event()['event'] == 'STOP'
    assert [e['event'] for e in vm.get_qmp_events()] == ['RESUME', 'STOP']
    assert vm.get_qmp_events() == []

    # A number waits that many seconds (an int too), then TimeoutError.
    with pytest.raises(TimeoutError):
        vm.get_qmp_event(wait=0.2)
    with pytest.raises(TimeoutError):
        vm.get_qmp_events(wait=1)

    # wait=True returns a queued event at once...
    vm.cmd('cont')
    assert vm.get_qmp_event(wait=True)['event'] == 'RESUME'
    # ...and waits for one that is still on its way.
    vm._vm.cmd_async('stop', None, None, None)
    assert vm.get_qmp_event(wait=5.0)['event'] == 'STOP'
    vm._vm.cmd_async('cont', None, None, None)
    assert [e['event'] for e in vm.get_qmp_events(wait=True)] == ['RESUME']
    vm.shutdown()


def test_get_qmp_event_when_qemu_exits(new_vm):
    vm = new_vm()
    vm.launch()
    vm.cmd('quit')
    assert vm.get_qmp_event(wait=5.0)['event'] == 'SHUTDOWN'
    with pytest.raises(QMPConnectionError):
        vm.get_qmp_event(wait=True)
    vm.wait()


def test_event_match_docstring_examples():
    match = QEMUMachine.event_match
    # - None matches any object.
    assert match({'foo': {'bar': 1}}, None)
    assert match(None, None)
    # - {"foo": None} matches {"foo": {"bar": 1}}
    assert match({'foo': {'bar': 1}}, {'foo': None})
    # - {"foo": None} matches {"foo": 5}
    assert match({'foo': 5}, {'foo': None})
    # - {"foo": {"abc": None}} does not match {"foo": {"bar": 1}}
    assert not match({'foo': {'bar': 1}}, {'foo': {'abc': None}})
    # - {"foo": {"rab": 2}} matches {"foo": {"bar": 1, "rab": 2}}
    assert match({'foo': {'bar': 1, 'rab': 2}}, {'foo': {'rab': 2}})
    # Values that are not dicts compare equal or not.
    assert match({'foo': 5}, {'foo': 5})
    assert not match({'foo': 5}, {'foo': 6})
    assert not match({'foo': 5}, {'foo': {'bar': 1}})
    assert not match({'foo': {'bar': 1}}, {'foo': 5})
    # And it is callable on an instance, as a staticmethod.
    vm = QEMUMachine('qemu-system-x86_64')
    assert vm.event_match({'a': 1}, {'a': None})


def test_event_wait_and_events_wait(new_vm):
    vm = new_vm()
    with pytest.raises(QEMUMachineError):
        vm.event_wait('STOP')
    vm.launch()
    # A false-ish timeout only looks at the queue, returning None.
    assert vm.event_wait('STOP', timeout=0) is None
    assert vm.event_wait('STOP', timeout=None) is None
    with pytest.raises(TimeoutError):
        vm.event_wait('STOP', timeout=0.2)

    vm.cmd('stop')
    vm.cmd('cont')
    # RESUME is taken; the STOP before it stays queued.
    assert vm.events_wait([('RESUME', None)])['event'] == 'RESUME'
    assert vm.event_wait('STOP', timeout=0, match={'data': {'x': 1}}) is None
    assert vm.event_wait('STOP', match={'event': 'STOP'})['event'] == 'STOP'
    assert vm.get_qmp_events() == []

    vm.cmd('stop')
    event = vm.events_wait([('RESUME', None), ('STOP', {'event': 'STOP'})],
                           timeout=5)
    assert event['event'] == 'STOP'
    # An event still on its way, with no timeout at all.
    vm._vm.cmd_async('cont', None, None, None)
    assert vm.event_wait('RESUME', timeout=True)['event'] == 'RESUME'
    vm.shutdown()


# --------------------------------------------------------------------------
# Descriptors


def test_add_fd(new_vm, tmp_path):
    path = tmp_path / 'data'
    path.write_bytes(b'x')
    fd = os.open(path, os.O_RDONLY)
    other = os.open(path, os.O_RDONLY)
    try:
        vm = new_vm()
        assert vm.add_fd(fd, 2, 'pytest-fd') is vm
        assert vm.args[-2:] == ['-add-fd', f'fd={fd},set=2,opaque=pytest-fd']
        vm.add_fd(other, 3, 'other')
        vm.launch()
        fdsets = {s['fdset-id']: s['fds'] for s in vm.cmd('query-fdsets')}
        assert set(fdsets) == {2, 3}
        assert fdsets[2][0]['opaque'] == 'pytest-fd'
        assert fdsets[3][0]['opaque'] == 'other'
        vm.shutdown()

        with pytest.raises(QEMUMachineAddDeviceError):
            vm.add_fd(2, 1, 'stderr')
        with pytest.raises(QEMUMachineAddDeviceError):
            vm.add_fd(fd, 4, 'again')
    finally:
        os.close(fd)
        os.close(other)
    vm = new_vm()
    unused = 1000
    with pytest.raises(OSError):
        os.fstat(unused)
    with pytest.raises(OSError):
        vm.add_fd(unused, 1, 'not-open')


def test_send_fd_scm(new_vm, tmp_path):
    path = tmp_path / 'data'
    path.write_bytes(b'x')
    vm = new_vm()
    with pytest.raises(QEMUMachineError):
        vm.send_fd_scm(file_path=str(path))
    vm.launch()
    # Without a descriptor, getfd fails...
    with pytest.raises(ExecuteError) as excinfo:
        vm.cmd('getfd', fdname='fd0')
    assert excinfo.value.desc == 'No file descriptor supplied via SCM_RIGHTS'
    # ...with one it works, from a path...
    assert vm.send_fd_scm(file_path=str(path)) == 0
    assert vm.qmp('getfd', fdname='fd0') == {'return': {}}
    assert vm.cmd('closefd', fdname='fd0') == {}
    # ...or a descriptor of ours, which we keep.
    fd = os.open(path, os.O_RDONLY)
    try:
        assert vm.send_fd_scm(fd=fd) == 0
        added = vm.cmd('add-fd', fdset_id=5, opaque='scm')
        assert added['fdset-id'] == 5
        os.fstat(fd)
    finally:
        os.close(fd)
    assert [s['fdset-id'] for s in vm.cmd('query-fdsets')] == [5]
    with pytest.raises(AssertionError):
        vm.send_fd_scm()
    vm.shutdown()


# --------------------------------------------------------------------------
# Console plumbing (reading guest output is in test_console_guest.py)


def test_console_needs_set_console_and_launch(new_vm):
    vm = new_vm()
    with pytest.raises(QEMUMachineError):
        vm.console_socket
    vm.set_console()
    with pytest.raises(QEMUMachineError):
        vm.console_socket


def test_set_console_device_and_index(new_vm):
    vm = new_vm(args=['-machine', 'pc', '-accel', 'tcg', '-nodefaults', '-S'])
    vm.set_console(device_type='isa-serial', console_index=1)
    vm.launch()
    full = list(vm._qemu_full_args)
    start = full.index('-serial')
    assert full[start:start + 2] == ['-serial', 'null']
    assert full[start + 2] == '-chardev'
    assert full[start + 3].startswith('socket,id=console,fd=')
    assert full[start + 4:start + 6] == ['-device', 'isa-serial,chardev=console']
    labels = {c['label'] for c in vm.cmd('query-chardev')}
    assert {'console', 'serial0'} <= labels
    sock = vm.console_socket
    assert isinstance(sock, socket.socket)
    assert sock.family == socket.AF_UNIX
    assert sock.gettimeout() is None
    assert vm.console_socket is sock
    console_file = vm.console_file
    assert vm.console_file is console_file
    # It is connected to QEMU's serial chardev: a write is accepted.
    assert sock.send(b'\r') == 1
    # Its descriptor is shared with the library, which needs it
    # non-blocking; "blocking" mode does not change that.
    sock.setblocking(True)
    assert sock.gettimeout() is None
    assert os.get_blocking(sock.fileno()) is False
    vm.shutdown()
    assert sock.fileno() == -1
    assert console_file.closed
    with pytest.raises(QEMUMachineError):
        vm.console_socket


def test_logs_under_qemu_machine(new_vm, caplog):
    # A framework that configures QEMU's own `qemu.machine` logger (as
    # QEMU's functional tests do) sees what the stand-in logs.
    vm = new_vm()
    with caplog.at_level('DEBUG', logger='qemu.machine'):
        vm.launch()
        vm.shutdown()
    names = {record.name for record in caplog.records}
    assert 'qemu.machine.machine' in names, names
    assert any('launch command' in record.getMessage() for record in caplog.records)


def test_logs_qmp_traffic_under_qemu_qmp(new_vm, caplog):
    # QEMU's functional tests configure `qemu.qmp` too: the traffic shows
    # there, secrets redacted, events included.
    vm = new_vm()
    with caplog.at_level('DEBUG', logger='qemu.qmp'):
        vm.launch()
        vm.cmd('object-add', qom_type='secret', id='sec0', data='hunter2')
        vm.cmd('stop')
        assert vm.event_wait('STOP', timeout=10) is not None
        vm.shutdown()
    records = [r for r in caplog.records if r.name.startswith('qemu.qmp')]
    text = '\n'.join(r.getMessage() for r in records)
    assert "--> {'execute': 'stop'}" in text, text
    assert "<-- {'return': {}}" in text, text
    assert "'event': 'STOP'" in text, text
    assert 'hunter2' not in text, text
    assert '<redacted>' in text, text


# --------------------------------------------------------------------------
# qemu.qmp's exception classes


def test_exceptions_without_qemu_qmp():
    try:
        import qemu.qmp.qmp_client  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip('qemu.qmp is installed: see the fake-package test')
    for cls in (ExecuteError, QMPConnectionError):
        assert all(not base.__module__.startswith('qemu.')
                   for base in cls.__mro__)
    err = ExecuteError({'class': 'GenericError', 'desc': 'bad'},
                       {'execute': 'x'}, {'error': {}})
    assert (err.error_class, err.desc, str(err)) == ('GenericError', 'bad', 'bad')
    assert err.error.class_ == err.error.error.class_ == 'GenericError'


# A stand-in for qemu.qmp (python/qemu/qmp of QEMU's tree): the classes
# and the ExecuteError shape of its current version.
FAKE_QMP_CLIENT = '''
class QMPError(Exception):
    pass


class ExecuteError(QMPError):
    def __init__(self, error_response, sent, received):
        super().__init__(error_response, sent, received)
        self.sent = sent
        self.received = received
        self.error = error_response

    @property
    def error_class(self):
        return self.error.error.class_

    def __str__(self):
        return self.error.error.desc


class ExecInterruptedError(QMPError):
    pass
'''

WITH_FAKE_QMP = '''
import sys
import qemu.qmp.qmp_client as qmp_client
from qmachine.compat import ExecuteError, QMPConnectionError, QEMUMachine, QEMUMachineError

assert issubclass(ExecuteError, qmp_client.ExecuteError)
assert issubclass(ExecuteError, qmp_client.QMPError)
assert issubclass(ExecuteError, QEMUMachineError)
assert issubclass(QMPConnectionError, qmp_client.ExecInterruptedError)
assert issubclass(QMPConnectionError, ConnectionError)

vm = QEMUMachine(sys.argv[1], args=['-machine', 'none', '-nodefaults'],
                 base_temp_dir=sys.argv[2])
vm.launch()
try:
    vm.cmd('no-such-command')
except qmp_client.ExecuteError as err:
    assert type(err) is ExecuteError, type(err)
    assert err.error_class == 'CommandNotFound', err.error_class
    assert err.error.error.class_ == 'CommandNotFound'
    assert err.error.error.desc == err.desc == str(err)
    assert err.sent == {'execute': 'no-such-command'}
    print('caught:', str(err))
else:
    raise AssertionError('no ExecuteError')
finally:
    vm.shutdown()
'''


def test_exceptions_with_qemu_qmp(qemu_binary, tmp_path, base):
    package = tmp_path / 'fake' / 'qemu' / 'qmp'
    package.mkdir(parents=True)
    (package.parent / '__init__.py').write_text('')
    (package / '__init__.py').write_text(
        'from .qmp_client import ExecuteError, ExecInterruptedError, QMPError\n')
    (package / 'qmp_client.py').write_text(FAKE_QMP_CLIENT)
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [str(tmp_path / 'fake'), PYTHON_SRCDIR] +
        [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
    import subprocess
    import sys
    proc = subprocess.run(
        [sys.executable, '-c', WITH_FAKE_QMP, qemu_binary, base],
        env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == 'caught: The command no-such-command has not been found\n'


def test_qemu_7_2_command_and_sock_dir(new_vm, base, tmp_path):
    """QEMU 7.2's spellings that its iotests use: command() (later cmd())
    and the sock_dir argument and property."""
    vm = new_vm(sock_dir=str(tmp_path))
    assert vm.sock_dir == str(tmp_path)
    vm.launch()
    assert 'status' in vm.command('query-status')
    # conv_keys as the second positional argument, as in QEMU 7.2.
    assert vm.command('qom-list', False, path='/machine') is not None
    with pytest.raises(ExecuteError):
        vm.command('no-such-command')
    vm.shutdown()
    # Without sock_dir: the temporary directory.
    other = new_vm()
    other.launch()
    assert other.sock_dir == other.temp_dir
    other.shutdown()
