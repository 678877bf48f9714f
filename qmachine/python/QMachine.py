# QMachine.py - PyGObject overrides for the QMachine namespace
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""Pythonic overrides for ``gi.repository.QMachine``.

PyGObject loads this module automatically on
``from gi.repository import QMachine`` once it is installed in PyGObject's
overrides directory (``gi._overridesdir``).  It changes the *synchronous*
methods of :class:`Machine` and :class:`Console` so that Python code passes
and receives plain ``dict``/``list``/``str``/``int``/``float``/``bool``/
``None`` values instead of ``Json.Node``/``Json.Object``, and takes timeouts
in seconds:

- ``Machine.cmd(command, args_dict=None, conv_keys=None, **kwargs)`` returns
  the command's ``return`` value; ``Machine.qmp(...)`` the whole response.
  Keyword arguments have ``_`` turned into ``-`` in their names, exactly as
  ``qemu.machine.QEMUMachine`` does (``args_dict`` is passed unchanged).
- ``Machine.event_wait``/``events_wait``/``get_event``/``get_events``
  return dicts; ``QMachine.event_match`` takes Python values.
- ``Machine.launch()``, ``shutdown(hard=False, timeout=30)``, ``kill()``,
  ``wait(timeout=30)``, ``add_args(*args)``.
- ``Console.wait_for(pattern, regex=False, timeout=60)``,
  ``read_line(timeout=60)``, ``write(str | bytes)``, ``get_output()``
  returning ``bytes``.

Timeouts are seconds (``int`` or ``float``); ``None`` waits forever and
``0`` only looks at what is already there.

Errors are ``GLib.Error`` with the library's domain and code
(``QMachine.machine_error_quark()`` with ``QMachine.MachineError``,
``QMachine.qmp_error_quark()`` with ``QMachine.QmpError``,
``Gio.io_error_quark()`` with ``Gio.IOErrorEnum``), raised as subclasses
that can be caught by class (also exported by the ``qmachine`` package):
:class:`Error` (the base), :class:`LaunchError`, :class:`NotLaunchedError`,
:class:`AlreadyLaunchedError`, :class:`AbnormalShutdownError`,
:class:`NoConnectionError`, :class:`AddDeviceError`,
:class:`ProtocolError`, :class:`CommandError` (``qmp_class``, ``desc``),
:class:`Timeout` (also the builtin ``TimeoutError``) and
:class:`Cancelled`.  Every blocking method and every introspected method
that can fail (``*_finish`` included) raises them.

The ``*_async``/``*_finish`` methods keep their introspected signatures and
return values (timeouts in milliseconds, ``Json`` results); their JSON
*inputs* additionally accept Python values.  :func:`to_python` and
:func:`to_json` convert results by hand.
"""

import json
import math
import os
import signal
import socket
import threading
import warnings

# The C module's functions: the same handlers, without the enum
# conversions `signal.signal` adds (tens of µs a blocking call).
import _signal

import gi
try:
    gi.require_version('Json', '1.0')
except ValueError:  # another version was already required: keep it
    pass

with warnings.catch_warnings():
    # PyGObject before 3.44: Python's ImportWarning about gi's PEP 302
    # importer, on the first import of each namespace (Json here).
    warnings.filterwarnings(
        'ignore', category=ImportWarning,
        message=r'DynamicImporter\.exec_module\(\) not found')
    from gi.repository import GLib, Gio, Json

from ..module import get_introspection_module
from ..overrides import override

QMachine = get_introspection_module('QMachine')

__all__ = []

#: Marks the Python layer; ``qmachine.compat`` checks it is loaded.
OVERRIDES_API = 1
__all__.append('OVERRIDES_API')

_G_MAXINT = 2 ** 31 - 1


# --------------------------------------------------------------------------
# Exceptions
#
# The library's errors, as classes: each is a GLib.Error (same domain,
# code and message, so ``except GLib.Error`` and ``err.matches()`` keep
# working) that can also be caught by class.  Every blocking method of the
# override, and every introspected method that can fail (``*_finish``,
# ``add_fd``...), raises them: see _convert().


class Error(GLib.Error):
    """The base of qmachine's exceptions: a ``GLib.Error`` (``domain``,
    ``code``, ``message``, ``matches()``) raised by the library.  Errors
    without a more specific class (``MachineError.FAILED``, other domains)
    are raised as this class."""

    def __init__(self, message='unknown error', domain='pygi-error', code=0):
        super().__init__(message, domain, code)

    def copy(self):
        return type(self)(self.message, self.domain, self.code)

    def __repr__(self):
        return (f'{type(self).__module__}.{type(self).__qualname__}('
                f'{self.message!r}, {self.domain!r}, {self.code})')


class AlreadyLaunchedError(Error):
    """``MachineError.ALREADY_LAUNCHED``: the machine is already running."""


class NotLaunchedError(Error):
    """``MachineError.NOT_LAUNCHED``: the call needs a running machine (or
    QEMU exited while it waited)."""


class LaunchError(Error):
    """``MachineError.LAUNCH_FAILED``: QEMU could not be started or exited
    before it was ready.  The message holds the exit status, the command
    line and QEMU's output; from a machine's ``launch()`` they are also
    attributes: ``exit_code`` (as ``Machine.exit_code``: ``None`` when QEMU
    did not exit by itself), ``full_args`` (``Machine.get_full_args()``)
    and ``log`` (``Machine.get_log()``)."""

    exit_code = None
    full_args = None
    log = None


class AbnormalShutdownError(Error):
    """``MachineError.ABNORMAL_SHUTDOWN``: a graceful shutdown was asked for
    but QEMU had to be killed."""


class NoConnectionError(Error):
    """``MachineError.NO_CONNECTION``: the machine has no QMP monitor (or
    no console) for the call."""


class AddDeviceError(Error):
    """``MachineError.ADD_DEVICE``: a device request conflicts with the
    machine's configuration."""


