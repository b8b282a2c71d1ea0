#!/usr/bin/env bash
# Run the instruction oracles (QEMU's and valgrind's i386 tests, built by
# fetch.sh) natively and under vxos, and compare what they print.
#
#   tests/oracles/run.sh [-v] [--only NAME]... [--all] [--no-fetch] [--selfcheck]
#
#   -v            on a failure, show the first 40 lines of the difference
#   --only NAME   run only NAME (repeatable); runs it even if skip.txt lists it
#   --all         also run the tests skip.txt lists
#   --no-fetch    do not call fetch.sh first (it is quiet when all is built)
#   --selfcheck   run each oracle natively twice instead of under vxos: checks
#                 that the native output is deterministic on this host
#
# Environment: VXOS (default target/release/vxos; run as `$VXOS run PROGRAM`),
# ORACLE_TIMEOUT (seconds for one run, default 60; test-i386-fprem gets 10x),
# ORACLE_NATIVE_TUNABLES (GLIBC_TUNABLES for the native run; see below).
#
# A test passes when its stdout and exit status (128+N for a signal N) under
# vxos are those of the native run; for tests that report on stderr
# (faultstatus, ssse3_misaligned) stderr is compared too. Prints one line per
# test, then `oracles: N passed, N failed[, N skipped]`; exits 1 if any failed.
# Outputs of failed tests are kept in build/oracles/run/.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=$top/build/oracles
bin=$out/bin
work=$out/run
vxos=${VXOS:-$top/target/release/vxos}
tmo=${ORACLE_TIMEOUT:-60}

verbose=0 all=0 fetch=1 selfcheck=0
only=()
while [ $# -gt 0 ]; do
  case "$1" in
    -v|--verbose) verbose=1 ;;
    --only) [ $# -ge 2 ] || { echo "run.sh: --only needs a NAME" >&2; exit 2; }
            only+=("$2"); shift ;;
    --only=*) only+=("${1#--only=}") ;;
    --all) all=1 ;;
    --no-fetch) fetch=0 ;;
    --selfcheck) selfcheck=1 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$fetch" = 1 ]; then
  # On a failed build, go on with the oracles that did build: the others are
  # reported as failures below.
  "$here/fetch.sh" || echo "run.sh: tests/oracles/fetch.sh failed; running what is built" >&2
fi
[ -f "$out/tests.txt" ] || { echo "run.sh: no oracles built (run tests/oracles/fetch.sh)" >&2; exit 1; }
if [ "$selfcheck" = 0 ] && [ ! -x "$vxos" ]; then
  echo "run.sh: $vxos is not an executable (cargo build --release, or set VXOS)" >&2
  exit 2
fi
command -v timeout >/dev/null || { echo "run.sh: needs timeout(1) (coreutils)" >&2; exit 2; }

# The native run sees the host CPU, the guest sees vxos's cpuid, which hides
# AVX/AVX2/FMA/BMI/AVX-512/XSAVE (vx-core/src/cpuid.rs). glibc picks its ifunc
# variants by cpuid, and some differ in results: fmaf's NaN payloads with FMA
# vs without (float_madds). So the native run gets glibc's hwcaps tunable
# masking those features: the reference is what a CPU like the guest's gives.
native_tunables=${ORACLE_NATIVE_TUNABLES-glibc.cpu.hwcaps=-AVX,-AVX2,-FMA,-FMA4,-BMI1,-BMI2,-LZCNT,-XSAVE,-XSAVEC,-AVX512F,-AVX512CD,-AVX512BW,-AVX512DQ,-AVX512VL,-AVX512ER,-AVX512PF}

# Tests whose verdict is printed on stderr: compare stdout and stderr together.
with_stderr=" faultstatus ssse3_misaligned "
# Tests that take long natively: a longer time limit.
slow=" test-i386-fprem "

# skip.txt: NAME reason...
declare -A skip=()
while read -r name reason; do
  case "$name" in ''|'#'*) continue ;; esac
  skip[$name]=$reason
done < "$here/skip.txt"

mapfile -t built < "$out/tests.txt"
declare -A is_built=()
for t in "${built[@]}"; do is_built[$t]=1; done

