#!/usr/bin/env bash
# Does tracing cost anything when it is off? Build vxos twice, with the
# trace hooks compiled in (the default `trace` feature of the kernel crate)
# and compiled out (--no-default-features, into target/notrace), run
# bench/run.sh's CPU-bound rows under both, and print the medians and
# their ratio.
#
#   bench/traceoff.sh                 6 runs of each default row with each build
#   bench/traceoff.sh -n N            2N runs (the table shows medians)
#   bench/traceoff.sh --only REGEX    other rows (repeatable; as run.sh's --only)
#   bench/traceoff.sh --json FILE     also write the figures as JSON to FILE
#   bench/traceoff.sh -h              this help
#
# bench/run.sh does the timing, with its checks (each run's output must be
# native's), twice with -n N: one build takes the place of qemu in its
# table, the other vxos's, so the three runners run interleaved, repetition
# by repetition, and drift in the machine's speed hits both builds alike;
# the second pass swaps the two builds' places, so neither always runs
# right after the other. Both are started through the same small wrapper
# script, so they pay the same start-up. The default rows are
# the CPU-bound suite (sha256sum md5sum gzip bzip2 sha256 qsort64 fp_x87
# fp_sse div64 strings) and the two that run the hooked paths hardest:
# nullsys (the system call dispatcher) and mm_touch (the page-fault trap).
# A ratio within the rows' run-to-run noise (a few percent) is "nothing
# measurable". BUSYBOX and ROOTFS are passed on to run.sh.
# Not part of the test suite: benchmarks are not timed tests.
set -uo pipefail
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)

reps=3
json=
only=()
usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "traceoff: error: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    -n) [ $# -ge 2 ] || die "-n needs a number"; reps=$2; shift ;;
    -n*) reps=${1#-n} ;;
    --only) [ $# -ge 2 ] || die "--only needs a name"; only+=("$2"); shift ;;
    --only=*) only+=("${1#--only=}") ;;
    --json) [ $# -ge 2 ] || die "--json needs a file"; json=$2; shift ;;
    --json=*) json=${1#--json=} ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument $1 (try -h)" ;;
  esac
  shift
done
[[ "$reps" =~ ^[1-9][0-9]*$ ]] || die "-n wants a positive integer, not '$reps'"
[ ${#only[@]} -gt 0 ] || only=(sha256sum md5sum gzip bzip2 sha256 qsort64 fp_x87 fp_sse div64 strings nullsys mm_touch)
command -v python3 >/dev/null 2>&1 || die "python3 not found (it reads run.sh's JSON)"
case "$json" in /*|'') ;; *) json=$PWD/$json ;; esac

cd "$top" || exit 2
echo "traceoff: building vxos with the trace hooks (target/release)" >&2
cargo build --release -p kernel --bin vxos >&2 || die "build failed"
echo "traceoff: building vxos without them (target/notrace)" >&2
cargo build --release -p kernel --bin vxos --no-default-features --target-dir target/notrace >&2 || die "build failed"

work=$(mktemp -d "${TMPDIR:-/tmp}/vxos-traceoff.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$work"' EXIT
# run.sh starts VXOS as `VXOS run PROG ARGS`, QEMU as `QEMU PROG ARGS`:
# a wrapper for each place and build.
for v in in out; do
  bin=$top/target/release/vxos
  [ "$v" = out ] && bin=$top/target/notrace/release/vxos
  printf '#!/bin/sh\nexec "%s" "$@"\n' "$bin" >"$work/vxos-$v"
  printf '#!/bin/sh\n[ "$1" = --version ] && { echo "vxos, trace %s"; exit 0; }\nexec "%s" run "$@"\n' "$v" "$bin" >"$work/qemu-$v"
  chmod +x "$work/vxos-$v" "$work/qemu-$v"
done
args=()
for o in "${only[@]}"; do args+=(--only "$o"); done
echo "traceoff: pass 1 of 2: trace compiled out in qemu's place, in in vxos's" >&2
VXOS=$work/vxos-in QEMU=$work/qemu-out bash "$here/run.sh" -n "$reps" "${args[@]}" --json "$work/pass1.json" >/dev/null ||
  die "bench/run.sh failed"
echo "traceoff: pass 2 of 2: the places swapped" >&2
VXOS=$work/vxos-out QEMU=$work/qemu-in bash "$here/run.sh" -n "$reps" "${args[@]}" --json "$work/pass2.json" >/dev/null ||
  die "bench/run.sh failed"

python3 - "$work" "$reps" "$json" <<'PY'
import json, statistics, sys
work, reps, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
p1, p2 = (json.load(open(f"{work}/pass{k}.json")) for k in (1, 2))
print(f"vxos with the trace hooks compiled in and out, median of {2 * reps} interleaved runs each, wall-clock seconds:")
print()
print("| workload | trace in s | trace out s | in/out |")
print("|---|---:|---:|---:|")
result = []
for w1, w2 in zip(p1["workloads"], p2["workloads"]):
    runs = {"in": [w1["vxos"], w2["qemu"]], "out": [w1["qemu"], w2["vxos"]]}
    bad = [r["status"] for v in runs.values() for r in v if r["status"] != "ok"]
    if bad:
        print(f"| {w1['name']} | {', '.join(bad)} | | - |")
        continue
    s_in = [x for r in runs["in"] for x in r["samples_s"]]
    s_out = [x for r in runs["out"] for x in r["samples_s"]]
    on, off = statistics.median(s_in), statistics.median(s_out)
    ratio = on / off
    result.append({"name": w1["name"], "trace_in_s": on, "trace_out_s": off, "in_over_out": round(ratio, 3),
                   "samples_in_s": s_in, "samples_out_s": s_out})
    print(f"| {w1['name']} | {on:.3f} | {off:.3f} | {ratio:.3f} |")
gm = statistics.geometric_mean([x["in_over_out"] for x in result]) if result else None
if gm:
    print(f"| geometric mean | | | {gm:.3f} |")
if out:
    with open(out, "w") as f:
        json.dump({"date": p1["date"], "runs_each": 2 * reps, "workloads": result,
                   "geomean_in_over_out": gm}, f, indent=1)
PY
