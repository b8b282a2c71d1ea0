#!/usr/bin/env bash
# Set up this machine (once), build vxos (quietly when it is up to date) and
# boot the guest: a login shell on your terminal, in vxos's own tty.
#
#   ./boot.sh [vxos boot options]    e.g. ./boot.sh --cpus 2 --bind ~/src:/src
#
# Type `exit`, ^D or `poweroff` to leave. No root privileges are needed once
# scripts/setup.sh has installed the host packages (the first run asks for
# them through sudo when you are not root). `target/release/vxos boot --help`
# lists the options.
set -euo pipefail
top=$(cd "$(dirname "$0")" && pwd)
cd "$top"
case "${1:-}" in -h|--help) sed -n '2,10p' "$0"; exit 0 ;; esac

bash scripts/setup.sh
cargo build --release -q -p kernel
exec target/release/vxos boot "$@"
