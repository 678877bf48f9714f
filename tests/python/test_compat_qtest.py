# test_compat_qtest.py - qmachine.compat.qtest and the qemu shim
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""``qmachine.compat.qtest`` against ``qemu.machine.qtest``'s API (replies
are the reference's lines, FAIL and ERR included; both constructor
spellings; the protocol on its own against a QEMU started by hand), the
subclass hooks QEMU's iotests use, and the ``qemu`` shim in a subprocess
under ``-W default``."""

import os
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import PYTHON_SRCDIR, qemu_binary_path
from qmachine.compat import QEMUMachine
from qmachine.compat.qtest import QEMUQtestMachine, QEMUQtestProtocol

ARGS = ['-machine', 'pc', '-accel', 'tcg', '-nodefaults', '-S']
SHIM = os.path.join(PYTHON_SRCDIR, 'shim')


def test_qtest_replies_are_the_reference_lines(tmp_path):
    vm = QEMUQtestMachine(qemu_binary_path(), ARGS,
                          base_temp_dir=str(tmp_path))
    with vm:
        vm.launch()
        # CMOS NVRAM: index to 0x70, value through 0x71.
        assert vm.qtest('outb 0x70 0x40') == 'OK\n'
        assert vm.qtest('outb 0x71 0x3c') == 'OK\n'
        assert vm.qtest('outb 0x70 0x40') == 'OK\n'
        assert vm.qtest('inb 0x71') == 'OK 0x003c\n'
        assert vm.qtest('outb 0x70 0x0e') == 'OK\n'
        assert vm.qtest('inb 0x71').startswith('OK 0x')
        # FAIL and ERR are replies, as QEMU sent them.
        assert vm.qtest('bogus') == "FAIL Unknown command 'bogus'\n"
        assert vm.qtest('write 0x0 1 zz') == 'ERR invalid argument size\n'
        assert vm.qtest('irq_intercept_in /nowhere') == \
            'FAIL Unknown device\n'
        # The channel still works after them.
        assert vm.qtest('writeb 0x2000 0x5a') == 'OK\n'
        assert vm.qtest('readb 0x2000') == 'OK 0x000000000000005a\n'
        # A newline would split the command in two: refused.
        with pytest.raises(ValueError):
            vm.qtest('readb 0x0\nreadb 0x1')
        # The library's client is there too.
        assert vm.get_qtest_client() is not None
    with pytest.raises(RuntimeError):
        vm.qtest('readb 0x0')


def test_clock_step_without_the_qtest_accelerator(tmp_path):
    accels = subprocess.run([qemu_binary_path(), '-accel', 'help'],
                            capture_output=True, text=True, check=True)
    if 'qtest' in accels.stdout.split():
        pytest.skip('this QEMU has the qtest accelerator')
    vm = QEMUQtestMachine(qemu_binary_path(), ARGS,
                          base_temp_dir=str(tmp_path))
    with vm:
        vm.launch()
        assert '-accel' in vm._qemu_full_args
        assert 'qtest' not in vm._qemu_full_args
        assert vm.qtest('clock_step') == "FAIL Unknown command 'clock_step'\n"
        assert vm.qtest('clock_step 1000') == \
            "FAIL Unknown command 'clock_step'\n"


def test_both_constructor_spellings(tmp_path):
    base = str(tmp_path)
    # QEMU 7.2: ..., base_temp_dir, sock_dir, qmp_timer.
    old = QEMUQtestMachine(qemu_binary_path(), ARGS, (), 'qt-old', base,
                           base, 20.0)
    assert old._qmp_timer == 20.0 and old._sock_dir == base
    old_kw = QEMUQtestMachine(qemu_binary_path(), ARGS, name='qt-kw',
                              base_temp_dir=base, sock_dir=base,
                              qmp_timer=15.0)
    # Newer QEMU: ..., base_temp_dir, qmp_timer.
    new = QEMUQtestMachine(qemu_binary_path(), ARGS, (), 'qt-new', base, 25.0)
    assert new._qmp_timer == 25.0
    default = QEMUQtestMachine(qemu_binary_path(), ARGS)
    assert default._name == f'qemu-{os.getpid()}'
    assert default._qmp_timer is None
    for vm in (old, old_kw, new):
        with vm:
            vm.launch()
            assert vm.qtest('outb 0x80 0x1') == 'OK\n'
            assert vm.qmp('query-status')['return']['status'] == 'prelaunch'


def _qemu_by_hand(qtest_option, log):
    return subprocess.Popen(
        [qemu_binary_path(), *ARGS, '-display', 'none',
         '-qtest', qtest_option, '-qtest-log', '/dev/null'],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)


def test_protocol_connects_to_a_listening_qemu(tmp_path, sock_dir):
    path = str(sock_dir / 'qtest.sock')
    with open(tmp_path / 'qemu.log', 'wb') as log:
        qemu = _qemu_by_hand(f'unix:path={path},server=on,wait=off', log)
    try:
        for _ in range(200):
            if os.path.exists(path) or qemu.poll() is not None:
                break
            time.sleep(0.05)
        qtest = QEMUQtestProtocol(path)
        qtest.settimeout(20)
        qtest.connect()
        assert qtest.cmd('writel 0x1000 0xcafe') == 'OK\n'
        assert qtest.cmd('readl 0x1000') == 'OK 0x000000000000cafe\n'
        assert qtest.cmd('nope') == "FAIL Unknown command 'nope'\n"
        qtest.close()
    finally:
        qemu.kill()
        qemu.wait()


def test_protocol_as_server_accepts_qemu(tmp_path, sock_dir):
    # QEMU 7.2's QEMUQtestMachine way: the protocol listens, QEMU connects
    # (-qtest unix:path=...), positional (address, server).
    path = str(sock_dir / 'qtest.sock')
    qtest = QEMUQtestProtocol(path, True)
    qtest.settimeout(20)
    with open(tmp_path / 'qemu.log', 'wb') as log:
        qemu = _qemu_by_hand(f'unix:path={path}', log)
    try:
        qtest.accept()
        assert qtest.cmd('outb 0x80 0x2') == 'OK\n'
        qtest.close()
    finally:
        qemu.kill()
        qemu.wait()


def test_protocol_on_a_socket():
    import socket
    ours, theirs = socket.socketpair()
    with pytest.raises(ValueError):
        QEMUQtestProtocol()
    with pytest.raises(ValueError):
        QEMUQtestProtocol(sock=ours, server=True)
    qtest = QEMUQtestProtocol(sock=ours)
    qtest.settimeout(10)
    qtest.connect()
    received = []

    def peer():
        # Answers once the command is in (a reply nobody asked for yet
        # would be a protocol error).
        line = b''
        while not line.endswith(b'\n'):
            line += theirs.recv(100)
        received.append(line)
        theirs.sendall(b'OK 0x1\n')

    import threading
    thread = threading.Thread(target=peer)
    thread.start()
    assert qtest.cmd('inb 0x80') == 'OK 0x1\n'
    thread.join()
    assert received == [b'inb 0x80\n']
    theirs.close()
    with pytest.raises(ConnectionError):
        qtest.cmd('inb 0x80')
    qtest.close()


class IotestsLikeVM(QEMUQtestMachine):
    """What QEMU's iotests VM does with the class."""

    def __init__(self, base_temp_dir):
        super().__init__(qemu_binary_path(), ARGS, name=f'iot-{os.getpid()}',
                         base_temp_dir=base_temp_dir, sock_dir=base_temp_dir,
                         qmp_timer=15.0)
        self.calls = []
        self.pid_at_shutdown = None

    def add_device(self, opts):
        self._args.append('-device')
        self._args.append(opts)
        return self

    def _pre_launch(self):
        super()._pre_launch()
        self.calls.append('pre')
        self._args.append('-name')
        self._args.append('from-pre-launch')
        self._close_qemu_log_file()

    def _post_shutdown(self):
        super()._post_shutdown()
        self.calls.append('post')
        if self._popen is not None:
            self.pid_at_shutdown = self._popen.pid


