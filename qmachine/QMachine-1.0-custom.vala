/* QMachine-1.0-custom.vala: declarations vapigen merges into qmachine-1.vapi
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The methods skipped in QMachine-1.0.metadata, with their string arrays
 * cast to the `const char * const *` the C functions take.
 */

namespace Q {
	public sealed class Machine : GLib.Object {
		public void add_argv ([CCode (array_length = false, array_null_terminated = true, type = "const char* const*")] string[]? argv);
		public void set_wrapper ([CCode (array_length = false, array_null_terminated = true, type = "const char* const*")] string[]? wrapper);
		public void set_environ ([CCode (array_length = false, array_null_terminated = true, type = "const char* const*")] string[]? env);
		public Json.Object events_wait ([CCode (array_length = false, array_null_terminated = true, type = "const char* const*")] string[] names, Json.Array? matches, int timeout_msec, GLib.Cancellable? cancellable = null) throws GLib.Error;
		public async Json.Object events_wait_async ([CCode (array_length = false, array_null_terminated = true, type = "const char* const*")] string[] names, Json.Array? matches, int timeout_msec, GLib.Cancellable? cancellable) throws GLib.Error;
	}
	public sealed class GuestAgent : GLib.Object {
		public bool exec ([CCode (array_length = false, array_null_terminated = true, type = "const char* const*")] string[] argv, [CCode (array_length = false, array_null_terminated = true, type = "const char* const*")] string[]? envp, GLib.Bytes? input, int timeout_msec, out int exit_status, out GLib.Bytes stdout_data, out GLib.Bytes stderr_data, GLib.Cancellable? cancellable = null) throws GLib.Error;
		public async bool exec_async ([CCode (array_length = false, array_null_terminated = true, type = "const char* const*")] string[] argv, [CCode (array_length = false, array_null_terminated = true, type = "const char* const*")] string[]? envp, GLib.Bytes? input, int timeout_msec, GLib.Cancellable? cancellable, out int exit_status, out GLib.Bytes stdout_data, out GLib.Bytes stderr_data) throws GLib.Error;
	}
}