class ProtocolError(Error):
    """``MachineError.PROTOCOL``: the QMP peer broke the protocol."""


class CommandError(Error):
    """A ``QmpError``: QEMU (or the guest agent) refused a command.

    ``qmp_class`` is QMP's error class (``'GenericError'``,
    ``'CommandNotFound'``..., also for classes ``QmpError`` has no code
    for) and ``desc`` QEMU's description; ``code`` is the ``QmpError``."""

    @property
    def qmp_class(self):
        """QMP's error class name, such as ``'GenericError'``."""
        return _split_qmp_message(self.code, self.message)[0]

    @property
    def desc(self):
        """QEMU's description of the error."""
        return _split_qmp_message(self.code, self.message)[1]


class Timeout(Error, TimeoutError):
    """``Gio.IOErrorEnum.TIMED_OUT``: a timeout expired.  Also the builtin
    ``TimeoutError`` (an ``OSError``; ``asyncio.TimeoutError`` on Python
    3.11 and later)."""


class Cancelled(Error):
    """``Gio.IOErrorEnum.CANCELLED``: the call's ``Gio.Cancellable`` was
    cancelled."""


_ERROR_CLASSES = (Error, AlreadyLaunchedError, NotLaunchedError,
                  LaunchError, AbnormalShutdownError, NoConnectionError,
                  AddDeviceError, ProtocolError, CommandError, Timeout,
                  Cancelled)

for _cls in _ERROR_CLASSES:
    # Shown as qmachine.CommandError, the documented place.
    _cls.__module__ = 'qmachine'
    __all__.append(_cls.__name__)
del _cls

_MACHINE_ERROR_DOMAIN = GLib.quark_to_string(QMachine.machine_error_quark())
_QMP_ERROR_DOMAIN = GLib.quark_to_string(QMachine.qmp_error_quark())
_IO_ERROR_DOMAIN = GLib.quark_to_string(Gio.io_error_quark())

_MACHINE_ERROR_CLASSES = {
    int(QMachine.MachineError.ALREADY_LAUNCHED): AlreadyLaunchedError,
    int(QMachine.MachineError.NOT_LAUNCHED): NotLaunchedError,
    int(QMachine.MachineError.LAUNCH_FAILED): LaunchError,
    int(QMachine.MachineError.ABNORMAL_SHUTDOWN): AbnormalShutdownError,
    int(QMachine.MachineError.NO_CONNECTION): NoConnectionError,
    int(QMachine.MachineError.ADD_DEVICE): AddDeviceError,
    int(QMachine.MachineError.PROTOCOL): ProtocolError,
}

_IO_ERROR_CLASSES = {
    int(Gio.IOErrorEnum.TIMED_OUT): Timeout,
    int(Gio.IOErrorEnum.CANCELLED): Cancelled,
}

