# test_tool.py: the qmachine tool as a user runs it
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import re
import signal
import subprocess

import pytest


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM])
def test_tool_shuts_down_on_signal(tmp_path, sig):
    # Ctrl-C (or SIGTERM) while the tool runs a VM: QEMU is shut down, the
    # tool exits with status 0 and leaves no file behind.
    env = dict(os.environ, TMPDIR=str(tmp_path))
    tool = subprocess.Popen(
        [os.environ['QMACHINE_TOOL'], 'run', '--', '-machine', 'none', '-nodefaults'],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env=env, text=True)
    pid = None
    try:
        for line in tool.stderr:
            found = re.search(r'QEMU running \(pid (\d+)\)', line)
            if found:
                pid = int(found.group(1))
                break
        assert pid is not None, 'the tool never reported QEMU running'
        tool.send_signal(sig)
        assert tool.wait(timeout=20) == 0
    finally:
        if tool.poll() is None:
            tool.kill()
            tool.wait()
        tool.stdin.close()
        tool.stderr.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert os.listdir(tmp_path) == []


def test_tool_qmp_on_a_running_monitor(sock_dir):
    # `qmachine qmp SOCKET …` talks to a QEMU it did not start.
    import json
    import socket

    # The listening socket exists before QEMU starts (QEMU gets it as an
    # fd), so there is nothing to wait for.
    sock = sock_dir / 'qmp.sock'
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(sock))
    listener.listen(1)
    qemu = subprocess.Popen(
        ['qemu-system-x86_64', '-machine', 'none', '-nodefaults', '-display', 'none',
         '-chardev', f'socket,id=mon,fd={listener.fileno()},server=on,wait=off',
         '-mon', 'chardev=mon,mode=control'],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        pass_fds=[listener.fileno()])
    listener.close()
    tool = os.environ['QMACHINE_TOOL']
    try:

        greeting = subprocess.run([tool, 'qmp', str(sock)], capture_output=True, text=True,
                                  timeout=30)
        assert greeting.returncode == 0, greeting.stderr
        assert 'qemu' in json.loads(greeting.stdout)['version']

        status = subprocess.run([tool, 'qmp', str(sock), 'query-status'], capture_output=True,
                                text=True, timeout=30)
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)['return']['status'] == 'running'

        bad = subprocess.run([tool, 'qmp', str(sock), 'no-such-command'], capture_output=True,
                             text=True, timeout=30)
        assert bad.returncode == 1
        assert json.loads(bad.stdout)['error']['class'] == 'CommandNotFound'

        usage = subprocess.run([tool, 'qmp', str(sock), 'query-status', '[1]'],
                               capture_output=True, text=True, timeout=30)
        assert usage.returncode == 2

        # GLib would cut a longer path short and connect somewhere else.
        long_path = str(sock_dir / ('y' * 120))
        too_long = subprocess.run([tool, 'qmp', long_path, 'query-status'],
                                  capture_output=True, text=True, timeout=30)
        assert too_long.returncode == 2
        assert 'too long' in too_long.stderr
    finally:
        qemu.kill()
        qemu.wait()


def test_bash_completion_parses():
    # The completion script installed to share/bash-completion/completions.
    script = os.path.join(os.path.dirname(__file__), '..', '..', 'qmachine', 'tool',
                          'qmachine.bash')
    assert subprocess.run(['bash', '-n', script]).returncode == 0
    defined = subprocess.run(['bash', '-c', f'source {script}; complete -p qmachine'],
                             capture_output=True, text=True)
    assert '_qmachine' in defined.stdout, defined.stderr


def test_tool_screen_and_keys(tmp_path):
    shot = tmp_path / 'shot.png'
    shell = (f'screendump {shot}\n'
             'sendkey ctrl-alt-f2\n'
             'type ls -l\\n\n'
             'sendkey Ctrl-X\n')
    proc = subprocess.run(
        [os.environ['QMACHINE_TOOL'], 'run', '-q', '--',
         '-machine', 'pc', '-nodefaults', '-accel', 'tcg', '-vga', 'std'],
        input=shell, capture_output=True, text=True, timeout=60, check=False)
    lines = [line for line in proc.stdout.splitlines() if '"event":' not in line]
    assert lines[0] == '{"return":{"file":"%s","bytes":%d}}' % (shot, shot.stat().st_size)
    assert shot.read_bytes().startswith(b'\x89PNG\r\n\x1a\n')
    assert lines[1:3] == ['{"return":{}}', '{"return":{}}']
    assert lines[3].startswith('{"error":{"class":"qmachine","desc":"\\"Ctrl-X\\" is not a key')
    assert proc.returncode == 1, proc.stderr
