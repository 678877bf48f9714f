#!/usr/bin/env bash
# run-iotests.sh - run a list of QEMU's Python iotests against Debian's QEMU.
#
# Copyright 2026 The qmachine authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage: build-aux/run-iotests.sh [OPTIONS] [FMT:TEST ...]
#
# Runs QEMU's own iotests (tests/qemu-iotests/check from the Debian source
# of the installed QEMU, fetched into a cache by fetch-qemu-source.sh)
# against the installed binaries, with a python package for qemu.machine /
# qemu.qmp / qemu.utils chosen by --impl:
#
#   --impl reference   QEMU's own python/ from the same source (the default)
#   --impl qmachine    qmachine: qemu.machine is qmachine.compat (through
#                      the shim in qmachine/python/shim/qemu), run from the
#                      build tree given by --build-dir (default: _build);
#                      qemu.qmp and qemu.utils come from QEMU's python/ in
#                      the same source (the shim delegates to it), unless
#                      --qmp fallback, which uses the shim's own fallbacks
#
# Other options:
#   --build-dir DIR    qmachine's meson build tree (--impl qmachine): its
#                      qmachine/ has the library and QMachine-1.0.typelib
#   --qmp qemu|fallback  --impl qmachine: where qemu.qmp/qemu.utils come from
#   --list FILE        the tests to run, one "FMT TEST" a line, '#' starts a
#                      comment (default: tests/iotests/list.txt). FMT is an
#                      image format (check's -qcow2, -raw, ...), optionally
#                      with a protocol: raw/nbd is `check -raw -nbd`. TEST
#                      is a number or a name from tests/qemu-iotests/tests/.
#                      FMT:TEST arguments replace the list (e.g. qcow2:030
#                      raw/nbd:147 qcow2:migrate-bitmaps-test).
#   --work-dir DIR     where the wrapper, firmware, fake build tree and
#                      scratch directories go (default: a new directory in
#                      ${TMPDIR:-/tmp}, removed at the end unless --keep or a
#                      test failed). An existing DIR is reused; its scratch
#                      is emptied first.
#   --keep             keep the work directory
#   --timeout SECONDS  per test (default 300); a test past it fails
#   -v, --verbose      print every test's output, not only a failure's
#
# Environment: QMACHINE_IOTESTS_QEMU (the real qemu-system-x86_64; default
# from PATH), QEMU_IMG_PROG, QEMU_IO_PROG, QEMU_NBD_PROG, QSD_PROG (default
# from PATH); QMACHINE_QEMU_SRC / QMACHINE_CACHE_DIR (see
# fetch-qemu-source.sh).
#
# How `check` runs against installed binaries: check takes the directory of
# its own path as the build tree's tests/qemu-iotests when it is called
# through a symlink, and the symlink's target directory as the source. So
# WORK/build/tests/qemu-iotests/check is a symlink to the source's check,
# run from that directory; the binaries come from QEMU_PROG, QEMU_IMG_PROG,
# QEMU_IO_PROG, QEMU_NBD_PROG and QSD_PROG, so the fake build tree holds
# nothing else. Debian's QEMU has no qtest accelerator (it has the -qtest
# server, though), so QEMU_PROG is a generated wrapper that turns
# `-accel qtest` / `accel=qtest` into tcg, adds a 64 KiB firmware that halts
# at the reset vector (no guest code runs, nothing reads the test disks)
# and execs the real binary (same pid, same descriptors). qtest commands
# that need the qtest accelerator's virtual clock (clock_step) do not work.
#
# Prints one line per test (PASS/FAIL/SKIP, seconds, a skip's reason) and a
# summary with the wall time. Exit status: 0 when no listed test failed,
# 1 when one did, 77 when the QEMU source cannot be fetched, an impl is not
# available, or nothing ran at all (every test skipped); 2 on a usage error.

set -euo pipefail

PROG=run-iotests.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
srcroot=$(dirname "$here")

info() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { printf '%s: error: %s\n' "$PROG" "$1" >&2; exit "${2:-1}"; }
skip() { printf '%s: SKIP: %s\n' "$PROG" "$*" >&2; exit 77; }

impl=reference
build_dir=
qmp_src=qemu
python=${QMACHINE_IOTESTS_PYTHON:-/usr/bin/python3}
list=$srcroot/tests/iotests/list.txt
work=
keep=false
timeout_s=300
verbose=false
args_tests=()

