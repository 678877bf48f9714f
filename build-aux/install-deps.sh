#!/usr/bin/env bash
# install-deps.sh - install the Debian 12 packages qmachine needs.
#
# Copyright 2026 The qmachine authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage: build-aux/install-deps.sh [--check]
#
# Installs every package that building the library, running all of its
# tests (C, sanitizers, valgrind, Python/PyGObject, GJS, Vala), building the
# documentation and running the demo need. Idempotent: when everything is
# already installed it says so and changes nothing (no `apt-get update`).
# With --check it only lists what is missing and exits 1 if anything is.
#
# Runs as root, or through sudo when not root. Never prompts (CI has no
# stdin).

set -euo pipefail

PROG=install-deps.sh

# One line per purpose, so the reason for each package stays visible.
PACKAGES=(
  # build
  meson ninja-build pkg-config gcc libc6-dev
  libglib2.0-dev libjson-glib-dev
  # introspection
  gobject-introspection libgirepository1.0-dev gir1.2-glib-2.0 gir1.2-json-1.0
  # documentation (valadoc: the Vala reference, with -Dvapi=true)
  gi-docgen valadoc
  # QEMU for the tests and the demo
  qemu-system-x86
  # bindings tests: Vala, GJS, Python (PyGObject from Debian, not pip)
  valac gjs python3 python3-gi python3-pytest
  # the Python typing stubs, checked against the override (tests/python/test_stubs.py)
  python3-mypy
  # leak checking
  valgrind
  # the test guest (build-aux/make-guest.sh): busybox initramfs
  busybox-static cpio gzip
  # the man page check (man --warnings, lexgrog)
  man-db
  # QEMU's own iotests (build-aux/run-iotests.sh): qemu-img, qemu-io,
  # qemu-nbd; dpkg-source for fetching QEMU's source (only recommended by
  # meson, so not otherwise installed with --no-install-recommends)
  qemu-utils dpkg-dev
  # the GTK 4 viewer example and its test under Xvfb (-Dexamples=true)
  libgtk-4-dev libvte-2.91-gtk4-dev xvfb xauth
)

# build-aux/make-guest.sh fetches this kernel with `apt-get download`, so the
# apt package lists must know it (a fresh container often has no lists).
GUEST_KERNEL_PKG=linux-image-cloud-amd64

info() { printf '%s: %s\n' "$PROG" "$*"; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }

check_only=false
case "${1:-}" in
  "") ;;
  --check) check_only=true ;;
  -h|--help)
    sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"
    exit 0 ;;
  *) die "unknown argument '$1' (try --help)" ;;
esac

command -v dpkg-query >/dev/null 2>&1 ||
  die "dpkg-query not found: this script is for Debian 12 (bookworm)"

if [ -r /etc/os-release ]; then
  # shellcheck disable=SC1091
  . /etc/os-release
  if [ "${ID:-}" != debian ] || [ "${VERSION_ID:-}" != 12 ]; then
    info "warning: written for Debian 12, this is ${PRETTY_NAME:-unknown}; trying anyway"
  fi
fi

is_installed() {
  local status
  status=$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) || return 1
  [ "$status" = installed ]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  is_installed "$pkg" || missing+=("$pkg")
done

apt_knows_kernel() {
  LC_ALL=C apt-cache show --no-all-versions "$GUEST_KERNEL_PKG" >/dev/null 2>&1
}

need_lists=false
apt_knows_kernel || need_lists=true

if [ ${#missing[@]} -eq 0 ] && ! $need_lists; then
  info "all ${#PACKAGES[@]} required packages are already installed; nothing to do"
  exit 0
fi

if $check_only; then
  [ ${#missing[@]} -eq 0 ] || info "missing packages: ${missing[*]}"
  $need_lists && info "apt package lists do not know $GUEST_KERNEL_PKG (run apt-get update)"
  exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 ||
    die "not root and sudo is not installed; run this script as root"
  SUDO=(sudo)
  # Without a terminal sudo cannot ask for a password: fail clearly instead.
  if [ ! -t 0 ]; then
    SUDO=(sudo -n)
  fi
fi

export DEBIAN_FRONTEND=noninteractive

if [ ${#missing[@]} -gt 0 ]; then
  info "missing packages: ${missing[*]}"
else
  info "apt package lists do not know $GUEST_KERNEL_PKG (needed by build-aux/make-guest.sh)"
fi

info "running apt-get update"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
  die "apt-get update failed"

if [ ${#missing[@]} -gt 0 ]; then
  info "installing: ${missing[*]}"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}" ||
    die "apt-get install failed"

  still=()
  for pkg in "${missing[@]}"; do
    is_installed "$pkg" || still+=("$pkg")
  done
  [ ${#still[@]} -eq 0 ] || die "still not installed after apt-get install: ${still[*]}"
fi

apt_knows_kernel ||
  info "warning: apt still does not know $GUEST_KERNEL_PKG; the guest tests will not find a kernel"

info "done: every required package is installed"
