#!/usr/bin/env python3
"""Baseline benchmark: boot the qmachine test guest with plain QEMU.

Boots the guest built by build-aux/make-guest.sh with qemu-system-x86_64
(TCG, serial console on a stdio pipe), measures the seconds from spawning
QEMU to the guest's "QMACHINE-GUEST-READY" line, checks the guest shell
answers (echo $((6*7)) -> 42), then sends "poweroff -f" and waits for QEMU
to exit by itself. Repeats N times and prints min/median/max.

Usage: build-aux/measure-guest-boot.py [N] [--guest-dir DIR] [--flood N]

QEMU is always killed on error, timeout (30 s per run by default) or
interrupt. Python 3 standard library only.
"""

import argparse
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time

MARKER = b"QMACHINE-GUEST-READY"
PROMPT = b"# "

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


class GuestError(Exception):
    pass


def _sigterm(signum, frame):
    # Turn SIGTERM into an exception so that `finally` blocks kill QEMU.
    raise SystemExit(128 + signum)


class Guest:
    def __init__(self, qemu, kernel, initrd, append, timeout):
        self.cmd = [
            qemu,
            "-machine", "pc",
            "-accel", "tcg",
            "-m", "256",
            "-nodefaults",
            "-no-reboot",
            "-display", "none",
            "-kernel", kernel,
            "-initrd", initrd,
            "-append", append,
            "-serial", "stdio",
        ]
        self.deadline = None
        self.timeout = timeout
        self.buf = b""
        self.proc = None
        self.errfile = None

    def start(self):
        self.errfile = tempfile.TemporaryFile()
        t0 = time.monotonic()
        self.deadline = t0 + self.timeout
        self.proc = subprocess.Popen(
            self.cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errfile,
            close_fds=True,
        )
        return t0

    def stderr_text(self):
        if self.errfile is None:
            return ""
        self.errfile.seek(0)
        return self.errfile.read().decode("utf-8", "replace").strip()

    def read_until(self, pattern, start=0):
        """Read serial output until `pattern` appears after offset `start`.

        Returns the offset just past the match."""
        fd = self.proc.stdout.fileno()
        while True:
            idx = self.buf.find(pattern, start)
            if idx >= 0:
                return idx + len(pattern)
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise GuestError("timed out waiting for %r" % pattern)
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            data = os.read(fd, 65536)
            if not data:
                try:
                    rc = self.proc.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    rc = None
                raise GuestError(
                    "QEMU closed the console (exit status %s) before %r"
                    % (rc, pattern))
            self.buf += data

    def send(self, text):
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def wait_exit(self):
        left = max(0.0, self.deadline - time.monotonic())
        try:
            return self.proc.wait(timeout=left)
        except subprocess.TimeoutExpired:
            raise GuestError("QEMU did not exit after poweroff -f")

    def kill(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            for f in (self.proc.stdin, self.proc.stdout):
                try:
                    f.close()
                except OSError:
                    pass

    def close(self):
        self.kill()
        if self.errfile is not None:
            self.errfile.close()
            self.errfile = None


def run_once(args, kernel, initrd, append):
    g = Guest(args.qemu, kernel, initrd, append, args.timeout)
    try:
        t0 = g.start()
        # The marker must be a whole line: "\nQMACHINE-GUEST-READY\r\n".
        end = g.read_until(MARKER + b"\r\n")
        boot = time.monotonic() - t0
        line_start = g.buf.rfind(b"\n", 0, end - len(MARKER) - 2) + 1
        if g.buf[line_start:end - 2] != MARKER:
            raise GuestError("ready marker is not on a line of its own")
        if args.flood:
            floods = g.buf[:line_start].count(b"\nflood ")
            if floods != args.flood:
                raise GuestError("expected %d flood lines before the marker, "
                                 "saw %d" % (args.flood, floods))
        pos = g.read_until(PROMPT, end)
        g.send(b"echo $((6*7))\n")
        g.read_until(b"\n42\r\n", pos)
        t_cmd = time.monotonic()
        g.send(b"poweroff -f\n")
        rc = g.wait_exit()
        down = time.monotonic() - t_cmd
        if rc != 0:
            raise GuestError("QEMU exited with status %d" % rc)
        return boot, down
    except GuestError as e:
        g.kill()
        err = g.stderr_text()
        tail = g.buf[-2000:].decode("utf-8", "replace")
        msg = str(e)
        if err:
            msg += "\n--- QEMU stderr ---\n" + err
        msg += "\n--- last console output ---\n" + tail
        raise GuestError(msg) from None
    finally:
        g.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="?", type=int, default=5,
                    help="number of boots (default 5)")
    ap.add_argument("--guest-dir",
                    default=os.environ.get("QMACHINE_GUEST_DIR",
                                           os.path.join(REPO, "build", "guest")),
                    help="directory with vmlinuz and initramfs.cpio.gz "
                         "(default $QMACHINE_GUEST_DIR or build/guest); "
                         "built with make-guest.sh if missing")
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--flood", type=int, default=0,
                    help="pass qmachine.flood=N to the guest")
    ap.add_argument("--timeout", type=float, default=30.0,
                    help="seconds allowed per run (default 30)")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("runs must be >= 1")

    signal.signal(signal.SIGTERM, _sigterm)

    kernel = os.path.join(args.guest_dir, "vmlinuz")
    initrd = os.path.join(args.guest_dir, "initramfs.cpio.gz")
    # make-guest.sh returns at once when the guest is already up to date.
    subprocess.run([os.path.join(HERE, "make-guest.sh"), args.guest_dir],
                   check=True)

    append = "console=ttyS0 panic=-1"
    if args.flood:
        append += " qmachine.flood=%d" % args.flood

    print("kernel:    %s (%d bytes)" % (kernel, os.path.getsize(kernel)))
    print("initramfs: %s (%d bytes)" % (initrd, os.path.getsize(initrd)))
    print("append:    %s" % append)
    boots = []
    for i in range(args.runs):
        boot, down = run_once(args, kernel, initrd, append)
        boots.append(boot)
        print("run %d: ready after %.3f s, exited %.3f s after poweroff -f"
              % (i + 1, boot, down), flush=True)
    print("boot-to-marker over %d runs: min %.3f s, median %.3f s, max %.3f s"
          % (len(boots), min(boots), statistics.median(boots), max(boots)))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except GuestError as e:
        print("measure-guest-boot: error: %s" % e, file=sys.stderr)
        sys.exit(1)
    except (subprocess.CalledProcessError, OSError) as e:
        print("measure-guest-boot: error: %s" % e, file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
