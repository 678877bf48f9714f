// test-machine.js: the async API of QMachine from GJS, with promises.
//
// Copyright 2026 The qmachine authors
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Prints TAP. Run by meson with GI_TYPELIB_PATH pointing at the build tree.

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Json from 'gi://Json';
import QMachine from 'gi://QMachine?version=1.0';

Gio._promisify(QMachine.Machine.prototype, 'launch_async', 'launch_finish');
Gio._promisify(QMachine.Machine.prototype, 'cmd_async', 'cmd_finish');
Gio._promisify(QMachine.Machine.prototype, 'qmp_async', 'qmp_finish');
Gio._promisify(QMachine.Machine.prototype, 'event_wait_async', 'event_wait_finish');
Gio._promisify(QMachine.Machine.prototype, 'shutdown_async', 'shutdown_finish');

const qemu = GLib.getenv('QMACHINE_TEST_QEMU') ?? 'qemu-system-x86_64';
let planned = 0;
let failed = 0;
const tests = [];

function test(name, fn) {
    tests.push([name, fn]);
}

function assert(cond, what) {
    if (!cond)
        throw new Error(`assertion failed: ${what}`);
}

function newMachine() {
    const m = QMachine.Machine.new(qemu);
    m.set_machine('none');
    m.add_args(['-nodefaults']);
    return m;
}

function objectToJs(obj) {
    const node = Json.Node.alloc().init_object(obj);
    return JSON.parse(Json.to_string(node, false));
}

test('launch, cmd, events as signals, shutdown', async () => {
    const m = newMachine();
    const seen = [];
    const states = [];
    let exited = null;

    m.connect('event::STOP', (_m, name, ev) => seen.push(['STOP', name, objectToJs(ev).event]));
    m.connect('event::RESUME', (_m, name) => seen.push(['RESUME', name]));
    m.connect('notify::state', () => states.push(m.state));
    m.connect('exited', (_m, code) => {
        exited = code;
    });

    await m.launch_async(null);
    assert(m.state === QMachine.MachineState.RUNNING, 'state is RUNNING');
    assert(m.pid > 0, 'pid is set');

    const status = await m.cmd_async('query-status', null, null);
    assert(JSON.parse(Json.to_string(status, false)).status === 'running', 'query-status says running');

    // Register the wait before the command that causes the event.
    const stopWait = m.event_wait_async('STOP', null, 10000, null);
    await m.cmd_async('stop', null, null);
    const stop = await stopWait;
    assert(objectToJs(stop).event === 'STOP', 'event_wait returned STOP');

    await m.cmd_async('cont', null, null);
    await m.event_wait_async('RESUME', null, 10000, null);

    assert(seen.some(s => s[0] === 'STOP' && s[1] === 'STOP' && s[2] === 'STOP'), 'event::STOP fired');
    assert(seen.some(s => s[0] === 'RESUME'), 'event::RESUME fired');
    assert(!seen.some(s => s[0] === 'STOP' && s[1] !== 'STOP'), 'detail filters');

    await m.shutdown_async(QMachine.MachineShutdownFlags.NONE, 10000, null);
    assert(m.state === QMachine.MachineState.NOT_LAUNCHED, 'state back to NOT_LAUNCHED');
    const [ok, code] = m.get_exit_code();
    assert(ok && code === 0, `exit code 0 (got ${ok}, ${code})`);

    // The exited signal and notifications arrive through the loop.
    await new Promise(resolve => GLib.idle_add(GLib.PRIORITY_LOW, () => {
        resolve();
        return GLib.SOURCE_REMOVE;
    }));
    assert(exited === 0, 'exited(0) emitted');
    assert(states.length >= 2, 'state notifications');
});

test('QMP errors are GLib errors with the QMP class as code', async () => {
    const m = newMachine();
    await m.launch_async(null);
    try {
        await m.cmd_async('no-such-command', null, null);
        assert(false, 'cmd should have thrown');
    } catch (e) {
        assert(e instanceof GLib.Error, 'a GLib.Error');
        assert(e.matches(QMachine.qmp_error_quark(), QMachine.QmpError.COMMAND_NOT_FOUND),
            `COMMAND_NOT_FOUND, got ${e}`);
    }
    const raw = objectToJs(await m.qmp_async('no-such-command', null, null));
    assert(raw.error.class === 'CommandNotFound', 'qmp() returns the error object');
    await m.shutdown_async(QMachine.MachineShutdownFlags.NONE, 10000, null);
});

test('launch failure carries QEMU\'s complaint', async () => {
    const m = newMachine();
    m.add_args(['-no-such-option']);
    try {
        await m.launch_async(null);
        assert(false, 'launch should have failed');
    } catch (e) {
        assert(e.matches(QMachine.machine_error_quark(), QMachine.MachineError.LAUNCH_FAILED),
            `LAUNCH_FAILED, got ${e}`);
        assert(e.message.includes('-no-such-option: invalid option'), 'message has QEMU output');
    }
    assert(m.state === QMachine.MachineState.NOT_LAUNCHED, 'not launched afterwards');
});

const loop = new GLib.MainLoop(null, false);
(async () => {
    print(`1..${tests.length}`);
    for (const [name, fn] of tests) {
        planned++;
        try {
            // eslint-disable-next-line no-await-in-loop
            await fn();
            print(`ok ${planned} ${name}`);
        } catch (e) {
            failed++;
            print(`not ok ${planned} ${name}`);
            printerr(`# ${e}\n${e.stack ?? ''}`);
        }
    }
    loop.quit();
})();
loop.run();
imports.system.exit(failed ? 1 : 0);
