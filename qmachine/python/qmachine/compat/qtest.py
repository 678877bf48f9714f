# qmachine/compat/qtest.py - qemu.machine.qtest on top of qmachine
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""A drop-in replacement for ``qemu.machine.qtest``.

:class:`QEMUQtestMachine` is a :class:`~qmachine.compat.QEMUMachine` with a
qtest channel: the library's (``Machine.add_qtest()``), a socketpair, with
``-accel qtest`` added only when the binary has that accelerator (Debian's
QEMU 7.2 has not: everything but ``clock_step``/``clock_set`` works with
TCG, and those are answered ``FAIL Unknown command ...``).
``vm.qtest(cmd)`` sends one command and returns QEMU's reply line as the
reference does, newline included: ``'OK\\n'``, ``'OK 0x0026\\n'``,
``"FAIL Unknown command 'bogus'\\n"``, ``'ERR invalid argument size\\n'``.
FAIL and ERR are replies, not exceptions.

:class:`QEMUQtestProtocol` is the client on its own, for a QEMU started by
hand: ``QEMUQtestProtocol(address, server=False)`` (QEMU 7.2's spelling) or
``QEMUQtestProtocol(address=None, sock=None, server=False)`` (newer QEMU's),
then ``connect()`` or ``accept()``, ``cmd()``, ``settimeout()``, ``close()``.
Once connected, the socket is driven by ``QMachine.QtestClient``.

Differences from the reference, deliberate:

- ``IRQ raise N``/``IRQ lower N`` lines (after ``irq_intercept_in``) are
  never returned as the reply of a command: the library takes them out of
  the reply stream.  The reference reads one line per command, so an IRQ
  line there shifts every later reply by one.
- A command holding a newline or another control character raises
  ``ValueError`` before anything is sent (the reference sends two
  commands and reads one reply).
- When the channel is closed (QEMU exited), ``cmd`` raises
  ``BrokenPipeError`` (a ``ConnectionError``); a timeout set with
  ``settimeout`` raises ``TimeoutError`` (``socket.timeout``), and the
  channel is closed then, since the late reply could not be told from the
  next.
"""

import os
import socket
from typing import Any, Callable, Optional, Sequence, Union, cast

from .. import Gio, GLib, QMachine
from . import QEMUMachine, _seconds_to_msec

__all__ = ['QEMUQtestProtocol', 'QEMUQtestMachine']

# The typing stubs of the override do not list the qtest API yet.
_QM: Any = QMachine
_QTEST_ERROR = GLib.quark_to_string(_QM.qtest_error_quark())
_IO_ERROR = Gio.io_error_quark()

SocketAddrT = Union[str, Any]


def _io(code: str) -> int:
    return int(getattr(Gio.IOErrorEnum, code))


def _reply_line(client: Any, command: str,
                dispatch: Optional[Callable[[], None]] = None) -> str:
    """QEMU's reply to *command*, as the line it sent (with ``\\n``)."""
    try:
        text = client.command(command, None)
    except GLib.Error as err:
        if err.domain == _QTEST_ERROR:
            word = ('ERR' if err.code == int(_QM.QtestError.ERROR)
                    else 'FAIL')
            return f'{word} {err.message}\n' if err.message else f'{word}\n'
        if err.matches(_IO_ERROR, _io('INVALID_ARGUMENT')):
            raise ValueError(err.message) from None
        if err.matches(_IO_ERROR, _io('TIMED_OUT')):
            raise socket.timeout(err.message) from None
        if (err.matches(_IO_ERROR, _io('CLOSED')) or
                err.matches(_IO_ERROR, _io('CONNECTION_CLOSED')) or
                err.matches(_IO_ERROR, _io('BROKEN_PIPE')) or
                err.matches(QMachine.machine_error_quark(),
                            int(QMachine.MachineError.NO_CONNECTION))):
            raise BrokenPipeError(err.message) from None
        raise ConnectionError(err.message) from None
    finally:
        if dispatch is not None:
            dispatch()
    return f'OK {text}\n' if text else 'OK\n'


class QEMUQtestProtocol:
    """
    A connection to a qtest socket.

    :param address: a unix socket path or a ``(host, port)`` tuple
    :param sock: a connected socket instead (newer QEMU's spelling), such
        as one end of a socketpair whose other end QEMU has
    :param server: listen on *address* (``bind``/``listen`` now), for
        ``accept()``
    :raise OSError: on socket errors

    No connection is made by the constructor: ``connect()`` or
    ``accept()`` does that.  Both are needed with *sock* too (``connect()``
    then just starts using it).
    """

    def __init__(self, address: Optional[SocketAddrT] = None,
                 sock: Optional[Any] = None,
                 server: bool = False):
        if isinstance(sock, bool):
            # QEMU 7.2's positional QEMUQtestProtocol(address, server).
            server, sock = sock, None
        if address is None and sock is None:
            raise ValueError("Either 'address' or 'sock' must be specified")
        if address is not None and sock is not None:
            raise ValueError(
                "Either 'address' or 'sock' must be specified, but not both")
        if sock is not None and server:
            raise ValueError("server=True is meaningless when passing socket")
        self._address = address
        self._sock: Optional[socket.socket] = sock
        self._client: Any = None
        self._timeout: Optional[float] = None
        self._dispatch_cb: Optional[Callable[[], None]] = None
        # The client's signals (irq) go to a private context, run after
        # each command so nothing piles up.
        self._context: Optional[GLib.MainContext] = GLib.MainContext.new()
        if sock is None:
            self._sock = self._get_sock()
            if server:
                try:
                    self._sock.bind(cast(Any, self._address))
                    self._sock.listen(1)
                except BaseException:
                    self._sock.close()
                    raise

    @classmethod
    def _for_client(cls, client: Any,
                    dispatch: Callable[[], None]) -> 'QEMUQtestProtocol':
        """The protocol object of a library machine's qtest client."""
        self = cls.__new__(cls)
        self._address = None
        self._sock = None
        self._client = client
        self._timeout = None
        self._context = None
        self._dispatch_cb = dispatch
        return self

    def _get_sock(self) -> socket.socket:
        family = (socket.AF_INET if isinstance(self._address, tuple)
                  else socket.AF_UNIX)
        return socket.socket(family, socket.SOCK_STREAM)

    def _dispatch(self) -> None:
        if self._dispatch_cb is not None:
            self._dispatch_cb()
            return
        if self._context is not None:
            while self._context.pending():
                self._context.iteration(False)

    def _attach(self, sock: socket.socket) -> None:
        """Hands the connected *sock* to a QtestClient."""
        gsock = Gio.Socket.new_from_fd(sock.detach())
        connection = gsock.connection_factory_create_connection()
        assert self._context is not None
        self._context.push_thread_default()
        try:
            self._client = _QM.QtestClient.new(connection)
        finally:
            self._context.pop_thread_default()
        self._client.set_timeout(_seconds_to_msec(self._timeout))

    def connect(self) -> None:
        """Connects to the qtest socket (or starts using *sock*).

        :raise OSError: on socket connection errors
        """
        if self._client is not None:
            return
        assert self._sock is not None
        if self._address is not None:
            self._sock.connect(self._address)
        sock, self._sock = self._sock, None
        self._attach(sock)

    def accept(self) -> None:
        """Waits for QEMU to connect (server mode).

        :raise OSError: on socket connection errors
        """
        assert self._sock is not None, 'not listening'
        listener = self._sock
        conn, _ = listener.accept()
        self._sock = None
        listener.close()
        self._attach(conn)

    def cmd(self, qtest_cmd: str) -> str:
        """Sends a qtest command and returns QEMU's reply line, with its
        newline (``'OK 0x0026\\n'``, ``"FAIL Unknown command 'x'\\n"``)."""
        assert self._client is not None, 'not connected'
        return _reply_line(self._client, qtest_cmd, self._dispatch)

    def close(self) -> None:
        """Closes the connection (or the listening socket)."""
        if self._client is not None:
            self._client.close()
            self._client = None
            self._dispatch()
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def settimeout(self, timeout: Optional[float]) -> None:
        """A time limit in seconds (``None``: none) for ``accept``,
        ``connect`` and each command."""
        self._timeout = timeout
        if self._sock is not None:
            self._sock.settimeout(timeout)
        if self._client is not None:
            self._client.set_timeout(_seconds_to_msec(timeout))

    def __del__(self) -> None:
        sock = getattr(self, '_sock', None)
        if sock is not None:
            sock.close()


class QEMUQtestMachine(QEMUMachine):
    """
    A QEMU VM, with a qtest channel available (``qtest()``).
    """

    def __init__(self,
                 binary: str,
                 args: Sequence[str] = (),
                 wrapper: Sequence[str] = (),
                 name: Optional[str] = None,
                 base_temp_dir: str = "/var/tmp",
                 sock_dir: Optional[str] = None,
                 qmp_timer: Optional[float] = None):
        """
        The arguments of both spellings of the reference: QEMU 7.2's
        (with *sock_dir*, accepted and unused) and newer QEMU's (without).
        A *qmp_timer* given positionally in newer QEMU's place (the sixth
        argument, a number) is taken as such.
        """
        # pylint: disable=too-many-arguments
        if isinstance(sock_dir, (int, float)) and not isinstance(sock_dir, bool):
            sock_dir, qmp_timer = None, sock_dir
        if name is None:
            name = "qemu-%d" % os.getpid()
        super().__init__(binary, args, wrapper=wrapper, name=name,
                         base_temp_dir=base_temp_dir, qmp_timer=qmp_timer,
                         sock_dir=sock_dir or base_temp_dir)
        self._qtest: Optional[QEMUQtestProtocol] = None

    def _configure_machine(self, vm: QMachine.Machine) -> None:
        super()._configure_machine(vm)
        vm.add_qtest()
        # As the reference: qtest's log (OPENED, commands, CLOSED) goes to
        # QEMU's stderr, so get_log() has it (iotests strip it, e.g. 041).
        vm.set_qtest_log(True)

    def _post_launch(self) -> None:
        super()._post_launch()
        assert self._vm is not None
        client = self._vm.get_qtest_client()
        self._qtest = QEMUQtestProtocol._for_client(client, self._dispatch)

    def _post_shutdown(self) -> None:
        self._qtest = None
        super()._post_shutdown()

    def qtest(self, cmd: str) -> str:
        """
        Sends a qtest command to the guest.

        :param cmd: qtest command to send
        :return: QEMU's reply line, with its newline
        """
        if self._qtest is None:
            raise RuntimeError("qtest socket not available")
        return self._qtest.cmd(cmd)

    def get_qtest_client(self) -> Any:
        """The library's ``QMachine.QtestClient`` of this run (typed
        methods, IRQ signals), or None when not launched."""
        return None if self._vm is None or not self._launched \
            else self._vm.get_qtest_client()
