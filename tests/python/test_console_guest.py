# test_console_guest.py - the serial console with the real test guest
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""Boots the test guest (a Linux kernel and a busybox initramfs that print
QMACHINE-GUEST-READY on ttyS0 and run a shell there) and talks to it over
the console: through the override's ``QMachine.Console`` and through
``qmachine.compat.QEMUMachine.console_socket``/``console_file``, drained
and not.  Skipped when QMACHINE_GUEST_KERNEL/QMACHINE_GUEST_INITRD are not
set; meson sets them in the ``guest`` suite."""

import os
import re
import socket

import pytest

from gi.repository import GLib, Gio, QMachine

from qmachine.compat import QEMUMachine, QEMUMachineError

pytestmark = pytest.mark.guest

IO_ERROR = Gio.io_error_quark()


def read_until(console_file, wanted, limit=2000):
    """Reads lines from a binary console file until one contains *wanted*;
    returns that line.  The socket's timeout bounds each read."""
    for _ in range(limit):
        line = console_file.readline()
        if not line:
            raise EOFError(f'console closed before {wanted!r}')
        if wanted in line:
            return line
    raise AssertionError(f'{wanted!r} not seen in {limit} lines')


# --------------------------------------------------------------------------
# gi.repository.QMachine


def test_console_through_the_override(qemu_binary, guest, tmp_path):
    vm = QMachine.Machine.new(qemu_binary)
    vm.set_base_temp_dir(str(tmp_path))
    vm.add_args(guest.args())
    vm.set_console(None, 0)
    vm.set_drain_console(True)
    assert vm.get_console() is None
    vm.launch()
    try:
        console = vm.get_console()
        assert isinstance(console, QMachine.Console)
        assert console.wait_for(guest.READY, timeout=guest.BOOT_TIMEOUT) == guest.READY

        # A str goes out as UTF-8; the regex sees what the shell prints.
        # (It matches what has arrived so far: the lookahead makes it wait
        # for the end of the line, not just the first digit.)
        console.write('echo qm-$((6*7))\n')
        assert console.wait_for(r'qm-\d+(?=\r?\n)', regex=True, timeout=60) == 'qm-42'

        # Bytes too; read_line returns whole lines, without line endings.
        console.write(b'echo line-$((1+1))\n')
        lines = [console.read_line(timeout=60) for _ in range(2)]
        while lines[-1] != 'line-2':
            lines.append(console.read_line(timeout=60))
        assert not any(line.endswith(('\r', '\n')) for line in lines)

        # Nothing new: a timeout in seconds, as GLib.Error TIMED_OUT.
        with pytest.raises(GLib.Error) as excinfo:
            console.wait_for('never-printed', timeout=0.3)
        assert excinfo.value.matches(IO_ERROR, Gio.IOErrorEnum.TIMED_OUT)
        with pytest.raises(GLib.Error) as excinfo:
            console.wait_for('[unclosed', regex=True, timeout=1)
        assert excinfo.value.domain == 'g-regex-error-quark'

        output = console.get_output()
        assert isinstance(output, bytes)
        assert guest.READY.encode() in output and b'qm-42' in output
    finally:
        vm.shutdown()
    assert vm.exit_code == 0
    # The output stays readable after shutdown.
    assert b'line-2' in vm.get_console().get_output()
    assert vm.get_console().is_closed()


def test_console_async_in_main_loop(qemu_binary, guest, loop_runner, tmp_path):
    context = GLib.MainContext.new()
    context.push_thread_default()
    try:
        runner = loop_runner(context, guard_seconds=guest.BOOT_TIMEOUT)
        vm = QMachine.Machine.new(qemu_binary)
        vm.set_base_temp_dir(str(tmp_path))
        vm.add_args(guest.args())
        vm.set_console(None, 0)
        chunks = []
        results = []

        @runner.checked
        def on_output(console, chunk):
            chunks.append(chunk.get_data())

        @runner.checked
        def launched(machine, result):
            machine.launch_finish(result)
            console = machine.get_console()
            console.connect('output', on_output)
            console.wait_for_async(guest.READY, QMachine.ConsoleMatchFlags.NONE,
                                   guest.BOOT_TIMEOUT * 1000, None, ready)

        @runner.checked
        def ready(console, result):
            results.append(console.wait_for_finish(result))
            console.write_async('echo async-$((2*21))\n', None, written)

        @runner.checked
        def written(console, result):
            assert console.write_finish(result)
            console.wait_for_async(r'async-\d+(?=\r?\n)', QMachine.ConsoleMatchFlags.REGEX,
                                   60000, None, echoed)

        @runner.checked
        def echoed(console, result):
            results.append(console.wait_for_finish(result))
            vm.shutdown_async(QMachine.MachineShutdownFlags.NONE, 30000, None,
                              shut_down)

        @runner.checked
        def shut_down(machine, result):
            machine.shutdown_finish(result)
            runner.done()

        vm.launch_async(None, launched)
        runner.run()
    finally:
        context.pop_thread_default()
    assert results == [guest.READY, 'async-42']
    # The output signal saw what the waits saw.
    assert b'async-42' in b''.join(chunks)


