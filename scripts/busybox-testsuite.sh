#!/usr/bin/env bash
# Run busybox's own test suite against Debian's i386 busybox-static, natively
# and under vxos, and compare the two.
#
#   scripts/busybox-testsuite.sh                 fetch (once), run both sides
#   scripts/busybox-testsuite.sh --fetch         only fetch and unpack the source
#   scripts/busybox-testsuite.sh --native|--vxos run one side only
#   scripts/busybox-testsuite.sh ... APPLET...   only these applets' tests
#
# The suite is testsuite/ of Debian's busybox source package, fetched with
# `apt-get source --download-only busybox` and unpacked with dpkg-source into
# build/src/busybox (ignored by git: nothing fetched is committed). It is run
# the way Debian's build runs it (debian/rules, target .stamp-test): a fresh
# copy of testsuite/ without mdev.tests, `./runtest` with SKIP_KNOWN_BUGS=y,
# SKIP_INTERNET_TESTS=y, LANG=LC_ALL=C.UTF-8, SHELL and ECHO set, and `bindir`
# holding `busybox` and the `.config` the optional tests read: Debian's
# config for the static flavour, debian/config/pkg/static (the build checks
# that it is the exact .config it builds with on Linux). ECHO, which the
# harness uses to write expected output and input, is busybox's own echo
# (runtest's link directory) instead of Debian's /bin/echo, so that both
# sides use the binary under test rather than two different coreutils.
#
# The binary is build/rootfs/bin/busybox, the one the rootfs runs.
#   native: runtest runs on the host under that busybox's sh; bindir/busybox
#           is a link to build/rootfs/bin/busybox.
#   vxos:   the same runtest runs inside the guest: `vxos run /bin/busybox sh
#           runtest`, with the work directory bound writable at its own path
#           and bindir/busybox a link to the guest's /bin/busybox. Every
#           process of the suite (the harness shell, the applets under test,
#           the `#!/bin/sh` test scripts, which run under the rootfs's dash
#           as they run under the host's dash natively) is then an i386
#           program run by vxos, with fork, exec, pipes and redirections
#           done by vxos too. A wrapper `busybox` on the host that starts a
#           new `vxos run` per call would leave the shell, pipes and files of
#           each test to the host and test little beyond exec.
# Each side runs under one `timeout` (VXOS_SUITE_TIMEOUT seconds, default
# 600); a side that runs out is reported as such with what it finished.
#
# Results: build/busybox-suite/{native,vxos}.txt (counts, then the names of
# failing tests), .log (runtest's output), and regressions.txt (tests that
# pass natively but not under vxos). The last line printed per side is
#   busybox-suite: SIDE: N PASS, N FAIL, N SKIPPED, N UNTESTED[, timed out]
# VXOS names the vxos binary (default target/release/vxos, built if missing).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd -P)
build=$(cd "$top/build" 2>/dev/null && pwd -P) || build=$top/build
src=$build/src
tree=$src/busybox
out=$build/busybox-suite
timeout_s=${VXOS_SUITE_TIMEOUT:-600}
sides=(native vxos)
only_fetch=0
applets=()
for a in "$@"; do
  case "$a" in
    --fetch) only_fetch=1 ;;
    --native) sides=(native) ;;
    --vxos) sides=(vxos) ;;
    -h|--help) sed -n '2,44p' "$0"; exit 0 ;;
    -*) echo "busybox-testsuite.sh: unknown option $a" >&2; exit 2 ;;
    *) applets+=("$a") ;;
  esac
done

say() { echo "busybox-suite: $*" >&2; }
die() { say "error: $*"; exit 1; }

# ---------------------------------------------------------------- fetch
# The newest busybox .dsc in build/src.
dsc() { find "$src" -maxdepth 1 -name 'busybox_*.dsc' | sort -V | tail -n1; }

# Quiet when build/src/busybox is already unpacked.
fetch() {
  [ -f "$tree/testsuite/runtest" ] && [ -f "$tree/debian/config/pkg/static" ] && return 0
  command -v apt-get >/dev/null || die "apt-get is needed to fetch Debian's busybox source package"
  mkdir -p "$src"
  local log=$src/busybox-fetch.log dsc
  if [ -z "$(dsc)" ]; then
    say "downloading Debian's busybox source package into $src"
    if ! (cd "$src" && apt-get source --download-only -qq busybox >"$log" 2>&1); then
      # No deb-src entries yet, or stale lists: scripts/setup.sh adds them.
      say "apt-get source failed; running scripts/setup.sh and trying again"
      bash "$top/scripts/setup.sh" || die "scripts/setup.sh failed"
      if [ "$(id -u)" = 0 ]; then apt-get update -qq >/dev/null 2>&1 || true; fi
      (cd "$src" && apt-get source --download-only -qq busybox >"$log" 2>&1) ||
        { cat "$log" >&2; die "apt-get source --download-only busybox failed"; }
    fi
  fi
  command -v dpkg-source >/dev/null || die "dpkg-source is needed (dpkg-dev; scripts/setup.sh installs it)"
  dsc=$(dsc)
  say "unpacking $(basename "$dsc")"
  rm -rf "$tree.tmp"
  (cd "$src" && dpkg-source -x "$dsc" "$tree.tmp" >"$log" 2>&1) ||
    { cat "$log" >&2; die "dpkg-source -x $dsc failed"; }
  rm -rf "$tree"
  mv "$tree.tmp" "$tree"
}

