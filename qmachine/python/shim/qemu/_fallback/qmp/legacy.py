# qemu/qmp/legacy.py - qmachine's fallback for qemu.qmp.legacy
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""A synchronous ``QEMUMonitorProtocol`` on ``QMachine.QmpClient``, and the
types ``qemu.qmp.legacy`` exports (fallback, used only when the real
``qemu.qmp`` is not installed).

``cmd()`` returns the whole response, as in QEMU 7.2 (``cmd_raw()`` is the
same, newer QEMU's name); ``command()`` returns the ``return`` value and
raises :class:`~qemu.qmp.ExecuteError`.  An ``id`` given to ``cmd`` or
``cmd_obj`` is not sent: the library numbers commands itself.
``send_fd_scm`` is not provided.
"""

import socket
import threading
import time
from typing import Any, Dict, List, Optional, Union

from .. import _ensure_qmachine  # type: ignore[attr-defined]

_ensure_qmachine()

from qmachine import Gio, GLib, QMachine  # noqa: E402

from .error import QMPError  # noqa: E402
from .protocol import ConnectError, SocketAddrT  # noqa: E402
from .qmp_client import ExecInterruptedError, ExecuteError  # noqa: E402

QMPMessage = Dict[str, Any]
QMPReturnValue = object
QMPObject = Dict[str, object]

__all__ = ['QEMUMonitorProtocol', 'QMPBadPortError', 'QMPMessage',
           'QMPObject', 'QMPReturnValue']


class QMPBadPortError(QMPError):
    """A ``host:port`` address whose port is not a number."""


class QEMUMonitorProtocol:
    """A synchronous QMP connection.

    :param address: a unix socket path, a ``(host, port)`` tuple, or (as
        newer QEMU allows) a connected ``socket.socket``
    :param server: listen on *address* now, for :meth:`accept`
    :param nickname: a name for logs (unused)
    """

    def __init__(self, address: Union[SocketAddrT, socket.socket],
                 server: bool = False, nickname: Optional[str] = None):
        self._address = address
        self._nickname = nickname
        self._timeout: Optional[float] = None
        self._client: Any = None
        self._events: List[QMPMessage] = []
        self._context = GLib.MainContext.new()
        self._sock: Optional[socket.socket] = None
        if isinstance(address, socket.socket):
            self._sock = address
        else:
            family = (socket.AF_INET if isinstance(address, tuple)
                      else socket.AF_UNIX)
            self._sock = socket.socket(family, socket.SOCK_STREAM)
            if server:
                try:
                    self._sock.bind(address)
                    self._sock.listen(1)
                except BaseException:
                    self._sock.close()
                    raise

    # Connection ------------------------------------------------------------

    def _attach(self, sock: socket.socket, negotiate: bool) -> Optional[QMPMessage]:
        gsock = Gio.Socket.new_from_fd(sock.detach())
        connection = gsock.connection_factory_create_connection()
        self._context.push_thread_default()
        try:
            client = QMachine.QmpClient.new(connection)
        finally:
            self._context.pop_thread_default()
        client.connect('event', self._on_event)
        self._client = client
        if not negotiate:
            return None
        try:
            self._call(lambda cancellable: client.negotiate(
                QMachine.QmpNegotiateFlags.NONE, cancellable))
        except QMPError as err:
            raise ConnectError('Failed to negotiate QMP', err) from None
        greeting = client.get_greeting()
        if greeting is None:
            return None
        message = QMachine.to_python(greeting)
        # The library keeps the greeting's inner object; QMP sent it as
        # {"QMP": {...}}, which is what the reference returns.
        return message if 'QMP' in message else {'QMP': message}

    def connect(self, negotiate: bool = True) -> Optional[QMPMessage]:
        """Connects to QEMU's QMP socket; returns the greeting when
        *negotiate*."""
        assert self._sock is not None, 'already connected'
        try:
            if not isinstance(self._address, socket.socket):
                self._sock.connect(self._address)
        except OSError as err:
            raise ConnectError('Failed to establish connection', err) from None
        sock, self._sock = self._sock, None
        return self._attach(sock, negotiate)

    def accept(self, timeout: Optional[float] = 15.0) -> QMPMessage:
        """Waits (*timeout* seconds, None: forever) for QEMU to connect,
        negotiates and returns the greeting."""
        assert self._sock is not None, 'not listening'
        listener, self._sock = self._sock, None
        listener.settimeout(timeout)
        try:
            conn, _ = listener.accept()
        except OSError as err:
            raise ConnectError('Failed to establish connection', err) from None
        finally:
            listener.close()
        conn.settimeout(None)
        greeting = self._attach(conn, True)
        assert greeting is not None
        return greeting

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.close(None)
            except GLib.Error:
                pass
            self._client = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._dispatch()

    def settimeout(self, timeout: Optional[float]) -> None:
        """A time limit in seconds (None: none) for each later command and
        event wait; past it, ``TimeoutError``."""
        self._timeout = timeout

    def __enter__(self) -> 'QEMUMonitorProtocol':
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # Commands --------------------------------------------------------------

    def _dispatch(self) -> None:
        while self._context.pending():
            self._context.iteration(False)

    def _call(self, call: Any) -> Any:
        cancellable = Gio.Cancellable.new()
        timer = None
        if self._timeout is not None:
            timer = threading.Timer(self._timeout, cancellable.cancel)
            timer.start()
        try:
            return call(cancellable)
        except GLib.Error as err:
            if cancellable.is_cancelled():
                raise TimeoutError('QMP command timed out') from None
            if err.domain == GLib.quark_to_string(QMachine.qmp_error_quark()):
                raise
            raise ExecInterruptedError(err.message) from None
        finally:
            if timer is not None:
                timer.cancel()
            self._dispatch()

    def cmd_obj(self, qmp_cmd: QMPMessage) -> QMPMessage:
        """Sends a command dict (``execute``, ``arguments``) and returns
        the response dict."""
        assert self._client is not None, 'not connected'
        name = qmp_cmd.get('execute') or qmp_cmd.get('exec-oob')
        flags = (QMachine.QmpExecuteFlags.OOB if 'exec-oob' in qmp_cmd
                 else QMachine.QmpExecuteFlags.NONE)
        args = qmp_cmd.get('arguments')
        arguments = QMachine.to_json(args).get_object() if args else None
        client = self._client
        raw = self._call(lambda cancellable: client.execute_raw(
            name, arguments, flags, None, cancellable))
        return dict(QMachine.to_python(raw))

    def cmd_raw(self, name: str, args: Optional[Dict[str, object]] = None,
                cmd_id: Optional[object] = None) -> QMPMessage:
        """Runs *name* with *args*; returns the response dict."""
        qmp_cmd: QMPMessage = {'execute': name}
        if args:
            qmp_cmd['arguments'] = args
        return self.cmd_obj(qmp_cmd)

    def cmd(self, name: str, args: Optional[Dict[str, object]] = None,
            cmd_id: Optional[object] = None) -> QMPMessage:
        """QEMU 7.2's ``cmd``: the response dict (see ``command`` for the
        return value)."""
        return self.cmd_raw(name, args, cmd_id)

    def command(self, cmd: str, **kwds: object) -> QMPReturnValue:
        """Runs *cmd*; returns its ``return`` value or raises
        ``ExecuteError``."""
        sent: QMPMessage = {'execute': cmd}
        if kwds:
            sent['arguments'] = kwds
        response = self.cmd_obj(sent)
        if 'error' in response:
            raise ExecuteError(response['error'], sent, response)
        return response.get('return')

    # Events ----------------------------------------------------------------

    def _on_event(self, _client: Any, _name: str, event: Any) -> None:
        self._events.append(QMachine.to_python(event))

    def _wait_event(self, wait: Union[bool, float]) -> None:
        seconds = None if wait is True else float(wait)
        deadline = None if seconds is None else time.monotonic() + seconds
        self._dispatch()
        while not self._events:
            if self._client is None or self._client.is_closed():
                raise ExecInterruptedError('QMP connection closed')
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f'No QMP event within {seconds} s')
                timer = GLib.timeout_source_new(max(1, int(remaining * 1000)))
                timer.set_callback(lambda *_: False)
                timer.attach(self._context)
                try:
                    self._context.iteration(True)
                finally:
                    timer.destroy()
            else:
                self._context.iteration(True)

    def pull_event(self, wait: Union[bool, float] = False) -> Optional[QMPMessage]:
        """The oldest event, or None; *wait* True waits, a number waits
        that many seconds (``TimeoutError``)."""
        self._dispatch()
        if not self._events and wait:
            self._wait_event(wait)
        return self._events.pop(0) if self._events else None

    def get_events(self, wait: Union[bool, float] = False) -> List[QMPMessage]:
        """The queued events (waiting for one as ``pull_event`` does);
        they stay queued until ``clear_events``."""
        self._dispatch()
        if not self._events and wait:
            self._wait_event(wait)
        return list(self._events)

    def clear_events(self) -> None:
        self._dispatch()
        self._events.clear()
