# test_gi_machine.py - the QMachine lifecycle through gi.repository.QMachine
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""The whole lifecycle of a real QEMU (``-machine none``) driven from Python
through PyGObject: the Pythonic synchronous methods of the override, the
introspected ``*_async``/``*_finish`` methods from a ``GLib.MainLoop``,
signals, and errors as ``GLib.Error`` with the library's domains and
codes."""

import os
import threading

import pytest

from gi.repository import GLib, Gio, Json, QMachine

from conftest import FAST_ARGS

MACHINE_ERROR = QMachine.machine_error_quark()
QMP_ERROR = QMachine.qmp_error_quark()
IO_ERROR = Gio.io_error_quark()

State = QMachine.MachineState


def assert_error(excinfo, domain, code, domain_name):
    """The GLib.Error carries the library's domain and code."""
    err = excinfo.value
    assert isinstance(err, GLib.Error)
    assert err.matches(domain, code), (err.domain, err.code, err.message)
    assert err.domain == domain_name
    assert err.code == int(code)
    return err


# --------------------------------------------------------------------------
# Synchronous lifecycle


def test_sync_lifecycle(machine, tmp_path):
    assert machine.get_state() == State.NOT_LAUNCHED
    assert not machine.is_running()
    assert machine.exit_code is None
    assert machine.get_pid() == 0

    machine.launch()
    assert machine.get_state() == State.RUNNING
    assert machine.is_running()
    pid = machine.get_pid()
    assert pid > 0 and pid == machine.props.pid
    with open(f'/proc/{pid}/cmdline', 'rb') as f:
        assert f.read().split(b'\0')[:-1] == [
            a.encode() for a in machine.get_full_args()]
    assert machine.exit_code is None

    status = machine.cmd('query-status')
    assert status['status'] == 'running' and status['running'] is True
    response = machine.qmp('query-status')
    assert response['return'] == status

    machine.shutdown()
    assert machine.get_state() == State.NOT_LAUNCHED
    assert not machine.is_running()
    assert machine.get_pid() == 0
    assert machine.exit_code == 0
    assert machine.get_log() == ''
    # Everything the launch made under the base directory is gone.
    assert os.listdir(tmp_path / 'base') == []

    # The same object launches again.
    machine.launch()
    assert machine.cmd('query-status')['status'] == 'running'
    assert machine.exit_code is None
    machine.shutdown(timeout=None)
    assert machine.exit_code == 0


def test_constructor_forms(qemu_binary):
    assert QMachine.Machine(qemu_binary).get_binary() == qemu_binary
    assert QMachine.Machine.new(qemu_binary).props.binary == qemu_binary
    vm = QMachine.Machine(qemu_binary, name='pytest-vm', qmp_timeout=1234)
    assert vm.get_name() == 'pytest-vm'
    assert vm.get_qmp_timeout() == 1234
    assert isinstance(vm, QMachine.Machine)
    with pytest.raises(TypeError):
        QMachine.Machine()
    with pytest.raises(TypeError):
        QMachine.Machine(name='no-binary')


def test_add_args_forms(machine):
    machine.add_args('-S')
    machine.add_args(['-name', 'list-form'])
    machine.add_args()
    assert machine.get_args() == list(FAST_ARGS) + ['-S', '-name', 'list-form']
    with pytest.raises(TypeError):
        machine.add_args('-m', 256)
    machine.launch()
    assert machine.cmd('query-status')['status'] == 'prelaunch'
    assert machine.cmd('query-name') == {'name': 'list-form'}
    machine.shutdown()


def test_kill_and_hard_shutdown(machine):
    machine.launch()
    machine.kill()
    assert machine.exit_code == -9
    assert machine.get_state() == State.NOT_LAUNCHED

    machine.launch()
    machine.shutdown(hard=True)
    assert machine.exit_code == -9

    # The introspected calling convention is refused, not misread.
    with pytest.raises(TypeError):
        machine.shutdown(QMachine.MachineShutdownFlags.HARD, 5000)


