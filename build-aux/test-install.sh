#!/usr/bin/env bash
# test-install.sh - install a build into a temporary DESTDIR and use it
# from there: nothing may land outside the prefix, and the installed tool,
# a C program built against the installed qmachine-1.pc, and Python through
# the installed typelib and override must all work.
#
# Copyright 2026 The qmachine authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage: build-aux/test-install.sh BUILDDIR
# (run-tests.sh runs it after the test suite.)

set -euo pipefail

BUILDDIR=$(readlink -f -- "${1:?usage: test-install.sh BUILDDIR}")
ROOT=$(cd -- "$(dirname -- "$(readlink -f -- "$0")")/.." && pwd)
DEST=$(mktemp -d "${TMPDIR:-/tmp}/qmachine-install-XXXXXX")
trap 'rm -rf -- "$DEST"' EXIT

fail() { echo "test-install.sh: FAIL: $*" >&2; exit 1; }

prefix=$(meson introspect --buildoptions "$BUILDDIR" |
         /usr/bin/python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')

meson install -C "$BUILDDIR" --destdir "$DEST" --no-rebuild --quiet

# 1. Everything under DESTDIR/prefix.
escaped=$(cd "$DEST" && find . -type f -o -type l | sed 's|^\.||' | grep -v "^$prefix/" || true)
[ -z "$escaped" ] || fail "installed outside the prefix $prefix: $escaped"
echo "test-install.sh: $(cd "$DEST" && find . -type f | wc -l) files, all under $prefix"

P=$DEST$prefix
libdir=$(dirname "$(find "$P" -name 'libqmachine-1.so.0' | head -n1)")
typelibdir=$(dirname "$(find "$P" -name 'QMachine-1.0.typelib' | head -n1)")
pcdir=$(dirname "$(find "$P" -name 'qmachine-1.pc' | head -n1)")
override=$(find "$P" -path '*gi/overrides/QMachine.py' | head -n1)
[ -n "$libdir" ] && [ -n "$pcdir" ] || fail "library or qmachine-1.pc not installed"
export LD_LIBRARY_PATH=$libdir

# 2. The installed tool.
"$P/bin/qmachine" version >/dev/null 2>&1 || fail "the installed qmachine tool does not run"

# 3. A C program built against the installed .pc (prefix redefined to DESTDIR).
cat > "$DEST/client.c" <<'C'
#include <qmachine.h>
int
main (void)
{
  g_autoptr(QMachine) m = q_machine_new ("qemu-system-x86_64");
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;

  q_machine_set_machine (m, "none");
  q_machine_add_args (m, "-nodefaults", NULL);
  if (!q_machine_launch (m, NULL, &error)
      || !(ret = q_machine_cmd (m, "query-status", NULL, NULL, &error))
      || !q_machine_shutdown (m, 0, 10000, NULL, &error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  return 0;
}
C
# The .pc says prefix=PREFIX; a copy says where it really is now.
mkdir -p "$DEST/pc"
sed "s|^prefix=.*|prefix=$P|" "$pcdir/qmachine-1.pc" > "$DEST/pc/qmachine-1.pc"
# shellcheck disable=SC2046
cc -o "$DEST/client" "$DEST/client.c" \
  $(PKG_CONFIG_PATH=$DEST/pc pkg-config --cflags --libs qmachine-1) \
  || fail "a C program does not build against the installed qmachine-1.pc"
"$DEST/client" || fail "a C program built against the installed library does not run"

# 3b. The spawn helper is installed where the library looks for it
# (LIBEXECDIR/qmachine-1, under DESTDIR here, so named explicitly), and
# QEMU is spawned through it.
libexecdir=$(meson introspect --buildoptions "$BUILDDIR" |
             /usr/bin/python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "libexecdir"))')
helper=$P/$libexecdir/qmachine-1/qmachine-spawn-helper
[ -x "$helper" ] || fail "qmachine-spawn-helper is not installed in $libexecdir/qmachine-1"
QMACHINE_SPAWN_HELPER=$helper G_MESSAGES_DEBUG=QMachine "$DEST/client" 2>&1 |
  grep -qF ") spawned through $helper" || fail "QEMU is not spawned through the installed helper"

# 4. Python through the installed typelib and override.
if [ -n "$typelibdir" ] && [ -n "$override" ]; then
  sitedir=$(dirname "$(dirname "$(dirname "$override")")")
  GI_TYPELIB_PATH=$typelibdir PYTHONPATH=$sitedir /usr/bin/python3 - <<'PY' || fail "Python cannot use the installed override"
import gi
gi.require_version("QMachine", "1.0")
from gi.repository import QMachine
import gi.overrides.QMachine as override
assert override.__file__.startswith(__import__("os").environ["PYTHONPATH"]), override.__file__
m = QMachine.Machine.new("qemu-system-x86_64")
m.set_machine("none")
m.add_args("-nodefaults")
m.launch()
print("python:", m.cmd("query-status")["status"])
m.shutdown()
PY
fi

echo "test-install.sh: the installed tool, C and Python all work from $prefix"
