#!/usr/bin/env bash
# make-guest.sh - build a tiny bootable Linux guest for qmachine's tests/demo.
#
# Usage: build-aux/make-guest.sh OUTDIR
#
# Produces:
#   OUTDIR/vmlinuz            Debian 12 cloud kernel (linux-image-*-cloud-amd64)
#   OUTDIR/initramfs.cpio.gz  busybox-static initramfs with a small /init
# and keeps a cache/work directory in OUTDIR/work.
#
# Everything comes from Debian's apt repositories. Nothing is installed on the
# host: the kernel .deb and qemu-guest-agent's are fetched with
# `apt-get download` into OUTDIR/work and only what the guest needs is
# unpacked from them (dpkg-deb | tar). Required host packages (installed by the
# project's dependency script, not here): busybox-static, cpio, gzip, apt.
#
# Boot it with:
#   qemu-system-x86_64 -machine pc -accel tcg -m 256 -nodefaults -no-reboot \
#     -display none -kernel OUTDIR/vmlinuz -initrd OUTDIR/initramfs.cpio.gz \
#     -append 'console=ttyS0 panic=-1' -serial stdio
#
# Guest behaviour (/init):
#   * mounts /proc, /sys, /dev (devtmpfs), lowers the kernel console loglevel
#     so printk output does not interleave with what init prints;
#   * loads the ACPI power button driver (button.ko + evdev.ko from the same
#     kernel package) and powers off when the button is pressed, so QMP
#     system_powerdown shuts the guest down (QEMU -no-reboot then exits);
#   * if the kernel command line has qmachine.flood=N, prints N filler lines
#     of 100 bytes ("flood NNNNNNNN xxx...", 99 chars + newline) first;
#   * prints the line "QMACHINE-GUEST-READY" on the console;
#   * loads virtio-serial (virtio_console.ko and the modules it needs);
#   * then starts QEMU's guest agent (qemu-ga, from Debian's
#     qemu-guest-agent package, with the host's copies of its shared
#     libraries) with /bin/start-qemu-ga: on the virtio-serial port named
#     org.qemu.guest_agent.0 if QEMU has one (QMachine's default agent
#     channel), else on the second ISA serial port, /dev/ttyS1, when that
#     port has a UART behind it (QEMU: -device isa-serial,chardev=...); it
#     logs to /tmp/qemu-ga.log, never to the console; /sbin/shutdown
#     powers off, halts or reboots at once (qemu-ga's guest-shutdown);
#   * runs an interactive busybox shell (prompt "# ") on the console;
#   * when that shell exits, powers off (`poweroff -f`); `poweroff -f` typed in
#     the shell powers the VM off too (ACPI, so QEMU -no-reboot exits).
#
# Caching: if both outputs exist and are newer than this script, exits 0
# without doing anything. Outputs are written atomically (temp file + mv).

set -euo pipefail

PROG=make-guest.sh
META_PKG=linux-image-cloud-amd64
BUSYBOX=/bin/busybox
READY_MARKER=QMACHINE-GUEST-READY

die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}

info() {
    printf '%s: %s\n' "$PROG" "$*" >&2
}

usage() {
    printf 'Usage: %s OUTDIR\n' "$0" >&2
    exit 2
}

