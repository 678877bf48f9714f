# test_agent_guest.py - the guest agent from Python, the compat layer and
# the tool, against the real qemu-ga in the test guest
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""QMachine.GuestAgent through the Python override (a machine with
``add_guest_agent``), ``qmachine.compat.QemuGuestAgentClient`` running a
qemu_ga_client-style script unchanged, and ``qmachine agent`` on a socket
QEMU serves. Skipped without the guest."""

import os
import subprocess
import sys

import pytest

from gi.repository import Gio, GLib, QMachine

from conftest import HERE, PYTHON_SRCDIR

pytestmark = pytest.mark.guest

SCRIPT = os.path.join(HERE, 'reference_style_agent_script.py')


@pytest.fixture
def agent_vm(qemu_binary, guest, tmp_path):
    """A booted guest with the machine's own agent channel."""
    vm = QMachine.Machine.new(qemu_binary)
    vm.set_base_temp_dir(str(tmp_path))
    vm.add_args(*guest.args())
    vm.set_console(None, 0)
    vm.add_guest_agent(QMachine.GuestAgentPort.VIRTIO_SERIAL)
    vm.launch()
    try:
        vm.get_console().wait_for(guest.READY, timeout=guest.BOOT_TIMEOUT)
        agent = vm.get_guest_agent()
        agent.timeout = 60
        yield vm, agent
    finally:
        vm.kill()


def test_override(agent_vm, tmp_path):
    vm, agent = agent_vm
    assert agent.ping() is True
    assert agent.timeout == 60
    assert agent.info()['version'].startswith('7.')

    result = agent.exec(['sh', '-c', 'cat; echo "$QM" >&2; exit 4'],
                        input='to stdin\n', env={'QM': 'value'}, timeout=30)
    assert result == (4, b'to stdin\n', b'value\n')
    assert (result.exit_status, result.returncode) == (4, 4)
    assert result.stdout == b'to stdin\n' and result.stderr == b'value\n'
    with pytest.raises(subprocess.CalledProcessError):
        result.check()
    assert agent.exec('echo shell words').stdout == b'shell words\n'
    assert agent.exec(['true']).check().exit_status == 0

    agent.file_write('/tmp/py', 'text\n')
    assert agent.file_read('/tmp/py') == b'text\n'
    local = tmp_path / 'local'
    local.write_bytes(b'\x00\x01' * 50000)
    agent.copy_to_guest(local, '/tmp/copied')
    agent.copy_from_guest('/tmp/copied', tmp_path / 'back')
    assert (tmp_path / 'back').read_bytes() == local.read_bytes()
    assert (tmp_path / 'back').stat().st_mode & 0o777 == 0o600
    agent.copy_from_guest('/tmp/copied', tmp_path / 'shared', mode=0o644)
    assert (tmp_path / 'shared').stat().st_mode & 0o777 == 0o644
    assert agent.network_interfaces()[0]['name'] == 'lo'
    assert agent.execute('guest-get-time') > 0

    with pytest.raises(GLib.Error) as info:
        agent.file_read('/no/such/file')
    assert info.value.matches(QMachine.qmp_error_quark(), QMachine.QmpError.GENERIC_ERROR)
    with pytest.raises(GLib.Error) as info:
        agent.exec(['sleep', '5'], timeout=0.2)
    assert info.value.matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT)

    assert agent.shutdown() is True
    assert vm.wait(timeout=30) is not False
    assert vm.get_exit_code() == (True, 0)


@pytest.fixture
def socket_vm(qemu_binary, guest, tmp_path, sock_dir):
    """A booted guest whose agent channel QEMU serves on a socket path, as
    users of qemu_ga_client set it up."""
    path = str(sock_dir / 'qga.sock')
    vm = QMachine.Machine.new(qemu_binary)
    vm.set_base_temp_dir(str(tmp_path))
    vm.add_args(*guest.args())
    vm.add_args('-chardev', f'socket,path={path},server=on,wait=off,id=qga0',
                '-device', 'virtio-serial',
                '-device', 'virtserialport,chardev=qga0,name=org.qemu.guest_agent.0')
    vm.set_console(None, 0)
    vm.launch()
    try:
        vm.get_console().wait_for(guest.READY, timeout=guest.BOOT_TIMEOUT)
        yield vm, path
    finally:
        vm.kill()