def test_iotests_like_subclass(tmp_path):
    vm = IotestsLikeVM(str(tmp_path))
    vm.add_device('isa-debug-exit')
    vm.launch()
    try:
        assert vm.calls == ['pre']
        assert 'from-pre-launch' in vm._qemu_full_args
        assert 'isa-debug-exit' in vm._qemu_full_args
        pid = vm._popen.pid
        assert pid == vm.get_pid()
        assert vm._popen.poll() is None and vm._popen.returncode is None
        assert vm.qmp('query-name')['return'] == {'name': 'from-pre-launch'}
        assert vm.qtest('outb 0x80 0x3') == 'OK\n'
    finally:
        vm.shutdown()
    assert vm.calls == ['pre', 'post']
    assert vm.pid_at_shutdown == pid
    assert vm._popen.returncode == 0 and vm.exitcode() == 0
    # A second launch runs the hooks again.
    vm.launch()
    vm._popen.kill()
    assert vm._popen.wait(timeout=20) == -9
    vm.shutdown()
    assert vm.calls == ['pre', 'post', 'pre', 'post']


def test_hook_failure_is_a_launch_failure(tmp_path):
    from qmachine.compat import VMLaunchFailure

    class Broken(QEMUMachine):
        def _post_launch(self):
            raise OSError('no luck')

    vm = Broken(qemu_binary_path(), ARGS, base_temp_dir=str(tmp_path))
    with pytest.raises(VMLaunchFailure) as info:
        vm.launch()
    assert isinstance(info.value.__cause__, OSError)
    assert not vm.is_running()
    assert vm._popen is not None and vm._popen.returncode is not None


