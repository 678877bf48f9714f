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


def run_tool(*args, **kwargs):
    return subprocess.run([os.environ['QMACHINE_TOOL'], *args], capture_output=True,
                          text=True, timeout=30, **kwargs)


def test_tool_json_arguments_errors(sock_dir):
    # JSON arguments are checked before connecting: no monitor needed.
    sock = str(sock_dir / 'qmp.sock')

    # `{"path": "/machine"}` unquoted: the shell splits it (and drops the
    # double quotes).
    split = run_tool('qmp', sock, 'qom-get', '{path:', '/machine}')
    assert split.returncode == 2
    assert split.stderr.splitlines() == [
        'qmachine: the JSON arguments must be one argument, but the shell split them into 2: '
        '{path: /machine}',
        f'qmachine: in a shell, put the arguments in single quotes: qmachine qmp {sock} qom-get '
        '\'{"key": "value"}\'',
    ]

    bad = run_tool('qmp', sock, 'qom-get', '{"path": "/machine", "property": type}')
    assert bad.returncode == 2
    assert bad.stderr.splitlines() == [
        'qmachine: the arguments are not valid JSON: column 34: '
        "unexpected identifier `type', expected value",
        '    {"path": "/machine", "property": type}',
        '    ' + ' ' * 33 + '^~~~',
        f'qmachine: in a shell, put the arguments in single quotes: qmachine qmp {sock} qom-get '
        '\'{"key": "value"}\'',
    ]

    # One word, but the shell took its double quotes away.
    unquoted = run_tool('qmp', sock, 'qom-get', '{path:/machine}')
    assert unquoted.returncode == 2
    assert unquoted.stderr.splitlines()[1:3] == ['    {path:/machine}', '    ^']
    assert 'the shell took the double quotes away: put the arguments in single quotes' in \
        unquoted.stderr

    # An error on the second line: the line is named, the caret under it.
    second = run_tool('qmp', sock, 'qom-get', '{"path": "/machine",\n "property": tru}')
    assert second.stderr.splitlines()[:3] == [
        'qmachine: the arguments are not valid JSON: line 2, column 14: '
        "unexpected identifier `tru', expected value",
        '     "property": tru}',
        '                 ^~~',
    ]

    array = run_tool('qmp', sock, 'query-status', '[1]')
    assert array.returncode == 2
    assert array.stderr.startswith('qmachine: the arguments must be a JSON object, not an array')

    # The agent's cmd verb says the same.
    agent = run_tool('agent', sock, 'cmd', 'guest-ping', '{"a": x}')
    assert agent.returncode == 2
    assert agent.stderr.splitlines()[1:3] == ['    {"a": x}', '          ^']
    assert f"qmachine agent {sock} cmd guest-ping '{{\"key\": \"value\"}}'" in agent.stderr


