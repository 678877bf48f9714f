/* getting-started.vala: the program of docs/getting-started-vala.md
 *
 * Copyright 2026 The qmachine authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Boots a Linux guest, waits for its console to print a ready marker, runs
 * a QMP command, reacts to an event and shuts the guest down, with the
 * async API and `yield`, from one main loop.
 *
 * Usage: getting-started-vala KERNEL INITRD [MARKER]
 */

static async bool run (string kernel, string initrd, string marker) {
    // 1. Configure and launch.
    var vm = new Q.Machine ("qemu-system-x86_64");
    vm.set_machine ("pc");
    vm.add_argv ({ "-accel", Environment.get_variable ("QMACHINE_ACCEL") ?? "tcg",
                   "-m", "256", "-nodefaults", "-no-reboot",
                   "-kernel", kernel, "-initrd", initrd,
                   "-append", "console=ttyS0 panic=-1" });
    vm.set_console (null, 0);
    vm.set_drain_console (true);
    try {
        yield vm.launch_async (null);
        print ("QEMU runs (pid %d)\n", vm.get_pid ());

        // 2. Wait for the guest's console to say it is ready.
        var seen = yield vm.get_console ().wait_for_async (marker, Q.ConsoleMatchFlags.NONE,
                                                          120000, null);
        print ("console: %s\n", seen);

        // 3. Run a QMP command: the result is a Json.Node.
        var status = yield vm.cmd_async ("query-status", null, null);
        print ("query-status: %s\n", status.get_object ().get_string_member ("status"));

        // 4. React to an event: `stop` makes QEMU send STOP.
        yield vm.cmd_async ("stop", null, null);
        var event = yield vm.event_wait_async ("STOP", null, 10000, null);
        print ("event %s: the guest is paused; shutting down\n", event.get_string_member ("event"));

        // 5. Shut down: quit, kill if needed, remove every file.
        yield vm.shutdown_async (Q.MachineShutdownFlags.NONE, 10000, null);
        print ("shut down cleanly\n");
        return true;
    } catch (Error e) {
        printerr ("getting-started: %s\n", e.message);
        return false;
    }
}

int main (string[] args) {
    if (args.length < 3) {
        printerr ("usage: %s KERNEL INITRD [MARKER]\n", args[0]);
        return 2;
    }
    var loop = new MainLoop ();
    var ok = false;
    run.begin (args[1], args[2], args.length > 3 ? args[3] : "QMACHINE-GUEST-READY", (obj, res) => {
        ok = run.end (res);
        loop.quit ();
    });
    loop.run ();
    return ok ? 0 : 1;
}
