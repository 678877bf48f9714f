# qmachine/compat/__init__.py - qemu.machine.QEMUMachine on top of qmachine
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""A drop-in replacement for ``qemu.machine.QEMUMachine``.

Change ``from qemu.machine import QEMUMachine`` into
``from qmachine.compat import QEMUMachine`` and a script keeps working: the
constructor, methods, properties, context manager and exception classes are
those of QEMU's class.  Underneath, a ``QMachine.Machine`` runs QEMU, so the
script also gets the library's fixes: QEMU inherits no stray descriptors and
dies with its controller, launch and command waits have timeouts, the event
queue is bounded and in arrival order, an integer timeout means seconds,
and a ``quit`` reply that loses the race with EOF is not an abnormal
shutdown.

Differences, all deliberate and small:

- ``send_fd_scm()`` keeps (a duplicate of) the descriptor and sends it
  with the next ``qmp()``/``cmd()`` call, in the same message as that
  command, which is how QEMU expects it (the reference sends it with a
  lone space).  The usual ``send_fd_scm(...)`` then ``qmp('getfd', ...)`` or
  ``cmd('add-fd', ...)`` sequence behaves the same.
- Timeouts of QMP commands: the reference waits forever for a reply; here
  ``qmp_timer`` (seconds, ``None`` = forever) bounds the launch *and* each
  command, and an expired one raises ``TimeoutError``.
- Event waits raise the built-in ``TimeoutError`` (which on Python 3.11 is
  ``asyncio.TimeoutError`` too); connection failures raise
  :class:`QMPConnectionError` (a ``QEMUMachineError`` and a
  ``ConnectionError``) where the reference raises ``qemu.qmp`` errors; QMP
  errors from ``cmd()`` raise :class:`ExecuteError`, like
  ``qemu.qmp.ExecuteError``.  When ``qemu.qmp`` is importable,
  :class:`ExecuteError` is a subclass of ``qemu.qmp.ExecuteError`` and
  :class:`QMPConnectionError` of ``qemu.qmp.ExecInterruptedError`` (so both
  are ``qemu.qmp.QMPError``), and ``except`` clauses written for
  ``qemu.qmp`` catch them.
- ``shutdown()`` after QEMU exited by itself succeeds (the reference
  reports an abnormal shutdown because ``quit`` cannot be sent).
- ``console_socket`` is a real ``socket.socket`` when the console is not
  drained; its "blocking" mode is a very long timeout, because the
  descriptor is shared with the library, which needs it non-blocking.
  With ``drain_console``/``console_log`` it is a socket-like object
  (``recv``, ``recv_into``, ``send``, ``sendall``, ``makefile``,
  ``settimeout``, ``close``) that reads the library's console buffer.
- The ``-add-fd`` options that ``add_fd()`` puts into ``args`` are passed
  through the library (which hands QEMU exactly that descriptor and nothing
  else); other arguments are passed as they are.
- Subclass hooks: ``_pre_launch()`` runs before the command line is
  built (a subclass may still append to ``_args`` there),
  ``_post_launch()`` once QEMU is up and QMP connected, ``_post_shutdown()``
  once QEMU is gone and after a failed launch; ``_base_args`` (empty here:
  the library writes its own options) goes before ``args``. ``_popen`` is
  not a ``subprocess.Popen`` but has what suites use of it (``pid``,
  ``args``, ``returncode``, ``poll()``, ``wait()``, ``send_signal()``,
  ``terminate()``, ``kill()``). ``_close_qemu_log_file()`` called while
  launching (in ``_pre_launch``, as iotests' ``-p`` does) copies QEMU's
  output to standard output at shutdown, since the library keeps the log.
  The QMP plumbing hooks of the reference (``_qmp``, ``_sock_pair``...) do
  not exist.

``qmachine.compat.qtest`` has ``QEMUQtestMachine`` and ``QEMUQtestProtocol``
(``qemu.machine.qtest``).
"""

import io
import logging
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from types import SimpleNamespace, TracebackType
from typing import (
    Any,
    Dict,
    List,
    Optional,
    Sequence,
    Tuple,
    TYPE_CHECKING,
    Type,
    TypeVar,
)

from .. import Gio, GLib, QMachine

# qemu.qmp's own classes, when it is installed: ours derive from them, so
# `except qemu.qmp.ExecuteError` (or QMPError) catches what we raise.  An
# empty mixin stands in for an absent one.


class _QMPExecuteError:
    pass


class _QMPExecInterruptedError:
    pass


if not TYPE_CHECKING:
    try:
        from qemu.qmp.qmp_client import ExecuteError as _QMPExecuteError
    except ImportError:
        pass
    try:
        from qemu.qmp.qmp_client import (
            ExecInterruptedError as _QMPExecInterruptedError)
    except ImportError:
        pass

__all__ = [
    'QEMUMachine',
    'QEMUMachineError',
    'QEMUMachineAddDeviceError',
    'VMLaunchFailure',
    'AbnormalShutdown',
    'ExecuteError',
    'QMPConnectionError',
    'QemuGuestAgent',
    'QemuGuestAgentClient',
]

# The logger QEMUMachine itself uses (a child of ``qemu.machine``), so a
# test framework that configures ``qemu.machine`` sees these messages.
LOG = logging.getLogger('qemu.machine.machine')
# The QMP traffic, under the logger of QEMU's own QMP library, at DEBUG:
# commands sent ("-->"), replies and events received ("<--"), with the
# values of secret-looking members replaced.
QMP_LOG = logging.getLogger('qemu.qmp.qmp_client')


def _redacted(value: Any, secret_object: bool = False) -> Any:
    """A copy of *value* for the log, without passwords, keys and secrets:
    the rule of the C library's own traffic log (redact() in
    q-qmp-core.c), which Python's logging cannot reach."""
    if isinstance(value, dict):
        secret_object = secret_object or 'secret' in str(value.get('qom-type', ''))
        out = {}
        for key, item in value.items():
            lower = str(key).lower()
            if ('password' in lower or 'secret' in lower or 'key' in lower
                    or (secret_object and key == 'data')):
                out[key] = '<redacted>'
            else:
                out[key] = _redacted(item, secret_object)
        return out
    if isinstance(value, list):
        return [_redacted(item, secret_object) for item in value]
    return value