def _run_shim(script, tmp_path, extra_path=(), sock_dir=None):
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([SHIM, *extra_path])
    env['PYTHONWARNINGS'] = 'default'
    env['QEMU_BINARY'] = qemu_binary_path()
    env['TMP_PATH'] = str(tmp_path)
    env['SOCK_DIR'] = str(sock_dir or tmp_path)
    return subprocess.run([sys.executable, '-W', 'default', '-c',
                           textwrap.dedent(script)],
                          env=env, capture_output=True, text=True,
                          timeout=120, cwd=str(tmp_path), check=False)


def test_shim_imports_quietly(tmp_path):
    proc = _run_shim('''
        import qemu.machine
        from qemu.machine import QEMUMachine, QEMUQtestMachine
        from qemu.machine import qtest
        from qemu.machine.qtest import QEMUQtestMachine as Q2
        from qemu.machine.machine import (AbnormalShutdown, VMLaunchFailure,
                                          QEMUMachineError)
        from qemu.qmp import QMPError, ExecuteError, ConnectError
        from qemu.qmp.qmp_client import ExecuteError as E2
        from qemu.qmp.legacy import QMPMessage, QEMUMonitorProtocol
        from qemu.utils import (VerboseProcessError, kvm_available,
                                tcg_available, get_info_usernet_hostfwd_port)
        import qmachine.compat
        import qmachine.compat.qtest
        assert QEMUMachine is qmachine.compat.QEMUMachine
        assert qtest.QEMUQtestMachine is qmachine.compat.qtest.QEMUQtestMachine
        assert Q2 is QEMUQtestMachine
        assert ExecuteError is E2
        assert issubclass(qmachine.compat.ExecuteError, ExecuteError)
        assert issubclass(ExecuteError, QMPError)
        assert get_info_usernet_hostfwd_port(
            'Hub -1 (net0):\\r\\n  Protocol[State]    FD  Source Address  '
            'Port   Dest. Address  Port RecvQ SendQ\\r\\n  TCP[HOST_FORWARD]'
            '  12       127.0.0.1 36541       10.0.2.15    22     0     0'
            '\\r\\n') == 36541
        print('ok')
    ''', tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == 'ok\n'
    assert proc.stderr == ''


def test_shim_script(tmp_path):
    # A script written for QEMU's packages, run unchanged on the shim.
    proc = _run_shim('''
        import os
        from qemu.machine import QEMUMachine
        from qemu.machine import qtest
        from qemu.qmp import ExecuteError

        binary = os.environ['QEMU_BINARY']
        base = os.environ['TMP_PATH']
        args = ['-machine', 'pc', '-accel', 'tcg', '-nodefaults', '-S']
        with QEMUMachine(binary, args, base_temp_dir=base) as vm:
            vm.launch()
            print(vm.cmd('query-status')['status'])
            try:
                vm.cmd('no-such-command')
            except ExecuteError as err:
                print(err.error_class)
        vm = qtest.QEMUQtestMachine(binary, args, base_temp_dir=base)
        vm.launch()
        print(repr(vm.qtest('outb 0x70 0x40')))
        print(repr(vm.qtest('clock_step').split(' ')[0]))
        vm.shutdown()
    ''', tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        'prelaunch', 'CommandNotFound', "'OK\\n'", "'FAIL'"]
    assert proc.stderr == ''


def test_shim_legacy_monitor(tmp_path, sock_dir):
    # qemu.qmp.legacy's QEMUMonitorProtocol (the fallback) in server mode,
    # as iotests' QemuStorageDaemon uses it, against a QEMU by hand.
    proc = _run_shim('''
        import os, subprocess
        from qemu.qmp.legacy import QEMUMonitorProtocol
        from qemu.qmp import ExecuteError

        path = os.path.join(os.environ['SOCK_DIR'], 'qmp.sock')
        qmp = QEMUMonitorProtocol(path, server=True)
        qemu = subprocess.Popen(
            [os.environ['QEMU_BINARY'], '-machine', 'pc', '-accel', 'tcg',
             '-nodefaults', '-S', '-display', 'none',
             '-chardev', f'socket,id=m,path={path}',
             '-mon', 'chardev=m,mode=control'],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        greeting = qmp.accept(20)
        print(sorted(greeting['QMP']))
        print(qmp.cmd('query-status')['return']['status'])
        try:
            qmp.command('nope')
        except ExecuteError as err:
            print(err.error_class)
        qmp.cmd('cont')
        print(qmp.pull_event(wait=20)['event'])
        qmp.cmd('quit')
        print(qemu.wait(20))
        qmp.close()
    ''', tmp_path, sock_dir=sock_dir)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "['capabilities', 'version']", 'prelaunch', 'CommandNotFound',
        'RESUME', '0']
    assert proc.stderr == ''