def test_wait_for_guest_initiated_exit(machine):
    machine.launch()
    assert machine.cmd('quit') == {}
    machine.wait(timeout=30)
    assert machine.exit_code == 0
    assert machine.get_state() == State.NOT_LAUNCHED


def test_wait_timeout_kills(machine):
    machine.launch()
    with pytest.raises(GLib.Error) as excinfo:
        machine.wait(timeout=0.3)
    assert_error(excinfo, MACHINE_ERROR, QMachine.MachineError.ABNORMAL_SHUTDOWN,
                 'q-machine-error-quark')
    assert machine.exit_code == -9
    assert machine.get_state() == State.NOT_LAUNCHED


def test_timeouts_are_checked(machine):
    machine.launch()
    with pytest.raises(ValueError):
        machine.event_wait('STOP', timeout=-1)
    with pytest.raises(TypeError):
        machine.event_wait('STOP', timeout='1')
    with pytest.raises(TypeError):
        machine.wait(timeout=True)
    machine.shutdown()


def test_without_qmp(machine):
    machine.set_qmp_monitor(False)
    assert not machine.get_qmp_enabled()
    machine.launch()
    assert machine.is_running()
    assert machine.get_qmp_client() is None
    with pytest.raises(GLib.Error) as excinfo:
        machine.cmd('query-status')
    assert_error(excinfo, MACHINE_ERROR, QMachine.MachineError.NO_CONNECTION,
                 'q-machine-error-quark')
    machine.shutdown()          # SIGTERM
    # 0 once QEMU handles SIGTERM; -15 if it arrived before QEMU installed
    # its handler (launch completes at exec without QMP).  Either way a
    # graceful shutdown, not an error.
    assert machine.exit_code in (0, -15)
    assert machine.get_state() == State.NOT_LAUNCHED


def test_wrapper_name_and_log_dir(machine, tmp_path):
    logs = tmp_path / 'logs'
    logs.mkdir()
    machine.set_wrapper(['sh', '-c', 'echo wrapped-start >&2; exec "$@"', 'sh'])
    machine.set_name('pytest-vm')
    machine.set_log_dir(str(logs))
    assert machine.get_full_args()[:5] == ['sh', '-c',
                                           'echo wrapped-start >&2; exec "$@"',
                                           'sh', machine.get_binary()]
    machine.launch()
    machine.shutdown()
    assert machine.get_log() == 'wrapped-start\n'
    with open(logs / 'pytest-vm.log') as f:
        assert f.read() == 'wrapped-start\n'


def test_monitor_address_too_long(machine, sock_dir, tmp_path):
    # Bound, a longer path would be cut short: the socket would appear
    # somewhere else. The launch fails with a clear error instead, and
    # leaves nothing behind.
    address = str(sock_dir / ('x' * 120))
    machine.set_monitor_address(address)
    with pytest.raises(GLib.Error) as info:
        machine.launch()
    assert info.value.matches(QMachine.machine_error_quark(), QMachine.MachineError.LAUNCH_FAILED)
    assert 'at most 106 bytes' in info.value.message
    assert machine.get_state() == QMachine.MachineState.NOT_LAUNCHED
    assert os.listdir(sock_dir) == []
    assert os.listdir(tmp_path / 'base') == []



@pytest.mark.parametrize('kind', ['unix', 'inet', 'inet-name'])
def test_monitor_address(machine, sock_dir, kind):
    if kind == 'unix':
        address = str(sock_dir / 'qmp.sock')
    elif kind == 'inet':
        address = ('127.0.0.1', 0)
    else:
        address = ('localhost', 0)
    machine.set_monitor_address(address)
    assert isinstance(machine.get_monitor_address(), Gio.SocketAddress)
    machine.launch()
    assert machine.cmd('query-status')['status'] == 'running'
    if kind == 'unix':
        assert '-chardev' in machine.get_full_args()
        assert f'socket,id=mon,path={address}' in machine.get_full_args()
    machine.shutdown()
    assert machine.exit_code == 0
    if kind == 'unix':
        assert not os.path.exists(address)

    with pytest.raises(TypeError):
        machine.set_monitor_address(42)
    machine.set_monitor_address(None)
    assert machine.get_monitor_address() is None


