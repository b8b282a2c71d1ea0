#!/usr/bin/env bash
# Set up this machine, build vxos, and show it at work.
#
# Until the guest shell boots (T5), this runs Debian's busybox sha256sum
# on a generated file natively and under `vxos run` and prints both times.
# Everything it needs is installed by scripts/setup.sh.
set -euo pipefail
top=$(cd "$(dirname "$0")" && pwd)
cd "$top"
case "${1:-}" in -h|--help) sed -n '2,6p' "$0"; exit 0 ;; esac

bash scripts/setup.sh
cargo build --release -q -p kernel
bash userland-bins/build.sh >/dev/null

bb=build/rootfs/bin/busybox
f=build/demo-32m.bin
[ -f "$f" ] || head -c $((32 << 20)) /dev/urandom > "$f"

t() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f", e - s }'; }
echo "busybox sha256sum of 32 MiB (Debian's i386 busybox-static):"
echo "  native:    $($bb sha256sum "$f")  $(t "$bb" sha256sum "$f") s"
echo "  vxos run:  $(target/release/vxos run "$bb" sha256sum "$f")  $(t target/release/vxos run "$bb" sha256sum "$f") s"
echo
echo "Try:  target/release/vxos run $bb sh -c 'echo hello from busybox'"
echo "      target/release/vxos run $bb sh -c 'ls -l / | wc -l; sleep 1 & jobs; wait; cat /proc/self/ns'"
echo "      target/release/vxos run --stats build/bin/hello"