def run_tool(*args, **kwargs):
    tool = os.environ.get('QMACHINE_TOOL')
    if not tool:
        pytest.skip('QMACHINE_TOOL is not set')
    return subprocess.run([tool, *args], capture_output=True, timeout=120,
                          check=False, **kwargs)


def test_tool_and_compat_script(socket_vm, tmp_path):
    vm, path = socket_vm

    # The tool: the guest command's output, its exit status ours.
    ping = run_tool('agent', '-t', '60', path, 'ping')
    assert ping.returncode == 0, ping.stderr
    done = run_tool('agent', path, 'exec', '--', 'sh', '-c', 'echo out; echo err >&2; exit 5')
    assert (done.returncode, done.stdout, done.stderr) == (5, b'out\n', b'err\n')
    fed = run_tool('agent', path, 'exec', '-i', 'cat', input=b'fed\n')
    assert (fed.returncode, fed.stdout) == (0, b'fed\n')
    local = tmp_path / 'in'
    local.write_bytes(b'tool copy\n')
    assert run_tool('agent', path, 'cp', str(local), 'guest:/tmp/t').returncode == 0
    cat = run_tool('agent', path, 'cat', '/tmp/t')
    assert (cat.returncode, cat.stdout) == (0, b'tool copy\n')
    missing = run_tool('agent', path, 'cat', '/no/such')
    assert missing.returncode == 1 and b'/no/such' in missing.stderr
    assert run_tool('agent', path, 'bogus').returncode == 2

    # A qemu_ga_client-style script, unchanged but for its import.
    env = dict(os.environ)
    for name in ('GI_TYPELIB_PATH', 'LD_LIBRARY_PATH'):
        if name in env:
            env[name] = os.pathsep.join(os.path.abspath(p) for p in env[name].split(os.pathsep) if p)
    env['PYTHONPATH'] = os.pathsep.join(
        [PYTHON_SRCDIR] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
    proc = subprocess.run([sys.executable, SCRIPT, path], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines() == [
        'version',
        'ping: True',
        "read: b'Linux'",
        'first interface: lo:',
        'fsfreeze status: thawed',
        'Invalid command: bogus',
        'ExecuteError GenericError',
        'shutdown sent',
    ]
    assert vm.wait(timeout=30) is not False
    assert vm.get_exit_code() == (True, 0)


def test_tool_run_with_agent(qemu_binary, guest, tmp_path):
    shell = '\n'.join([
        'wait-console ' + guest.READY,
        'agent guest-ping',
        'agent-exec echo hi; exit 2',
        'agent guest-file-open {"path": "/no/such"}',
    ]) + '\n'
    proc = run_tool('run', '-a', '-q', '--console-log', str(tmp_path / 'console'),
                    '-t', '60', '-b', qemu_binary, '--', *guest.args(),
                    input=shell.encode())
    lines = [line for line in proc.stdout.decode().splitlines()
             if '"event":' not in line]
    assert lines == [
        '{"return":{}}',
        '{"exit-status":2,"stdout":"hi\\n","stderr":""}',
        '{"error":{"class":"qmachine","desc":"failed to open file \'/no/such\' '
        '(mode: \'r\'): No such file or directory"}}',
    ], proc.stdout + proc.stderr
    assert proc.returncode == 1, proc.stderr


def test_script_differs_from_the_reference_only_by_its_import():
    with open(SCRIPT) as f:
        lines = f.read().splitlines()
    imports = [line for line in lines if 'import QemuGuestAgentClient' in line]
    assert imports == ['# from qemu.utils.qemu_ga_client import QemuGuestAgentClient',
                       'from qmachine.compat import QemuGuestAgentClient']