def test_add_fd_and_send_fd(machine, tmp_path):
    path = tmp_path / 'data'
    path.write_bytes(b'x')
    fd = os.open(path, os.O_RDONLY)
    try:
        assert machine.add_fd(fd, 7, 'pytest-fd', None)
        machine.launch()
        fdsets = machine.cmd('query-fdsets')
        assert [s['fdset-id'] for s in fdsets] == [7]
        assert fdsets[0]['fds'][0]['opaque'] == 'pytest-fd'

        assert machine.send_fd('pytest-getfd', fd)
        assert machine.cmd('closefd', fdname='pytest-getfd') == {}
        with pytest.raises(GLib.Error) as excinfo:
            machine.cmd('closefd', fdname='pytest-getfd')
        assert_error(excinfo, QMP_ERROR, QMachine.QmpError.GENERIC_ERROR,
                     'q-qmp-error-quark')
        machine.shutdown()
    finally:
        os.close(fd)


def test_add_fd_rejects_stdio(machine):
    with pytest.raises(GLib.Error) as excinfo:
        machine.add_fd(1, 1, 'stdout', None)
    assert_error(excinfo, MACHINE_ERROR, QMachine.MachineError.ADD_DEVICE,
                 'q-machine-error-quark')


# --------------------------------------------------------------------------
# QMP arguments and results


def test_keyword_arguments_have_underscores_converted(machine):
    machine.launch()
    assert machine.cmd('object-add', qom_type='secret', id='s0', data='a') == {}
    # args_dict is passed as it is...
    assert machine.cmd('object-add', {'qom-type': 'secret', 'id': 's1',
                                      'data': 'b'}) == {}
    # ...so underscores in it reach QEMU unchanged.
    with pytest.raises(GLib.Error) as excinfo:
        machine.cmd('object-add', {'qom_type': 'secret', 'id': 's2', 'data': 'c'})
    err = assert_error(excinfo, QMP_ERROR, QMachine.QmpError.GENERIC_ERROR,
                       'q-qmp-error-quark')
    assert 'qom-type' in err.message
    # conv_keys=False keeps keyword names too.
    assert machine.cmd('object-add', conv_keys=False,
                       **{'qom-type': 'secret', 'id': 's3', 'data': 'd'}) == {}
    response = machine.qmp('object-add', conv_keys=False, qom_type='secret',
                           id='s4', data='e')
    assert response['error']['class'] == 'GenericError'
    # A Json.Object is accepted as args_dict.
    obj = Json.from_string('{"qom-type": "secret", "id": "s5", "data": "f"}')
    assert machine.cmd('object-add', obj.get_object()) == {}

    children = {p['name'] for p in machine.cmd('qom-list', path='/objects')}
    assert {'s0', 's1', 's3', 's5'} <= children
    assert not {'s2', 's4'} & children

    with pytest.raises(TypeError):
        machine.cmd('object-add', {'id': 'x'}, qom_type='secret')
    with pytest.raises(TypeError):
        machine.cmd('object-add', {'id': 'x'}, conv_keys=True)
    machine.shutdown()


def test_qmp_errors_are_glib_errors(machine):
    with pytest.raises(GLib.Error) as excinfo:
        machine.cmd('query-status')
    assert_error(excinfo, MACHINE_ERROR, QMachine.MachineError.NOT_LAUNCHED,
                 'q-machine-error-quark')

    machine.launch()
    with pytest.raises(GLib.Error) as excinfo:
        machine.launch()
    assert_error(excinfo, MACHINE_ERROR, QMachine.MachineError.ALREADY_LAUNCHED,
                 'q-machine-error-quark')

    with pytest.raises(GLib.Error) as excinfo:
        machine.cmd('no-such-command')
    err = assert_error(excinfo, QMP_ERROR, QMachine.QmpError.COMMAND_NOT_FOUND,
                       'q-qmp-error-quark')
    assert 'no-such-command' in err.message

    with pytest.raises(GLib.Error) as excinfo:
        machine.cmd('stop', bogus=1)
    assert_error(excinfo, QMP_ERROR, QMachine.QmpError.GENERIC_ERROR,
                 'q-qmp-error-quark')

    # qmp() reports QEMU's errors inside the response instead.
    response = machine.qmp('no-such-command')
    assert response['error']['class'] == 'CommandNotFound'
    assert 'return' not in response
    machine.shutdown()


