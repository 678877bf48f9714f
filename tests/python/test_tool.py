# test_tool.py: the qmachine tool as a user runs it
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import re
import signal
import subprocess

import pytest


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM])
def test_tool_shuts_down_on_signal(tmp_path, sig):
    # Ctrl-C (or SIGTERM) while the tool runs a VM: QEMU is shut down, the
    # tool exits with status 0 and leaves no file behind.
    env = dict(os.environ, TMPDIR=str(tmp_path))
    tool = subprocess.Popen(
        [os.environ['QMACHINE_TOOL'], 'run', '--', '-machine', 'none', '-nodefaults'],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env=env, text=True)
    pid = None
    try:
        for line in tool.stderr:
            found = re.search(r'QEMU running \(pid (\d+)\)', line)
            if found:
                pid = int(found.group(1))
                break
        assert pid is not None, 'the tool never reported QEMU running'
        tool.send_signal(sig)
        assert tool.wait(timeout=20) == 0
    finally:
        if tool.poll() is None:
            tool.kill()
            tool.wait()
        tool.stdin.close()
        tool.stderr.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert os.listdir(tmp_path) == []
