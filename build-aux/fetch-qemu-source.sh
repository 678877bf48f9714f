#!/usr/bin/env bash
# fetch-qemu-source.sh - fetch and unpack Debian's source of the installed QEMU.
#
# Copyright 2026 The qmachine authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage: build-aux/fetch-qemu-source.sh [--version VERSION] [--print-version]
#
# Finds the Debian source version of the installed qemu-system-x86
# (`dpkg-query -W -f='${source:Version}'`, so a binNMU suffix such as +b3
# is dropped), fetches that version of the `qemu` source package from
# deb.debian.org with a private apt configuration (its own sources file,
# package lists and cache: the system's apt setup is neither read nor
# changed), unpacks it with `dpkg-source -x` (Debian's patches applied, so
# the tree matches the installed binaries) and prints the unpacked tree's
# path on stdout. Everything else goes to stderr.
#
# The tree is kept in a cache outside the source tree and reused:
#   ${QMACHINE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/qmachine}/qemu-src-VERSION
# (VERSION without the epoch, e.g. qemu-src-7.2+dfsg-7+deb12u18). A second
# run with the tree present prints its path and touches the network not at
# all. QMACHINE_QEMU_SRC=DIR skips everything and prints DIR (after checking
# that it looks like a QEMU tree).
#
#   --version VERSION   fetch this source version instead of the installed one
#   --print-version     print the source version that would be fetched; exit
#
# Exit status: 0 with the path printed; 1 on an error (no network, the
# version is not in bookworm, bookworm-updates or bookworm-security, a tool
# is missing), with a message saying which. Needs apt and dpkg-dev
# (dpkg-source), both installed by build-aux/install-deps.sh; not root.

set -euo pipefail

PROG=fetch-qemu-source.sh
MIRROR=${QMACHINE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${QMACHINE_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

info() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }

looks_like_qemu() {
  [ -f "$1/python/qemu/machine/machine.py" ] && [ -f "$1/tests/qemu-iotests/check" ]
}

version=
print_version=false
while [ $# -gt 0 ]; do
  case "$1" in
    --version) [ $# -ge 2 ] || die "--version needs an argument"; version=$2; shift 2 ;;
    --version=*) version=${1#--version=}; shift ;;
    --print-version) print_version=true; shift ;;
    -h|--help) sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
done

if [ -n "${QMACHINE_QEMU_SRC:-}" ]; then
  looks_like_qemu "$QMACHINE_QEMU_SRC" ||
    die "QMACHINE_QEMU_SRC=$QMACHINE_QEMU_SRC has no python/qemu/machine or tests/qemu-iotests/check"
  printf '%s\n' "$QMACHINE_QEMU_SRC"
  exit 0
fi

if [ -z "$version" ]; then
  command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: this script is for Debian"
  status=$(dpkg-query -W -f='${db:Status-Status}' qemu-system-x86 2>/dev/null) || status=
  [ "$status" = installed ] ||
    die "qemu-system-x86 is not installed (build-aux/install-deps.sh installs it)"
  src_pkg=$(dpkg-query -W -f='${source:Package}' qemu-system-x86)
  [ "$src_pkg" = qemu ] || die "qemu-system-x86 comes from source package '$src_pkg', not 'qemu'"
  version=$(dpkg-query -W -f='${source:Version}' qemu-system-x86)
fi
[ -n "$version" ] || die "could not determine the source version"
case "$version" in
  *[!A-Za-z0-9.+~:-]*) die "not a Debian version: '$version'" ;;
esac

if $print_version; then
  printf '%s\n' "$version"
  exit 0
fi

cache=${QMACHINE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/qmachine}
noepoch=${version#*:}            # no ':' in the path (PYTHONPATH, PATH)
dest=$cache/qemu-src-$noepoch

if looks_like_qemu "$dest"; then
  info "using the cached source of qemu $version"
  printf '%s\n' "$dest"
  exit 0
fi

for tool in apt-get dpkg-source; do
  command -v "$tool" >/dev/null 2>&1 ||
    die "$tool not found (build-aux/install-deps.sh installs apt and dpkg-dev)"
done
[ -r "$KEYRING" ] || die "$KEYRING not found (package debian-archive-keyring)"

mkdir -p "$cache" || die "cannot create the cache directory $cache"
work=$(mktemp -d "$cache/.fetch-qemu-$noepoch.XXXXXX") || die "cannot create a work directory in $cache"
trap 'rm -rf "$work"' EXIT

# A private apt: its own sources list, state and cache, nothing of the
# system's (Dir::Etc::SourceParts points nowhere so sources.list.d is not read).
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/dl"
cat >"$work/sources.list" <<EOF
deb-src [signed-by=$KEYRING] $MIRROR bookworm main
deb-src [signed-by=$KEYRING] $MIRROR bookworm-updates main
deb-src [signed-by=$KEYRING] $SECURITY_MIRROR bookworm-security main
EOF
apt_opts=(
  -o "Dir::Etc::SourceList=$work/sources.list"
  -o Dir::Etc::SourceParts=/nonexistent
  -o "Dir::State::Lists=$work/lists"
  -o "Dir::Cache=$work/cache"
  -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
  -o APT::Sandbox::User=root    # the download directory is ours, not _apt's
  -o Debug::NoLocking=1
  -q
)

info "fetching the package lists (bookworm, bookworm-updates, bookworm-security)"
if ! apt-get "${apt_opts[@]}" update >"$work/update.log" 2>&1 ||
   grep -Eq '^(W|E): (Failed|Some index files failed)' "$work/update.log"; then
  sed 's/^/  /' "$work/update.log" >&2
  die "apt-get update failed: no network, or $MIRROR is unreachable"
fi

info "fetching the source of qemu $version (about 120 MB)"
if ! (cd "$work/dl" && apt-get "${apt_opts[@]}" source --download-only "qemu=$version") \
      >"$work/source.log" 2>&1; then
  sed 's/^/  /' "$work/source.log" >&2
  if grep -q 'Can not find version\|Unable to find a source package' "$work/source.log"; then
    die "qemu $version is not in bookworm, bookworm-updates or bookworm-security (a newer or older point release?); pass --version or set QMACHINE_QEMU_SRC"
  fi
  die "apt-get source failed"
fi

dsc=$(find "$work/dl" -maxdepth 1 -name 'qemu_*.dsc' | head -n 1)
[ -n "$dsc" ] || die "apt-get source downloaded no .dsc"

info "unpacking $(basename "$dsc")"
# The .dsc's hashes are checked against the files; its OpenPGP signature is
# not (apt already verified the Sources index it came from).
if ! dpkg-source --no-check -x "$dsc" "$work/src" >"$work/unpack.log" 2>&1; then
  sed 's/^/  /' "$work/unpack.log" >&2
  die "dpkg-source -x failed"
fi
looks_like_qemu "$work/src" || die "the unpacked source has no python/qemu/machine or tests/qemu-iotests/check"

# Keep only the tree; another run may have finished first.
if looks_like_qemu "$dest"; then
  info "another run unpacked it first; using that"
else
  rm -rf "$dest"
  mv "$work/src" "$dest"
fi
info "done"
printf '%s\n' "$dest"