QMPMessage = Dict[str, Any]

_MACHINE_ERROR = QMachine.machine_error_quark()
_IO_ERROR = Gio.io_error_quark()

# How long a "blocking" console socket waits: long enough to mean forever,
# short enough for poll()'s millisecond argument.
_FOREVER = 1e6


# --------------------------------------------------------------------------
# Exceptions


class QEMUMachineError(Exception):
    """An error in QEMUMachine."""


class QEMUMachineAddDeviceError(QEMUMachineError):
    """A request to add a device (or descriptor) cannot be fulfilled: a
    limitation or a conflict in the QEMUMachine configuration, not a failure
    reported by QEMU."""


class VMLaunchFailure(QEMUMachineError):
    """QEMU was started but did not come up.

    :ivar exitcode: QEMU's exit status (negative: the signal that killed it),
        or ``None`` if it never exited by itself
    :ivar command: the command line, joined with spaces
    :ivar output: what QEMU printed
    """

    def __init__(self, exitcode: Optional[int],
                 command: str, output: Optional[str]):
        super().__init__(exitcode, command, output)
        self.exitcode = exitcode
        self.command = command
        self.output = output

    def __str__(self) -> str:
        text = ''
        cause = self.__cause__
        if cause is not None:
            reason = str(cause)
            text += (f'{type(cause).__name__}: {reason}' if reason
                     else type(cause).__name__)
        text += '\n'
        if self.exitcode is not None:
            text += f'\tExit code: {self.exitcode}\n'
        text += f'\tCommand: {self.command}\n'
        text += f'\tOutput: {self.output}\n'
        return text


class AbnormalShutdown(QEMUMachineError):
    """A graceful shutdown was asked for, but QEMU had to be killed."""


class ExecuteError(QEMUMachineError, _QMPExecuteError):
    """QEMU answered a command from :meth:`QEMUMachine.cmd` with an error.

    Mirrors ``qemu.qmp.ExecuteError`` (and is a subclass of it when
    ``qemu.qmp`` is importable): ``error_class`` (``'GenericError'``,
    ``'CommandNotFound'``...), ``desc`` (also ``str(exc)``), ``sent`` (the
    command message), ``received`` (the response) and ``error`` (with
    ``class_`` and ``desc``; ``error.error`` is ``error`` again, the shape
    of ``qemu.qmp``'s ``ErrorResponse``).
    """

    def __init__(self, error_response: Dict[str, Any],
                 sent: Dict[str, Any], received: Dict[str, Any]):
        # Not qemu.qmp's __init__: it wants its ErrorResponse model, and
        # some versions assign error_class, a property here.
        Exception.__init__(self, error_response, sent, received)
        self.sent = sent
        self.received = received
        error = SimpleNamespace(class_=error_response.get('class', ''),
                                desc=error_response.get('desc', ''))
        error.error = error
        self.error = error

    @property
    def error_class(self) -> str:
        """The QMP error class."""
        return self.error.class_

    @property
    def desc(self) -> str:
        """QEMU's description of the error."""
        return self.error.desc

    def __str__(self) -> str:
        return self.error.desc


class QMPConnectionError(QEMUMachineError, _QMPExecInterruptedError,
                         ConnectionError):
    """The QMP connection failed or closed while a command or a wait was in
    progress (a ``qemu.qmp.ExecInterruptedError`` too, when ``qemu.qmp`` is
    importable)."""


def _is(err: GLib.Error, domain: int, code: int) -> bool:
    return bool(err.matches(domain, int(code)))


def _io(code: str) -> int:
    return int(getattr(Gio.IOErrorEnum, code))


def _qmp_failure(err: GLib.Error) -> Exception:
    """The compat exception for a failed QMP command or wait."""
    if (_is(err, _MACHINE_ERROR, QMachine.MachineError.NOT_LAUNCHED) or
            _is(err, _MACHINE_ERROR, QMachine.MachineError.NO_CONNECTION)):
        return QEMUMachineError('Attempt to access QMP with no connection')
    if _is(err, _IO_ERROR, _io('TIMED_OUT')):
        return TimeoutError(err.message)
    if (err.matches(_IO_ERROR, _io('CLOSED')) or
            err.matches(_IO_ERROR, _io('CONNECTION_CLOSED')) or
            err.matches(_IO_ERROR, _io('BROKEN_PIPE')) or
            err.matches(_IO_ERROR, _io('CANCELLED'))):
        return QMPConnectionError(err.message)
    return QEMUMachineError(err.message)


_T = TypeVar('_T', bound='QEMUMachine')


# --------------------------------------------------------------------------
# The machine


