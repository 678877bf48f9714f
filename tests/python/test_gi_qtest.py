# test_gi_qtest.py - QMachine.QtestClient through gi.repository.QMachine
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""qtest from Python: a machine with a qtest channel (``-machine pc``, TCG,
stopped CPUs), CMOS through the I/O ports, guest memory, an error as
``GLib.Error`` in the ``Q_QTEST_ERROR`` domain, and the ``irq`` signal."""

from gi.repository import GLib, QMachine

from conftest import qemu_binary_path

QTEST_ERROR = QMachine.qtest_error_quark()
Width = QMachine.QtestWidth


def test_qtest_client():
    vm = QMachine.Machine.new(qemu_binary_path())
    vm.add_args('-machine', 'pc', '-accel', 'tcg', '-nodefaults', '-S')
    vm.add_qtest()
    vm.launch()
    try:
        qtest = vm.get_qtest_client()
        assert isinstance(qtest, QMachine.QtestClient)

        # A CMOS NVRAM byte, written and read back.
        assert qtest.out(Width.BYTE, 0x70, 0x40, None)
        assert qtest.out(Width.BYTE, 0x71, 0x3c, None)
        assert qtest.out(Width.BYTE, 0x70, 0x40, None)
        ok, value = qtest.in_(Width.BYTE, 0x71, None)
        assert ok and value == 0x3c

        # Guest memory.
        assert qtest.write_memory(0x3000, GLib.Bytes.new(b'qmachine'), None)
        assert qtest.read_memory(0x3000, 8, None).get_data() == b'qmachine'
        ok, value = qtest.read_value(Width.QUAD, 0x3000, None)
        assert ok and value == int.from_bytes(b'qmachine', 'little')

        # QEMU's FAIL as a GLib.Error of the qtest domain.
        try:
            qtest.command('bogus', None)
            raise AssertionError('bogus was accepted')
        except GLib.Error as err:
            assert err.matches(QTEST_ERROR, QMachine.QtestError.FAILED)
            assert 'bogus' in err.message

        # Interrupts: intercepted, set by hand, delivered as signals in
        # this thread's default context.
        seen = []
        loop = GLib.MainLoop()

        def on_irq(client, line, level):
            seen.append((line, level))
            if len(seen) == 2:
                loop.quit()

        qtest.connect('irq', on_irq)
        assert qtest.irq_intercept_in('ioapic', None)
        assert qtest.set_irq_in('ioapic', None, 8, 1, None)
        assert qtest.set_irq_in('ioapic', None, 8, 0, None)
        GLib.timeout_add_seconds(20, loop.quit)
        loop.run()
        assert seen[:2] == [(8, True), (8, False)]
    finally:
        vm.shutdown(timeout=10)