def test_json_conversion():
    value = {'s': 'x\u00e9"\\', 'i': -(2 ** 40), 'f': 0.5, 't': True,
             'n': None, 'l': [1, [2, {'k': []}]], 'o': {}}
    node = QMachine.to_json(value)
    assert isinstance(node, Json.Node)
    assert QMachine.to_python(node) == value
    assert QMachine.to_python(node.get_object()) == value
    assert QMachine.to_python(QMachine.to_json([1, 2]).get_array()) == [1, 2]
    assert QMachine.to_python(None) is None
    assert QMachine.to_json(node) is node
    with pytest.raises(TypeError):
        QMachine.to_json({'bytes': b'x'})
    with pytest.raises(ValueError):
        QMachine.to_json(float('nan'))


def test_event_match_docstring_examples():
    match = QMachine.event_match
    assert match({'foo': {'bar': 1}}, None)
    assert match({'foo': {'bar': 1}}, {'foo': None})
    assert match({'foo': 5}, {'foo': None})
    assert not match({'foo': {'bar': 1}}, {'foo': {'abc': None}})
    assert match({'foo': {'bar': 1, 'rab': 2}}, {'foo': {'rab': 2}})
    # And the same function hangs off the class, like the reference's.
    assert QMachine.Machine.event_match({'foo': 5}, {'foo': 5})
    assert not QMachine.Machine.event_match({'foo': 5}, {'foo': 6})


# --------------------------------------------------------------------------
# Events, synchronously


def test_events_are_queued_in_order(machine):
    machine.launch()
    for command in ('stop', 'cont', 'stop', 'cont'):
        machine.cmd(command)
    # An event QEMU sends before a command's reply is queued by the time
    # the command returns.
    events = machine.get_events()
    assert [e['event'] for e in events] == ['STOP', 'RESUME', 'STOP', 'RESUME']
    for event in events:
        assert set(event['timestamp']) == {'seconds', 'microseconds'}
    assert machine.get_events() == []
    assert machine.get_event() is None

    machine.cmd('stop')
    machine.cmd('cont')
    resume = machine.event_wait('RESUME', timeout=5)
    assert resume['event'] == 'RESUME'
    # The STOP before it stays queued.
    assert machine.get_event()['event'] == 'STOP'
    assert machine.get_event() is None

    machine.cmd('stop')
    event = machine.events_wait([('RESUME', None), ('STOP', {'event': 'STOP'})],
                                timeout=5)
    assert event['event'] == 'STOP'
    machine.cmd('cont')
    assert machine.events_wait(['RESUME'], timeout=5)['event'] == 'RESUME'
    machine.shutdown()
    # quit's SHUTDOWN event stays readable after the shutdown.
    shutdown = machine.event_wait('SHUTDOWN', timeout=0)
    assert shutdown['data']['reason'] == 'host-qmp-quit'


def test_event_wait_timeouts_and_matches(machine):
    machine.launch()
    with pytest.raises(GLib.Error) as excinfo:
        machine.event_wait('NO_SUCH_EVENT', timeout=0.2)
    assert_error(excinfo, IO_ERROR, Gio.IOErrorEnum.TIMED_OUT, 'g-io-error-quark')

    machine.cmd('stop')
    # timeout=0 looks at the queue only; a non-matching STOP stays queued.
    with pytest.raises(GLib.Error) as excinfo:
        machine.event_wait('STOP', timeout=0, match={'data': {'reason': 'x'}})
    assert_error(excinfo, IO_ERROR, Gio.IOErrorEnum.TIMED_OUT, 'g-io-error-quark')
    assert machine.event_wait('STOP', timeout=0, match={'event': 'STOP'})
    with pytest.raises(ValueError):
        machine.events_wait([])
    machine.shutdown()