class QEMUMachine:
    """
    A QEMU VM.

    Use this object as a context manager to ensure
    the QEMU process terminates::

        with VM(binary) as vm:
            ...
        # vm is guaranteed to be shut down here
    """
    # pylint: disable=too-many-instance-attributes, too-many-public-methods

    def __init__(self,
                 binary: str,
                 args: Sequence[str] = (),
                 wrapper: Sequence[str] = (),
                 name: Optional[str] = None,
                 base_temp_dir: str = "/var/tmp",
                 monitor_address: Optional[Any] = None,
                 drain_console: bool = False,
                 console_log: Optional[str] = None,
                 log_dir: Optional[str] = None,
                 qmp_timer: Optional[float] = 30,
                 sock_dir: Optional[str] = None):
        """
        :param binary: path to the qemu binary
        :param args: list of extra arguments
        :param wrapper: list of arguments used as prefix to qemu binary
        :param name: prefix for the log file name (default: an id)
        :param base_temp_dir: where the temporary directory is created
        :param monitor_address: where QMP listens: ``None`` (a socketpair),
            a unix socket path or a ``(host, port)`` tuple
        :param drain_console: read the console continuously into a buffer
        :param console_log: path of a console log file (implies draining)
        :param log_dir: where to create and keep log files
        :param qmp_timer: seconds to wait for QMP at launch and for each
            command reply; ``None`` waits forever
        :param sock_dir: QEMU 7.2's directory for socket files (default:
            the temporary directory); accepted and kept for ``sock_dir``,
            not needed (QMP and the console use socketpairs)
        """
        # pylint: disable=too-many-arguments
        self._binary = binary
        self._args = list(args)
        self._wrapper = wrapper
        self._qmp_timer = qmp_timer
        self._name = name or f"{id(self):x}"
        self._temp_dir: Optional[str] = None
        self._base_temp_dir = base_temp_dir
        self._log_dir = log_dir
        self._monitor_address = monitor_address
        self._sock_dir = sock_dir

        self._console_log_path = console_log
        self._drain_console = True if console_log else drain_console

        self._iolog: Optional[str] = None
        self._qmp_set = True
        self._machine: Optional[str] = None
        self._console_index = 0
        self._console_set = False
        self._console_device_type: Optional[str] = None
        self._console_socket: Optional[Any] = None
        self._console_file: Optional[Any] = None
        self._launched = False
        # What the reference's subclasses touch: the process, the log.
        self._popen: Optional[_Process] = None
        self._qemu_log_path: Optional[str] = None
        self._qemu_log_file: Optional[Any] = None
        self._launching = False
        self._log_to_stdout = False
        # add_fd's descriptors, by the option string it put into args.
        self._fds: Dict[str, Tuple[int, int, str, str]] = {}
        # A descriptor from send_fd_scm, waiting for the next command.
        self._pending_fds: Optional[Gio.UnixFDList] = None

        # The library delivers its signals to the main context that was
        # thread-default when the machine was made.  Ours is private:
        # nobody else dispatches it, and we drain it at every call so that
        # nothing piles up in it.
        self._context = GLib.MainContext.new()
        self._vm: Optional[QMachine.Machine] = None

    def __enter__(self: _T) -> _T:
        return self

    def __exit__(self,
                 exc_type: Optional[Type[BaseException]],
                 exc_val: Optional[BaseException],
                 exc_tb: Optional[TracebackType]) -> None:
        self.shutdown()

    # Configuration ---------------------------------------------------------

    def add_monitor_null(self) -> None:
        """Adds an unused monitor instance (``-monitor null``)."""
        self._args.append('-monitor')
        self._args.append('null')

    def add_fd(self: _T, fd: int, fdset: int,
               opaque: str, opts: str = '') -> _T:
        """Passes file descriptor *fd* to QEMU in fd set *fdset*
        (``-add-fd``).  The descriptor must stay open until launch."""
        options = [f'fd={fd}', f'set={fdset}', f'opaque={opaque}']
        if opts:
            options.append(opts)
        option = ','.join(options)
        if fd <= 2:
            raise QEMUMachineAddDeviceError(
                f'-add-fd needs a descriptor above 2, not {fd}')
        if any(added[0] == fd for added in self._fds.values()):
            raise QEMUMachineAddDeviceError(f'Descriptor {fd} was already added')
        os.get_inheritable(fd)  # OSError now, as QEMU's version, if not open
        self._fds[option] = (fd, fdset, opaque, opts)
        self._args.append('-add-fd')
        self._args.append(option)
        return self

    def send_fd_scm(self, fd: Optional[int] = None,
                    file_path: Optional[str] = None) -> int:
        """
        Sends a descriptor, or a file opened read-only from *file_path*, to
        QEMU over SCM_RIGHTS.  Exactly one of the two must be given.  The
        descriptor goes with the next QMP command (``getfd``, ``add-fd``...).
        """
        self._qmp_machine()
        fds = Gio.UnixFDList.new()
        if file_path is not None:
            assert fd is None
            with open(file_path, "rb") as passfile:
                fds.append(passfile.fileno())
        else:
            assert fd is not None
            fds.append(fd)
        # Like QEMU, keep only the latest: a new one replaces an unused one.
        self._pending_fds = fds
        return 0

    def set_qmp_monitor(self, enabled: bool = True) -> None:
        """
        Enables or disables the QMP monitor.  Call before launch().
        """
        self._qmp_set = enabled

    def add_args(self, *args: str) -> None:
        """Adds to the list of extra arguments to be given to QEMU."""
        self._args.extend(args)

    def set_machine(self, machine_type: str) -> None:
        """Sets the machine type (``-machine``)."""
        self._machine = machine_type

    def set_console(self,
                    device_type: Optional[str] = None,
                    console_index: int = 0) -> None:
        """
        Gives the VM a console: a socketpair behind ``-serial
        chardev:console`` or, with *device_type* (``isa-serial``...), behind
        ``-device DEVICE_TYPE,chardev=console``.  The *console_index*
        serial ports before it are connected to ``null``.
        """
        self._console_set = True
        self._console_device_type = device_type
        self._console_index = console_index

    # Properties ------------------------------------------------------------

    @property
    def args(self) -> List[str]:
        """The list of extra arguments given to QEMU (modifiable)."""
        return self._args

    @property
    def binary(self) -> str:
        """The path to the QEMU binary."""
        return self._binary

    @property
    def temp_dir(self) -> str:
        """A temporary directory for this machine, removed at shutdown."""
        if self._temp_dir is None:
            self._temp_dir = tempfile.mkdtemp(prefix="qemu-machine-",
                                              dir=self._base_temp_dir)
        return self._temp_dir

    @property
    def sock_dir(self) -> str:
        """QEMU 7.2's directory for socket files (*sock_dir*, or the
        temporary directory)."""
        if self._sock_dir:
            return self._sock_dir
        return self.temp_dir

    @property
    def log_dir(self) -> str:
        """The directory for log files."""
        if self._log_dir is None:
            return self.temp_dir
        return self._log_dir

    @property
    def _qemu_full_args(self) -> Tuple[str, ...]:
        """The command line of the current or last launch."""
        if self._vm is None:
            return ()
        return tuple(self._vm.get_full_args())

    # State -----------------------------------------------------------------

    def is_running(self) -> bool:
        """Returns true if the VM is running."""
        self._dispatch()
        return self._vm is not None and self._vm.is_running()

    def exitcode(self) -> Optional[int]:
        """Returns the exit code if possible, or None."""
        self._dispatch()
        if self._vm is None:
            return None
        return self._vm.exit_code

    def get_pid(self) -> Optional[int]:
        """Returns the PID of the running process, or None."""
        if not self.is_running():
            return None
        assert self._vm is not None
        return self._vm.get_pid() or None

    def get_log(self) -> Optional[str]:
        """
        After shutdown or a failed launch, what QEMU printed.
        """
        return self._iolog

    # Lifecycle -------------------------------------------------------------

    def launch(self) -> None:
        """
        Launches the VM.  On failure, everything is cleaned up and
        VMLaunchFailure gives QEMU's exit code, command line and output.
        """
        if self._launched:
            raise QEMUMachineError('VM already launched')

        self._iolog = None
        self._dispatch()
        self._vm = None
        self._popen = None
        self._log_to_stdout = False
        try:
            self._launch()
        except GLib.Error as err:
            self._abort_launch()
            if _is(err, _MACHINE_ERROR, QMachine.MachineError.ALREADY_LAUNCHED):
                raise QEMUMachineError('VM already launched') from err
            if _is(err, _MACHINE_ERROR, QMachine.MachineError.ADD_DEVICE):
                raise QEMUMachineAddDeviceError(err.message) from err
            cause = QEMUMachineError(err.message.split('\n', 1)[0])
            cause.__cause__ = err
            raise VMLaunchFailure(
                exitcode=self.exitcode(),
                command=' '.join(self._qemu_full_args),
                output=self._iolog,
            ) from cause
        except Exception as exc:
            # From a subclass's hook, as the reference reports it.
            self._abort_launch()
            raise VMLaunchFailure(
                exitcode=self.exitcode(),
                command=' '.join(self._qemu_full_args),
                output=self._iolog,
            ) from exc
        except BaseException:
            self._abort_launch()
            raise

    def _launch(self) -> None:
        """Runs the hooks around the library's launch."""
        self._launching = True
        try:
            self._pre_launch()
            vm = self._new_machine()
            self._vm = vm
            vm.launch()
        finally:
            self._launching = False
        self._popen = _Process(self, vm)
        self._launched = True
        LOG.debug('VM launch command: %r', ' '.join(self._qemu_full_args))
        self._post_launch()

    def _abort_launch(self) -> None:
        """Cleans up after a failed launch (QEMU killed if it runs)."""
        if self._launched and self._vm is not None:
            try:
                self._vm.shutdown(hard=True, timeout=30)
            except GLib.Error:
                pass
        self._post_shutdown()

    def _pre_launch(self) -> None:
        """A hook run at launch before the command line is built; a
        subclass may add to ``_args`` here (call the base first)."""
        self._qemu_log_path = os.path.join(self.log_dir, self._name + '.log')

    def _post_launch(self) -> None:
        """A hook run once QEMU is up and QMP negotiated."""

    def _close_qemu_log_file(self) -> None:
        """Called while launching (from ``_pre_launch``), QEMU's output is
        written to standard output at shutdown as well as kept in the log;
        called at any other time, it does nothing."""
        if self._launching:
            self._log_to_stdout = True
        self._qemu_log_file = None

    @property
    def _base_args(self) -> List[str]:
        """Options a subclass puts before ``args`` (the library writes the
        monitor, console and display options itself)."""
        return []

    @property
    def _subp(self) -> '_Process':
        if self._popen is None:
            raise QEMUMachineError('Subprocess pipe not present')
        return self._popen

    @staticmethod
    def _remove_if_exists(path: str) -> None:
        """Removes *path*, which may not exist."""
        try:
            os.remove(path)
        except FileNotFoundError:
            pass

    def _configure_machine(self, vm: QMachine.Machine) -> None:
        """A hook for subclasses here: the library machine of this launch,
        configured, before it launches (``QEMUQtestMachine`` adds its qtest
        channel)."""

    def shutdown(self,
                 hard: bool = False,
                 timeout: Optional[float] = 30) -> None:
        """
        Terminates the VM (gracefully if possible) and cleans up; cleanup
        always happens.  Does nothing if the VM is not launched.

        :param hard: kill QEMU at once, without a warning
        :param timeout: seconds to wait for a graceful exit; None waits
            forever
        :raise AbnormalShutdown: QEMU had to be killed
        """
        if not self._launched:
            return
        assert self._vm is not None
        _seconds_to_msec(timeout)   # a bad timeout fails before anything
        LOG.debug("Shutting down VM appliance; timeout=%s", timeout)
        try:
            self._early_cleanup()
            try:
                self._vm.shutdown(hard=hard, timeout=timeout)
            except GLib.Error as err:
                raise self._shutdown_failure(err) from err
        finally:
            self._post_shutdown()

    def kill(self) -> None:
        """
        Terminates the VM forcefully, waits for it to exit and cleans up.
        """
        self.shutdown(hard=True)

    def wait(self, timeout: Optional[float] = 30) -> None:
        """
        Waits for the VM to power off by itself and cleans up; kills it
        (AbnormalShutdown) if it does not within *timeout* seconds (None:
        forever).
        """
        if not self._launched:
            return
        assert self._vm is not None
        _seconds_to_msec(timeout)   # a bad timeout fails before anything
        try:
            self._early_cleanup()
            try:
                self._vm.wait(timeout=timeout)
            except GLib.Error as err:
                raise self._shutdown_failure(err) from err
        finally:
            self._post_shutdown()

    # QMP -------------------------------------------------------------------

    @classmethod
    def _qmp_args(cls, conv_keys: bool,
                  args: Dict[str, Any]) -> Dict[str, object]:
        if conv_keys:
            return {k.replace('_', '-'): v for k, v in args.items()}
        return args

    def qmp(self, cmd: str,
            args_dict: Optional[Dict[str, object]] = None,
            conv_keys: Optional[bool] = None,
            **args: Any) -> QMPMessage:
        """
        Invokes a QMP command and returns the response dict.
        """
        if args_dict is not None:
            assert not args
            assert conv_keys is None
            args = args_dict
            conv_keys = False
        if conv_keys is None:
            conv_keys = True
        return self._execute(cmd, self._qmp_args(conv_keys, args))

    def cmd(self, cmd: str,
            args_dict: Optional[Dict[str, object]] = None,
            conv_keys: Optional[bool] = None,
            **args: Any) -> Any:
        """
        Invokes a QMP command and returns its return value; raises
        ExecuteError when QEMU reports an error.
        """
        if args_dict is not None:
            assert not args
            assert conv_keys is None
            args = args_dict
            conv_keys = False
        if conv_keys is None:
            conv_keys = True
        qmp_args = self._qmp_args(conv_keys, args)
        response = self._execute(cmd, qmp_args)
        if 'error' in response:
            sent: Dict[str, Any] = {'execute': cmd}
            if qmp_args:
                sent['arguments'] = qmp_args
            raise ExecuteError(response['error'], sent, response)
        return response.get('return')

    def command(self, cmd: str, conv_keys: bool = True,
                **args: Any) -> Any:
        """QEMU 7.2's name for :meth:`cmd` (later QEMU renamed it): the
        command's return value, or ExecuteError."""
        return self.cmd(cmd, conv_keys=conv_keys, **args)

    # Events ----------------------------------------------------------------

    def get_qmp_event(self, wait: Any = False) -> Optional[QMPMessage]:
        """
        Returns the oldest queued QMP event, or None.  With *wait* True,
        waits for one; with a number, waits that many seconds and raises
        TimeoutError.
        """
        vm = self._qmp_machine()
        event = vm.get_event()
        if event is not None or not wait:
            return event
        return self._wait_any_event(vm, wait)

    def get_qmp_events(self, wait: Any = False) -> List[QMPMessage]:
        """
        Returns all queued QMP events, oldest first.  With *wait* (as for
        get_qmp_event), waits for one when none is queued.
        """
        vm = self._qmp_machine()
        events = vm.get_events()
        if events or not wait:
            return events
        return [self._wait_any_event(vm, wait)] + vm.get_events()

    @staticmethod
    def event_match(event: Any, match: Optional[Any]) -> bool:
        """
        Checks if an event matches optional match criteria.

        The match criteria takes the form of a matching subdict. The event is
        checked to be a superset of the subdict, recursively, with matching
        values whenever the subdict values are not None.

        This has a limitation that you cannot explicitly check for None values.

        Examples, with the subdict queries on the left:
         - None matches any object.
         - {"foo": None} matches {"foo": {"bar": 1}}
         - {"foo": None} matches {"foo": 5}
         - {"foo": {"abc": None}} does not match {"foo": {"bar": 1}}
         - {"foo": {"rab": 2}} matches {"foo": {"bar": 1, "rab": 2}}
        """
        if match is None:
            return True
        try:
            for key in match:
                if key not in event:
                    return False
                if not QEMUMachine.event_match(event[key], match[key]):
                    return False
            return True
        except TypeError:
            # Not both containers: compare the values themselves.
            return bool(match == event)

    def event_wait(self, name: str,
                   timeout: Any = 60.0,
                   match: Optional[QMPMessage] = None) -> Optional[QMPMessage]:
        """
        Waits for and returns the event *name* (matching *match*, see
        event_match).  *timeout* is in seconds; 0 (or None, or False) only
        looks at queued events and returns None if none matches, True
        waits forever; a timeout raises TimeoutError.
        """
        return self.events_wait([(name, match)], timeout)

    def events_wait(self,
                    events: Sequence[Tuple[str, Any]],
                    timeout: Any = 60.0) -> Optional[QMPMessage]:
        """
        Waits for and returns the first event that matches one of
        *events*, a sequence of (name, match) pairs.  Queued events are
        searched first; the others stay queued.  *timeout* as for
        event_wait.
        """
        vm = self._qmp_machine()
        pairs = [(name, match) for name, match in events]
        if timeout is True:
            seconds: Optional[float] = None
        elif not timeout:
            seconds = 0
        else:
            seconds = timeout
        try:
            return vm.events_wait(pairs, timeout=seconds)
        except GLib.Error as err:
            if seconds == 0 and _is(err, _IO_ERROR, _io('TIMED_OUT')):
                return None
            raise _qmp_failure(err) from err
        finally:
            self._dispatch()

    # Console ---------------------------------------------------------------

    @property
    def console_socket(self) -> Any:
        """
        A socket connected to the console (see the module documentation
        for what it is when the console is drained).
        """
        if self._console_socket is None:
            if not self._console_set:
                raise QEMUMachineError(
                    "Attempt to access console socket with no connection")
            console = (self._vm.get_console()
                       if self._launched and self._vm is not None else None)
            if console is None:
                raise QEMUMachineError(
                    "The console exists only while the VM is launched")
            LOG.debug("Opening console socket")
            if self._drain_console:
                self._console_socket = _DrainedConsoleSocket(console,
                                                             self._dispatch)
            else:
                fd = console.get_stream().get_socket().get_fd()
                self._console_socket = _ConsoleSocket(fileno=os.dup(fd))
        return self._console_socket

    @property
    def console_file(self) -> Any:
        """
        A file (unbuffered, binary) over the console socket.
        """
        if self._console_file is None:
            LOG.debug("Opening console file")
            self._console_file = self.console_socket.makefile(
                mode='rb', buffering=0, encoding='utf-8')
        return self._console_file

    # Internals -------------------------------------------------------------

    def _dispatch(self) -> None:
        """Runs what the library queued in our context (signal emissions,
        property notifications)."""
        while self._context.pending():
            self._context.iteration(False)

    @staticmethod
    def _log_event(_vm: QMachine.Machine, _name: str, event: Any) -> None:
        if QMP_LOG.isEnabledFor(logging.DEBUG):
            QMP_LOG.debug('<-- %s', _redacted(QMachine.to_python(event)))

    def _new_machine(self) -> QMachine.Machine:
        """A library machine configured as this object is, for one launch."""
        self._context.push_thread_default()
        try:
            vm = QMachine.Machine.new(self._binary)
        finally:
            self._context.pop_thread_default()

        vm.set_name(self._name)
        vm.connect('event', self._log_event)
        if self._wrapper:
            vm.set_wrapper([os.fspath(arg) for arg in self._wrapper])
        vm.set_base_temp_dir(self.temp_dir)
        vm.set_log_dir(self.log_dir)
        vm.set_qmp_monitor(self._qmp_set)
        if self._qmp_set:
            vm.set_monitor_address(self._monitor_address)
        vm.set_qmp_timeout(_seconds_to_msec(self._qmp_timer))
        if self._machine is not None:
            vm.set_machine(self._machine)
        if self._console_set:
            vm.set_console(self._console_device_type, self._console_index)
        vm.set_drain_console(bool(self._drain_console))
        if self._console_log_path:
            vm.set_console_log(os.fspath(self._console_log_path))

        # The arguments in order; add_fd's options go through the library,
        # which passes the descriptor and writes the same option.
        pending: List[str] = []
        args = [os.fspath(arg)
                for arg in list(self._base_args) + list(self._args)]
        i = 0
        while i < len(args):
            if (args[i] == '-add-fd' and i + 1 < len(args) and
                    args[i + 1] in self._fds):
                if pending:
                    vm.add_args(pending)
                    pending = []
                fd, fdset, opaque, opts = self._fds[args[i + 1]]
                vm.add_fd(fd, fdset, opaque, opts or None)
                i += 2
                continue
            pending.append(args[i])
            i += 1
        if pending:
            vm.add_args(pending)
        self._configure_machine(vm)
        return vm

    def _qmp_machine(self) -> QMachine.Machine:
        """The running machine's QMP, or QEMUMachineError."""
        self._dispatch()
        if not self._launched or self._vm is None or not self._qmp_set:
            raise QEMUMachineError("Attempt to access QMP with no connection")
        return self._vm

    def _execute(self, cmd: str, args: Dict[str, Any]) -> QMPMessage:
        vm = self._qmp_machine()
        fds, self._pending_fds = self._pending_fds, None
        if QMP_LOG.isEnabledFor(logging.DEBUG):
            sent: Dict[str, Any] = {'execute': cmd}
            if args:
                sent['arguments'] = args
            QMP_LOG.debug('--> %s', _redacted(sent))
        try:
            if fds is None:
                response = vm.qmp(cmd, args or None)
            else:
                client = vm.get_qmp_client()
                if client is None:
                    raise QEMUMachineError(
                        "Attempt to access QMP with no connection")
                raw = client.execute_raw(
                    cmd, QMachine.to_json(args).get_object() if args else None,
                    QMachine.QmpExecuteFlags.NONE, fds, None)
                response = QMachine.to_python(raw)
        except GLib.Error as err:
            raise _qmp_failure(err) from err
        finally:
            self._dispatch()
        if QMP_LOG.isEnabledFor(logging.DEBUG):
            QMP_LOG.debug('<-- %s', _redacted(response))
        return response

    def _wait_any_event(self, vm: QMachine.Machine, wait: Any) -> QMPMessage:
        """Waits for the next event of any name.  The library's event
        signal is dispatched in our private context: iterate it until an
        event is queued, QEMU is gone or the timeout expires."""
        seconds = None if wait is True else float(wait)
        deadline = None if seconds is None else time.monotonic() + seconds
        woken = []

        def wake(*_args: Any) -> bool:
            woken.append(True)
            return False

        handler = vm.connect('event', wake)
        exited = vm.connect('exited', wake)
        timer = None
        if seconds is not None:
            timer = GLib.timeout_source_new(max(0, int(seconds * 1000)))
            timer.set_callback(wake)
            timer.attach(self._context)
        try:
            while True:
                event = vm.get_event()
                if event is not None:
                    return event
                if vm.get_state() == QMachine.MachineState.NOT_LAUNCHED:
                    raise QMPConnectionError(
                        'QEMU exited while waiting for an event')
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError(f'No QMP event within {seconds} s')
                self._context.iteration(True)
        finally:
            if timer is not None:
                timer.destroy()
            vm.disconnect(handler)
            vm.disconnect(exited)

    def _shutdown_failure(self, err: GLib.Error) -> Exception:
        if _is(err, _MACHINE_ERROR, QMachine.MachineError.ABNORMAL_SHUTDOWN):
            LOG.debug("Graceful shutdown failed: %s", err.message)
            return AbnormalShutdown("Could not perform graceful shutdown")
        return QEMUMachineError(err.message)

    def _early_cleanup(self) -> None:
        """Closes our ends of the console before QEMU is asked to exit, so
        an unread console cannot keep it from exiting."""
        if self._console_file is not None:
            LOG.debug("Closing console file")
            self._console_file.close()
            self._console_file = None
        if self._console_socket is not None:
            LOG.debug("Closing console socket")
            self._console_socket.close()
            self._console_socket = None

    def _cleanup_files(self) -> None:
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    def _post_shutdown(self) -> None:
        """Cleanup once QEMU is gone (the library has reaped it and removed
        its own files), also after a failed launch.  A subclass's override
        calls this first."""
        self._early_cleanup()
        if self._vm is not None:
            self._iolog = self._vm.get_log()
        self._pending_fds = None
        self._close_qemu_log_file()
        if self._log_to_stdout and self._iolog:
            sys.stdout.write(self._iolog)
            sys.stdout.flush()
        self._log_to_stdout = False
        self._qemu_log_path = None
        self._cleanup_files()
        self._launched = False
        self._dispatch()