def test_tool_qmp_over_tcp():
    # `qmachine qmp HOST:PORT`: a monitor QEMU serves on TCP. QEMU gets the
    # listening socket as an fd, so its port is known and nothing races.
    import json
    import socket

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(('127.0.0.1', 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    qemu = subprocess.Popen(
        ['qemu-system-x86_64', '-machine', 'none', '-nodefaults', '-display', 'none',
         '-chardev', f'socket,id=mon,fd={listener.fileno()},server=on,wait=off',
         '-mon', 'chardev=mon,mode=control'],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        pass_fds=[listener.fileno()])
    listener.close()
    try:
        for address in (f'127.0.0.1:{port}', f'tcp:localhost:{port}'):
            status = run_tool('qmp', address, 'query-status')
            assert status.returncode == 0, status.stderr
            assert json.loads(status.stdout)['return']['status'] == 'running'
    finally:
        qemu.kill()
        qemu.wait()

    no_port = run_tool('qmp', 'tcp:localhost', 'query-status')
    assert no_port.returncode == 2
    assert no_port.stderr == ('qmachine: tcp:localhost has no port: write HOST:PORT, '
                              'e.g. localhost:4444\n')


def fake_path(tmp_path, dpkg_status):
    # A PATH with two QEMU binaries and a dpkg-query that answers STATUS.
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    for name in ('qemu-system-x86_64', 'qemu-system-riscv64'):
        (bin_dir / name).write_text('#!/bin/sh\nexit 1\n')
        (bin_dir / name).chmod(0o755)
    dpkg = bin_dir / 'dpkg-query'
    dpkg.write_text(f'#!/bin/sh\nprintf %s "{dpkg_status}"\n')
    dpkg.chmod(0o755)
    return dict(os.environ, PATH=str(bin_dir))


def test_tool_missing_binary(tmp_path):
    env = fake_path(tmp_path, 'unknown ok not-installed')

    # A typo: the nearest binary on PATH, no apt-get.
    typo = run_tool('run', '-b', 'qemu-system-x86-64', '--', '-machine', 'none', env=env)
    assert typo.returncode == 1
    assert typo.stderr == ('qmachine: the QEMU binary qemu-system-x86-64 is not on PATH\n'
                           'qmachine: did you mean qemu-system-x86_64?\n')

    # Nothing near: the binaries there are.
    far = run_tool('run', '-b', 'qemu-system-foo', '--', '-machine', 'none', env=env)
    assert far.returncode == 1
    assert far.stderr == ('qmachine: the QEMU binary qemu-system-foo is not on PATH\n'
                          'qmachine: QEMU binaries on PATH: qemu-system-x86_64, '
                          'qemu-system-riscv64\n')

    # A real binary whose package is not installed: apt-get.
    missing = run_tool('run', '-b', 'qemu-system-aarch64', '--', '-machine', 'none', env=env)
    assert missing.returncode == 1
    assert missing.stderr == (
        'qmachine: the QEMU binary qemu-system-aarch64 is not on PATH\n'
        "qmachine: it comes with Debian's qemu-system-arm package: "
        'apt-get install qemu-system-arm\n')

    # A path that is not there.
    path = run_tool('run', '-b', str(tmp_path / 'no' / 'qemu'), '--', '-machine', 'none',
                    env=env)
    assert path.returncode == 1
    assert path.stderr == f'qmachine: the QEMU binary {tmp_path}/no/qemu does not exist\n'


def test_tool_missing_binary_package_installed(tmp_path):
    # The package is installed but the binary is not on PATH: no apt-get.
    env = fake_path(tmp_path, 'install ok installed')
    proc = run_tool('run', '-b', 'qemu-system-aarch64', '--', '-machine', 'none', env=env)
    assert proc.returncode == 1
    assert 'apt-get' not in proc.stderr
    assert proc.stderr.startswith('qmachine: the QEMU binary qemu-system-aarch64 is not on PATH\n')


def test_tool_launch_failure_without_output(tmp_path):
    # A "QEMU" that exits at once and prints nothing: no empty Output: line.
    silent = tmp_path / 'silent-qemu'
    silent.write_text('#!/bin/sh\nexit 3\n')
    silent.chmod(0o755)
    proc = run_tool('run', '-b', str(silent), '--', '-machine', 'none')
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert lines[0] == 'qmachine: QEMU failed to launch: QEMU exited before QMP was ready'
    assert lines[1] == '\tExit code: 3'
    assert lines[2].startswith(f'\tCommand: {silent} ')
    assert not any('Output:' in line for line in lines)

    # With output, the line is there.
    loud = run_tool('run', '--', '-machine', 'none', '-foo')
    assert loud.returncode == 1
    assert '\tOutput: qemu-system-x86_64: -foo: invalid option' in loud.stderr.splitlines()


def test_tool_qemu_options_before_separator():
    proc = run_tool('run', '-machine', 'none')
    assert proc.returncode == 2
    assert proc.stderr == ('qmachine run: Unknown option -machine\n'
                           'qmachine run: QEMU\'s own options go after "--": '
                           'qmachine run [OPTION…] -- QEMU-ARGS…\n')
