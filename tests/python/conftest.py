# conftest.py - shared set-up of qmachine's Python tests
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""The Python tests run against the build tree:

- ``GI_TYPELIB_PATH`` and ``LD_LIBRARY_PATH`` point at ``<build>/qmachine``
  (the typelib and ``libqmachine-1.so``);
- ``qmachine/python`` of the source tree holds the override (``QMachine.py``)
  and the ``qmachine`` package.  It is put on ``sys.path`` here (meson also
  sets ``PYTHONPATH``), and importing ``qmachine`` puts it first on
  ``gi.overrides.__path__``, so this tree's override is the one loaded even
  when an older one is installed.  The session checks that it is.

Real QEMU is not optional: ``qemu-system-x86_64`` (or ``$QMACHINE_TEST_QEMU``)
must exist.  The tests marked ``guest`` boot the test guest and need
``QMACHINE_GUEST_KERNEL`` and ``QMACHINE_GUEST_INITRD``; they are skipped
when those are not set.
"""

import os
import pathlib
import shutil
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON_SRCDIR = os.path.normpath(
    os.environ.get('QMACHINE_PYTHON_SRCDIR') or
    os.path.join(HERE, '..', '..', 'qmachine', 'python'))

if PYTHON_SRCDIR not in sys.path:
    sys.path.insert(0, PYTHON_SRCDIR)

import gi  # noqa: E402

gi.require_version('Json', '1.0')

import qmachine  # noqa: E402,F401  (sets up the override path)
from gi.repository import GLib, QMachine  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'guest: boots the test guest (needs QMACHINE_GUEST_KERNEL '
        'and QMACHINE_GUEST_INITRD)')


def pytest_report_header(config):
    override = sys.modules.get('gi.overrides.QMachine')
    return [f'qmachine override: {getattr(override, "__file__", None)}',
            f'qmachine package: {qmachine.__file__}',
            f'QEMU: {qemu_binary_path()}']


def pytest_sessionfinish(session, exitstatus):
    # pytest exits with 5 when it collected nothing; for this suite that
    # means a broken selection or layout, never success.
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def qemu_binary_path():
    return (os.environ.get('QMACHINE_TEST_QEMU') or
            shutil.which('qemu-system-x86_64'))


@pytest.fixture(scope='session', autouse=True)
def _tree_override():
    """Every test runs with this tree's override and package."""
    override = sys.modules.get('gi.overrides.QMachine')
    assert override is not None, 'the QMachine override was not loaded'
    assert os.path.samefile(override.__file__,
                            os.path.join(PYTHON_SRCDIR, 'QMachine.py'))
    assert os.path.samefile(os.path.dirname(qmachine.__file__),
                            os.path.join(PYTHON_SRCDIR, 'qmachine'))
    assert QMachine.Machine.__module__ == 'gi.overrides.QMachine'


@pytest.fixture(scope='session')
def qemu_binary():
    path = qemu_binary_path()
    if not path or not os.access(path, os.X_OK):
        pytest.fail('qemu-system-x86_64 is needed (install qemu-system-x86 '
                    'or set QMACHINE_TEST_QEMU)')
    return path


# The fast VM: no board, no devices.
FAST_ARGS = ('-machine', 'none', '-nodefaults')


@pytest.fixture
def sock_dir():
    """A fresh directory with a short path, for unix sockets: a socket's
    path is limited to 107 bytes, and ``tmp_path`` lies under the build
    directory, which can be deep (``meson dist`` builds in one)."""
    path = pathlib.Path(tempfile.mkdtemp(prefix='qm-', dir='/tmp'))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def machine(qemu_binary, tmp_path):
    """A configured, not yet launched ``QMachine.Machine`` (``-machine
    none``) whose temporary files go under the test's ``tmp_path/base``;
    killed at teardown if a test left it running."""
    base = tmp_path / 'base'
    base.mkdir()
    vm = QMachine.Machine.new(qemu_binary)
    vm.set_base_temp_dir(str(base))
    vm.add_args(*FAST_ARGS)
    yield vm
    if vm.get_state() != QMachine.MachineState.NOT_LAUNCHED:
        vm.kill()


class Guest:
    """The test guest: a kernel and an initramfs that print
    QMACHINE-GUEST-READY on ttyS0 and run a busybox shell."""

    READY = 'QMACHINE-GUEST-READY'
    BOOT_TIMEOUT = 180

    def __init__(self, kernel, initrd):
        self.kernel = kernel
        self.initrd = initrd

    def args(self):
        return ['-machine', 'pc', '-accel', 'tcg', '-m', '256', '-nodefaults',
                '-no-reboot', '-kernel', self.kernel, '-initrd', self.initrd,
                '-append', 'console=ttyS0 panic=-1']


@pytest.fixture
def guest():
    kernel = os.environ.get('QMACHINE_GUEST_KERNEL')
    initrd = os.environ.get('QMACHINE_GUEST_INITRD')
    if not kernel or not initrd:
        pytest.skip('QMACHINE_GUEST_KERNEL/QMACHINE_GUEST_INITRD are not set')
    assert os.path.isfile(kernel), kernel
    assert os.path.isfile(initrd), initrd
    return Guest(kernel, initrd)


class LoopRunner:
    """Runs a ``GLib.MainLoop`` on a context until ``done()`` is called,
    with a guard that fails the test instead of hanging it."""

    def __init__(self, context=None, guard_seconds=60):
        self.context = context
        self.loop = GLib.MainLoop.new(context, False)
        self.guard_seconds = guard_seconds
        self.failure = None

    def done(self):
        self.loop.quit()

    def checked(self, func):
        """Wraps a callback so that an exception in it (a failed assert)
        stops the loop and fails the test; PyGObject would only print it."""
        def wrapper(*args):
            try:
                return func(*args)
            except BaseException:  # noqa: B902 - reported, not swallowed
                import traceback
                self.fail('exception in a callback:\n' + traceback.format_exc())
                return False
        return wrapper

    def fail(self, message):
        if self.failure is None:
            self.failure = message
        self.loop.quit()

    def run(self):
        guard = GLib.timeout_source_new_seconds(self.guard_seconds)
        guard.set_callback(lambda *_: self.fail(
            f'the main loop did not finish within {self.guard_seconds} s') or False)
        guard.attach(self.context)
        try:
            self.loop.run()
        finally:
            guard.destroy()
        if self.failure is not None:
            pytest.fail(self.failure)


@pytest.fixture
def loop_runner():
    return LoopRunner