def _seconds_to_msec(seconds: Optional[float]) -> int:
    """Seconds (None: forever) to the library's milliseconds (-1)."""
    if seconds is None or seconds == float('inf'):
        return -1
    if seconds < 0:
        raise ValueError(f'a timeout cannot be negative: {seconds!r}')
    if seconds == 0:
        return 0
    return min(max(1, math.ceil(seconds * 1000)), 2 ** 31 - 1)


# --------------------------------------------------------------------------
# The process, as much of subprocess.Popen as suites use of ``_popen``


class _Process:
    """QEMU's process of one launch: ``pid``, ``args``, ``returncode``,
    ``poll()``, ``wait()``, ``send_signal()``, ``terminate()``, ``kill()``.

    The library owns the process (it reaps it and cleans up); this object
    only looks at it, and signals it while it runs.  It stays valid after
    shutdown, with the exit status, as the reference's ``_popen`` does.
    """

    def __init__(self, owner: 'QEMUMachine', vm: QMachine.Machine):
        self._owner = owner
        self._vm = vm
        self.pid: int = vm.get_pid()
        self.args: List[str] = list(vm.get_full_args())

    def _running(self) -> bool:
        self._owner._dispatch()
        return bool(self._vm.is_running())

    @property
    def returncode(self) -> Optional[int]:
        """The exit status (negative: the signal), or None while running."""
        if self._running():
            return None
        code = self._vm.exit_code
        return None if code is None else int(code)

    def poll(self) -> Optional[int]:
        return self.returncode

    def wait(self, timeout: Optional[float] = None) -> Optional[int]:
        """Waits for QEMU to exit (it is not asked to);
        ``subprocess.TimeoutExpired`` after *timeout* seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        context = self._owner._context
        woken: List[bool] = []

        def wake(*_args: Any) -> bool:
            woken.append(True)
            return False

        exited = self._vm.connect('exited', wake)
        timer = None
        if timeout is not None:
            timer = GLib.timeout_source_new(max(0, int(timeout * 1000)))
            timer.set_callback(wake)
            timer.attach(context)
        try:
            while self._running():
                if deadline is not None and time.monotonic() >= deadline:
                    raise subprocess.TimeoutExpired(self.args, timeout or 0)
                context.iteration(True)
        finally:
            if timer is not None:
                timer.destroy()
            self._vm.disconnect(exited)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        """Signals QEMU if it still runs."""
        if self._running():
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


# --------------------------------------------------------------------------
# Console sockets


class _ConsoleSocket(socket.socket):
    """A real socket on a duplicate of the library's console descriptor.

    The descriptor's file status flags are shared with the library's
    GSocket, which must stay non-blocking; so "blocking" here is a timeout
    too long to matter, and ``setblocking(True)``/``settimeout(None)`` keep
    the descriptor non-blocking.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        super().settimeout(_FOREVER)

    def settimeout(self, value: Optional[float]) -> None:
        super().settimeout(_FOREVER if value is None else value)

    def gettimeout(self) -> Optional[float]:
        value = super().gettimeout()
        return None if value == _FOREVER else value

    def setblocking(self, flag: bool) -> None:
        super().settimeout(_FOREVER if flag else 0.0)

    def dup(self) -> '_ConsoleSocket':
        return _ConsoleSocket(fileno=os.dup(self.fileno()))