# --------------------------------------------------------------------------
# qmachine.compat


def test_compat_console_socket_not_drained(qemu_binary, guest, tmp_path):
    with QEMUMachine(qemu_binary, base_temp_dir=str(tmp_path)) as vm:
        vm.add_args(*guest.args())
        vm.set_console()
        vm.launch()
        sock = vm.console_socket
        assert isinstance(sock, socket.socket)
        sock.settimeout(guest.BOOT_TIMEOUT)
        assert sock.gettimeout() == guest.BOOT_TIMEOUT
        console_file = vm.console_file
        assert read_until(console_file, guest.READY.encode()).strip() == \
            guest.READY.encode()

        sock.sendall(b'echo sock-$((40+2))\n')
        assert read_until(console_file, b'sock-42').strip().endswith(b'sock-42')

        # recv straight from the socket.
        sock.sendall(b'echo recv-$((3*3))\n')
        received = b''
        while b'recv-9\r\n' not in received:
            chunk = sock.recv(4096)
            assert chunk
            received += chunk

        # "Blocking" mode keeps the shared descriptor non-blocking.
        sock.setblocking(True)
        assert sock.gettimeout() is None
        assert os.get_blocking(sock.fileno()) is False
        vm.shutdown()
        assert sock.fileno() == -1
    assert vm.exitcode() == 0


def test_compat_console_drained_with_log(qemu_binary, guest, tmp_path):
    log = tmp_path / 'console.log'
    vm = QEMUMachine(qemu_binary, base_temp_dir=str(tmp_path), console_log=str(log))
    vm.add_args(*guest.args())
    vm.set_console()
    vm.launch()
    try:
        sock = vm.console_socket
        assert not isinstance(sock, socket.socket)
        sock.settimeout(guest.BOOT_TIMEOUT)
        console_file = vm.console_file
        # Drained from the first byte: the kernel's first line is there.
        first = console_file.readline()
        assert first.strip(), first
        read_until(console_file, guest.READY.encode())

        sock.sendall(b'echo drained-$((40+2))\n')
        read_until(console_file, b'drained-42')

        # A text file over the same console, with its own buffering.
        text = sock.makefile('rw', encoding='utf-8', newline='')
        text.write('echo text-$((5+5))\n')
        text.flush()
        for _ in range(100):
            line = text.readline()
            if line.strip() == 'text-10':
                break
        else:
            raise AssertionError('text-10 not read')

        # Timeouts are socket.timeout.
        sock.settimeout(0.3)
        with pytest.raises(socket.timeout):
            while True:
                sock.recv(4096)
    finally:
        vm.shutdown()
    assert vm.exitcode() == 0
    with pytest.raises(QEMUMachineError):
        vm.console_socket
    contents = log.read_bytes()
    assert guest.READY.encode() in contents
    assert b'drained-42' in contents and b'text-10' in contents
    assert contents.startswith(first)


def test_compat_drain_console_recv_exact_bytes(qemu_binary, guest, tmp_path):
    vm = QEMUMachine(qemu_binary, base_temp_dir=str(tmp_path), drain_console=True)
    vm.add_args(*guest.args())
    vm.set_console()
    vm.launch()
    try:
        sock = vm.console_socket
        sock.settimeout(guest.BOOT_TIMEOUT)
        seen = bytearray()
        while guest.READY.encode() not in seen:
            chunk = sock.recv(7)
            assert 0 < len(chunk) <= 7
            seen += chunk
        # Bytes that are not UTF-8 come through unchanged.
        sock.sendall(b"printf 'raw:\\377\\001\\000:end\\n'\n")
        while not re.search(rb'raw:\xff\x01\x00:end', bytes(seen)):
            seen += sock.recv(4096)
    finally:
        vm.shutdown()
    # After the end of the console: what is left, then EOF.
    assert vm.exitcode() == 0