[ $# -eq 1 ] || usage
[ -n "$1" ] || usage

SCRIPT=$(readlink -f -- "$0") || die "cannot resolve path of $0"

OUTDIR=$1
mkdir -p -- "$OUTDIR" || die "cannot create output directory '$OUTDIR'"
OUTDIR=$(cd -- "$OUTDIR" && pwd -P) || die "cannot enter output directory '$1'"

VMLINUZ=$OUTDIR/vmlinuz
INITRAMFS=$OUTDIR/initramfs.cpio.gz
WORK=$OUTDIR/work

up_to_date() {
    [ -s "$VMLINUZ" ] && [ -s "$INITRAMFS" ] &&
        [ "$VMLINUZ" -nt "$SCRIPT" ] && [ "$INITRAMFS" -nt "$SCRIPT" ]
}

# Fast path: nothing to do.
if up_to_date; then
    exit 0
fi

# --- host tool checks ---------------------------------------------------------

missing=()
[ -x "$BUSYBOX" ] || missing+=(busybox-static)
command -v cpio >/dev/null 2>&1 || missing+=(cpio)
command -v gzip >/dev/null 2>&1 || missing+=(gzip)
if [ ${#missing[@]} -gt 0 ]; then
    die "missing host tools; install them with: apt-get install ${missing[*]}"
fi
for tool in apt-get apt-cache dpkg-deb; do
    command -v "$tool" >/dev/null 2>&1 ||
        die "'$tool' not found; this script needs a Debian (apt/dpkg) host"
done
# The initramfs has no libraries: busybox must be the static build.
if ! "$BUSYBOX" --list >/dev/null 2>&1; then
    die "$BUSYBOX does not work; install it with: apt-get install busybox-static"
fi
if command -v ldd >/dev/null 2>&1 && ldd "$BUSYBOX" 2>&1 | grep -q '=>'; then
    die "$BUSYBOX is dynamically linked; install the static one with: apt-get install busybox-static"
fi

mkdir -p -- "$WORK" || die "cannot create work directory '$WORK'"

# Serialise concurrent runs on the same OUTDIR (e.g. parallel test setup).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$WORK/.lock" || die "cannot open lock file '$WORK/.lock'"
    flock 9 || die "cannot lock '$WORK/.lock'"
    # Another run may have finished while we waited.
    if up_to_date; then
        exit 0
    fi
fi

TMPFILES=()
cleanup() {
    local f
    for f in "${TMPFILES[@]+"${TMPFILES[@]}"}"; do
        rm -rf -- "$f"
    done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- kernel -------------------------------------------------------------------

# Find the concrete package the metapackage depends on, e.g.
# linux-image-6.1.0-28-cloud-amd64.
find_kernel_pkg() {
    local out pkg
    out=$(LC_ALL=C apt-cache depends "$META_PKG" 2>/dev/null) || out=
    pkg=$(printf '%s\n' "$out" |
        sed -n 's/^[[:space:]]*Depends:[[:space:]]*\(linux-image-[^[:space:]]*-cloud-amd64\)[[:space:]]*$/\1/p' |
        head -n1)
    if [ -z "$pkg" ]; then
        # Fallback: parse the candidate's Depends field.
        out=$(LC_ALL=C apt-cache show --no-all-versions "$META_PKG" 2>/dev/null) || out=
        pkg=$(printf '%s\n' "$out" | sed -n 's/^Depends:[[:space:]]*//p' | head -n1 |
            tr ',|' '\n' | sed 's/[[:space:]]*(.*//; s/^[[:space:]]*//; s/[[:space:]]*$//' |
            grep -E '^linux-image-.*-cloud-amd64$' | head -n1) || pkg=
    fi
    printf '%s' "$pkg"
}

KPKG=$(find_kernel_pkg)
if [ -z "$KPKG" ]; then
    die "apt-cache cannot find the package '$META_PKG' or its kernel dependency;
  the apt package lists are probably missing or stale: run 'apt-get update' (as root) and retry"
fi
info "kernel package: $KPKG (from $META_PKG)"

DEBDIR=$WORK/debs
mkdir -p -- "$DEBDIR"

# Prints the path of a cached, valid .deb of package $1 in DEBDIR,
# downloading it with apt-get download if there is none; older cached
# versions of the package are removed.
fetch_deb() {
    local pkg=$1 deb
    local apt_opts=()

    deb=$(find "$DEBDIR" -maxdepth 1 -type f -name "${pkg}_*_amd64.deb" -print 2>/dev/null |
        LC_ALL=C sort | tail -n1)
    if [ -n "$deb" ] && dpkg-deb --info "$deb" >/dev/null 2>&1; then
        printf '%s' "$deb"
        return 0
    fi
    [ -n "$deb" ] && rm -f -- "$deb"
    info "downloading $pkg with apt-get download"
    # As root apt drops privileges to the _apt user for downloading, which
    # then cannot write into a root-owned directory ("Download is performed
    # unsandboxed as root ..." warning, or failure). Download as root.
    if [ "$(id -u)" -eq 0 ]; then
        apt_opts+=(-o APT::Sandbox::User=root)
    fi
    # Called as $(fetch_deb ...), a subshell: it removes its own download
    # directory, whichever way it ends.
    FETCH_DLDIR=$(mktemp -d "$DEBDIR/.dl.XXXXXX")
    trap 'rm -rf -- "$FETCH_DLDIR"' EXIT
    if ! (cd -- "$FETCH_DLDIR" && apt-get -q "${apt_opts[@]+"${apt_opts[@]}"}" download "$pkg") >&2; then
        die "'apt-get download $pkg' failed; check apt access (maybe run 'apt-get update' first)"
    fi
    deb=$(find "$FETCH_DLDIR" -maxdepth 1 -type f -name "${pkg}_*.deb" -print | head -n1)
    [ -n "$deb" ] || die "apt-get download did not produce a .deb for $pkg"
    dpkg-deb --info "$deb" >/dev/null 2>&1 || die "downloaded file '$deb' is not a valid .deb"
    mv -f -- "$deb" "$DEBDIR/" || die "cannot move the .deb into '$DEBDIR'"
    printf '%s' "$DEBDIR/$(basename -- "$deb")"
}

DEB=$(fetch_deb "$KPKG") || exit 1
# Drop kernels cached by earlier runs (older ABI or version).
find "$DEBDIR" -maxdepth 1 -type f -name 'linux-image-*.deb' \
    ! -name "$(basename -- "$DEB")" -delete
info "kernel .deb: $DEB"

KX=$(mktemp -d "$WORK/.kernel.XXXXXX")
TMPFILES+=("$KX")
# boot/ holds the kernel image and its config.
dpkg-deb --fsys-tarfile "$DEB" | tar -x -C "$KX" --wildcards './boot/*' ||
    die "cannot unpack boot/ from '$DEB'"

# The ACPI power button driver (and evdev, to see its key press) are modules
# in the cloud kernel; the guest loads them so that an ACPI power button
# press (QMP system_powerdown) powers it off. Optional: warn if missing.
if ! dpkg-deb --fsys-tarfile "$DEB" | tar -x -C "$KX" --wildcards \
    './lib/modules/*/kernel/drivers/acpi/button.ko' \
    './lib/modules/*/kernel/drivers/input/evdev.ko' 2>/dev/null; then
    info "warning: button.ko/evdev.ko not found in $DEB; the guest will ignore the ACPI power button"
fi
# virtio-serial (the guest agent's default port) is modular too: the
# console driver and the virtio core and PCI transport it needs.
if ! dpkg-deb --fsys-tarfile "$DEB" | tar -x -C "$KX" --wildcards \
    './lib/modules/*/kernel/drivers/virtio/virtio.ko' \
    './lib/modules/*/kernel/drivers/virtio/virtio_ring.ko' \
    './lib/modules/*/kernel/drivers/virtio/virtio_pci.ko' \
    './lib/modules/*/kernel/drivers/virtio/virtio_pci_legacy_dev.ko' \
    './lib/modules/*/kernel/drivers/virtio/virtio_pci_modern_dev.ko' \
    './lib/modules/*/kernel/drivers/char/virtio_console.ko' 2>/dev/null; then
    info "warning: virtio modules not found in $DEB; the guest agent needs an ISA serial port"
fi

KIMG=$(find "$KX/boot" -maxdepth 1 -type f -name 'vmlinuz-*' -print | head -n1)
[ -n "$KIMG" ] || die "no boot/vmlinuz-* in '$DEB'"
KCONFIG=$(find "$KX/boot" -maxdepth 1 -type f -name 'config-*' -print | head -n1)

# Everything the guest needs to boot and talk must be built in (it loads no
# modules except the optional power button ones).
if [ -n "$KCONFIG" ]; then
    for opt in CONFIG_BLK_DEV_INITRD CONFIG_RD_GZIP CONFIG_DEVTMPFS CONFIG_PROC_FS \
        CONFIG_SYSFS CONFIG_SERIAL_8250 CONFIG_SERIAL_8250_CONSOLE CONFIG_ACPI \
        CONFIG_BINFMT_ELF; do
        grep -q "^$opt=y\$" "$KCONFIG" ||
            die "kernel $KPKG lacks built-in $opt (needed by the guest without modules)"
    done
else
    info "warning: no boot/config-* in $DEB; skipping kernel config checks"
fi

# --- initramfs ----------------------------------------------------------------

ROOT=$(mktemp -d "$WORK/.root.XXXXXX")
TMPFILES+=("$ROOT")
mkdir -p "$ROOT"/{bin,dev,proc,sys,tmp,root,etc}
chmod 1777 "$ROOT/tmp"
cp -- "$BUSYBOX" "$ROOT/bin/busybox"
chmod 0755 "$ROOT/bin/busybox"
# One relative symlink per applet, all in /bin (PATH=/bin in the guest).
"$BUSYBOX" --list >"$ROOT/.applets" || die "'$BUSYBOX --list' failed"
while IFS= read -r applet; do
    case $applet in
        busybox | */* | '') continue ;;
    esac
    ln -s busybox "$ROOT/bin/$applet"
done <"$ROOT/.applets"
rm -f -- "$ROOT/.applets"
ln -s bin "$ROOT/sbin"
# In load order: the ACPI power button, then virtio-serial (virtio_console
# and what it needs) for the guest agent's default port.
for mod in evdev button virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev \
    virtio_pci virtio_console; do
    kmod=$(find "$KX/lib/modules" -name "$mod.ko" -print 2>/dev/null | head -n1)
    if [ -n "$kmod" ]; then
        mkdir -p "$ROOT/lib/modules"
        cp -- "$kmod" "$ROOT/lib/modules/$mod.ko"
    fi
done
# The kernel opens /dev/console for init's stdio before /init runs; it can
# only be created when running as root. Without it /init reopens stdio on
# /dev/console itself once devtmpfs is mounted.
if [ "$(id -u)" -eq 0 ]; then
    mknod -m 600 "$ROOT/dev/console" c 5 1 || info "warning: cannot create dev/console node"
    mknod -m 666 "$ROOT/dev/null" c 1 3 || true
fi
# QEMU's guest agent and the shared libraries it needs: the binary from
# Debian's package, the libraries from this (Debian 12) host, which has
# them as QEMU's own dependencies.
QGA_DEB=$(fetch_deb qemu-guest-agent) || exit 1
info "guest agent .deb: $QGA_DEB"
QX=$(mktemp -d "$WORK/.qga.XXXXXX")
TMPFILES+=("$QX")
dpkg-deb --fsys-tarfile "$QGA_DEB" | tar -x -C "$QX" ./usr/sbin/qemu-ga ||
    die "cannot unpack usr/sbin/qemu-ga from '$QGA_DEB'"
cp -- "$QX/usr/sbin/qemu-ga" "$ROOT/bin/qemu-ga"
command -v ldd >/dev/null 2>&1 || die "'ldd' not found (package libc-bin)"
qga_libs=$(LC_ALL=C ldd "$QX/usr/sbin/qemu-ga") || die "ldd cannot read qemu-ga"
if printf '%s\n' "$qga_libs" | grep -q 'not found'; then
    die "qemu-ga needs libraries this host lacks:
$(printf '%s\n' "$qga_libs" | grep 'not found')
  install QEMU's dependencies first (build-aux/install-deps.sh)"
fi
for lib in $(printf '%s\n' "$qga_libs" | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p'); do
    mkdir -p "$ROOT$(dirname -- "$lib")"
    cp -L -- "$lib" "$ROOT$lib"
done
mkdir -p "$ROOT/var/run"
# qemu-ga's guest-shutdown runs /sbin/shutdown, which busybox lacks.
rm -f -- "$ROOT/bin/shutdown"
cat >"$ROOT/bin/shutdown" <<'EOF_SHUTDOWN'
#!/bin/sh
# qemu-ga runs "shutdown -P|-H|-r +0 message"; act at once.
sync
case $1 in
    -r) exec reboot -f ;;
    -H) exec halt -f ;;
    *) exec poweroff -f ;;
esac
EOF_SHUTDOWN
chmod 0755 "$ROOT/bin/shutdown"

printf 'root:x:0:0:root:/root:/bin/sh\n' >"$ROOT/etc/passwd"
printf 'root:x:0:\n' >"$ROOT/etc/group"

cat >"$ROOT/init" <<EOF
#!/bin/busybox sh
# qmachine test guest init (generated by build-aux/make-guest.sh)
export PATH=/bin HOME=/root TERM=vt100
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
# stdio may be missing if the initramfs had no /dev/console node.
[ -t 1 ] || exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
# Only KERN_EMERG printk messages (panics, "reboot: Power down") reach the
# console from now on, so kernel messages do not interleave with the lines
# printed here and the shell's output.
echo 1 >/proc/sys/kernel/printk 2>/dev/null || dmesg -n 1 2>/dev/null
stty -F /dev/console sane 2>/dev/null

# ACPI power button (QMP system_powerdown, or a host-side ACPI shutdown):
# the cloud kernel has the button driver as a module. Power off as soon as a
# "Power Button" input device reports an event (24-byte struct input_event).
if [ -f /lib/modules/button.ko ]; then
    insmod /lib/modules/evdev.ko 2>/dev/null
    insmod /lib/modules/button.ko 2>/dev/null
    for ev in /sys/class/input/event*; do
        [ "\$(cat "\$ev/device/name" 2>/dev/null)" = "Power Button" ] || continue
        # Open the device here, before the ready marker, so that no press
        # after the marker is missed; the watcher inherits the open file.
        # ("command" keeps a failed exec redirection from exiting init.)
        command exec 3<"/dev/input/\${ev##*/}" || continue
        (dd of=/dev/null bs=24 count=1 <&3 3<&- >/dev/null 2>&1 &&
            poweroff -f) >/dev/null 2>&1 &
        exec 3<&-
    done
fi

flood=0
for arg in \$(cat /proc/cmdline); do
    case \$arg in
        qmachine.flood=*) flood=\${arg#qmachine.flood=} ;;
    esac
done
case \$flood in
    '' | *[!0-9]*) echo "init: ignoring bad qmachine.flood='\$flood'"; flood=0 ;;
esac
if [ "\$flood" -gt 0 ]; then
    # 100 bytes per line: "flood NNNNNNNN " (15) + 84 filler + newline.
    fill=\$(printf '%084d' 0 | tr 0 x)
    i=1
    while [ \$i -le \$flood ]; do
        printf 'flood %08d %s\n' \$i "\$fill"
        i=\$((i + 1))
    done
fi

# virtio-serial, for the guest agent's port (harmless without the device).
for mod in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_console; do
    [ -f /lib/modules/\$mod.ko ] && insmod /lib/modules/\$mod.ko 2>/dev/null
done

echo $READY_MARKER

# QEMU's guest agent: on the virtio-serial port named
# org.qemu.guest_agent.0 if there is one (no udev here: the
# /dev/virtio-ports link is made by hand), else on the second serial port
# when it is a real UART (the 8250 driver lists four ports either way; a
# missing one reports uart:unknown). Its messages go to a file, never to
# the console. /bin/start-qemu-ga starts it again (tests kill it).
cat >/bin/start-qemu-ga <<'EOF_QGA'
#!/bin/sh
for port in /sys/class/virtio-ports/*; do
    [ "\$(cat "\$port/name" 2>/dev/null)" = org.qemu.guest_agent.0 ] || continue
    mkdir -p /dev/virtio-ports
    ln -sf "/dev/\${port##*/}" /dev/virtio-ports/org.qemu.guest_agent.0
    exec qemu-ga -m virtio-serial -p /dev/virtio-ports/org.qemu.guest_agent.0 -t /tmp \\
        -l /tmp/qemu-ga.log </dev/null >/dev/null 2>&1
done
if grep -q '^1: uart:16550A' /proc/tty/driver/serial 2>/dev/null; then
    exec qemu-ga -m isa-serial -p /dev/ttyS1 -t /tmp \\
        -l /tmp/qemu-ga.log </dev/null >/dev/null 2>&1
fi
exit 1
EOF_QGA
chmod 0755 /bin/start-qemu-ga
start-qemu-ga &

# Interactive shell on the console. cttyhack reopens the real console device
# (/dev/ttyS0) so the shell gets a controlling terminal (job control, ^C).
export PS1='# '
setsid cttyhack sh
# The shell has exited: power off (QEMU -no-reboot then exits).
sync
poweroff -f
# Not reached; if poweroff failed, avoid a kernel panic loop.
while :; do sleep 3600; done
EOF
chmod 0755 "$ROOT/init"

# Pack: sorted names, root-owned, fixed mtimes and gzip -n for reproducibility.
find "$ROOT" -exec touch -h -d @0 {} + 2>/dev/null || true
TMP_INITRAMFS=$(mktemp "$OUTDIR/.initramfs.cpio.gz.XXXXXX")
TMPFILES+=("$TMP_INITRAMFS")
(cd -- "$ROOT" && find . -mindepth 1 -print | LC_ALL=C sort |
    cpio -o -H newc -R 0:0 --reproducible --quiet | gzip -n -9) >"$TMP_INITRAMFS" ||
    die "cannot create the initramfs archive"
gzip -t "$TMP_INITRAMFS" || die "initramfs archive failed verification"
chmod 0644 "$TMP_INITRAMFS"

TMP_VMLINUZ=$(mktemp "$OUTDIR/.vmlinuz.XXXXXX")
TMPFILES+=("$TMP_VMLINUZ")
cp -- "$KIMG" "$TMP_VMLINUZ" || die "cannot copy the kernel image"
chmod 0644 "$TMP_VMLINUZ"

# Both temp files are complete: move them into place (atomic renames in the
# same directory). vmlinuz goes last, both get the current time so that the
# up-to-date check above passes next time.
touch -- "$TMP_INITRAMFS" "$TMP_VMLINUZ"
mv -f -- "$TMP_INITRAMFS" "$INITRAMFS" || die "cannot write '$INITRAMFS'"
mv -f -- "$TMP_VMLINUZ" "$VMLINUZ" || die "cannot write '$VMLINUZ'"

info "kernel:    $VMLINUZ ($(stat -c %s "$VMLINUZ") bytes, $(basename -- "$KIMG"))"
info "initramfs: $INITRAMFS ($(stat -c %s "$INITRAMFS") bytes)"