class _DrainedConsoleSocket:
    """A socket-like view of a drained console.

    The library reads the console continuously into its buffer; this object
    hands out that output byte for byte, from the first byte QEMU wrote,
    and writes through the library.  ``recv`` blocks until output arrives
    (or the timeout set with ``settimeout`` expires: ``socket.timeout``) and
    returns ``b''`` once the console is closed and everything was read.
    """

    def __init__(self, console: QMachine.Console,
                 dispatch: Optional[Any] = None):
        self._console = console
        # Runs what the library queued in the machine's private context
        # (one idle source per chunk of output): called as we read.
        self._dispatch = dispatch
        self._pos = 0          # stream offset of the next byte to hand out
        self._buf = bytearray()
        self._timeout: Optional[float] = None
        self._closed = False

    # Reading ---------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise OSError(9, 'Bad file descriptor')

    def _take_new_output(self) -> bool:
        """Moves output past our position into our buffer."""
        if self._dispatch is not None:
            self._dispatch()
        while True:
            dropped = self._console.get_dropped_bytes()
            output = self._console.get_output()
            if dropped == self._console.get_dropped_bytes():
                break
        end = dropped + len(output)
        if self._pos < dropped:
            LOG.warning("Console output overflowed; %d bytes lost",
                        dropped - self._pos)
            self._pos = dropped
        if end <= self._pos:
            return False
        self._buf += output[self._pos - dropped:]
        self._pos = end
        return True

    def _fill(self) -> None:
        """Waits until our buffer holds something or the console ended."""
        deadline = (None if self._timeout is None
                    else time.monotonic() + self._timeout)
        while not self._buf:
            if self._take_new_output():
                return
            if deadline is None:
                remaining: Optional[float] = None
            else:
                remaining = max(0.0, deadline - time.monotonic())
            try:
                # Any byte past what the library's waits consumed: returns
                # at once while it lags behind us, then blocks for new
                # output.
                self._console.wait_for(r'[\s\S]+', regex=True,
                                       timeout=remaining)
            except GLib.Error as err:
                if _is(err, _IO_ERROR, _io('TIMED_OUT')):
                    if self._take_new_output():
                        return
                    raise socket.timeout('timed out') from err
                # Closed: hand out what is left, then EOF.
                self._take_new_output()
                return

    def recv(self, bufsize: int = 1, flags: int = 0) -> bytes:
        """Returns up to *bufsize* bytes of console output, waiting for at
        least one; ``b''`` at the end."""
        self._check_open()
        assert not flags, "Cannot pass flags to recv() in drained mode"
        self._fill()
        data = bytes(self._buf[:bufsize])
        del self._buf[:bufsize]
        return data

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        view = memoryview(buffer).cast('B')
        data = self.recv(nbytes or len(view), flags)
        view[:len(data)] = data
        return len(data)

    # Writing ---------------------------------------------------------------

    def send(self, data: Any, flags: int = 0) -> int:
        self._check_open()
        assert not flags, "Cannot pass flags to send() in drained mode"
        data = bytes(data)
        try:
            self._console.write(data)
        except GLib.Error as err:
            raise BrokenPipeError(err.message) from err
        return len(data)

    def sendall(self, data: Any, flags: int = 0) -> None:
        self.send(data, flags)

    # Socket odds and ends --------------------------------------------------

    def settimeout(self, value: Optional[float]) -> None:
        self._timeout = value

    def gettimeout(self) -> Optional[float]:
        return self._timeout

    def setblocking(self, flag: bool) -> None:
        self._timeout = None if flag else 0.0

    def fileno(self) -> int:
        """There is no descriptor of our own: -1."""
        return -1

    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> '_DrainedConsoleSocket':
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def makefile(self, mode: str = 'r', buffering: Optional[int] = None, *,
                 encoding: Optional[str] = None, errors: Optional[str] = None,
                 newline: Optional[str] = None) -> Any:
        """A file object over the console, like ``socket.makefile``."""
        if not set(mode) <= {'r', 'w', 'b'}:
            raise ValueError(f'invalid mode {mode!r} (only r, w, b allowed)')
        writing = 'w' in mode
        reading = 'r' in mode or not writing
        raw = _ConsoleIO(self, reading, writing)
        if buffering is None:
            buffering = -1
        if buffering < 0:
            buffering = io.DEFAULT_BUFFER_SIZE
        if buffering == 0:
            if 'b' not in mode:
                raise ValueError('unbuffered streams must be binary')
            return raw
        if reading and writing:
            buffer: Any = io.BufferedRWPair(raw, raw, buffering)
        elif reading:
            buffer = io.BufferedReader(raw, buffering)
        else:
            buffer = io.BufferedWriter(raw, buffering)
        if 'b' in mode:
            return buffer
        text = io.TextIOWrapper(buffer, encoding, errors, newline)
        text.mode = mode  # type: ignore[misc]
        return text