def test_event_wait_forever_sees_a_later_event(machine):
    machine.launch()
    # The command is sent and its event awaited with no timeout; the
    # waiter gets it whether it is queued before or after it registers.
    machine.cmd_async('stop', None, None, None)
    event = machine.event_wait('STOP', timeout=None)
    assert event['event'] == 'STOP'
    machine.shutdown()


def test_event_wait_fails_when_qemu_exits(machine):
    machine.launch()
    machine.cmd_async('quit', None, None, None)
    with pytest.raises(GLib.Error) as excinfo:
        machine.event_wait('NO_SUCH_EVENT', timeout=30)
    assert_error(excinfo, MACHINE_ERROR, QMachine.MachineError.NOT_LAUNCHED,
                 'q-machine-error-quark')
    machine.wait()
    assert machine.exit_code == 0


# --------------------------------------------------------------------------
# A GLib main loop: async calls, callbacks and signals


def test_async_lifecycle_in_main_loop(qemu_binary, loop_runner):
    context = GLib.MainContext.new()
    context.push_thread_default()
    try:
        _run_async_lifecycle(qemu_binary, loop_runner(context))
    finally:
        context.pop_thread_default()


def _run_async_lifecycle(qemu_binary, runner):
    thread = threading.get_ident()
    vm = QMachine.Machine.new(qemu_binary)
    vm.add_args(*FAST_ARGS)
    seen = []
    states = []
    exit_codes = []

    def step(what):
        assert threading.get_ident() == thread
        seen.append(what)

    def on_state(machine, _pspec):
        states.append(machine.get_state())

    @runner.checked
    def on_stop(machine, name, event):
        assert name == 'STOP'
        assert isinstance(event, Json.Object)
        assert event.get_string_member('event') == 'STOP'
        step('STOP')
        machine.cmd_async('cont', None, None, resumed)

    @runner.checked
    def on_resume(machine, name, event):
        step(name)

    @runner.checked
    def on_any_event(machine, event):
        # The Pythonic relay gives dicts.
        assert isinstance(event, dict) and 'timestamp' in event
        step('dict:' + event['event'])

    @runner.checked
    def on_exited(machine, code):
        step('exited')
        exit_codes.append(code)
        maybe_done()

    @runner.checked
    def launched(machine, result):
        assert machine.launch_finish(result)
        step('launched')
        machine.qmp_async('object-add', {'qom-type': 'secret', 'id': 'a0',
                                         'data': 'x'}, None, added)

    @runner.checked
    def added(machine, result):
        response = QMachine.to_python(machine.qmp_finish(result))
        assert response['return'] == {}
        step('added')
        machine.cmd_async('stop', None, None, stopped)

    @runner.checked
    def stopped(machine, result):
        assert QMachine.to_python(machine.cmd_finish(result)) == {}
        step('stopped')

    @runner.checked
    def resumed(machine, result):
        machine.cmd_finish(result)
        step('resumed')
        machine.event_wait_async('RESUME', {'event': 'RESUME'}, 5000, None,
                                 waited)

    @runner.checked
    def waited(machine, result):
        event = machine.event_wait_finish(result)
        assert event.get_string_member('event') == 'RESUME'
        step('waited')
        machine.cmd_async('no-such-command', None, None, failed)

    @runner.checked
    def failed(machine, result):
        with pytest.raises(GLib.Error) as excinfo:
            machine.cmd_finish(result)
        assert excinfo.value.matches(QMP_ERROR, QMachine.QmpError.COMMAND_NOT_FOUND)
        step('failed')
        machine.shutdown_async(QMachine.MachineShutdownFlags.NONE, 30000, None,
                               shut_down)

    @runner.checked
    def shut_down(machine, result):
        assert machine.shutdown_finish(result)
        step('shut-down')
        maybe_done()

    def maybe_done():
        if 'exited' in seen and 'shut-down' in seen:
            runner.done()

    vm.connect('notify::state', on_state)
    vm.connect('event::STOP', on_stop)
    vm.connect('event::RESUME', on_resume)
    vm.connect_event(None, on_any_event)
    vm.connect('exited', on_exited)
    vm.launch_async(None, launched)
    runner.run()

    assert exit_codes == [0]
    assert vm.exit_code == 0
    # Replies and events keep their relative order on the wire: STOP before
    # the reply to stop, RESUME before the reply to cont.
    order = [s for s in seen if not s.startswith('dict:')]
    assert order.index('STOP') < order.index('stopped')
    assert order.index('RESUME') < order.index('resumed')
    assert order[:2] == ['launched', 'added']
    assert order.index('resumed') < order.index('waited') < order.index('failed')
    assert order.index('failed') < order.index('shut-down')
    # Every event reached the catch-all handler, the quit's SHUTDOWN too.
    assert [s for s in seen if s.startswith('dict:')] == [
        'dict:STOP', 'dict:RESUME', 'dict:SHUTDOWN']
    assert states[0] == State.LAUNCHING or states[0] == State.RUNNING
    assert State.RUNNING in states and states[-1] == State.NOT_LAUNCHED