while [ $# -gt 0 ]; do
  case "$1" in
    --impl) [ $# -ge 2 ] || die "--impl needs an argument" 2; impl=$2; shift 2 ;;
    --impl=*) impl=${1#--impl=}; shift ;;
    --build-dir) [ $# -ge 2 ] || die "--build-dir needs an argument" 2; build_dir=$2; shift 2 ;;
    --build-dir=*) build_dir=${1#--build-dir=}; shift ;;
    --qmp) [ $# -ge 2 ] || die "--qmp needs an argument" 2; qmp_src=$2; shift 2 ;;
    --qmp=*) qmp_src=${1#--qmp=}; shift ;;
    --list) [ $# -ge 2 ] || die "--list needs an argument" 2; list=$2; shift 2 ;;
    --list=*) list=${1#--list=}; shift ;;
    --work-dir) [ $# -ge 2 ] || die "--work-dir needs an argument" 2; work=$2; shift 2 ;;
    --work-dir=*) work=${1#--work-dir=}; shift ;;
    --keep) keep=true; shift ;;
    --timeout) [ $# -ge 2 ] || die "--timeout needs an argument" 2; timeout_s=$2; shift 2 ;;
    --timeout=*) timeout_s=${1#--timeout=}; shift ;;
    -v|--verbose) verbose=true; shift ;;
    -h|--help) sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    -*) die "unknown option '$1' (try --help)" 2 ;;
    *:*) args_tests+=("${1%%:*} ${1#*:}"); shift ;;
    *) die "a test is FMT:TEST, e.g. qcow2:030 (got '$1')" 2 ;;
  esac
done
case "$qmp_src" in qemu|fallback) ;; *) die "--qmp is qemu or fallback" 2 ;; esac
case "$timeout_s" in ''|*[!0-9]*) die "--timeout wants whole seconds" 2 ;; esac

case "$impl" in
  reference|qmachine) ;;
  *) die "--impl is reference or qmachine, not '$impl'" 2 ;;
esac
if [ "$impl" = qmachine ]; then
  # The build tree's library and typelib; /usr/bin/python3 (Debian's, with
  # PyGObject) runs check, since testenv.py runs Python tests with
  # sys.executable.
  [ -n "$build_dir" ] || build_dir=$srcroot/_build
  [ -f "$build_dir/qmachine/QMachine-1.0.typelib" ] ||
    skip "no QMachine typelib in $build_dir/qmachine (give --build-dir; meson setup with -Dintrospection=enabled)"
  build_dir=$(cd "$build_dir" && pwd)
  "$python" -c 'import gi' 2>/dev/null ||
    skip "$python has no PyGObject (set QMACHINE_IOTESTS_PYTHON)"
fi

