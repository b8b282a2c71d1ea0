#!/usr/bin/env bash
# Benchmark vxos against native execution and qemu-i386, and print a
# Markdown table of median wall-clock times.
#
#   bench/run.sh                 every workload, 5 repetitions
#   bench/run.sh -n N            N repetitions of each workload (median reported)
#   bench/run.sh --quick         small inputs and 1 repetition (CI smoke test)
#   bench/run.sh --only NAME     only workloads whose name matches NAME, an
#                                extended regex matched against the whole name
#                                (repeatable: --only gzip --only 'fp_.*')
#   bench/run.sh --json FILE     also write the results as JSON to FILE
#   bench/run.sh --list          list the workload names and exit
#   bench/run.sh -h              this help
#
# The proc_* workloads (fork, fork+exec, pipe ping-pong, fork with 64 MiB
# resident, thread create+join, futex round trip) get a table of their own in
# microseconds per operation, as the program itself measured it around its
# loop (procbench prints it on stderr),
# and are left out of the wall-clock table and its geometric mean.
#
# start_python, start_bash and start_perl time start-up as on a machine
# where the program ran before (vxos takes its translations from the disk
# cache, VXOS_XCACHE, here build/bench/xcache, filled by one untimed run);
# their _cold rows keep no translations (VXOS_XCACHE=off).
#
# Runs are interleaved (native, qemu, vxos, native, qemu, vxos, ...) so that
# drift in the machine's speed hits all three alike. Every run must exit 0 and
# print exactly what the native run printed; a run that does not is reported
# as FAIL or WRONG, is never timed, and makes the script exit 1. qemu is only
# the yardstick: its failures and differing output are noted, not fatal.
# The table goes to stdout, progress and notes to stderr.
#
# Environment: VXOS (vxos binary, default target/release/vxos), QEMU (default
# qemu-i386), BUSYBOX (default build/rootfs/bin/busybox), BIN (our programs,
# default build/bin), BENCH_TIMEOUT (seconds per run, default 600).
set -uo pipefail
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)

# ---------------------------------------------------------------------------
# Iteration counts of our own programs: NAME FULL QUICK.
# FULL is tuned so that each program runs for about 1 s natively on the bench
# host (measured 2026-11-23 on the 2-vCPU machine kind); QUICK only has to
# exercise the program. Re-tune on another host with
#   /usr/bin/time -f '%e s' build/bin/PROG COUNT >/dev/null
# nullsys's count is the number of getpid calls (its own default is 1000000).
counts_table="
sha256    4500      4
qsort64   70        1
fp_x87    55        1
fp_sse    3000000   1000
div64     28        1
strings   15        1
nullsys   2000000   100000
mm_touch  1024      64
mm_mapunmap 500000  10000
proc_fork     5000  50
proc_forkexec 1000  20
proc_pingpong 40000 1000
proc_clone64  500   10
proc_thread   10000 200
proc_futex    20000 1000
exec_python   100   3
exec_bash     400   5
exec_perl     400   5
python_loop   6000000 20000
sqlite_insert 600000 2000
"
# The proc_* counts are numbers of operations (fork+exit+wait, fork+exec+wait,
# pipe round trips, fork+exit+wait with 64 MiB resident, thread create+join,
# futex round trips between two threads), tuned for 0.3-0.7 s
# of loop natively on the same host; under vxos or qemu they take longer.
# ---------------------------------------------------------------------------

data_mib_full=32
data_mib_quick=2

VXOS=${VXOS:-$top/target/release/vxos}
QEMU=${QEMU:-qemu-i386}
BUSYBOX=${BUSYBOX:-$top/build/rootfs/bin/busybox}
ROOTFS=${ROOTFS:-$top/build/rootfs}
BIN=${BIN:-$top/build/bin}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-600}
benchdir=$top/build/bench
# vxos keeps translations between runs in a directory of the bench's own.
export VXOS_XCACHE=${VXOS_XCACHE:-$benchdir/xcache}
# Absolute paths: the proc_* workloads run in another directory.
abs() { case "$1" in /*|'') printf '%s' "$1" ;; */*) printf '%s' "$PWD/$1" ;; *) printf '%s' "$1" ;; esac; }
VXOS=$(abs "$VXOS")
QEMU=$(abs "$QEMU")
BUSYBOX=$(abs "$BUSYBOX")
ROOTFS=$(abs "$ROOTFS")
BIN=$(abs "$BIN")

reps=
quick=0
json=
only=()
list_only=0

usage() { sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "bench: error: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    -n) [ $# -ge 2 ] || die "-n needs a number"; reps=$2; shift ;;
    -n*) reps=${1#-n} ;;
    --quick) quick=1 ;;
    --only) [ $# -ge 2 ] || die "--only needs a name"; only+=("$2"); shift ;;
    --only=*) only+=("${1#--only=}") ;;
    --json) [ $# -ge 2 ] || die "--json needs a file"; json=$2; shift ;;
    --json=*) json=${1#--json=} ;;
    --list) list_only=1 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument $1 (try -h)" ;;
  esac
  shift
done
if [ -z "$reps" ]; then
  if [ "$quick" = 1 ]; then reps=1; else reps=5; fi
fi
[[ "$reps" =~ ^[1-9][0-9]*$ ]] || die "-n wants a positive integer, not '$reps'"
[[ "$BENCH_TIMEOUT" =~ ^[1-9][0-9]*$ ]] || die "BENCH_TIMEOUT wants whole seconds"

declare -A count=()
while read -r name full q; do
  [ -n "$name" ] || continue
  if [ "$quick" = 1 ]; then count[$name]=$q; else count[$name]=$full; fi