# The QMP class of each QmpError code (q-error.c's table).
_QMP_CLASSES = {
    int(QMachine.QmpError.GENERIC_ERROR): 'GenericError',
    int(QMachine.QmpError.COMMAND_NOT_FOUND): 'CommandNotFound',
    int(QMachine.QmpError.DEVICE_NOT_ACTIVE): 'DeviceNotActive',
    int(QMachine.QmpError.DEVICE_NOT_FOUND): 'DeviceNotFound',
    int(QMachine.QmpError.KVM_MISSING_CAP): 'KVMMissingCap',
}


def _split_qmp_message(code, message):
    """``(qmp_class, desc)`` of a QmpError: the class from the code, or
    from the ``[Class] desc`` message of ``UNKNOWN_CLASS``."""
    klass = _QMP_CLASSES.get(code)
    if klass is not None:
        return klass, message
    if message.startswith('['):
        end = message.find('] ')
        if end > 0:
            return message[1:end], message[end + 2:]
    return '', message


def error_class(domain, code):
    """The exception class for a ``GLib.Error`` domain (a string or a
    quark) and code: :class:`Error` when none is more specific."""
    if isinstance(domain, int):
        domain = GLib.quark_to_string(domain)
    if domain == _MACHINE_ERROR_DOMAIN:
        return _MACHINE_ERROR_CLASSES.get(int(code), Error)
    if domain == _QMP_ERROR_DOMAIN:
        return CommandError
    if domain == _IO_ERROR_DOMAIN:
        return _IO_ERROR_CLASSES.get(int(code), Error)
    return Error


__all__.append('error_class')


def _convert(err, machine=None):
    """The qmachine exception for a ``GLib.Error`` (itself when it already
    is one).  *machine*, when given, fills a LaunchError's attributes."""
    if isinstance(err, Error):
        return err
    new = error_class(err.domain, err.code)(err.message, err.domain, err.code)
    if machine is not None and isinstance(new, LaunchError):
        new.exit_code = machine.exit_code
        new.full_args = list(machine.get_full_args() or [])
        new.log = machine.get_log() or ''
    new.__traceback__ = err.__traceback__
    return new