# --- the tests ---------------------------------------------------------------
tests=()
if [ ${#args_tests[@]} -gt 0 ]; then
  tests=("${args_tests[@]}")
else
  [ -r "$list" ] || die "cannot read the test list $list"
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%%#*}
    read -r fmt name extra <<<"$line" || true
    [ -n "${fmt:-}" ] || continue
    if [ -z "${name:-}" ] || [ -n "${extra:-}" ]; then
      die "$list: bad line '$line' (want: FMT TEST)" 2
    fi
    tests+=("$fmt $name")
  done <"$list"
fi
[ ${#tests[@]} -gt 0 ] || die "no tests to run" 2

# --- the source and the binaries ---------------------------------------------
qemu_src=$("$here/fetch-qemu-source.sh") ||
  skip "the QEMU source could not be fetched (see above)"
iotests_src=$qemu_src/tests/qemu-iotests

find_prog() { # VAR default-name
  local v=${!1:-}
  [ -n "$v" ] || v=$(command -v "$2" 2>/dev/null) || v=
  if [ -z "$v" ] || [ ! -x "$v" ]; then
    skip "$2 not found (set $1; Debian: $3)"
  fi
  printf '%s\n' "$v"
}
real_qemu=$(find_prog QMACHINE_IOTESTS_QEMU qemu-system-x86_64 qemu-system-x86)
QEMU_IMG_PROG=$(find_prog QEMU_IMG_PROG qemu-img qemu-utils)
QEMU_IO_PROG=$(find_prog QEMU_IO_PROG qemu-io qemu-utils)
QEMU_NBD_PROG=$(find_prog QEMU_NBD_PROG qemu-nbd qemu-utils)
QSD_PROG=$(find_prog QSD_PROG qemu-storage-daemon qemu-system-common)

# --- the work directory ------------------------------------------------------
made_work=false
if [ -z "$work" ]; then
  work=$(mktemp -d "${TMPDIR:-/tmp}/qmachine-iotests.XXXXXX") || die "mktemp failed"
  made_work=true
else
  mkdir -p "$work" || die "cannot create $work"
  work=$(cd "$work" && pwd)
fi
any_failed=false
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  if $made_work && ! $keep && ! $any_failed; then
    rm -rf "$work"
  elif $made_work; then
    info "kept the work directory $work"
  fi
}
trap cleanup EXIT

# The firmware: 64 KiB, zeros but for cli; hlt; jmp (back to the hlt) at
# the reset vector (offset 0xFFF0, physical 0xFFFFFFF0).
firmware=$work/halt-firmware.bin
{
  head -c $((0xFFF0)) /dev/zero
  printf '\372\364\353\375'   # FA cli, F4 hlt, EB FD jmp -3 (to the hlt)
  head -c 12 /dev/zero
} >"$firmware.tmp"
mv "$firmware.tmp" "$firmware"

# The QEMU wrapper (a script; not committed, written here each run).
wrapper=$work/qemu-system-x86_64
cat >"$wrapper.tmp" <<'EOF'
#!/usr/bin/env bash
# Generated by qmachine's build-aux/run-iotests.sh: Debian's QEMU has no
# qtest accelerator, so run TCG with a firmware that halts at once.
real=@REAL@
firmware=@FIRMWARE@
args=()
qtest=false
bios=false
while [ $# -gt 0 ]; do
  a=$1; shift
  case "$a" in
    -accel|--accel)
      if [ $# -gt 0 ]; then
        v=$1; shift
        case "$v" in
          qtest) v=tcg; qtest=true ;;
          qtest,*) v=tcg,${v#qtest,}; qtest=true ;;
        esac
        args+=("$a" "$v")
        continue
      fi ;;
    -machine|--machine|-M)
      if [ $# -gt 0 ]; then
        v=$1; shift
        case "$v" in
          *accel=*qtest*) v=${v//qtest/tcg}; qtest=true ;;
        esac
        args+=("$a" "$v")
        continue
      fi ;;
    -bios|--bios) bios=true ;;
  esac
  args+=("$a")
done
if $qtest && ! $bios; then
  args+=(-bios "$firmware")
fi
exec "$real" "${args[@]}"
EOF
q() { printf '%q' "$1"; }
sed -e "s|@REAL@|$(q "$real_qemu")|" -e "s|@FIRMWARE@|$(q "$firmware")|" \
  "$wrapper.tmp" >"$wrapper"
rm -f "$wrapper.tmp"
chmod +x "$wrapper"

# The fake build tree: only check, as a symlink (see the header).
build_iotests=$work/build/tests/qemu-iotests
mkdir -p "$build_iotests"
check_src=$iotests_src
run_check=(./check)
if [ "$impl" = qmachine ]; then
  # testenv.py puts the iotests directory and ../../python beside it first
  # on PYTHONPATH: a copy of tests/qemu-iotests whose ../../python holds
  # qmachine's shim as qemu/ (qemu.machine is qmachine.compat).
  rm -rf "$work/src"
  mkdir -p "$work/src/tests" "$work/src/python"
  cp -a "$iotests_src" "$work/src/tests/qemu-iotests"
  ln -sfn "$srcroot/qmachine/python/shim/qemu" "$work/src/python/qemu"
  check_src=$work/src/tests/qemu-iotests
  run_check=("$python" ./check)
  export GI_TYPELIB_PATH=$build_dir/qmachine${GI_TYPELIB_PATH:+:$GI_TYPELIB_PATH}
  export LD_LIBRARY_PATH=$build_dir/qmachine${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
ln -sfn "$check_src/check" "$build_iotests/check"

scratch=$work/scratch
rm -rf "$scratch"
mkdir -p "$scratch"

export QEMU_PROG=$wrapper QEMU_IMG_PROG QEMU_IO_PROG QEMU_NBD_PROG QSD_PROG
if [ "$impl" = reference ] || [ "$qmp_src" = qemu ]; then
  # The reference package; with --impl qmachine it comes after the shim
  # (testenv.py puts WORK/src/python first), which takes only qemu.machine.
  export PYTHONPATH=$qemu_src/python${PYTHONPATH:+:$PYTHONPATH}
fi
if [ "$impl" = qmachine ]; then
  # qmachine itself (the package and the gi override beside it).
  export PYTHONPATH=$srcroot/qmachine/python${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONDONTWRITEBYTECODE=1   # keep the cached source tree clean
unset SOCK_DIR                     # check makes a short one in /tmp (socket paths)

if [ "$impl" = qmachine ]; then
  # What the tests will import, with testenv.py's PYTHONPATH: qemu.machine
  # must be qmachine's.
  got=$(cd "$check_src" && PYTHONPATH=$check_src:$work/src/python:$PYTHONPATH \
        "$python" -c 'import qemu.machine.qtest as q, qemu.qmp as p
print(q.QEMUQtestMachine.__module__, p.__file__)') ||
    die "qemu.machine does not import from $work/src/python"
  case "$got" in
    qmachine.compat*) info "qemu.machine: $got" ;;
    *) die "qemu.machine is not qmachine's: $got" ;;
  esac
fi
info "qemu source: $qemu_src"
info "qemu: $("$real_qemu" --version | head -n 1) (through $wrapper)"
info "impl: $impl (PYTHONPATH=${PYTHONPATH:-})${build_dir:+ build $build_dir, qemu.qmp from $qmp_src, $python}"
info "running ${#tests[@]} tests; work directory $work"

# --- run ---------------------------------------------------------------------
# Seconds since an $EPOCHREALTIME value, with N decimals.
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" -v n="$2" 'BEGIN { printf "%.*f\n", n, b - a }'; }

n_pass=0 n_fail=0 n_skip=0
failed=()
t_start=$EPOCHREALTIME
for t in "${tests[@]}"; do
  read -r fmtproto name <<<"$t"
  fmt=${fmtproto%%/*}
  check_args=("-$fmt")
  case "$fmtproto" in */*) check_args+=("-${fmtproto#*/}") ;; esac
  base=${name##*/}
  tdir=$scratch/${fmtproto//\//-}-$base
  mkdir -p "$tdir"
  log=$tdir/check.log
  t0=$EPOCHREALTIME
  rc=0
  (cd "$build_iotests" &&
     TEST_DIR=$tdir timeout -k 10 "$timeout_s" "${run_check[@]}" -tap "${check_args[@]}" "$name") \
     >"$log" 2>&1 || rc=$?
  secs=$(elapsed "$t0" 1)
  if grep -qx "ok $fmt $base # SKIP" "$log"; then
    status=SKIP
    why=$(cat "$tdir/$base.notrun" 2>/dev/null || echo '?')
    n_skip=$((n_skip + 1))
  elif grep -qx "ok $fmt $base" "$log" && [ $rc -eq 0 ]; then
    status=PASS why=
    n_pass=$((n_pass + 1))
  else
    status=FAIL
    case $rc in
      124|137) why="timed out after ${timeout_s}s" ;;
      *) why="check exit status $rc" ;;
    esac
    n_fail=$((n_fail + 1))
    failed+=("$fmtproto:$name")
    any_failed=true
  fi
  printf '%-4s %-7s %-36s %6ss%s\n' "$status" "$fmtproto" "$name" "$secs" "${why:+  ($why)}"
  if [ $status = FAIL ] || $verbose; then
    sed 's/^/    | /' "$log"
    if [ $status = FAIL ] && [ -f "$tdir/$base.out.bad" ]; then
      echo "    | --- $tdir/$base.out.bad (tail):"
      tail -n 40 "$tdir/$base.out.bad" | sed 's/^/    | /'
    fi
  fi
done
total=$(elapsed "$t_start" 0)

echo "iotests ($impl): $n_pass passed, $n_fail failed, $n_skip skipped of ${#tests[@]} in ${total}s"
if [ $n_fail -gt 0 ]; then
  echo "failed: ${failed[*]}"
  exit 1
fi
[ $n_pass -gt 0 ] || exit 77
exit 0