class _ConsoleIO(io.RawIOBase):
    """The raw file of a :class:`_DrainedConsoleSocket`."""

    def __init__(self, sock: _DrainedConsoleSocket,
                 reading: bool, writing: bool):
        super().__init__()
        self._sock = sock
        self._reading = reading
        self._writing = writing

    def readable(self) -> bool:
        return self._reading

    def writable(self) -> bool:
        return self._writing

    def readinto(self, b: Any) -> int:
        self._checkClosed()  # type: ignore[attr-defined]
        return self._sock.recv_into(b)

    def write(self, b: Any) -> int:
        self._checkClosed()  # type: ignore[attr-defined]
        return self._sock.send(b)

    def fileno(self) -> int:
        raise io.UnsupportedOperation('the drained console has no descriptor')


# --------------------------------------------------------------------------
# The guest agent, as qemu.utils.qemu_ga_client has it


def _agent_failure(err: GLib.Error, command: str,
                   arguments: Optional[Dict[str, Any]]) -> Exception:
    """The compat exception for a failed agent command."""
    if err.domain == GLib.quark_to_string(QMachine.qmp_error_quark()):
        command_error = QMachine.CommandError(err.message, err.domain, err.code)
        error = {'class': command_error.qmp_class or 'GenericError',
                 'desc': command_error.desc}
        sent: Dict[str, Any] = {'execute': command}
        if arguments:
            sent['arguments'] = arguments
        return ExecuteError(error, sent, {'error': error})
    return _qmp_failure(err)


