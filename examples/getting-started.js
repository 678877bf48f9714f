// getting-started.js: the program of docs/getting-started-gjs.md
//
// Copyright 2026 The qmachine authors
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Boots a Linux guest, waits for its console to print a ready marker, runs
// a QMP command, reacts to an event and shuts the guest down, with the
// async API and promises, from GJS's main loop.
//
// Usage: gjs -m getting-started.js KERNEL INITRD [MARKER]

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import QMachine from 'gi://QMachine?version=1.0';
import System from 'system';

Gio._promisify(QMachine.Machine.prototype, 'launch_async', 'launch_finish');
Gio._promisify(QMachine.Machine.prototype, 'cmd_async', 'cmd_finish');
Gio._promisify(QMachine.Machine.prototype, 'event_wait_async', 'event_wait_finish');
Gio._promisify(QMachine.Machine.prototype, 'shutdown_async', 'shutdown_finish');
Gio._promisify(QMachine.Console.prototype, 'wait_for_async', 'wait_for_finish');

async function main(kernel, initrd, marker = 'QMACHINE-GUEST-READY') {
    // 1. Configure and launch.
    const vm = QMachine.Machine.new('qemu-system-x86_64');
    vm.set_machine('pc');
    vm.add_args(['-accel', GLib.getenv('QMACHINE_ACCEL') ?? 'tcg',
        '-m', '256', '-nodefaults', '-no-reboot',
        '-kernel', kernel, '-initrd', initrd,
        '-append', 'console=ttyS0 panic=-1']);
    vm.set_console(null, 0);
    vm.set_drain_console(true);
    await vm.launch_async(null);
    print(`QEMU runs (pid ${vm.get_pid()})`);

    // 2. Wait for the guest's console to say it is ready.
    const seen = await vm.get_console().wait_for_async(marker,
        QMachine.ConsoleMatchFlags.NONE, 120000, null);
    print(`console: ${seen}`);

    // 3. Run a QMP command: the result is a Json.Node.
    const status = await vm.cmd_async('query-status', null, null);
    print(`query-status: ${status.get_object().get_string_member('status')}`);

    // 4. React to an event: cause STOP, then wait for it.
    await vm.cmd_async('stop', null, null);
    const event = await vm.event_wait_async('STOP', null, 10000, null);
    print(`event ${event.get_string_member('event')}: the guest is paused; shutting down`);

    // 5. Shut down: quit, kill if needed, remove every file.
    await vm.shutdown_async(QMachine.MachineShutdownFlags.NONE, 10000, null);
    print('shut down cleanly');
}

const loop = new GLib.MainLoop(null, false);
let status = 0;
main(...ARGV).catch(error => {
    printerr(`getting-started: ${error.message}`);
    status = 1;
}).finally(() => loop.quit());
loop.run();
System.exit(status);
