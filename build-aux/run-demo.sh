#!/usr/bin/env bash
# run-demo.sh - install what is missing, build qmachine and run the demo.
#
# Copyright 2026 The qmachine authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage: build-aux/run-demo.sh
#
# The demo boots the small Linux guest that build-aux/make-guest.sh makes
# (Debian's cloud kernel + a busybox initramfs) through the `qmachine` tool:
# the console streams the boot, the tool waits for the guest's ready marker,
# runs QMP commands (printing replies and events as JSON lines), types a
# command into the guest shell and waits for its answer, then asks the guest
# to power off and waits for QEMU to exit.
#
# Environment:
#   QMACHINE_BUILDDIR        build directory (default: _build)
#   QMACHINE_SKIP_DEPS=1     do not run build-aux/install-deps.sh
#   QMACHINE_ACCEL           QEMU accelerator (default: tcg)

set -euo pipefail

cd -- "$(dirname -- "$(readlink -f -- "$0")")/.."

BUILDDIR=${QMACHINE_BUILDDIR:-_build}

if [ "${QMACHINE_SKIP_DEPS:-0}" != 1 ]; then
  ./build-aux/install-deps.sh
fi

if [ ! -f "$BUILDDIR/meson-private/coredata.dat" ]; then
  echo "run-demo.sh: configuring $BUILDDIR"
  meson setup "$BUILDDIR"
fi

meson compile -C "$BUILDDIR"
# The guest is not built by default (-Dguest_tests is off, since it
# downloads Debian packages): the demo asks for it by name.
meson compile -C "$BUILDDIR" guest

tool=$BUILDDIR/qmachine/tool/qmachine
kernel=$BUILDDIR/build-aux/vmlinuz
initrd=$BUILDDIR/build-aux/initramfs.cpio.gz
for f in "$tool" "$kernel" "$initrd"; do
  if [ ! -e "$f" ]; then
    echo "run-demo.sh: error: $f was not built" >&2
    exit 1
  fi
done

echo "run-demo.sh: booting the test guest with $tool run"
# The shell script the tool runs once the guest is up (see docs/tool.md).
"$tool" run --console --qmp-shell --wait-for QMACHINE-GUEST-READY --timeout 60 -- \
  -machine pc -accel "${QMACHINE_ACCEL:-tcg}" -m 256 -nodefaults -no-reboot \
  -kernel "$kernel" -initrd "$initrd" -append 'console=ttyS0 panic=-1' <<'SHELL'
# QMP: the VM's status, then a pause and a resume (STOP and RESUME events)
cmd query-status
cmd stop
wait-event STOP 10
cmd cont
wait-event RESUME 10
# The guest's shell, through the serial console
console echo "the guest computes $((6*7))"
wait-console computes 42
cmd query-version
# ACPI power button: the guest powers off, QEMU exits by itself
cmd system_powerdown
wait-event SHUTDOWN 60
SHELL
status=$?
echo "run-demo.sh: qmachine exited with status $status"
exit $status