def test_shim_delegates_to_real_packages(tmp_path):
    # A stand-in for QEMU's python/ directory (qemu.qmp, qemu.utils and its
    # own qemu.machine) after the shim on the path: qemu.qmp and qemu.utils
    # come from it, qemu.machine stays qmachine's.
    real = tmp_path / 'real'
    (real / 'qemu' / 'qmp').mkdir(parents=True)
    (real / 'qemu' / 'utils').mkdir()
    (real / 'qemu' / 'machine').mkdir()
    (real / 'qemu' / 'qmp' / '__init__.py').write_text(
        'REAL = True\n'
        'from .qmp_client import ExecuteError, ExecInterruptedError\n')
    (real / 'qemu' / 'qmp' / 'qmp_client.py').write_text(
        'class ExecuteError(Exception): pass\n'
        'class ExecInterruptedError(Exception): pass\n')
    (real / 'qemu' / 'utils' / '__init__.py').write_text('REAL = True\n')
    (real / 'qemu' / 'machine' / '__init__.py').write_text(
        'raise ImportError("the real qemu.machine was imported")\n')
    proc = _run_shim('''
        import qemu.qmp, qemu.utils
        from qemu.machine import QEMUMachine
        from qemu.qmp import ExecuteError
        import qmachine.compat
        assert qemu.qmp.REAL and qemu.utils.REAL
        assert QEMUMachine is qmachine.compat.QEMUMachine
        assert issubclass(qmachine.compat.ExecuteError, ExecuteError)
        print('ok')
    ''', tmp_path, extra_path=[str(real)])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == 'ok\n'
    assert proc.stderr == ''


def test_qtest_log_in_get_log(tmp_path):
    """As the reference (QEMU logs the qtest channel to stderr), the log
    has the channel's OPENED, commands and CLOSED: iotests strip them
    (041's test_with_other_parents_after_mirror_start)."""
    vm = QEMUQtestMachine(qemu_binary_path(), ARGS,
                          base_temp_dir=str(tmp_path))
    with vm:
        vm.launch()
        assert vm.qtest('outb 0x80 0x1') == 'OK\n'
    log = vm.get_log()
    assert log is not None
    lines = log.splitlines()
    assert lines[0].startswith('[I ') and lines[0].endswith('] OPENED')
    assert any(line.endswith('outb 0x80 0x1') for line in lines)
    assert lines[-1].startswith('[I +') and lines[-1].endswith('] CLOSED')
