# reference_style_agent_script.py - a qemu_ga_client-style script
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""Uses the guest agent the way scripts use QEMU's qemu_ga_client; only
the import differs. Argument: the agent's socket path."""

import sys

# from qemu.utils.qemu_ga_client import QemuGuestAgentClient
from qmachine.compat import QemuGuestAgentClient

client = QemuGuestAgentClient(sys.argv[1])
client.sync(60)
print(client.info().splitlines()[0].split(':')[0])
print('ping:', client.ping(10))
print('read:', client.read('/proc/version')[:5])
print('first interface:', client.ifconfig().splitlines()[0])
print('fsfreeze status:', client.fsfreeze('status'))
pid = client.qga.exec(path='/bin/echo', arg=['hi'], **{'capture-output': True})['pid']
while not client.qga.exec_status(pid=pid)['exited']:
    pass
try:
    client.fsfreeze('bogus')
except Exception as exc:
    print(exc)
try:
    client.qga.file_open(path='/no/such/file')
except Exception as exc:
    print(type(exc).__name__, exc.error_class)
client.shutdown()
print('shutdown sent')
