// first.js: the first program of docs/getting-started-gjs.md
//
// Copyright 2026 The qmachine authors
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Starts an empty machine (-machine none: no guest to fetch), asks QEMU
// its version over QMP and shuts it down, with the async API as promises.
//
// Usage: gjs -m first.js

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import QMachine from 'gi://QMachine?version=1.0';
import System from 'system';

Gio._promisify(QMachine.Machine.prototype, 'launch_async', 'launch_finish');
Gio._promisify(QMachine.Machine.prototype, 'cmd_async', 'cmd_finish');
Gio._promisify(QMachine.Machine.prototype, 'shutdown_async', 'shutdown_finish');

const loop = new GLib.MainLoop(null, false);
let status = 0;
const vm = QMachine.Machine.new('qemu-system-x86_64');
vm.set_machine('none');
vm.launch_async(null).then(async () => {
    // cmd_async (command, arguments, cancellable): no arguments here.
    const version = await vm.cmd_async('query-version', null, null);
    const qemu = version.get_object().get_object_member('qemu');
    print(`QEMU ${qemu.get_int_member('major')}.${qemu.get_int_member('minor')} runs (pid ${vm.get_pid()})`);
    await vm.shutdown_async(QMachine.MachineShutdownFlags.NONE, 10000, null);
    print('shut down cleanly');
}).catch(error => {
    printerr(`first: ${error.message}`);
    status = 1;
}).finally(() => loop.quit());
loop.run();
System.exit(status);