done <<<"$counts_table"

# All workload names, in table order. nullsys@1 is nullsys's start-up
# baseline (one call); it is selected with nullsys and not shown on its own.
all_names=(sha256sum md5sum gzip bzip2 sha256 qsort64 fp_x87 fp_sse div64 strings mm_touch mm_mapunmap nullsys
           start_python start_python_cold start_bash start_bash_cold start_perl start_perl_cold python_loop sqlite_insert deb_gzip deb_bzip2 deb_xz
           proc_fork proc_forkexec proc_pingpong proc_clone64 proc_thread proc_futex exec_python exec_bash exec_perl boot)
if [ "$list_only" = 1 ]; then printf '%s\n' "${all_names[@]}"; exit 0; fi

selected() {
  local n=$1 p
  [ ${#only[@]} -eq 0 ] && return 0
  for p in "${only[@]}"; do
    [[ "$n" =~ ^($p)$ ]] && return 0
  done
  return 1
}
sel=()
for n in "${all_names[@]}"; do selected "$n" && sel+=("$n"); done
[ ${#sel[@]} -gt 0 ] || die "--only ${only[*]} matches no workload (see --list)"

# ---------------------------------------------------------------------------
# Notes and failures: said on stderr as they happen, repeated under the table.
notes=()
failures=()
note() { echo "bench: note: $*" >&2; notes+=("$*"); }
loud() {
  {
    echo "bench: ********************************************************"
    echo "bench: *** $1"
    shift
    local l
    for l in "$@"; do echo "bench: ***   $l"; done
    echo "bench: ********************************************************"
  } >&2
}

# Runners.
runners=(native qemu vxos)
declare -A have=()
have[native]=1
have[qemu]=0
have[vxos]=0
if command -v "$QEMU" >/dev/null 2>&1; then
  have[qemu]=1
else
  note "$QEMU not found (scripts/setup.sh --bench installs qemu-user); qemu columns show -"
fi
if [ -x "$VXOS" ]; then
  have[vxos]=1
else
  note "vxos not found at $VXOS (cargo build --release, or set VXOS); vxos columns show -"
fi
if ! command -v timeout >/dev/null 2>&1; then
  die "timeout (coreutils) not found"
fi
command -v sha256sum >/dev/null 2>&1 || die "sha256sum (coreutils) not found"

work=$(mktemp -d "${TMPDIR:-/tmp}/vxos-bench.XXXXXX") || die "mktemp failed"
work=$(cd "$work" && pwd)
trap 'rm -rf "$work"' EXIT
faildir=$benchdir/fail   # emptied at start: holds only this run's failures
rm -rf "$faildir"

# Microseconds since the epoch, without forking where bash allows it.
if [ -n "${EPOCHREALTIME:-}" ]; then
  now_us() { local t=$EPOCHREALTIME; US=${t//[.,]/}; }
else
  now_us() { US=$(( $(date +%s%N) / 1000 )); }
fi

# run_one RUNNER STDIN OUT ERR PROG ARGS...: run once; sets RC and DT (us).
# With DEB=1, PROG is a path in the guest root (a Debian program, dynamically
# linked): natively it runs through the rootfs's own ld.so and libraries,
# under qemu with -L rootfs, under vxos as the guest sees it.
run_one() {
  local runner=$1 in=$2 out=$3 err=$4 t0
  shift 4
  local -a pre=()
  case "$runner" in
    qemu) pre=("$QEMU") ;;
    vxos) pre=("$VXOS" run) ;;
  esac
  if [ "${DEB:-0}" = 1 ]; then
    local prog=$1
    shift
    case "$runner" in
      native) pre=("$ROOTFS/lib/ld-linux.so.2" --library-path "$ROOTFS/lib/i386-linux-gnu:$ROOTFS/usr/lib/i386-linux-gnu" "$ROOTFS$prog") ;;
      qemu) pre=("$QEMU" -L "$ROOTFS" "$ROOTFS$prog") ;;
      vxos) pre=("$VXOS" run "$prog") ;;
    esac
  fi
  # With INSIDE=1 (the exec_* rows), ARGS are `forkexec N PROG ARG...` of
  # procbench and PROG a Debian program, by its path in the guest root:
  # natively it runs through the rootfs's own loader and libraries.
  if [ "${INSIDE:-0}" = 1 ] && [ "$runner" = native ]; then
    local -a a=("$@")
    set -- "${a[0]}" "${a[1]}" "${a[2]}" "$ROOTFS/lib/ld-linux.so.2" \
      --library-path "$ROOTFS/lib/i386-linux-gnu:$ROOTFS/usr/lib/i386-linux-gnu" "$ROOTFS${a[3]}" "${a[@]:4}"
  fi
  # With COLD=1, vxos keeps no translations from earlier runs.
  if [ "$runner" = vxos ] && [ "${COLD:-0}" = 1 ]; then pre=(env VXOS_XCACHE=off "${pre[@]}"); fi
  now_us; t0=$US
  timeout -k 10 "$BENCH_TIMEOUT" "${pre[@]}" "$@" <"$in" >"$out" 2>"$err"
  RC=$?
  now_us
  DT=$(( US - t0 ))
}

# Keep a failed run's output for inspection in $faildir/TAG.out and .err.
keep_failed() {
  local tag=$1 out=$2 err=$3
  mkdir -p "$faildir"
  cp -f "$out" "$faildir/$tag.out" 2>/dev/null
  cp -f "$err" "$faildir/$tag.err" 2>/dev/null
}

fmt_s() { awk -v u="$1" 'BEGIN { printf "%.3f", u / 1e6 }'; }
median() { # median of the integers given as arguments
  printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 }
    END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Results, keyed "WORKLOAD,RUNNER".
declare -A status=()   # ok | FAIL | WRONG | - (not run)
declare -A med=()      # median microseconds, when status is ok
declare -A samples=()  # the accepted samples, microseconds, space-separated
declare -A cmdline=()  # WORKLOAD -> the command, for the JSON
declare -A checked=()  # WORKLOAD -> 1 when outputs were compared with native
rows=()             # workloads that have a row
# Workloads that time themselves: procbench prints "procbench MODE: T us/op
# (...)" on stderr. For these, bench also keeps T of every accepted run.
declare -A per_op=()      # WORKLOAD -> 1 for a self-timed workload
declare -A op_med=()      # median nanoseconds per operation, when status is ok
declare -A op_samples=()  # the accepted per-operation samples, nanoseconds

# The time per operation a self-timed run printed on stderr FILE, in whole
# nanoseconds; empty when there is no such line.
per_op_ns() {
  awk '/^procbench [a-z0-9]+: [0-9.]+ us\/op/ { printf "%.0f", $3 * 1000; exit }' "$1"
}

# bench NAME STDIN PROG ARGS...: time NAME under every runner, interleaved.
bench() {
  local name=$1 in=$2 prog=$3
  shift 3
  local -a args=("$@")
  local r rep out err
  local -A hash=() dt=() op=() dead=()
  cmdline[$name]="$(basename "$prog") ${args[*]}${in:+ < $(basename "$in")}"
  [ "$in" = /dev/null ] && cmdline[$name]="$(basename "$prog") ${args[*]}"
  for r in "${runners[@]}"; do status[$name,$r]=-; done
  echo "bench: $name: ${cmdline[$name]} ($reps x ${avail[*]})" >&2
  for ((rep = 1; rep <= reps; rep++)); do
    local line="bench:   $name #$rep:"
    for r in "${runners[@]}"; do
      [ "${have[$r]}" = 1 ] || continue
      [ -z "${dead[$r]:-}" ] || continue
      out=$work/$name.$r.out
      err=$work/$name.$r.err
      run_one "$r" "$in" "$out" "$err" "$prog" "${args[@]}"
      if [ "$RC" != 0 ]; then
        local why="exit status $RC"
        [ "$RC" = 124 ] || [ "$RC" = 137 ] && why="timed out after ${BENCH_TIMEOUT}s (status $RC)"
        local kept="$faildir/$name.$r.$rep.{out,err}"
        keep_failed "$name.$r.$rep" "$out" "$err"
        status[$name,$r]=FAIL
        dead[$r]=1
        line+=" $r=FAIL"
        if [ "$r" = qemu ]; then
          # qemu is only the peer we measure against: its failures are noted,
          # they do not fail the benchmark.
          note "qemu failed on $name (run $rep): $why; output in $kept"
          continue
        fi
        loud "$r FAILED on $name (run $rep): $why" \
             "command: ${cmdline[$name]}" \
             "stderr: $(tail -n 3 "$err" 2>/dev/null | tr '\n' '|' | cut -c1-300)" \
             "stdout: $(tail -n 3 "$out" 2>/dev/null | tr '\n' '|' | cut -c1-300)" \
             "output kept in $kept"
        failures+=("$name under $r: $why (output in $kept)")
        if [ "$r" = native ]; then
          loud "native run of $name failed: no reference output; skipping $name"
          echo "$line" >&2
          rows+=("$name")
          return
        fi
        continue
      fi
      hash[$r,$rep]=$(sha256sum <"$out" | cut -d' ' -f1)
      dt[$r,$rep]=$DT
      line+=" $r=$(fmt_s "$DT")"
      if [ -n "${per_op[$name]:-}" ]; then
        op[$r,$rep]=$(per_op_ns "$err")
        if [ -n "${op[$r,$rep]}" ]; then
          line+="($(awk -v n="${op[$r,$rep]}" 'BEGIN { printf "%.1f", n / 1000 }') us/op)"
        else
          line+="(no us/op line)"
        fi
      fi
      # A wrong result is reported at once (the verdict is final below).
      if [ "$r" != native ] && [ -n "${hash[native,1]:-}" ] &&
         [ "${hash[$r,$rep]}" != "${hash[native,1]}" ] &&
         [ -z "${kept_wrong[$name,$r]:-}" ]; then
        keep_failed "$name.$r.$rep" "$out" "$err"
        kept_wrong[$name,$r]=$faildir/$name.$r.$rep
        line+="(differs)"
      fi
      [ "$r" = native ] && [ "$rep" = 1 ] && cp -f "$out" "$work/$name.native.ref"
    done
    echo "$line" >&2
  done

  # Verdicts. The native output must be the same every run, or there is
  # nothing to compare with; then every other runner must match it.
  local ref=${hash[native,1]} det=1
  for ((rep = 2; rep <= reps; rep++)); do
    [ "${hash[native,$rep]}" = "$ref" ] || det=0
  done
  if [ "$det" = 0 ]; then
    note "$name: native output differs between runs; outputs NOT checked for this workload"
  else
    checked[$name]=1
  fi
  for r in "${runners[@]}"; do
    [ "${have[$r]}" = 1 ] || continue
    [ "${status[$name,$r]}" = FAIL ] && continue
    local -a good=() good_op=()
    local wrong=0
    for ((rep = 1; rep <= reps; rep++)); do
      [ -n "${dt[$r,$rep]:-}" ] || continue
      if [ "$det" = 1 ] && [ "${hash[$r,$rep]}" != "$ref" ]; then
        wrong=$((wrong + 1))
      else
        good+=("${dt[$r,$rep]}")
        [ -n "${op[$r,$rep]:-}" ] && good_op+=("${op[$r,$rep]}")
      fi
    done
    local diffl=
    [ "$wrong" -gt 0 ] &&
      diffl=$(cmp "$work/$name.native.ref" "${kept_wrong[$name,$r]}.out" 2>&1 | head -n 1)
    if [ "$wrong" -gt 0 ] && [ "$r" = qemu ]; then
      # qemu's emulation is not exact (x87 transcendentals through host
      # doubles, exact rcpps, ...): time it anyway, but flag the cell.
      qemu_differs[$name]=1
      note "qemu output differs from native on $name ($wrong of $reps runs; ${diffl:-?}); qemu timed anyway, marked * (kept in ${kept_wrong[$name,$r]}.out)"
      good=()
      good_op=()
      for ((rep = 1; rep <= reps; rep++)); do
        [ -n "${dt[$r,$rep]:-}" ] && good+=("${dt[$r,$rep]}")
        [ -n "${dt[$r,$rep]:-}" ] && [ -n "${op[$r,$rep]:-}" ] && good_op+=("${op[$r,$rep]}")
      done
      wrong=0
    fi
    if [ "$wrong" -gt 0 ]; then
      status[$name,$r]=WRONG
      loud "$r gave WRONG OUTPUT on $name ($wrong of $reps runs differ from native)" \
           "command: ${cmdline[$name]}" \
           "native sha256 $ref" \
           "first difference: ${diffl:-?}" \
           "first wrong output kept in ${kept_wrong[$name,$r]}.{out,err}"
      failures+=("$name under $r: WRONG OUTPUT in $wrong of $reps runs (output in ${kept_wrong[$name,$r]}.{out,err})")
      continue
    fi
    status[$name,$r]=ok
    samples[$name,$r]="${good[*]}"
    med[$name,$r]=$(median "${good[@]}")
    if [ -n "${per_op[$name]:-}" ]; then
      if [ ${#good_op[@]} -eq ${#good[@]} ]; then
        op_samples[$name,$r]="${good_op[*]}"
        op_med[$name,$r]=$(median "${good_op[@]}")
      else
        note "$name under $r: $(( ${#good[@]} - ${#good_op[@]} )) run(s) printed no 'us/op' line on stderr; no time per operation for $r"
      fi
    fi
  done
  rows+=("$name")
}
declare -A kept_wrong=() qemu_differs=()

# ---------------------------------------------------------------------------
# Input data for the busybox workloads: deterministic, compressible but not
# trivially so (text from a skewed vocabulary, number tables, and blocks of
# pseudo-random bytes). Generated once into build/bench and reused.
gen_data() {
  local mib=$1
  local file=$benchdir/data-v1-${mib}M.bin
  DATA=$file
  [ -f "$file" ] && [ "$(stat -c %s "$file")" = $((mib * 1048576)) ] && return 0
  command -v python3 >/dev/null 2>&1 || { note "python3 not found: cannot generate $file"; return 1; }
  mkdir -p "$benchdir"
  echo "bench: generating $file ($mib MiB, once)" >&2
  python3 - "$((mib * 1048576))" "$file.tmp" <<'EOF' || { rm -f "$file.tmp"; return 1; }
import random, sys
size, path = int(sys.argv[1]), sys.argv[2]
rng = random.Random(0x5eed_0001)
letters = "etaoinshrdlcumwfgypbvkjxqz"
lw = [1.0 / (i + 1.5) for i in range(len(letters))]
vocab = ["".join(rng.choices(letters, weights=lw, k=rng.randint(1, 11)))
         for _ in range(6000)]
cw, acc = [], 0.0
for i in range(len(vocab)):          # Zipf-like word frequencies
    acc += 1.0 / (i + 1)
    cw.append(acc)
out = bytearray()
while len(out) < size:
    k = rng.random()
    if k < 0.04:                     # incompressible block
        n = rng.randint(256, 4096)
        out += rng.getrandbits(8 * n).to_bytes(n, "little")
    elif k < 0.30:                   # a table of numbers
        for _ in range(rng.randint(10, 80)):
            row = [str(rng.randint(0, 10 ** rng.randint(1, 9))) for _ in range(6)]
            out += ("\t".join(row) + "\n").encode()
    else:                            # a paragraph of text
        for _ in range(rng.randint(3, 30)):
            ws = rng.choices(vocab, cum_weights=cw, k=rng.randint(4, 16))
            line = " ".join(ws)
            out += (line[0].upper() + line[1:] + ".\n").encode()
        out += b"\n"
with open(path, "wb") as f:
    f.write(out[:size])
EOF
  mv -f "$file.tmp" "$file"
}

# ---------------------------------------------------------------------------
start_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
avail=()
for r in "${runners[@]}"; do [ "${have[$r]}" = 1 ] && avail+=("$r"); done
echo "bench: $reps repetition(s)$([ "$quick" = 1 ] && echo ', quick inputs'); runners: ${avail[*]}" >&2

declare -A is_sel=()
for n in "${sel[@]}"; do is_sel[$n]=1; done

# busybox workloads
data_sha=
bb_names=(sha256sum md5sum gzip bzip2)
want_bb=0
for n in "${bb_names[@]}"; do [ -n "${is_sel[$n]:-}" ] && want_bb=1; done
if [ "$want_bb" = 1 ]; then
  if [ ! -x "$BUSYBOX" ]; then
    note "busybox not found at $BUSYBOX (scripts/setup.sh fetches it; or set BUSYBOX); skipping ${bb_names[*]}"
  else
    mib=$data_mib_full
    [ "$quick" = 1 ] && mib=$data_mib_quick
    if gen_data "$mib"; then
      data_sha=$(sha256sum <"$DATA" | cut -d' ' -f1)
      echo "bench: input $DATA sha256 $data_sha" >&2
      [ -n "${is_sel[sha256sum]:-}" ] && bench sha256sum "$DATA" "$BUSYBOX" sha256sum
      [ -n "${is_sel[md5sum]:-}" ] && bench md5sum "$DATA" "$BUSYBOX" md5sum
      [ -n "${is_sel[gzip]:-}" ] && bench gzip "$DATA" "$BUSYBOX" gzip -9 -c
      [ -n "${is_sel[bzip2]:-}" ] && bench bzip2 "$DATA" "$BUSYBOX" bzip2 -c
    else
      note "could not generate the input data; skipping ${bb_names[*]}"
    fi
  fi
fi

# Debian's own dynamically linked programs (T6): start-up, a pure-Python
# loop, an SQLite bulk insert, and the compressors on the same data.
deb_ok() { # NAME PROG: is the program in the rootfs?
  [ -x "$ROOTFS$2" ] && return 0
  note "$ROOTFS$2 not found (scripts/setup.sh unpacks it); skipping $1"
  return 1
}
deb_bench() { DEB=1 bench "$@"; }
# Start-up twice: as on a machine where the program ran before (vxos takes
# its translations from the disk cache, filled by one untimed run first),
# and cold (_cold: VXOS_XCACHE=off, everything translated afresh).
start_rows() {
  local name=$1 prog=$2
  shift 2
  if [ -n "${is_sel[$name]:-}" ] && deb_ok "$name" "$prog"; then
    "$VXOS" run "$prog" "$@" >/dev/null 2>&1 </dev/null
    deb_bench "$name" /dev/null "$prog" "$@"
  fi
  if [ -n "${is_sel[${name}_cold]:-}" ] && deb_ok "${name}_cold" "$prog"; then
    COLD=1 deb_bench "${name}_cold" /dev/null "$prog" "$@"
  fi
}
start_rows start_python /usr/bin/python3 -c pass
start_rows start_bash /bin/bash -c true
start_rows start_perl /usr/bin/perl -e 1
if [ -n "${is_sel[python_loop]:-}" ] && deb_ok python_loop /usr/bin/python3; then
  deb_bench python_loop /dev/null /usr/bin/python3 -c "
s = 0
for i in range(${count[python_loop]}):
    s = (s + i * i % 7) ^ (i >> 3)
print(s)"
fi
if [ -n "${is_sel[sqlite_insert]:-}" ] && deb_ok sqlite_insert /usr/bin/sqlite3; then
  sql=$benchdir/insert-${count[sqlite_insert]}.sql
  mkdir -p "$benchdir"
  cat >"$sql" <<EOF
create table t(id integer primary key, grp integer, name text, val real);
begin;
with recursive c(x) as (select 1 union all select x + 1 from c where x < ${count[sqlite_insert]})
insert into t(grp, name, val) select x % 97, 'name-' || x, x * 0.25 from c;
commit;
create index ig on t(grp);
select count(*), sum(val), count(distinct grp), max(name) from t;
EOF
  deb_bench sqlite_insert "$sql" /usr/bin/sqlite3 :memory:
fi
want_deb_z=0
for n in deb_gzip deb_bzip2 deb_xz; do [ -n "${is_sel[$n]:-}" ] && want_deb_z=1; done
if [ "$want_deb_z" = 1 ]; then
  mib=$data_mib_full
  [ "$quick" = 1 ] && mib=$data_mib_quick
  if gen_data "$mib"; then
    [ -n "${is_sel[deb_gzip]:-}" ] && deb_ok deb_gzip /bin/gzip && deb_bench deb_gzip "$DATA" /bin/gzip -9 -c
    [ -n "${is_sel[deb_bzip2]:-}" ] && deb_ok deb_bzip2 /bin/bzip2 && deb_bench deb_bzip2 "$DATA" /bin/bzip2 -c
    [ -n "${is_sel[deb_xz]:-}" ] && deb_ok deb_xz /usr/bin/xz && deb_bench deb_xz "$DATA" /usr/bin/xz -6 -c -T1
  else
    note "could not generate the input data; skipping deb_gzip deb_bzip2 deb_xz"
  fi
fi

# our compute kernels
for n in sha256 qsort64 fp_x87 fp_sse div64 strings; do
  [ -n "${is_sel[$n]:-}" ] || continue
  if [ ! -x "$BIN/$n" ]; then
    note "$BIN/$n not found (userland-bins/build.sh builds it); skipping $n"
    continue
  fi
  bench "$n" /dev/null "$BIN/$n" "${count[$n]}"
done

# memory management: first-touch faults over MIB MiB, mmap+munmap of 16 MiB
for n in mm_touch mm_mapunmap; do
  [ -n "${is_sel[$n]:-}" ] || continue
  if [ ! -x "$BIN/mmbench" ]; then
    note "$BIN/mmbench not found (userland-bins/build.sh builds it); skipping $n"
    continue
  fi
  bench "$n" /dev/null "$BIN/mmbench" "${n#mm_}" "${count[$n]}"
done

# nullsys: N getpid calls, and 1 call for the start-up cost.
nullsys_n=${count[nullsys]}
if [ -n "${is_sel[nullsys]:-}" ]; then
  if [ ! -x "$BIN/nullsys" ]; then
    note "$BIN/nullsys not found (userland-bins/build.sh builds it); skipping nullsys"
  else
    # vsyscall: each runner's fastest entry (the vDSO's sysenter natively,
    # int $0x80 where there is no vDSO, as under vxos).
    bench nullsys /dev/null "$BIN/nullsys" "$nullsys_n" vsyscall
    bench nullsys@1 /dev/null "$BIN/nullsys" 1 vsyscall
  fi
fi

# processes: N times fork+exit+wait, fork+exec+wait, a one-byte round trip
# over two pipes, and fork+exit+wait with 64 MiB resident. procbench times
# its loop itself and prints microseconds per operation on stderr. They run
# in $BIN: vxos shows the guest the host's current directory (at its own
# path, read-only), so that forkexec's child can exec $BIN/procbench inside
# the guest. Under qemu-i386 that execve is the host's own (qemu-user does
# not follow it): the exec'd program runs natively.
proc_names=(proc_fork proc_forkexec proc_pingpong proc_clone64 proc_thread proc_futex)
want_proc=0
for n in "${proc_names[@]}"; do [ -n "${is_sel[$n]:-}" ] && want_proc=1; done
if [ "$want_proc" = 1 ]; then
  if [ ! -x "$BIN/procbench" ]; then
    note "$BIN/procbench not found (userland-bins/build.sh builds it); skipping ${proc_names[*]}"
  else
    pb=$(cd "$BIN" && pwd)/procbench
    here_before=$PWD
    cd "${pb%/*}" || die "cannot cd to ${pb%/*}"
    for n in "${proc_names[@]}"; do
      [ -n "${is_sel[$n]:-}" ] || continue
      per_op[$n]=1
      case "$n" in
        proc_forkexec) bench "$n" /dev/null "$pb" forkexec "${count[$n]}" "$pb" exit0 ;;
        *) bench "$n" /dev/null "$pb" "${n#proc_}" "${count[$n]}" ;;
      esac
    done
    cd "$here_before" || die "cannot cd back to $here_before"
  fi
fi

# Start-up inside a running vxos (exec_*): a guest program (procbench) forks
# and execs the Debian program N times and waits for it, as a shell runs its
# commands; vxos's own start-up is left out, as the host's boot is natively.
# Natively the same loop execs the program through the rootfs's loader.
# qemu-user does not follow execve (its child would run natively): no qemu
# column.
exec_rows() {
  local name=$1 prog=$2
  shift 2
  [ -n "${is_sel[$name]:-}" ] || return 0
  deb_ok "$name" "$prog" || return 0
  if [ ! -x "$BIN/procbench" ]; then
    note "$BIN/procbench not found (userland-bins/build.sh builds it); skipping $name"
    return 0
  fi
  local pb had_qemu=${have[qemu]}
  pb=$(cd "$BIN" && pwd)/procbench
  per_op[$name]=1
  have[qemu]=0
  INSIDE=1 bench "$name" /dev/null "$pb" forkexec "${count[$name]}" "$prog" "$@"
  have[qemu]=$had_qemu
}
exec_rows exec_python /usr/bin/python3 -c pass
exec_rows exec_bash /bin/bash -c true
exec_rows exec_perl /usr/bin/perl -e 1

# ---------------------------------------------------------------------------
# Report.
cell() { # cell WORKLOAD RUNNER
  local s=${status[$1,$2]:--}
  if [ "$s" = ok ]; then
    fmt_s "${med[$1,$2]}"
    if [ "$2" = qemu ] && [ -n "${qemu_differs[$1]:-}" ]; then printf '\\*'; fi
  elif [ "$s" = -  ]; then printf -- '-'
  else printf '**%s**' "$s"
  fi
}
ratio() { # ratio NUM_US DEN_US -> x.xx or -
  if [ -n "$1" ] && [ -n "$2" ] && [ "$2" != 0 ]; then
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
  else
    printf -- '-'
  fi
}
okmed() { [ "${status[$1,$2]:-}" = ok ] && echo "${med[$1,$2]}"; }

table_rows=()  # the wall-clock table
op_rows=()     # the per-operation table
for n in "${rows[@]}"; do
  if [ -n "${per_op[$n]:-}" ]; then op_rows+=("$n")
  elif [ "$n" != nullsys@1 ]; then table_rows+=("$n")
  fi
done

vn_ratios=()  # vxos/native of each workload that has one
qv_ratios=()
declare -A r_vn=() r_qv=()
for n in "${table_rows[@]}"; do
  r_vn[$n]=$(ratio "$(okmed "$n" vxos)" "$(okmed "$n" native)")
  r_qv[$n]=$(ratio "$(okmed "$n" qemu)" "$(okmed "$n" vxos)")
  [ "${r_vn[$n]}" != - ] && vn_ratios+=("$(awk -v a="$(okmed "$n" vxos)" -v b="$(okmed "$n" native)" 'BEGIN { print a / b }')")
  [ "${r_qv[$n]}" != - ] && qv_ratios+=("$(awk -v a="$(okmed "$n" qemu)" -v b="$(okmed "$n" vxos)" 'BEGIN { print a / b }')")
done
# Ratios of the self-timed workloads, on the medians per operation.
okop() { [ "${status[$1,$2]:-}" = ok ] && echo "${op_med[$1,$2]:-}"; }
for n in "${op_rows[@]}"; do
  r_vn[$n]=$(ratio "$(okop "$n" vxos)" "$(okop "$n" native)")
  r_qv[$n]=$(ratio "$(okop "$n" qemu)" "$(okop "$n" vxos)")
done
geomean() { printf '%s\n' "$@" | awk '{ s += log($1); n++ } END { if (n) printf "%.2f", exp(s / n); else printf "-" }'; }
gm_vn=$(geomean "${vn_ratios[@]}")
gm_qv=$(geomean "${qv_ratios[@]}")
[ ${#vn_ratios[@]} -eq 0 ] && gm_vn=-
[ ${#qv_ratios[@]} -eq 0 ] && gm_qv=-

echo "## vxos benchmark"
echo
echo "$start_date, ${cpu:-unknown CPU}, $(nproc 2>/dev/null || echo '?') CPUs; median of $reps run(s)$([ "$quick" = 1 ] && echo ' (--quick inputs)'); wall-clock seconds."
echo
if [ ${#table_rows[@]} -gt 0 ]; then
  echo "| workload | native s | qemu s | vxos s | vxos/native | qemu/vxos |"
  echo "|---|---:|---:|---:|---:|---:|"
  for n in "${table_rows[@]}"; do
    label=$n
    [ -n "${checked[$n]:-}" ] || [ "${status[$n,native]}" = FAIL ] || label="$n (output unchecked)"
    echo "| $label | $(cell "$n" native) | $(cell "$n" qemu) | $(cell "$n" vxos) | ${r_vn[$n]} | ${r_qv[$n]} |"
  done
  echo
  if [ ${#qemu_differs[@]} -gt 0 ]; then
    echo "\\* qemu's output differed from native (an inexact emulation in qemu, see the notes); timed anyway."
    echo
  fi
  echo "Geometric mean of vxos/native over ${#vn_ratios[@]} of ${#table_rows[@]} workload(s): **$gm_vn**" \
       "(qemu/vxos: $gm_qv)"
  echo
elif [ ${#rows[@]} -eq 0 ] && [ -z "${is_sel[boot]:-}" ]; then
  echo "No workload could be run."
  echo
fi

declare -A ns_call=()
if [ -n "${status[nullsys,native]:-}" ] && [ "${status[nullsys,native]}" != FAIL ]; then
  echo "### nullsys: $nullsys_n getpid calls, each runner's fastest entry (vDSO natively)"
  echo
  echo "| runner | s, $nullsys_n calls | s, 1 call (start-up) | ns per call |"
  echo "|---|---:|---:|---:|"
  for r in "${runners[@]}"; do
    big=$(okmed nullsys "$r")
    one=$(okmed nullsys@1 "$r")
    ns=-
    if [ -n "$big" ] && [ -n "$one" ]; then
      ns=$(awk -v a="$big" -v b="$one" -v n="$nullsys_n" 'BEGIN { printf "%.1f", (a - b) * 1000 / (n > 1 ? n - 1 : 1) }')
    fi
    ns_call[$r]=$ns
    echo "| $r | $(cell nullsys "$r") | $(cell nullsys@1 "$r") | $ns |"
  done
  echo
  echo "ns per call = (time for N calls - time for 1 call) / (N - 1), so start-up cost is left out."
  echo
fi

if [ ${#op_rows[@]} -gt 0 ]; then
  opcell() { # opcell WORKLOAD RUNNER: median microseconds per operation
    local s=${status[$1,$2]:--}
    if [ "$s" = ok ] && [ -n "${op_med[$1,$2]:-}" ]; then
      awk -v n="${op_med[$1,$2]}" 'BEGIN { printf "%.1f", n / 1000 }'
    elif [ "$s" = ok ] || [ "$s" = - ]; then printf -- '-'
    else printf '**%s**' "$s"
    fi
  }
  echo "### processes: microseconds per operation, timed by the program around its loop"
  echo
  echo "| workload | operations | native µs | qemu µs | vxos µs | vxos/native | qemu/vxos |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for n in "${op_rows[@]}"; do
    label=$n
    [ -n "${checked[$n]:-}" ] || [ "${status[$n,native]}" = FAIL ] || label="$n (output unchecked)"
    echo "| $label | ${count[$n]} | $(opcell "$n" native) | $(opcell "$n" qemu) | $(opcell "$n" vxos) | ${r_vn[$n]} | ${r_qv[$n]} |"
  done
  echo
  echo "One operation: proc_fork fork + child _exit(0) + wait4; proc_forkexec the same with execve of \`procbench exit0\` in the child (under qemu that exec runs natively: qemu-user does not follow execve); proc_pingpong one byte there and back over two pipes; proc_clone64 proc_fork with 64 MiB of written private memory in the parent; proc_thread pthread_create + pthread_join of a thread that returns at once; proc_futex a turn passed to another thread and back through one futex word (FUTEX_WAKE, FUTEX_WAIT); exec_python, exec_bash, exec_perl start-up inside a running vxos: procbench forks, the child execs \`python3 -c pass\`, \`bash -c true\` or \`perl -e 1\` (natively through the rootfs's loader), the parent waits (no qemu column: qemu-user does not follow execve). These rows are not in the wall-clock geometric mean."
  echo
fi

# boot: `vxos boot` until its prompt shows on a pty (bench/boottime.py;
# vxos alone: there is nothing to compare it with).
if [ -n "${is_sel[boot]:-}" ]; then
  if line=$(python3 "$top/bench/boottime.py" -n "$([ "$quick" = 1 ] && echo 3 || echo 20)" "$VXOS" 2>&1); then
    echo "### boot: \`vxos boot\` until the shell prompt shows on a pty"
    echo
    echo "$line"
    echo
  else
    failures+=("boot: $line")
  fi
fi

if [ ${#notes[@]} -gt 0 ]; then
  echo "Notes:"
  echo
  for l in "${notes[@]}"; do echo "- $l"; done
  echo
fi
if [ ${#failures[@]} -gt 0 ]; then
  echo "**FAILURES — these runs were not timed:**"
  echo
  for l in "${failures[@]}"; do echo "- **$l**"; done
  echo
fi

# ---------------------------------------------------------------------------
if [ -n "$json" ]; then
  jstr() { local s=$1; s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\t'/\\t}; s=${s//$'\n'/\\n}; printf '"%s"' "$s"; }
  jnum() { if [ -n "$1" ] && [ "$1" != - ]; then printf '%s' "$1"; else printf null; fi; }
  jruns() { # jruns WORKLOAD RUNNER -> {"status":..,"median_s":..,"samples_s":[..]}
    local s=${status[$1,$2]:--} m="" x first=1
    [ "$s" = ok ] && m=${med[$1,$2]}
    [ "$s" = - ] && s=not-run
    [ "$s" = ok ] && [ "$2" = qemu ] && [ -n "${qemu_differs[$1]:-}" ] && s=ok-output-differs
    printf '{"status": %s, "median_s": ' "$(jstr "$s")"
    if [ -n "$m" ]; then awk -v u="$m" 'BEGIN { printf "%.6f", u / 1e6 }'; else printf null; fi
    printf ', "samples_s": ['
    for x in ${samples[$1,$2]:-}; do
      [ "$first" = 1 ] || printf ', '
      first=0
      awk -v u="$x" 'BEGIN { printf "%.6f", u / 1e6 }'
    done
    printf ']'
    if [ -n "${per_op[$1]:-}" ]; then
      printf ', "median_us_per_op": '
      if [ "$s" != not-run ] && [ "${s#ok}" != "$s" ] && [ -n "${op_med[$1,$2]:-}" ]; then
        awk -v n="${op_med[$1,$2]}" 'BEGIN { printf "%.3f", n / 1000 }'
      else printf null
      fi
      printf ', "samples_us_per_op": ['
      first=1
      for x in ${op_samples[$1,$2]:-}; do
        [ "$first" = 1 ] || printf ', '
        first=0
        awk -v n="$x" 'BEGIN { printf "%.3f", n / 1000 }'
      done
      printf ']'
    fi
    printf '}'
  }
  {
    printf '{\n'
    printf '  "date": %s,\n' "$(jstr "$start_date")"
    printf '  "cpu": %s,\n' "$(jstr "${cpu:-}")"
    printf '  "cpus": %s,\n' "$(nproc 2>/dev/null || echo null)"
    printf '  "repetitions": %s,\n' "$reps"
    printf '  "quick": %s,\n' "$([ "$quick" = 1 ] && echo true || echo false)"
    printf '  "vxos": %s,\n' "$([ "${have[vxos]}" = 1 ] && jstr "$VXOS" || echo null)"
    printf '  "qemu": %s,\n' "$([ "${have[qemu]}" = 1 ] && jstr "$("$QEMU" --version 2>/dev/null | head -n 1)" || echo null)"
    printf '  "busybox": %s,\n' "$(jstr "$BUSYBOX")"
    printf '  "input_sha256": %s,\n' "$([ -n "$data_sha" ] && jstr "$data_sha" || echo null)"
    printf '  "workloads": ['
    first=1
    for n in "${rows[@]}"; do
      [ "$first" = 1 ] || printf ','
      first=0
      printf '\n    {"name": %s, "command": %s, "output_checked": %s,\n' \
        "$(jstr "$n")" "$(jstr "${cmdline[$n]}")" "$([ -n "${checked[$n]:-}" ] && echo true || echo false)"
      for r in "${runners[@]}"; do
        printf '     "%s": %s,\n' "$r" "$(jruns "$n" "$r")"
      done
      printf '     "ratios_of": %s, "vxos_over_native": %s, "qemu_over_vxos": %s}' \
        "$([ -n "${per_op[$n]:-}" ] && jstr us_per_op || jstr wall_clock)" \
        "$(jnum "${r_vn[$n]:-}")" "$(jnum "${r_qv[$n]:-}")"
    done
    printf '\n  ],\n'
    printf '  "geomean_vxos_over_native": %s,\n' "$(jnum "$gm_vn")"
    printf '  "geomean_qemu_over_vxos": %s,\n' "$(jnum "$gm_qv")"
    if [ ${#ns_call[@]} -gt 0 ]; then
      printf '  "nullsys": {"calls": %s, "ns_per_call": {"native": %s, "qemu": %s, "vxos": %s}},\n' \
        "$nullsys_n" "$(jnum "${ns_call[native]}")" "$(jnum "${ns_call[qemu]}")" "$(jnum "${ns_call[vxos]}")"
    else
      printf '  "nullsys": null,\n'
    fi
    printf '  "notes": ['
    first=1
    for l in "${notes[@]}"; do [ "$first" = 1 ] || printf ', '; first=0; jstr "$l"; done
    printf '],\n  "failures": ['
    first=1
    for l in "${failures[@]}"; do [ "$first" = 1 ] || printf ', '; first=0; jstr "$l"; done
    printf ']\n}\n'
  } >"$json.tmp" && mv -f "$json.tmp" "$json"
  echo "bench: wrote $json" >&2
fi

if [ ${#failures[@]} -gt 0 ]; then
  echo "bench: ${#failures[@]} FAILURE(S); see above — those runs were not timed" >&2
  exit 1
fi
exit 0
