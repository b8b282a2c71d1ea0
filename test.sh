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
cargo test --release --workspace
