/* vapi-stamp.vala: compiled against qmachine-1.vapi so that the docs
 * targets that read the vapi (valadoc, the Vala reference page) run after
 * it is generated; it also checks the names the Vala reference shows.
 *
 * Copyright 2026 The qmachine authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

public async void qmachine_docs_vapi_stamp (Q.Machine vm) throws GLib.Error {
    yield vm.launch_async (null);
    var args = new Json.Object ();
    args.set_string_member ("command-line", "info version");
    yield vm.cmd_async ("human-monitor-command", args, null);
    vm.event["STOP"].connect ((name, event) => {});
    int code;
    vm.get_exit_code (out code);
    vm.shutdown (Q.MachineShutdownFlags.NONE, Q.MACHINE_DEFAULT_QMP_TIMEOUT, null);
}
