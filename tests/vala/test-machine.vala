/* test-machine.vala: QMachine from Vala, through the generated .vapi
 *
 * Copyright 2026 The qmachine authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

static string qemu_binary () {
    return Environment.get_variable ("QMACHINE_TEST_QEMU") ?? "qemu-system-x86_64";
}

static void test_sync () {
    var machine = new Q.Machine (qemu_binary ());
    machine.set_machine ("none");
    machine.add_argv ({ "-nodefaults" });

    try {
        machine.launch (null);
        assert (machine.state == Q.MachineState.RUNNING);
        var status = machine.cmd ("query-status", null, null);
        assert (status.get_object ().get_string_member ("status") == "running");
        try {
            machine.cmd ("no-such-command", null, null);
            assert_not_reached ();
        } catch (Q.QmpError e) {
            assert (e is Q.QmpError.COMMAND_NOT_FOUND);
        }
        machine.shutdown (Q.MachineShutdownFlags.NONE, 10000, null);
    } catch (Error e) {
        error ("%s", e.message);
    }
    int code;
    assert (machine.get_exit_code (out code));
    assert (code == 0);
}

static async void run_async (MainLoop loop) {
    var machine = new Q.Machine (qemu_binary ());
    machine.set_machine ("none");
    machine.add_argv ({ "-nodefaults" });
    var stops = 0;
    machine.event["STOP"].connect ((name, ev) => { stops++; });

    try {
        yield machine.launch_async (null);
        yield machine.cmd_async ("stop", null, null);
        var ev = yield machine.event_wait_async ("STOP", null, 10000, null);
        assert (ev.get_string_member ("event") == "STOP");
        yield machine.shutdown_async (Q.MachineShutdownFlags.NONE, 10000, null);
    } catch (Error e) {
        error ("%s", e.message);
    }
    // The signal is emitted through the main loop.
    Idle.add (() => {
        assert (stops == 1);
        loop.quit ();
        return Source.REMOVE;
    }, Priority.LOW);
}

static void test_async () {
    var loop = new MainLoop ();
    run_async.begin (loop);
    loop.run ();
}

static void test_agent_closed () {
    /* An agent whose channel ends at once: exec (a string array the
     * binding casts) fails with a clear error instead of waiting. */
    var stream = new SimpleIOStream (new MemoryInputStream (), new MemoryOutputStream.resizable ());
    var agent = new Q.GuestAgent (stream);
    agent.timeout = 5000;
    int status;
    Bytes out_data, err_data;
    try {
        agent.exec ({ "echo", "hi" }, { "A=1" }, null, 1000, out status, out out_data, out err_data);
        assert_not_reached ();
    } catch (Error e) {
        assert (e is IOError.CONNECTION_CLOSED);
    }
}

int main (string[] args) {
    Test.init (ref args);
    Test.add_func ("/qmachine/vala/sync", test_sync);
    Test.add_func ("/qmachine/vala/async", test_async);
    Test.add_func ("/qmachine/vala/agent-closed", test_agent_closed);
    return Test.run ();
}
