# test_agent_guest.py - the test guest runs QEMU's guest agent
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""The test guest starts qemu-ga (Debian's, from build-aux/make-guest.sh)
on its second ISA serial port after the ready marker.  These tests talk to
it with a minimal client written here, over a socket chardev the machine
gets with ``-device isa-serial``: the ground the library's guest agent
client is built on.  Skipped without the guest."""

import base64
import json
import random
import socket
import time

import pytest

from gi.repository import QMachine

pytestmark = pytest.mark.guest


class Agent:
    """Just enough of the agent protocol: resynchronise with
    guest-sync-delimited, then one command at a time (no ids)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = b''

    def close(self):
        self.sock.close()

    def _lines(self, until):
        """Reads until the monotonic time *until*; yields complete lines."""
        while time.monotonic() < until:
            while b'\n' in self.buf:
                line, _, self.buf = self.buf.partition(b'\n')
                yield line
            self.sock.settimeout(max(0.01, until - time.monotonic()))
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                return
            if not data:
                raise EOFError('the agent channel closed')
            self.buf += data

    def sync(self, timeout):
        """Sends guest-sync-delimited with a fresh id every half second
        (the agent may not be listening yet, and drops what came before)
        until the reply with the latest id arrives after its 0xFF."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sync_id = random.randrange(1, 2 ** 31)
            self.sock.sendall(b'\xff' + json.dumps({
                'execute': 'guest-sync-delimited',
                'arguments': {'id': sync_id}}).encode() + b'\n')
            for line in self._lines(time.monotonic() + 0.5):
                # Everything up to the last 0xFF is stale.
                line = line.rpartition(b'\xff')[2]
                try:
                    reply = json.loads(line)
                except ValueError:
                    continue
                if reply.get('return') == sync_id:
                    return
        raise TimeoutError('the guest agent did not answer guest-sync-delimited')

    def execute(self, command, arguments=None, timeout=30):
        message = {'execute': command}
        if arguments is not None:
            message['arguments'] = arguments
        self.sock.sendall(json.dumps(message).encode() + b'\n')
        for line in self._lines(time.monotonic() + timeout):
            reply = json.loads(line.rpartition(b'\xff')[2])
            if 'error' in reply:
                raise RuntimeError(reply['error'])
            return reply['return']
        raise TimeoutError(f'no reply to {command}')


@pytest.fixture
def agent_vm(qemu_binary, guest, tmp_path):
    path = str(tmp_path / 'agent.sock')
    vm = QMachine.Machine.new(qemu_binary)
    vm.set_base_temp_dir(str(tmp_path))
    vm.add_args(guest.args())
    vm.add_args(['-chardev', f'socket,id=qga0,path={path},server=on,wait=off',
                 '-device', 'isa-serial,chardev=qga0'])
    vm.set_console(None, 0)
    vm.set_drain_console(True)
    vm.launch()
    agent = Agent(path)
    try:
        yield vm, agent
    finally:
        agent.close()
        vm.shutdown(timeout=10)


def test_agent_answers(agent_vm, guest):
    vm, agent = agent_vm
    assert vm.get_console().wait_for(guest.READY, timeout=guest.BOOT_TIMEOUT) == guest.READY
    agent.sync(timeout=60)
    assert agent.execute('guest-ping') == {}
    info = agent.execute('guest-info')
    assert info['version'].startswith('7.'), info
    names = {c['name'] for c in info['supported_commands'] if c['enabled']}
    assert {'guest-exec', 'guest-file-open', 'guest-shutdown'} <= names, names


def test_agent_runs_a_command(agent_vm, guest):
    vm, agent = agent_vm
    vm.get_console().wait_for(guest.READY, timeout=guest.BOOT_TIMEOUT)
    agent.sync(timeout=60)
    pid = agent.execute('guest-exec', {
        'path': '/bin/sh', 'arg': ['-c', 'read line; echo "got $line"; exit 3'],
        'input-data': base64.b64encode(b'hello\n').decode(),
        'capture-output': True})['pid']
    deadline = time.monotonic() + 30
    while True:
        status = agent.execute('guest-exec-status', {'pid': pid})
        if status['exited']:
            break
        assert time.monotonic() < deadline, status
        time.sleep(0.05)
    assert status['exitcode'] == 3, status
    assert base64.b64decode(status['out-data']) == b'got hello\n', status