def _raising(name, func, static=False):
    """An introspected method (or constructor) that raises :class:`Error`
    subclasses instead of plain ``GLib.Error``."""
    def method(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except GLib.Error as err:
            raise _convert(err) from None
    method.__name__ = name
    method.__qualname__ = name
    method.__doc__ = getattr(func, '__doc__', None)
    method.__gi_function__ = func  # what it wraps, for the stubs' test
    return staticmethod(method) if static else method


def _convert_introspected(override_class):
    """Wraps each introspected method of *override_class*'s GObject class
    that can fail and that the override does not define itself, so that
    it raises the exception classes (``launch_finish``, ``add_fd``...)."""
    base = override_class.__mro__[1]
    for info in base.__info__.get_methods():
        name = info.get_name()
        if not info.can_throw_gerror() or name in override_class.__dict__:
            continue
        if info.is_method():
            setattr(override_class, name, _raising(name, info))
        else:
            setattr(override_class, name,
                    _raising(name, getattr(base, name), static=True))
    return override_class


# --------------------------------------------------------------------------
# JSON <-> Python


def to_json(value):
    """Converts a Python value (or a ``Json`` object) to a ``Json.Node``.

    Accepts what ``json.dumps`` accepts; ``Json.Node``, ``Json.Object`` and
    ``Json.Array`` pass through (wrapped in a node).
    """
    if isinstance(value, Json.Node):
        return value
    if isinstance(value, Json.Object):
        node = Json.Node.new(Json.NodeType.OBJECT)
        node.set_object(value)
        return node
    if isinstance(value, Json.Array):
        node = Json.Node.new(Json.NodeType.ARRAY)
        node.set_array(value)
        return node
    return Json.from_string(json.dumps(value, allow_nan=False))


__all__.append('to_json')


def to_python(value):
    """Converts a ``Json.Node``, ``Json.Object`` or ``Json.Array`` (or
    ``None``) to plain Python values."""
    if value is None:
        return None
    if isinstance(value, (Json.Object, Json.Array)):
        value = to_json(value)
    if not isinstance(value, Json.Node):
        raise TypeError(f'expected a Json value, not {type(value).__name__}')
    return json.loads(Json.to_string(value, False))


__all__.append('to_python')


def _to_object(value):
    """A ``Json.Object`` from a mapping (``None`` stays ``None``)."""
    if value is None or isinstance(value, Json.Object):
        return value
    if not isinstance(value, dict):
        try:
            value = dict(value)
        except (TypeError, ValueError):
            raise TypeError('QMP arguments must be a mapping, '
                            f'not {type(value).__name__}') from None
    return to_json(value).get_object()


def _to_node_or_none(value):
    """A ``Json.Node`` for a match criterion; ``None`` means "any"."""
    if value is None:
        return None
    return to_json(value)


def _to_match_array(matches):
    """A ``Json.Array`` of match criteria (JSON null for "any")."""
    if matches is None or isinstance(matches, Json.Array):
        return matches
    array = Json.Array.new()
    for match in matches:
        if match is None:
            array.add_null_element()
        else:
            array.add_element(to_json(match))
    return array


_blocking = threading.local()


def _interruptible(start, finish, args, cancellable, on_interrupt=None,
                   machine=None):
    """Runs an ``_async``/``_finish`` pair to the end as a blocking call that
    Ctrl-C interrupts.

    The C library's blocking calls wait inside C, where Python cannot run
    its SIGINT handler. Here the wait is a private main context (pushed as
    thread-default, so the application's context is never dispatched) that
    wakes every 100 ms. While it waits in the main thread with Python's
    default SIGINT handling, SIGINT only sets a flag (an exception raised
    inside a GLib callback would be swallowed); the loop then cancels the
    call, runs *on_interrupt* (it kills the machine, which ends the call
    and removes its files), waits for the call's end and raises
    KeyboardInterrupt.

    This is where the errors of every blocking call surface: a
    ``GLib.Error`` is raised as its :class:`Error` subclass (*machine*
    fills a :class:`LaunchError`'s attributes)."""
    # One private context per thread, reused while not already in use (a
    # blocking call made from a callback of another gets a fresh one).
    context = getattr(_blocking, 'context', None)
    if context is None:
        context = GLib.MainContext.new()
    else:
        _blocking.context = None
    own = Gio.Cancellable()
    done = []
    interrupted = []
    previous = None
    if (threading.current_thread() is threading.main_thread()
            and _signal.getsignal(_signal.SIGINT) is signal.default_int_handler):
        previous = _signal.signal(_signal.SIGINT,
                                  lambda *_: interrupted.append(True))
    context.push_thread_default()
    linked = cancellable.connect(lambda *_: own.cancel()) if cancellable else 0
    if cancellable is not None and cancellable.is_cancelled():
        own.cancel()  # "cancelled" was emitted before we connected
    tick = GLib.timeout_source_new(100)
    tick.set_callback(lambda *_: True)
    tick.attach(context)
    try:
        start(*args, own, lambda _source, result, *_: done.append(result))
        try:
            while not done and not interrupted:
                context.iteration(True)
        except KeyboardInterrupt:
            interrupted.append(True)
        if interrupted:
            own.cancel()
            if on_interrupt is not None:
                on_interrupt()
            while not done:
                context.iteration(True)
            raise KeyboardInterrupt
        try:
            return finish(done[0])
        except GLib.Error as err:
            raise _convert(err, machine) from None
    finally:
        tick.destroy()
        if linked:
            cancellable.disconnect(linked)
        context.pop_thread_default()
        # Kept for the next call only if nothing of this one is left in it.
        if done:
            _blocking.context = context
        if previous is not None:
            _signal.signal(_signal.SIGINT, previous)


def _msec(timeout):
    """Seconds (``None`` = forever) to the library's milliseconds (-1)."""
    if timeout is None:
        return -1
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError('a timeout is a number of seconds or None, '
                        f'not {timeout!r}')
    if math.isnan(timeout) or timeout < 0:
        raise ValueError(f'a timeout cannot be negative: {timeout!r}')
    if math.isinf(timeout):
        return -1
    if timeout == 0:
        return 0
    return min(max(1, math.ceil(timeout * 1000)), _G_MAXINT)


def _qmp_arguments(args_dict, conv_keys, kwargs):
    """The arguments of a QMP command, with ``qemu.machine``'s rules:
    ``args_dict`` is used as given; keyword arguments have ``_`` replaced by
    ``-`` in their names unless ``conv_keys`` is false."""
    if args_dict is not None:
        if kwargs:
            raise TypeError('pass QMP arguments either as args_dict or as '
                            'keyword arguments, not both')
        if conv_keys is not None:
            raise TypeError('conv_keys applies to keyword arguments only')
        if isinstance(args_dict, Json.Object):
            return args_dict
        args = args_dict
    else:
        args = kwargs
        if conv_keys is None or conv_keys:
            args = {key.replace('_', '-'): value
                    for key, value in args.items()}
    if not args:
        return None
    return _to_object(args)


def event_match(event, match):
    """Checks an event against match criteria, with the semantics of
    ``QEMUMachine.event_match``: ``None`` matches anything; a dict matches
    when each of its keys is in *event* and matches recursively (a ``None``
    value meaning "present, any value"); anything else matches an equal
    value.  Takes Python values or ``Json`` nodes."""
    return QMachine.event_match(_to_node_or_none(event),
                                _to_node_or_none(match))


__all__.append('event_match')


def socket_address(address):
    """A ``Gio.SocketAddress`` from what ``qemu.machine`` accepts as a
    monitor address: a unix socket path (``str`` or path-like), a
    ``(host, port)`` tuple (host names are resolved), or a
    ``Gio.SocketAddress``; ``None`` stays ``None``."""
    if address is None or isinstance(address, Gio.SocketAddress):
        return address
    if isinstance(address, (str, bytes, os.PathLike)):
        return Gio.UnixSocketAddress.new(os.fsdecode(address))
    if isinstance(address, (tuple, list)) and len(address) == 2:
        host, port = address
        infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
        if not infos:
            raise ValueError(f'cannot resolve {host!r}')
        numeric = infos[0][4][0]
        inet = Gio.InetSocketAddress.new_from_string(numeric, int(port))
        if inet is None:
            raise ValueError(f'not a usable address: {address!r}')
        return inet
    raise TypeError('a monitor address is a path, a (host, port) tuple or '
                    f'a Gio.SocketAddress, not {address!r}')


__all__.append('socket_address')


# --------------------------------------------------------------------------
# Machine


@override
class Machine(QMachine.Machine):
    """A QEMU virtual machine, with Pythonic synchronous methods.

    ``QMachine.Machine('qemu-system-x86_64')`` and
    ``QMachine.Machine.new('qemu-system-x86_64')`` both work.
    """

    def __init__(self, binary=None, **kwargs):
        if binary is not None:
            kwargs['binary'] = binary
        if not kwargs.get('binary'):
            # The C library accepts an object without one and then fails
            # at launch; refuse it here, where the mistake is.
            raise TypeError('Machine needs a QEMU binary, such as '
                            "Machine('qemu-system-x86_64')")
        super().__init__(**kwargs)

    event_match = staticmethod(event_match)

    # Configuration ---------------------------------------------------------

    def add_args(self, *args):
        """Appends arguments to QEMU's command line: ``add_args('-m', '256')``.
        A single list or tuple is accepted too, as the introspected
        method takes one."""
        argv = []
        for arg in args:
            if isinstance(arg, (list, tuple)):
                argv.extend(arg)
            else:
                argv.append(arg)
        argv = [os.fsdecode(arg) if isinstance(arg, (bytes, os.PathLike))
                else arg for arg in argv]
        for arg in argv:
            if not isinstance(arg, str):
                raise TypeError(f'QEMU arguments are strings, not {arg!r}')
        if argv:
            super().add_args(argv)

    def set_monitor_address(self, address):
        """Sets the QMP monitor address: ``None`` (a socketpair), a unix
        socket path, a ``(host, port)`` tuple or a ``Gio.SocketAddress``."""
        super().set_monitor_address(socket_address(address))

    @property
    def exit_code(self):
        """QEMU's exit status, minus the signal that killed it, or ``None``
        while it runs or before it ever ran."""
        ended, code = self.get_exit_code()
        return code if ended else None

    # Lifecycle -------------------------------------------------------------

    def launch(self, cancellable=None):
        """Starts QEMU and negotiates QMP; raises :class:`LaunchError`
        (with ``exit_code``, ``full_args``, ``log``),
        :class:`AlreadyLaunchedError` or :class:`Timeout` on failure."""
        _interruptible(super().launch_async, super().launch_finish, (), cancellable,
                       self._kill_quietly, machine=self)

    def shutdown(self, hard=False, timeout=30, cancellable=None):
        """Ends QEMU (``quit``, escalating to SIGKILL; at once with
        ``hard=True``) and cleans up.  *timeout* is in seconds, ``None``
        waits forever.  Raises :class:`AbnormalShutdownError` when QEMU
        had to be killed."""
        if isinstance(hard, QMachine.MachineShutdownFlags):
            raise TypeError('Machine.shutdown takes hard=True/False and a '
                            'timeout in seconds; shutdown_async keeps the '
                            'flags and milliseconds')
        flags = (QMachine.MachineShutdownFlags.HARD if hard
                 else QMachine.MachineShutdownFlags.NONE)
        _interruptible(super().shutdown_async, super().shutdown_finish,
                       (flags, _msec(timeout)), cancellable, self._kill_quietly)

    def kill(self, cancellable=None):
        """Kills QEMU at once and cleans up."""
        _interruptible(super().kill_async, super().kill_finish, (), cancellable)

    def wait(self, timeout=30, cancellable=None):
        """Waits (*timeout* seconds, ``None`` = forever) for QEMU to exit
        by itself, then cleans up; kills it and raises
        :class:`AbnormalShutdownError` when it does not exit in time."""
        _interruptible(super().wait_async, super().wait_finish, (_msec(timeout),),
                       cancellable, self._kill_quietly)

    def _kill_quietly(self):
        # Ctrl-C in a blocking call: QEMU is killed and the machine cleans
        # up before the interrupt propagates (the C blocking kill is quick:
        # SIGKILL, reap, remove files, and it ends the interrupted call).
        super().kill(None)

    # QMP -------------------------------------------------------------------

    def qmp(self, command, /, args_dict=None, conv_keys=None, **kwargs):
        """Runs a QMP command and returns the whole response as a dict
        (an error reported by QEMU is under its ``error`` key)."""
        arguments = _qmp_arguments(args_dict, conv_keys, kwargs)
        return to_python(_interruptible(super().qmp_async, super().qmp_finish,
                                        (command, arguments), None, self._kill_quietly))

    def cmd(self, command, /, args_dict=None, conv_keys=None, **kwargs):
        """Runs a QMP command and returns its ``return`` value; an error
        reported by QEMU raises :class:`CommandError` (``qmp_class``,
        ``desc``; a ``GLib.Error`` in the ``QMachine.qmp_error_quark()``
        domain, coded by its class)."""
        arguments = _qmp_arguments(args_dict, conv_keys, kwargs)
        return to_python(_interruptible(super().cmd_async, super().cmd_finish,
                                        (command, arguments), None, self._kill_quietly))

    def qmp_async(self, command, arguments=None, *args, **kwargs):
        super().qmp_async(command, _to_object(arguments), *args, **kwargs)

    def cmd_async(self, command, arguments=None, *args, **kwargs):
        super().cmd_async(command, _to_object(arguments), *args, **kwargs)

    # Events ----------------------------------------------------------------

    def get_event(self):
        """Takes the oldest queued event, or returns ``None``."""
        return to_python(super().get_event())

    def get_events(self):
        """Takes all queued events, oldest first."""
        return [to_python(event) for event in super().get_events()]

    def event_wait(self, name, timeout=60.0, match=None, cancellable=None):
        """Waits for an event called *name* that matches *match* (see
        :func:`event_match`) and returns it.  Queued events are searched
        first.  Raises :class:`Timeout` (a ``TimeoutError``) after
        *timeout* seconds (``0``: queued events only; ``None``: forever)."""
        event = _interruptible(super().event_wait_async, super().event_wait_finish,
                               (name, _to_node_or_none(match), _msec(timeout)),
                               cancellable, self._kill_quietly)
        return to_python(event)

    def events_wait(self, events, timeout=60.0, cancellable=None):
        """Like :meth:`event_wait`, for the first event that matches any of
        *events*: names, or ``(name, match)`` pairs."""
        names = []
        matches = []
        for item in events:
            if isinstance(item, str):
                names.append(item)
                matches.append(None)
            else:
                name, match = item
                names.append(name)
                matches.append(match)
        if not names:
            raise ValueError('events_wait needs at least one event name')
        event = _interruptible(super().events_wait_async, super().events_wait_finish,
                               (names, _to_match_array(matches), _msec(timeout)),
                               cancellable, self._kill_quietly)
        return to_python(event)

    def event_wait_async(self, name, match=None, *args, **kwargs):
        super().event_wait_async(name, _to_node_or_none(match),
                                 *args, **kwargs)

    def events_wait_async(self, names, matches=None, *args, **kwargs):
        super().events_wait_async(names, _to_match_array(matches),
                                  *args, **kwargs)

    # Screen and input ----------------------------------------------------

    def screendump(self, device=None, head=-1, cancellable=None):
        """The screen as PNG ``bytes`` (needs a display device, such as
        ``-vga std``)."""
        png = _interruptible(super().screendump_async, super().screendump_finish,
                             (device, head), cancellable)
        return png.get_data() or b''

    def send_keys(self, combo, hold_time=None, cancellable=None):
        """Presses a key combination such as ``'ctrl-alt-delete'``;
        *hold_time* in seconds (``None``: QEMU's default)."""
        hold = -1 if hold_time is None else _msec(hold_time)
        return _interruptible(super().send_keys_async, super().send_keys_finish,
                              (combo, hold), cancellable)

    def send_text(self, text, cancellable=None):
        """Types *text* (printable ASCII, newlines, tabs) on a US keyboard."""
        return _interruptible(super().send_text_async, super().send_text_finish,
                              (text,), cancellable)

    def pointer_move(self, x, y, cancellable=None):
        """Moves an absolute pointer to (*x*, *y*), each from 0 to 1."""
        return _interruptible(super().pointer_move_async, super().pointer_move_finish,
                              (x, y), cancellable)

    def pointer_click(self, button='left', cancellable=None):
        return _interruptible(super().pointer_click_async, super().pointer_click_finish,
                              (button,), cancellable)

    def connect_event(self, name, handler, *user_data):
        """Connects *handler* ``(machine, event_dict, *user_data)`` to the
        ``event`` signal, for events called *name* (``None``: all events).
        Returns the handler id, for ``disconnect``."""
        signal = 'event' if name is None else f'event::{name}'

        def relay(machine, _name, event, *data):
            return handler(machine, to_python(event), *data)

        return self.connect(signal, relay, *user_data)


_convert_introspected(Machine)
__all__.append('Machine')


# --------------------------------------------------------------------------
# Console


@override
class Console(QMachine.Console):
    """The serial console of a machine, with Pythonic synchronous methods."""

    def wait_for(self, pattern, regex=False, timeout=60.0, cancellable=None):
        """Waits for *pattern* (a string, or with ``regex=True`` a regular
        expression) in the output and returns the matched text; raises
        :class:`Timeout` (a ``TimeoutError``) after *timeout* seconds."""
        if isinstance(regex, QMachine.ConsoleMatchFlags):
            flags = regex
        else:
            flags = (QMachine.ConsoleMatchFlags.REGEX if regex
                     else QMachine.ConsoleMatchFlags.NONE)
        return _interruptible(super().wait_for_async, super().wait_for_finish,
                              (pattern, flags, _msec(timeout)), cancellable)

    def read_line(self, timeout=60.0, cancellable=None):
        """Returns the next line of output, without its line ending."""
        return _interruptible(super().read_line_async, super().read_line_finish,
                              (_msec(timeout),), cancellable)

    def write(self, data, cancellable=None):
        """Sends ``str`` (as UTF-8) or bytes-like *data* to the guest."""
        try:
            super().write(_to_bytes(data), cancellable)
        except GLib.Error as err:
            raise _convert(err) from None

    def write_async(self, data, *args, **kwargs):
        super().write_async(_to_bytes(data), *args, **kwargs)

    def get_output(self):
        """All output still buffered, as ``bytes``."""
        return super().get_output().get_data() or b''


def _to_bytes(data):
    if isinstance(data, GLib.Bytes):
        return data
    if isinstance(data, str):
        data = data.encode('utf-8')
    return GLib.Bytes.new(bytes(data))


_convert_introspected(Console)
__all__.append('Console')


# --------------------------------------------------------------------------
# Guest agent


class ExecResult(tuple):
    """What :meth:`GuestAgent.exec` returns: ``(exit_status, stdout,
    stderr)``, also as attributes; ``returncode`` is ``exit_status``, as in
    ``subprocess``."""

    __slots__ = ()

    def __new__(cls, exit_status, stdout, stderr):
        return super().__new__(cls, (exit_status, stdout, stderr))

    exit_status = property(lambda self: self[0])
    returncode = property(lambda self: self[0])
    stdout = property(lambda self: self[1])
    stderr = property(lambda self: self[2])

    def check(self):
        """Raises ``subprocess.CalledProcessError`` for a non-zero exit
        status; returns the result otherwise."""
        if self.exit_status != 0:
            import subprocess
            raise subprocess.CalledProcessError(self.exit_status, 'guest-exec',
                                                self.stdout, self.stderr)
        return self

    def __repr__(self):
        return (f'ExecResult(exit_status={self[0]!r}, stdout={self[1]!r}, '
                f'stderr={self[2]!r})')


__all__.append('ExecResult')


@override
class GuestAgent(QMachine.GuestAgent):
    """QEMU's guest agent, with Pythonic synchronous methods (Ctrl-C
    interrupts them). Times are seconds; ``None`` means no limit."""

    def _run(self, start, finish, args):
        return _interruptible(start, finish, args, None)

    def execute(self, command, arguments=None, **kwargs):
        """Runs any agent command; returns its ``return`` value as Python
        values. Arguments come as a mapping or keywords."""
        if kwargs:
            arguments = dict(arguments or {}, **kwargs)
        return to_python(self._run(super().execute_async, super().execute_finish,
                                   (command, _to_object(arguments))))

    def sync(self):
        return self._run(super().sync_async, super().sync_finish, ())

    def ping(self):
        return self._run(super().ping_async, super().ping_finish, ())

    def info(self):
        """``guest-info``: a dict with ``version`` and
        ``supported_commands``."""
        return to_python(self._run(super().info_async, super().info_finish, ()))

    def exec(self, argv, input=None, env=None, timeout=None):
        """Runs *argv* (a list, or a string run with ``sh -c``) in the guest
        and returns an :class:`ExecResult`; *input* (str or bytes) is its
        standard input, *env* a mapping or ``NAME=value`` list."""
        if isinstance(argv, str):
            argv = ['sh', '-c', argv]
        if isinstance(env, dict):
            env = [f'{k}={v}' for k, v in env.items()]
        data = None if input is None else _to_bytes(input)
        _, status, out, err = self._run(
            super().exec_async, super().exec_finish,
            (list(argv), None if env is None else list(env), data, _msec(timeout)))
        return ExecResult(status, out.get_data() or b'', err.get_data() or b'')

    def file_read(self, path):
        """A guest file's contents, as ``bytes``."""
        return self._run(super().file_read_async, super().file_read_finish,
                         (path,)).get_data() or b''

    def file_write(self, path, data):
        """Writes ``str`` (UTF-8) or bytes-like *data* to a guest file."""
        return self._run(super().file_write_async, super().file_write_finish,
                         (path, _to_bytes(data)))

    def copy_to_guest(self, local_path, guest_path):
        return self._run(super().copy_to_guest_async, super().copy_to_guest_finish,
                         (Gio.File.new_for_path(os.fspath(local_path)), guest_path))

    def copy_from_guest(self, guest_path, local_path, mode=0o600):
        """Copies a guest file to *local_path*: written under a temporary
        name beside it and renamed into place when complete, with *mode*
        (0600 by default); a failed copy leaves *local_path* as it was."""
        dest = Gio.File.new_for_path(os.fspath(local_path))
        if mode == 0o600:
            return self._run(super().copy_from_guest_async, super().copy_from_guest_finish,
                             (guest_path, dest))
        return self._run(super().copy_from_guest_full_async, super().copy_from_guest_full_finish,
                         (guest_path, dest, mode))

    def shutdown(self, mode=None):
        """``guest-shutdown`` (``powerdown``, ``halt`` or ``reboot``);
        returns once the guest went down."""
        return self._run(super().shutdown_async, super().shutdown_finish, (mode,))

    def fsfreeze(self):
        return self._run(super().fsfreeze_async, super().fsfreeze_finish, ())

    def fsthaw(self):
        return self._run(super().fsthaw_async, super().fsthaw_finish, ())

    def network_interfaces(self):
        """``guest-network-get-interfaces``, as a list of dicts."""
        return to_python(self._run(super().network_interfaces_async,
                                   super().network_interfaces_finish, ()))

    @property
    def timeout(self):
        """Each command's time limit in seconds (``None``: no limit)."""
        msec = self.get_timeout()
        return None if msec < 0 else msec / 1000

    @timeout.setter
    def timeout(self, seconds):
        self.set_timeout(_msec(seconds))


_convert_introspected(GuestAgent)
__all__.append('GuestAgent')


# --------------------------------------------------------------------------
# QMP client


@override
class QmpClient(QMachine.QmpClient):
    """A QMP connection (``Machine.get_qmp_client()``).  Its methods keep
    their introspected signatures (``Json`` values, ``Gio.UnixFDList``);
    those that can fail raise the :class:`Error` subclasses."""


_convert_introspected(QmpClient)
__all__.append('QmpClient')
