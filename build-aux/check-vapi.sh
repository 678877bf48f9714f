#!/usr/bin/env bash
# check-vapi.sh - the C that valac generates against qmachine-1.vapi has no
# incompatible-pointer warnings (an error with newer GCC). meson compiles
# Vala's C with -w, which would hide them; this compiles it without.
#
# Copyright 2026 The qmachine authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage: check-vapi.sh BUILDDIR VALA-FILE...

set -euo pipefail

builddir=$(readlink -f -- "$1")
shift
srcdir=$(readlink -f -- "$(dirname -- "$0")/..")
work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT

for vala in "$@"; do
  name=$(basename -- "$vala" .vala)
  mkdir -p "$work/$name"
  valac -C --directory "$work/$name" --basedir "$(dirname -- "$vala")" --vapidir "$builddir/qmachine" \
    --pkg qmachine-1 --pkg gio-2.0 --pkg gio-unix-2.0 --pkg json-glib-1.0 "$vala"
  # shellcheck disable=SC2046
  cc -c -o /dev/null -Werror=incompatible-pointer-types -Werror=discarded-qualifiers \
    -I"$srcdir/qmachine" -I"$builddir/qmachine" \
    $(pkg-config --cflags gio-unix-2.0 json-glib-1.0) "$work/$name/$name.c"
  echo "check-vapi.sh: $vala: the generated C compiles cleanly"
done