def test_signals_go_to_the_creating_threads_context(qemu_binary, loop_runner):
    """A machine made in a thread with its own context delivers its signals
    and callbacks there, while the main thread waits synchronously."""
    result = {}

    def worker():
        context = GLib.MainContext.new()
        context.push_thread_default()
        try:
            runner = loop_runner(context)
            vm = QMachine.Machine.new(qemu_binary)
            vm.add_args(*FAST_ARGS)
            threads = set()

            @runner.checked
            def on_stop(machine, name, event):
                threads.add(threading.get_ident())
                machine.shutdown_async(QMachine.MachineShutdownFlags.NONE,
                                       30000, None, shut_down)

            @runner.checked
            def shut_down(machine, res):
                machine.shutdown_finish(res)
                threads.add(threading.get_ident())
                runner.done()

            @runner.checked
            def launched(machine, res):
                machine.launch_finish(res)
                threads.add(threading.get_ident())
                machine.cmd_async('stop', None, None, None)

            vm.connect('event::STOP', on_stop)
            vm.launch_async(None, launched)
            runner.run()
            result['threads'] = threads
            result['exit_code'] = vm.exit_code
        except BaseException as exc:  # noqa: B902 - reported below
            result['error'] = exc
        finally:
            context.pop_thread_default()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(120)
    assert not thread.is_alive()
    if 'error' in result:
        raise result['error']
    assert result['threads'] == {thread.ident}
    assert result['exit_code'] == 0


def test_async_launch_failure(qemu_binary, loop_runner):
    context = GLib.MainContext.new()
    context.push_thread_default()
    try:
        runner = loop_runner(context)
        vm = QMachine.Machine.new(qemu_binary)
        vm.add_args('-machine', 'none', '-no-such-option')
        errors = []

        @runner.checked
        def launched(machine, result):
            try:
                machine.launch_finish(result)
            except GLib.Error as err:
                errors.append(err)
            runner.done()

        vm.launch_async(None, launched)
        runner.run()
    finally:
        context.pop_thread_default()
    assert len(errors) == 1
    assert errors[0].matches(MACHINE_ERROR, QMachine.MachineError.LAUNCH_FAILED)
    assert vm.exit_code == 1


# --------------------------------------------------------------------------
# Launch failures


def test_launch_failure_with_bad_arguments(machine, tmp_path):
    machine.add_args('-no-such-option')
    with pytest.raises(GLib.Error) as excinfo:
        machine.launch()
    err = assert_error(excinfo, MACHINE_ERROR, QMachine.MachineError.LAUNCH_FAILED,
                       'q-machine-error-quark')
    assert 'Exit code: 1' in err.message
    assert '-no-such-option' in err.message
    assert 'invalid option' in err.message
    # The three stay readable on the machine.
    assert machine.exit_code == 1
    assert '-no-such-option' in machine.get_full_args()
    assert 'invalid option' in machine.get_log()
    assert machine.get_state() == State.NOT_LAUNCHED
    assert not machine.is_running()
    assert os.listdir(tmp_path / 'base') == []


