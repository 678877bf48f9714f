#!/usr/bin/env bash
# run-tests.sh - install what is missing, build qmachine and run every test.
#
# Copyright 2026 The qmachine authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage: build-aux/run-tests.sh [MESON-SETUP-OPTION...]
#
# Builds with warnings fatal (-Dwerror=true), the GIR, the Vala bindings and
# the API reference (so g-ir-scanner and gi-docgen warnings fail too), then
# runs `meson test --print-errorlogs`: the unit, qemu, guest, bindings,
# python and docs suites, then an install into a temporary DESTDIR
# (build-aux/test-install.sh), then the soak (`--setup soak --suite slow`)
# and QEMU's own iotests on the reference and on qmachine (`--suite iotests`).
# Extra arguments go to `meson setup` (e.g. -Dguest_tests=false).
#
# A plain `meson setup` builds no guest (it would download packages);
# this script turns -Dguest_tests on.
#
# Environment:
#   QMACHINE_BUILDDIR        build directory (default: _build)
#   QMACHINE_SKIP_DEPS=1     do not run build-aux/install-deps.sh
#   QMACHINE_TEST_ARGS       extra arguments for `meson test` (word-split)
#   QMACHINE_SKIP_SOAK=1     leave out the soak
#   QMACHINE_SKIP_IOTESTS=1  leave out QEMU's iotests (about five minutes)
#
# Exits non-zero when anything fails.

set -euo pipefail

cd -- "$(dirname -- "$(readlink -f -- "$0")")/.."

BUILDDIR=${QMACHINE_BUILDDIR:-_build}

if [ "${QMACHINE_SKIP_DEPS:-0}" != 1 ]; then
  ./build-aux/install-deps.sh
fi

setup_args=(-Dwerror=true -Dintrospection=enabled -Dvapi=true -Ddocs=true -Dguest_tests=true -Dexamples=true "$@")

if [ -f "$BUILDDIR/meson-private/coredata.dat" ]; then
  echo "run-tests.sh: reconfiguring $BUILDDIR with ${setup_args[*]}"
  meson setup --reconfigure "${setup_args[@]}" "$BUILDDIR"
else
  echo "run-tests.sh: configuring $BUILDDIR with ${setup_args[*]}"
  meson setup "${setup_args[@]}" "$BUILDDIR"
fi

meson compile -C "$BUILDDIR"

# shellcheck disable=SC2206
test_args=(${QMACHINE_TEST_ARGS:-})
meson test -C "$BUILDDIR" --print-errorlogs "${test_args[@]}"
# Installed into a temporary DESTDIR: nothing outside the prefix, and the
# tool, C (through the .pc) and Python (typelib + override) work from it.
./build-aux/test-install.sh "$BUILDDIR"
if [ "${QMACHINE_SKIP_SOAK:-0}" != 1 ]; then
  meson test -C "$BUILDDIR" --print-errorlogs --setup soak --suite slow "${test_args[@]}"
fi
# QEMU's own Python iotests, unchanged, with QEMU's python package and with
# qmachine's compat layer in its place (tests/iotests/README.md; they fetch
# Debian's QEMU source into a cache and skip without a network).
if [ "${QMACHINE_SKIP_IOTESTS:-0}" != 1 ]; then
  meson test -C "$BUILDDIR" --print-errorlogs --setup iotests --suite iotests "${test_args[@]}"
fi