fetch
[ "$only_fetch" = 1 ] && exit 0

bb=$build/rootfs/bin/busybox
[ -x "$bb" ] || die "$bb is missing: run scripts/setup.sh"
vxos=${VXOS:-$top/target/release/vxos}
if [ ! -x "$vxos" ] && printf '%s\n' "${sides[@]}" | grep -qx vxos; then
  say "building vxos"
  (cd "$top" && cargo build --release -q -p kernel) || die "cargo build --release -p kernel failed"
fi

# ---------------------------------------------------------------- run
# prepare SIDE LINK: a fresh work directory with bin/ (busybox -> LINK, and
# .config) and a copy of testsuite/ as Debian's build makes it.
prepare() {
  local w=$out/$1
  rm -rf "$w"
  mkdir -p "$w/bin" "$w/home"
  ln -s "$2" "$w/bin/busybox"
  cp "$tree/debian/config/pkg/static" "$w/bin/.config"
  cp -a "$tree/testsuite" "$w/testsuite"
  rm -f "$w/testsuite/mdev.tests"
}

# run SIDE: run the suite, write SIDE.log and SIDE.txt, print the counts.
run() {
  local side=$1 w=$out/$1 rc=0 note=""
  local -a cmd env
  # Debian's TESTSUITE_ENV, on both sides alike.
  env=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$w/home"
    LANG=C.UTF-8 LC_ALL=C.UTF-8 SKIP_KNOWN_BUGS=y SKIP_INTERNET_TESTS=y
    SHELL=/bin/sh ECHO="$w/bin/runtest-tempdir-links/echo" bindir="$w/bin")
  case "$side" in
    native)
      prepare native "$bb"
      cmd=("$bb" sh runtest) ;;
    vxos)
      prepare vxos /bin/busybox
      cmd=("$vxos" run --bind "$w:$w:rw" /bin/busybox sh runtest) ;;
  esac
  (cd "$w/testsuite" && exec timeout -k 10 "$timeout_s" "${env[@]}" "${cmd[@]}" ${applets[@]+"${applets[@]}"}) \
    >"$out/$side.log" 2>&1 </dev/null || rc=$?
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then note=", timed out after ${timeout_s}s"; fi
  local pass fail skip untested
  pass=$(grep -ac '^PASS: ' "$out/$side.log" || true)
  fail=$(grep -ac '^FAIL: ' "$out/$side.log" || true)
  skip=$(grep -ac '^SKIPPED: ' "$out/$side.log" || true)
  untested=$(grep -ac '^UNTESTED: ' "$out/$side.log" || true)
  {
    echo "# busybox $(basename "$(dsc)" .dsc | sed 's/^busybox_//') testsuite, $side, $(date -u +%Y-%m-%d)"
    echo "PASS $pass"
    echo "FAIL $fail"
    echo "SKIPPED $skip"
    echo "UNTESTED $untested"
    echo "STATUS ${note:+timeout}${note:-exit $rc}"
    grep -a '^FAIL: ' "$out/$side.log" || true
  } >"$out/$side.txt"
  echo "busybox-suite: $side: $pass PASS, $fail FAIL, $skip SKIPPED, $untested UNTESTED$note"
}

mkdir -p "$out"
for s in "${sides[@]}"; do run "$s"; done

# Tests that pass natively but not under vxos (by name), when this run
# did both sides.
if [ "${#sides[@]}" = 2 ]; then
  names() { grep -a "^$1: " "$2" | sed "s/^$1: //" | sort -u; }
  comm -23 <(names PASS "$out/native.log") <(names PASS "$out/vxos.log") >"$out/regressions.txt"
  n=$(wc -l <"$out/regressions.txt")
  echo "busybox-suite: $n test(s) pass natively but not under vxos (build/busybox-suite/regressions.txt)"
  sed 's/^/  /' "$out/regressions.txt"
fi