tests=()
if [ "${#only[@]}" -gt 0 ]; then
  for t in "${only[@]}"; do
    if [ -z "${is_built[$t]:-}" ] && [ -z "${skip[$t]:-}" ]; then
      echo "run.sh: no oracle named $t (see build/oracles/tests.txt)" >&2; exit 2
    fi
    tests+=("$t")
  done
else
  tests=("${built[@]}")
fi

mkdir -p "$work"
# Output filters for nondeterministic text would go here (none is needed: the
# oracles are static non-PIE binaries and print no stack or heap addresses,
# times or pids; `run.sh --selfcheck` checks that).
filter() { cat; }

# run_one NAME WHICH CMD...: run with the time limit, stdin from /dev/null;
# stdout (plus stderr for with_stderr tests) to $work/NAME.WHICH, stderr to
# $work/NAME.WHICH.err; sets $status (124 on timeout).
run_one() {
  local name=$1 which=$2 limit=$tmo; shift 2
  case "$slow" in *" $name "*) limit=$((tmo * 10)) ;; esac
  local o=$work/$name.$which
  # (The braces' 2>/dev/null silences bash's "Segmentation fault" report.)
  case "$with_stderr" in
    *" $name "*) { timeout -k 5 "$limit" "$@" </dev/null >"$o.raw" 2>&1; status=$?; } 2>/dev/null
                 : >"$o.err" ;;
    *) { timeout -k 5 "$limit" "$@" </dev/null >"$o.raw" 2>"$o.err"; status=$?; } 2>/dev/null ;;
  esac
  filter <"$o.raw" >"$o" && rm -f "$o.raw"
}

describe() {  # describe STATUS: "exit N", "signal N", "timeout"
  if [ "$1" = 124 ]; then echo "timeout"
  elif [ "$1" -gt 128 ]; then echo "signal $(( $1 - 128 ))"
  else echo "exit $1"; fi
}

pass=0 fail=0 skipped=0
for t in "${tests[@]}"; do
  if [ -n "${skip[$t]:-}" ] && { [ -z "${is_built[$t]:-}" ] || { [ "$all" = 0 ] && [ "${#only[@]}" = 0 ]; }; }; then
    echo "SKIP $t (${skip[$t]%%: *})"
    skipped=$((skipped + 1))
    continue
  fi
  if [ ! -x "$bin/$t" ]; then
    echo "FAIL $t (not built: run tests/oracles/fetch.sh)"
    fail=$((fail + 1))
    continue
  fi
  rm -f "$work/$t".*
  run_one "$t" native env GLIBC_TUNABLES="$native_tunables" "$bin/$t"; nst=$status
  if [ "$selfcheck" = 1 ]; then
    run_one "$t" vxos env GLIBC_TUNABLES="$native_tunables" "$bin/$t"; vst=$status; other="second native run"
  else
    run_one "$t" vxos "$vxos" run "$bin/$t"; vst=$status; other="vxos"
  fi
  why=""
  if [ "$nst" = 124 ]; then
    why="native run timed out after ${tmo}s"
  elif ! cmp -s "$work/$t.native" "$work/$t.vxos"; then
    why="output differs"
    [ "$nst" != "$vst" ] && why="$why; native $(describe "$nst"), $other $(describe "$vst")"
  elif [ "$nst" != "$vst" ]; then
    why="native $(describe "$nst"), $other $(describe "$vst")"
  fi
  if [ -z "$why" ]; then
    echo "PASS $t"
    pass=$((pass + 1))
    rm -f "$work/$t".*
  else
    echo "FAIL $t ($why)"
    fail=$((fail + 1))
    if [ "$verbose" = 1 ]; then
      # A guest killed by a signal loses its unflushed stdout (a file is
      # block-buffered), so the diff ends before the faulting instruction.
      diff -u --label "$t (native)" --label "$t ($other)" "$work/$t.native" "$work/$t.vxos" |
        head -n 40 | sed 's/^/    /'
      if [ -s "$work/$t.vxos.err" ]; then
        echo "    --- stderr ($other), last lines:"
        tail -n 5 "$work/$t.vxos.err" | sed 's/^/    /'
      fi
    fi
  fi
done

line="oracles: $pass passed, $fail failed"
[ "$skipped" -gt 0 ] && line="$line, $skipped skipped"
echo "$line"
[ "$fail" = 0 ]
