#!/usr/bin/env bash
# run-demo.sh - install what is missing, build qmachine and run the demo.
#
# Copyright 2026 The qmachine authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage: build-aux/run-demo.sh [QEMU-BINARY]
#
# The demo (examples/qmp-version.c) starts `qemu-system-x86_64 -machine none`
# with its QMP monitor on a socketpair, prints the QEMU version and VM status
# through QQmpClient, and quits QEMU.
#
# Environment:
#   QMACHINE_BUILDDIR        build directory (default: _build)
#   QMACHINE_SKIP_DEPS=1     do not run build-aux/install-deps.sh

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

demo=$BUILDDIR/examples/qmp-version
if [ ! -x "$demo" ]; then
  echo "run-demo.sh: error: $demo was not built (is subdir('examples') in meson.build?)" >&2
  exit 1
fi

echo "run-demo.sh: running $demo $*"
exec "$demo" "$@"
