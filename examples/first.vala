/* first.vala: the first program of docs/getting-started-vala.md
 *
 * Copyright 2026 The qmachine authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Starts an empty machine (-machine none: no guest to fetch), asks QEMU
 * its version over QMP and shuts it down, with the blocking API.
 */

int main () {
    var vm = new Q.Machine ("qemu-system-x86_64");
    vm.set_machine ("none");
    try {
        vm.launch (null);
        var qemu = vm.cmd ("query-version", null, null).get_object ().get_object_member ("qemu");
        print ("QEMU %lld.%lld runs (pid %d)\n", qemu.get_int_member ("major"),
               qemu.get_int_member ("minor"), vm.get_pid ());
        vm.shutdown (Q.MachineShutdownFlags.NONE, 10000, null);
        print ("shut down cleanly\n");
        return 0;
    } catch (Error e) {
        printerr ("%s\n", e.message);
        return 1;
    }
}
