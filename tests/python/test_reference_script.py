# test_reference_script.py - a qemu.machine-style script runs unchanged
#
# Copyright 2026 The qmachine authors
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""Runs reference_style_script.py in a fresh interpreter, as a user would:
only the environment says where the build tree is."""

import os
import subprocess
import sys

from conftest import HERE, PYTHON_SRCDIR

SCRIPT = os.path.join(HERE, 'reference_style_script.py')


def test_script_differs_from_the_reference_only_by_its_import():
    with open(SCRIPT) as f:
        lines = f.read().splitlines()
    imports = [line for line in lines if 'import QEMUMachine' in line]
    assert imports == ['# from qemu.machine import QEMUMachine',
                       'from qmachine.compat import QEMUMachine']


def absolute_path_list(value):
    return os.pathsep.join(os.path.abspath(p) for p in value.split(os.pathsep) if p)


def test_reference_style_script_runs(qemu_binary, tmp_path):
    env = dict(os.environ)
    # The script runs from another directory.
    for name in ('GI_TYPELIB_PATH', 'LD_LIBRARY_PATH'):
        if name in env:
            env[name] = absolute_path_list(env[name])
    env['PYTHONPATH'] = os.pathsep.join(
        [PYTHON_SRCDIR] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
    env['TMPDIR'] = str(tmp_path)
    proc = subprocess.run([sys.executable, SCRIPT, qemu_binary],
                          cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines() == [
        'running: True',
        'running after the with block: False',
        'query-status: running',
        'event: STOP',
        'query-status: paused',
        'exit code: 0',
    ]
    assert proc.stderr == ''