def test_launch_failure_without_binary(tmp_path):
    vm = QMachine.Machine.new(str(tmp_path / 'no-such-qemu'))
    with pytest.raises(GLib.Error) as excinfo:
        vm.launch()
    assert_error(excinfo, MACHINE_ERROR, QMachine.MachineError.LAUNCH_FAILED,
                 'q-machine-error-quark')
    assert vm.get_state() == State.NOT_LAUNCHED


def test_launch_timeout(machine):
    # A "QEMU" that never opens its monitor.
    machine.set_wrapper(['sh', '-c', 'exec sleep 600', 'sh'])
    machine.set_qmp_timeout(300)
    with pytest.raises(GLib.Error) as excinfo:
        machine.launch()
    assert_error(excinfo, IO_ERROR, Gio.IOErrorEnum.TIMED_OUT, 'g-io-error-quark')
    assert machine.get_state() == State.NOT_LAUNCHED
    assert machine.exit_code == -9


@pytest.mark.parametrize('call', ['event_wait', 'wait'])
def test_ctrl_c_interrupts_blocking_calls(qemu_binary, tmp_path, call):
    # SIGINT while a blocking call waits: KeyboardInterrupt arrives within
    # moments, QEMU is gone and the machine's files are removed.
    import signal
    import threading
    import time

    vm = QMachine.Machine(qemu_binary)
    base = str(tmp_path)
    vm.set_base_temp_dir(base)
    vm.add_args(*FAST_ARGS)
    vm.launch()
    pid = vm.get_pid()
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            if call == 'event_wait':
                vm.event_wait('NEVER', timeout=None)
            else:
                vm.wait(timeout=None)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 5
    assert not vm.is_running()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert os.listdir(base) == []


def test_screen_and_input(qemu_binary, tmp_path):
    vm = QMachine.Machine.new(qemu_binary)
    vm.set_base_temp_dir(str(tmp_path))
    vm.add_args('-machine', 'pc', '-nodefaults', '-accel', 'tcg', '-vga', 'std',
                '-device', 'qemu-xhci', '-device', 'usb-tablet')
    vm.launch()
    try:
        png = vm.screendump()
        assert isinstance(png, bytes) and png.startswith(b'\x89PNG\r\n\x1a\n')
        assert vm.send_keys('shift-a', hold_time=0.01) is True
        assert vm.send_text('ls -l /\n') is True
        assert vm.pointer_move(0.5, 0.5) is True
        assert vm.pointer_click('right') is True
        with pytest.raises(GLib.Error) as info:
            vm.send_text('\u00e9')
        assert info.value.matches(Gio.io_error_quark(), Gio.IOErrorEnum.INVALID_ARGUMENT)
    finally:
        vm.shutdown()


def test_spawn_helper_found_beside_the_library(qemu_binary, tmp_path):
    # A program that loads libqmachine from a build tree spawns QEMU
    # through the helper built beside it (not by fork), found without any
    # environment variable.
    import subprocess
    import sys

    libdir = os.environ['LD_LIBRARY_PATH'].split(os.pathsep)[0]
    env = dict(os.environ)
    env.pop('QMACHINE_SPAWN_HELPER', None)
    env['G_MESSAGES_DEBUG'] = 'QMachine'
    script = (
        'import qmachine\n'
        'from gi.repository import QMachine\n'
        f'vm = QMachine.Machine({qemu_binary!r})\n'
        f'vm.set_base_temp_dir({str(tmp_path)!r})\n'
        f'vm.add_args(*{list(FAST_ARGS)!r})\n'
        'vm.launch()\n'
        'vm.shutdown()\n')
    proc = subprocess.run([sys.executable, '-c', script], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    helper = os.path.join(os.path.abspath(libdir), 'qmachine-spawn-helper')
    # GLib writes debug messages to standard output; one line per spawn.
    assert f') spawned through {helper}\n' in proc.stdout, proc.stdout
