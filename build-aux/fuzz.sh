#!/usr/bin/env bash
# fuzz.sh - run the QMP fuzz target (libFuzzer, from Debian's clang) for a
# while, starting from the seed corpus in tests/fuzz/corpus.
#
# Copyright 2026 The qmachine authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage: build-aux/fuzz.sh [SECONDS]   (default 60)
#
# Builds _build-fuzz/fuzz-qmp with -fsanitize=fuzzer,address,undefined and
# runs it with the dictionary tests/fuzz/qmp.dict. New inputs go to
# _build-fuzz/corpus (the seed corpus is only read); a crash leaves
# crash-* in _build-fuzz and exits non-zero. Add an input that found a bug
# to tests/fuzz/corpus, so every CI run replays it (test fuzz-replay).

set -euo pipefail

cd -- "$(dirname -- "$(readlink -f -- "$0")")/.."

SECONDS_TO_RUN=${1:-60}
OUT=_build-fuzz

command -v clang >/dev/null || { echo "fuzz.sh: clang is missing (apt-get install clang)" >&2; exit 1; }

if [ ! -f "$OUT/meson/meson-private/coredata.dat" ]; then
  meson setup "$OUT/meson" -Dintrospection=disabled -Dtests=false -Ddocs=false >/dev/null
fi
meson compile -C "$OUT/meson" qmachine/q-enum-types.h >/dev/null

# shellcheck disable=SC2046
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -DQMACHINE_COMPILATION -D_GNU_SOURCE \
  -I"$OUT/meson" -I"$OUT/meson/qmachine" -Iqmachine \
  $(pkg-config --cflags glib-2.0 gio-2.0 json-glib-1.0) \
  tests/fuzz/fuzz-qmp.c qmachine/q-qmp-framer.c qmachine/q-error.c \
  $(pkg-config --libs glib-2.0 gio-2.0 json-glib-1.0) \
  -o "$OUT/fuzz-qmp"

mkdir -p "$OUT/corpus"
cd "$OUT"
exec ./fuzz-qmp -max_total_time="$SECONDS_TO_RUN" -dict=../tests/fuzz/qmp.dict \
  -max_len=300000 -rss_limit_mb=4096 -print_final_stats=1 corpus ../tests/fuzz/corpus