class QemuGuestAgent:
    """The agent's commands as methods: ``qga.file_open(path='/etc/hosts')``
    runs ``guest-file-open`` and returns its ``return`` value. What
    ``QemuGuestAgentClient.qga`` is."""

    def __init__(self, agent: 'QMachine.GuestAgent'):
        self._agent = agent

    def settimeout(self, timeout: Optional[float]) -> None:
        """Each later command's time limit in seconds (``None``: none);
        past it a command raises ``TimeoutError``."""
        self._agent.set_timeout(_seconds_to_msec(timeout))

    def command(self, cmd: str, **kwds: Any) -> Any:
        try:
            return self._agent.execute(cmd, kwds or None)
        except GLib.Error as err:
            raise _agent_failure(err, cmd, kwds) from None

    def close(self) -> None:
        self._agent.close()

    def __getattr__(self, name: str) -> Any:
        if name.startswith('_'):
            raise AttributeError(name)

        def wrapper(**kwds: Any) -> Any:
            return self.command('guest-' + name.replace('_', '-'), **kwds)
        return wrapper


class QemuGuestAgentClient:
    """``qemu.utils.qemu_ga_client.QemuGuestAgentClient`` on top of
    ``QMachine.GuestAgent``: *address* is the socket QEMU serves the agent's
    channel on (a path or a ``(host, port)`` tuple). Unlike the original,
    every command first resynchronises with the agent when the channel may
    be out of step, so a late reply is never taken for another's."""

    def __init__(self, address: Any):
        try:
            agent = QMachine.GuestAgent.new_for_address(
                QMachine.socket_address(address), None)
        except GLib.Error as err:
            raise QMPConnectionError(err.message) from None
        agent.set_timeout(-1)
        self.qga = QemuGuestAgent(agent)

    def sync(self, timeout: Optional[float] = 3) -> None:
        if not self.ping(timeout):
            raise EnvironmentError('Agent seems not alive')
        uid = random.randint(0, (1 << 32) - 1)
        while True:
            ret = self.qga.sync(id=uid)
            if isinstance(ret, int) and int(ret) == uid:
                break

    def read(self, path: str) -> bytes:
        try:
            return self.qga._agent.file_read(path)
        except GLib.Error as err:
            raise _agent_failure(err, 'guest-file-read', {'path': path}) from None

    def info(self) -> str:
        info = self.qga.info()
        commands = info.get('supported_commands', [])
        enabled = [c['name'] for c in commands if c.get('enabled')]
        disabled = [c['name'] for c in commands if not c.get('enabled')]
        return '\n'.join(['version: ' + info['version'],
                          'supported_commands:',
                          '\tenabled: ' + ', '.join(enabled),
                          '\tdisabled: ' + ', '.join(disabled)])

    def ifconfig(self) -> str:
        lines = []
        for nif in self.qga.network_get_interfaces():
            lines.append(nif['name'] + ':')
            for ipaddr in nif.get('ip-addresses', []):
                kind = ipaddr.get('ip-address-type')
                addr = ipaddr.get('ip-address')
                prefix = int(ipaddr.get('prefix', 0))
                if kind == 'ipv4':
                    mask = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
                    netmask = '.'.join(str((mask >> s) & 0xFF) for s in (24, 16, 8, 0))
                    lines.append(f'\tinet {addr}  netmask {netmask}')
                elif kind == 'ipv6':
                    lines.append(f'\tinet6 {addr}  prefixlen {prefix}')
            if nif.get('hardware-address', '00:00:00:00:00:00') != '00:00:00:00:00:00':
                lines.append('\tether ' + nif['hardware-address'])
        return '\n'.join(lines)

    def ping(self, timeout: Optional[float]) -> bool:
        self.qga.settimeout(timeout)
        try:
            self.qga.ping()
        except TimeoutError:
            return False
        return True

    def fsfreeze(self, cmd: str) -> object:
        if cmd not in ('status', 'freeze', 'thaw'):
            raise Exception('Invalid command: ' + cmd)
        return getattr(self.qga, 'fsfreeze_' + cmd)()

    def fstrim(self, minimum: int) -> Dict[str, object]:
        return self.qga.fstrim(minimum=minimum)

    def suspend(self, mode: str) -> None:
        if mode not in ('disk', 'ram', 'hybrid'):
            raise Exception('Invalid mode: ' + mode)
        try:
            getattr(self.qga, 'suspend_' + mode)()
        except TimeoutError:
            return

    def shutdown(self, mode: str = 'powerdown') -> None:
        if mode not in ('powerdown', 'halt', 'reboot'):
            raise Exception('Invalid mode: ' + mode)
        try:
            self.qga.shutdown(mode=mode)
        except TimeoutError:
            pass
