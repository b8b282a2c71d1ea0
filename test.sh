#!/usr/bin/env bash
# Run the whole vxos test suite from a fresh checkout: set up the machine,
# build, fetch the public instruction oracles, and run every test tier.
set -euo pipefail
top=$(cd "$(dirname "$0")" && pwd)
cd "$top"
case "${1:-}" in -h|--help) sed -n '2,3p' "$0"; exit 0 ;; esac

bash scripts/setup.sh
cargo build --release -q --workspace
bash userland-bins/build.sh >/dev/null
# Everything with two vCPUs, then the process, thread and shell tests again
# with one (the scheduler's two shapes; --cpus defaults to the host's cores).
VXOS_CPUS=2 cargo test --release --workspace
VXOS_CPUS=1 cargo test --release -p vxos-tests --test procs --test tasks --test busybox --test userland --test boot
