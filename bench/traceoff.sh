#!/usr/bin/env bash
# Does tracing cost anything when it is off? Build vxos twice, with the
# trace hooks compiled in (the default `trace` feature of the kernel crate)
# and compiled out (--no-default-features, into target/notrace), run
# bench/run.sh's CPU-bound rows under both, and print the medians and
# their ratio.
#
#   bench/traceoff.sh                 3 rounds of the default rows
#   bench/traceoff.sh -n N            N rounds
#   bench/traceoff.sh --only REGEX    other rows (repeatable; as run.sh's --only)
#   bench/traceoff.sh --json FILE     also write the figures as JSON to FILE
#   bench/traceoff.sh -h              this help
#
# Each round runs bench/run.sh -n 1 on every row once with each build, the
# two builds in alternating order from round to round, so drift in the
# machine's speed hits both alike; the table shows each build's median over
# the rounds. qemu is not run. The default rows are the CPU-bound suite
# (sha256sum md5sum gzip bzip2 sha256 qsort64 fp_x87 fp_sse div64 strings)
# and the two that run the hooked paths hardest: nullsys (the system call
# dispatcher) and mm_touch (the page-fault trap). A ratio within the rows'
# run-to-run noise (a few percent) is "nothing measurable".
# Not part of the test suite: benchmarks are not timed tests.
set -uo pipefail
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)

rounds=3
json=
only=()
usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "traceoff: error: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    -n) [ $# -ge 2 ] || die "-n needs a number"; rounds=$2; shift ;;
    -n*) rounds=${1#-n} ;;
    --only) [ $# -ge 2 ] || die "--only needs a name"; only+=("$2"); shift ;;
    --only=*) only+=("${1#--only=}") ;;
    --json) [ $# -ge 2 ] || die "--json needs a file"; json=$2; shift ;;
    --json=*) json=${1#--json=} ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument $1 (try -h)" ;;
  esac
  shift
done
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "-n wants a positive integer, not '$rounds'"
[ ${#only[@]} -gt 0 ] || only=(sha256sum md5sum gzip bzip2 sha256 qsort64 fp_x87 fp_sse div64 strings nullsys mm_touch)
command -v python3 >/dev/null 2>&1 || die "python3 not found (it reads run.sh's JSON)"

cd "$top" || exit 2
echo "traceoff: building vxos with the trace hooks (target/release)" >&2
cargo build --release -p kernel --bin vxos >&2 || die "build failed"
echo "traceoff: building vxos without them (target/notrace)" >&2
cargo build --release -p kernel --bin vxos --no-default-features --target-dir target/notrace >&2 || die "build failed"
declare -A bin=([on]=$top/target/release/vxos [off]=$top/target/notrace/release/vxos)

work=$(mktemp -d "${TMPDIR:-/tmp}/vxos-traceoff.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$work"' EXIT
args=()
for o in "${only[@]}"; do args+=(--only "$o"); done
for ((r = 1; r <= rounds; r++)); do
  if (( r % 2 )); then order=(on off); else order=(off on); fi
  for v in "${order[@]}"; do
    echo "traceoff: round $r of $rounds, trace compiled $([ "$v" = on ] && echo in || echo out)" >&2
    VXOS=${bin[$v]} QEMU=/nonexistent/qemu-i386 bash "$here/run.sh" -n 1 "${args[@]}" \
      --json "$work/$v-$r.json" >/dev/null || die "bench/run.sh failed (round $r, trace $v)"
  done
done

python3 - "$work" "$rounds" "$json" <<'EOF'
import json, statistics, sys
work, rounds, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = {}
order = []
for v in ("on", "off"):
    for r in range(1, rounds + 1):
        d = json.load(open(f"{work}/{v}-{r}.json"))
        for w in d["workloads"]:
            x = w["vxos"]
            if x["status"] != "ok":
                continue
            if w["name"] not in rows:
                rows[w["name"]] = {"on": [], "off": []}
                order.append(w["name"])
            rows[w["name"]][v].append(x["median_s"])
print(f"vxos with the trace hooks compiled in (on) and out (off), median of {rounds} rounds, wall-clock seconds:")
print()
print("| workload | trace in s | trace out s | in/out |")
print("|---|---:|---:|---:|")
result = []
for n in order:
    on, off = statistics.median(rows[n]["on"]), statistics.median(rows[n]["off"])
    ratio = on / off
    result.append({"name": n, "trace_in_s": on, "trace_out_s": off, "in_over_out": round(ratio, 3),
                   "samples_in_s": rows[n]["on"], "samples_out_s": rows[n]["off"]})
    print(f"| {n} | {on:.3f} | {off:.3f} | {ratio:.3f} |")
gm = statistics.geometric_mean([x["in_over_out"] for x in result]) if result else None
if gm:
    print(f"| geometric mean | | | {gm:.3f} |")
if out:
    with open(out, "w") as f:
        json.dump({"rounds": rounds, "workloads": result, "geomean_in_over_out": gm}, f, indent=1)
EOF
