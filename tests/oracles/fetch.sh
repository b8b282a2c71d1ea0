#!/usr/bin/env bash
# Fetch public i386 instruction test programs and build them as oracles.
#
#   tests/oracles/fetch.sh        fetch (once) and build what is missing or stale
#   tests/oracles/fetch.sh -f     rebuild every oracle
#
# Sources come from Debian's source packages `qemu` (tests/tcg/i386 and the
# instruction-level parts of tests/tcg/multiarch) and `valgrind`
# (none/tests/x86), fetched with `apt-get source --download-only` into
# build/oracles/src; only the test directories are extracted from the
# upstream tarballs, and only the parts of Debian's patches that touch them
# are applied (qemu's carry the 7.2.N stable releases). Each test is built
# with `gcc -m32 -static` and the flags its upstream Makefile uses, into
# build/oracles/bin. build/ is ignored by git: nothing fetched is committed.
#
# The list of oracles is written to build/oracles/tests.txt for run.sh.
# Sections compiled out of test-i386.c and tests not built are documented in
# tests/oracles/skip.txt. Quiet when everything is already built; exits
# non-zero with a message naming the failing step otherwise.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=$top/build/oracles
src=$out/src
bin=$out/bin
obj=$out/obj
log=$out/log
force=0
for a in "$@"; do
  case "$a" in
    -f|--force) force=1 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "fetch.sh: unknown option $a" >&2; exit 2 ;;
  esac
done

say() { echo "oracles: $*" >&2; }
die() { say "error: $*"; exit 1; }

mkdir -p "$src" "$bin" "$obj" "$log"

# ---------------------------------------------------------------- tools
# Checked only when something has to be fetched or built, so a run with
# everything in place stays quick and quiet. scripts/setup.sh installs
# gcc-multilib and dpkg-dev and adds the deb-src entries.
setup_done=0
run_setup() {
  [ "$setup_done" = 1 ] && return 0
  say "$1; running scripts/setup.sh"
  "$top/scripts/setup.sh" || die "scripts/setup.sh failed"
  setup_done=1
}
have_deb_src() {
  local out
  out=$(apt-cache showsrc "$1" 2>/dev/null) || true
  case "$out" in *"Package: $1"*) return 0 ;; esac
  return 1
}
cc_checked=0
need_cc() {
  [ "$cc_checked" = 1 ] && return 0
  printf 'int main(void){return 0;}\n' > "$obj/cc-check.c"
  if ! gcc -m32 -static -o "$obj/cc-check" "$obj/cc-check.c" >/dev/null 2>&1; then
    run_setup "gcc -m32 -static cannot link (gcc-multilib missing?)"
    gcc -m32 -static -o "$obj/cc-check" "$obj/cc-check.c" >"$log/cc-check.log" 2>&1 ||
      { cat "$log/cc-check.log" >&2; die "gcc -m32 -static cannot link a program (is gcc-multilib installed?)"; }
  fi
  rm -f "$obj/cc-check" "$obj/cc-check.c"
  cc_checked=1
}

# ---------------------------------------------------------------- fetch
# fetch PKG: download PKG's source package into $src unless a .dsc is there.
apt_updated=0
fetch() {
  local pkg=$1
  ls "$src/${pkg}"_*.dsc >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null || die "apt-get is needed to fetch the source package $pkg"
  have_deb_src "$pkg" || run_setup "no deb-src entry for $pkg"
  say "downloading the source package $pkg"
  if ! (cd "$src" && apt-get source --download-only -qq "$pkg" >"$log/apt-$pkg.log" 2>&1); then
    if [ "$apt_updated" = 0 ] && [ "$(id -u)" = 0 ]; then
      apt-get update -qq >/dev/null 2>&1 || true
      apt_updated=1
    fi
    (cd "$src" && apt-get source --download-only -qq "$pkg" >"$log/apt-$pkg.log" 2>&1) ||
      { cat "$log/apt-$pkg.log" >&2
        die "apt-get source --download-only $pkg failed (deb-src entries come from scripts/setup.sh)"; }
  fi
}

# orig_tarball PKG: the upstream tarball named in PKG's .dsc.
orig_tarball() {
  local dsc
  dsc=$(ls "$src/${1}"_*.dsc | sort -V | tail -n1)
  awk '/^Files:/{f=1;next} /^[^ ]/{f=0} f{print $3}' "$dsc" | grep -m1 '\.orig\.tar\.'
}

# debian_tarball PKG: the Debian packaging tarball named in PKG's .dsc.
debian_tarball() {
  local dsc
  dsc=$(ls "$src/${1}"_*.dsc | sort -V | tail -n1)
  awk '/^Files:/{f=1;next} /^[^ ]/{f=0} f{print $3}' "$dsc" | grep -m1 '\.debian\.tar\.' || true
}

# patch_subset PKG DIR PREFIX...: apply, in series order, the parts of
# Debian's patches for PKG that touch files under the PREFIXes (the only files
# extracted into $src/DIR). Debian's qemu carries the upstream stable releases
# (v7.2.N.diff) as patches, and those change tests/tcg/i386 too. Patches are
# cut into files at their `diff --git` lines; a patch that touches the
# PREFIXes without such lines stops the script rather than being half-applied.
patch_subset() {
  local pkg=$1 dir=$2; shift 2
  local deb pdir p cut re
  deb=$(debian_tarball "$pkg")
  [ -n "$deb" ] || return 0     # a native package or format 1.0: no patches
  pdir=$src/$dir/.debian
  rm -rf "$pdir"; mkdir -p "$pdir"
  tar -xf "$src/$deb" -C "$pdir" debian/patches 2>/dev/null || return 0
  [ -f "$pdir/debian/patches/series" ] || return 0
  command -v patch >/dev/null || die "patch(1) is needed to apply Debian's patches to $pkg's tests"
  re="^(---|\\+\\+\\+) [ab]/($(printf '%s|' "$@" | sed 's/|$//'))"
  while read -r p _; do
    case "$p" in ''|'#'*) continue ;; esac
    [ -f "$pdir/debian/patches/$p" ] || die "Debian patch $p of $pkg is listed in series but missing"
    cut=$pdir/cut.diff
    awk -v prefixes="$*" '
      BEGIN { n = split(prefixes, P, " ") }
      /^diff --git / {
        keep = 0
        for (i = 1; i <= n; i++) if (index($3, "a/" P[i]) == 1) keep = 1
      }
      keep { print }' "$pdir/debian/patches/$p" > "$cut"
    [ "$(grep -cE "$re" "$cut")" = "$(grep -cE "$re" "$pdir/debian/patches/$p")" ] ||
      die "Debian patch $p of $pkg touches the tests without git headers; cannot apply only that part"
    [ -s "$cut" ] || continue
    patch -p1 -s -f --no-backup-if-mismatch -d "$src/$dir" < "$cut" >"$log/patch-$pkg.log" 2>&1 ||
      { cat "$log/patch-$pkg.log" >&2; die "Debian patch $p of $pkg does not apply to the extracted tests"; }
  done < "$pdir/debian/patches/series"
  rm -rf "$pdir"
}

# extract PKG DIR PREFIX...: extract only the given paths (relative to the
# tarball's top directory) of PKG's upstream tarball into $src/DIR, and apply
# the parts of Debian's patches that touch them.
extract() {
  local pkg=$1 dir=$2; shift 2
  local tarball stamp pats=()
  tarball=$(orig_tarball "$pkg") || die "no upstream tarball listed in $pkg's .dsc"
  stamp="$src/$dir/.extracted"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$tarball $(debian_tarball "$pkg") $*" ]; then return 0; fi
  say "extracting the tests from $tarball"
  rm -rf "${src:?}/$dir"; mkdir -p "$src/$dir"
  for p in "$@"; do pats+=("*/$p"); done
  tar -xmf "$src/$tarball" -C "$src/$dir" --strip-components=1 --wildcards "${pats[@]}" ||
    die "cannot extract $* from $tarball"
  patch_subset "$pkg" "$dir" "$@"
  echo "$tarball $(debian_tarball "$pkg") $*" > "$stamp"
}

fetch qemu
fetch valgrind
extract qemu qemu tests/tcg/i386/ tests/tcg/multiarch/
extract valgrind valgrind none/tests/x86/ tests/asm.h tests/malloc.h tests/sys_mman.h

Q=$src/qemu/tests/tcg
V=$src/valgrind

# ---------------------------------------------------------------- build
# build NAME CFLAGS -- SOURCE... [-- LIBS]: gcc -m32 -static CFLAGS SOURCES LIBS
# into $bin/NAME, unless the binary is there, newer than its sources and built
# with the same command.
failed=()
names=()
rebuilt=()
# The sources' identity: rebuild everything when a new package version arrives.
srcver="$(cat "$src/qemu/.extracted" "$src/valgrind/.extracted" | tr '\n' ' ')"
# replace_if_changed NEW OLD: move NEW over OLD unless they are the same, so
# generated sources keep their timestamp when nothing changed.
replace_if_changed() {
  if cmp -s "$1" "$2" 2>/dev/null; then rm -f "$1"; else mv "$1" "$2"; fi
}
build() {
  local name=$1 cflags=$2; shift 3
  local srcs=() libs=() s
  while [ $# -gt 0 ] && [ "$1" != -- ]; do srcs+=("$1"); shift; done
  [ $# -gt 0 ] && { shift; libs=("$@"); }
  names+=("$name")
  local cmd="[$srcver] gcc -m32 -static $cflags -o $bin/$name ${srcs[*]} ${libs[*]}"
  if [ "$force" = 0 ] && [ -x "$bin/$name" ] && [ -f "$obj/$name.cmd" ] &&
     [ "$(cat "$obj/$name.cmd")" = "$cmd" ]; then
    local stale=0
    for s in "${srcs[@]}"; do [ "$s" -nt "$bin/$name" ] && stale=1; done
    [ "$stale" = 0 ] && return 0
  fi
  need_cc
  rm -f "$bin/$name" "$obj/$name.cmd"
  # shellcheck disable=SC2086  # cflags is a word list
  if gcc -m32 -static $cflags -o "$bin/$name" "${srcs[@]}" "${libs[@]}" >"$log/$name.log" 2>&1; then
    echo "$cmd" > "$obj/$name.cmd"
    rebuilt+=("$name")
  else
    say "FAILED to build $name (build/oracles/log/$name.log):"
    tail -n 5 "$log/$name.log" | sed 's/^/    /' >&2
    failed+=("$name")
  fi
}

# -- QEMU tests/tcg/i386/test-i386.c -----------------------------------------
# Upstream: -O0 -g -fno-strict-aliasing -fno-pie, with test-i386-code16.S and
# test-i386-vm86.S linked in. TEST_VM86 is already off upstream, but TEST_SEGS
# (modify_ldt, LDT selectors, 16-bit code) is on unconditionally for i386. So a
# copy of the file gets small edits that change nothing by default:
#  - `#define TEST_SEGS` goes under `#ifndef NO_TEST_SEGS`;
#  - the EFLAGS.TF part at the end of test_exceptions() goes under
#    `#ifndef NO_TF_EXCEPTION`;
#  - each test_*() call in main() (and the initcall loop, as `initcalls`) goes
#    under `#if !defined(NO_test_x) && (!defined(ONLY) || defined(ONLY_test_x))`,
# so variants can leave sections out (-DNO_x) or keep only some (-DONLY -DONLY_x).
T=$Q/i386
ti=$obj/test-i386.c
sed -e 's|^#define TEST_SEGS$|#ifndef NO_TEST_SEGS\n#define TEST_SEGS\n#endif|' \
    -e 's|^    printf("single step exception:\\n");$|#ifndef NO_TF_EXCEPTION\n&|' \
    -e 's|^    printf("val=0x%x\\n", val);$|&\n#endif|' \
    -e '/^int main(/,/^}/{
          s|^    \(test_[a-z0-9_]*\)();$|#if !defined(NO_\1) \&\& (!defined(ONLY) \|\| defined(ONLY_\1))\n    \1();\n#endif|
          s|^    while (ptr != &__stop_initcall) {$|    while (RUN_INITCALLS \&\& ptr != \&__stop_initcall) {|
        }' \
    -e 's|^int main(int argc, char \*\*argv)$|#if !defined(NO_initcalls) \&\& (!defined(ONLY) \|\| defined(ONLY_initcalls))\n#define RUN_INITCALLS 1\n#else\n#define RUN_INITCALLS 0\n#endif\n&|' \
    "$T/test-i386.c" > "$ti.tmp"
# The edits must all have applied, or the variants would silently differ.
[ "$(grep -c 'NO_TEST_SEGS' "$ti.tmp")" = 1 ] &&
[ "$(grep -c 'NO_TF_EXCEPTION' "$ti.tmp")" = 1 ] &&
[ "$(grep -c '^#endif' "$ti.tmp")" -gt "$(grep -c '^#endif' "$T/test-i386.c")" ] &&
[ "$(grep -c 'RUN_INITCALLS' "$ti.tmp")" = 3 ] &&
[ "$(grep -c '^#if !defined(NO_test_' "$ti.tmp")" -ge 15 ] ||
  die "test-i386.c changed upstream: the section switches no longer apply (see fetch.sh)"
replace_if_changed "$ti.tmp" "$ti"
qflags="-O0 -g -fno-strict-aliasing -fno-pie -I$T"
ti_srcs=("$ti" "$T/test-i386-code16.S" "$T/test-i386-vm86.S")
# Core: every instruction section (arithmetic/shift/bit initcalls, bsf/bsr,
# mul/div, jcc, loop, x87, BCD, xchg/cmpxchg, string ops, xlat/far ret/iret/pop,
# lea, self-modifying code, enter, conversions); no LDT, 16-bit code or signals.
build test-i386 "$qflags -DNO_TEST_SEGS -DNO_test_exceptions -DNO_test_single_step" -- "${ti_srcs[@]}" -- -lm
# Fault delivery: SIGFPE/SIGSEGV/SIGILL/SIGTRAP/SIGBUS with siginfo and the
# ucontext trapno/err/EIP of each faulting instruction; no LDT, no TF.
build test-i386-exceptions "$qflags -DNO_TEST_SEGS -DNO_TF_EXCEPTION -DONLY -DONLY_test_exceptions" -- "${ti_srcs[@]}" -- -lm
# Precise single-stepping with EFLAGS.TF (a SIGTRAP after each instruction).
build test-i386-sstep "$qflags -DONLY -DONLY_test_single_step" -- "${ti_srcs[@]}" -- -lm
# Upstream's whole program: all of the above plus modify_ldt, LDT selectors in
# fs/gs/ss/ds, lar/lsl/arpl, an lcall into a 16-bit code segment, and the LDT
# and TF parts of the exception test.
build test-i386-full "$qflags" -- "${ti_srcs[@]}" -- -lm

# -- QEMU tests/tcg/i386: the small self-checking x87/SSE tests ---------------
# Each prints little and exits non-zero on a wrong result.
for t in f2xm1 fbstp fisttp fldcst fp-exceptions fpatan fscale fxam fxtract \
         fyl2x fyl2xp1 pseudo-denormal snan-convert; do
  [ -f "$T/test-i386-$t.c" ] || continue
  build "test-i386-$t" "$qflags" -- "$T/test-i386-$t.c" -- -lm
done
build test-i386-fprem "$qflags" -- "$T/test-i386-fprem.c" -- -lm
build test-i386-bmi2 "-O2" -- "$T/test-i386-bmi2.c"
[ -f "$T/test-i386-adcox.c" ] && build test-i386-adcox "-O2" -- "$T/test-i386-adcox.c"
build test-i386-pcmpistri "$qflags -msse4.2" -- "$T/test-i386-pcmpistri.c" -- -lm
build test-i386-sse-exceptions "$qflags -msse4.1 -mfpmath=sse" -- "$T/test-i386-sse-exceptions.c" -- -lm

# -- QEMU tests/tcg/multiarch: plain C that exercises the integer/FP paths ----
M=$Q/multiarch
build sha1 "$qflags" -- "$M/sha1.c"
build sha512 "$qflags" -- "$M/sha512.c"
build sha512-sse "-msse4.1 -O3" -- "$M/sha512.c"
for t in float_convs float_convd float_madds; do
  build "$t" "$qflags -I$M" -- "$M/$t.c" "$M/libs/float_helpers.c" -- -lm
done

# -- valgrind none/tests/x86 ----------------------------------------------
# Upstream (Makefile.am + Makefile.tool-tests.am): -g -O2 (Debian's CFLAGS)
# -Winline -Wall -Wshadow -Wno-long-long -fno-stack-protector -m32 -mmmx -msse,
# with per-test exceptions below, plus -fno-pie: built as PIE (gcc's default
# here), insn_basic's asm reaches its `state` buffer through a register the
# tested instruction clobbers (cdq) and crashes natively. The insn_* programs
# are generated from their .def files by gen_insn_test.pl. A config.h stands
# in for valgrind's configure.
X=$V/none/tests/x86
printf '%s\n' '#define VGO_linux 1' '#define VGA_x86 1' '#define VGP_x86_linux 1' \
  '#define VGPV_x86_linux_vanilla 1' > "$obj/config.h.tmp"
replace_if_changed "$obj/config.h.tmp" "$obj/config.h"
vflags="-g -O2 -fno-pie -Wall -Wno-long-long -fno-stack-protector -mmmx -msse -I$obj -I$V"
command -v perl >/dev/null || die "perl is needed to generate valgrind's insn_* tests"
for t in insn_basic insn_cmov insn_fpu insn_mmx insn_mmxext insn_sse insn_sse2 insn_sse3 insn_ssse3; do
  perl "$X/gen_insn_test.pl" < "$X/$t.def" > "$obj/$t.c.tmp" 2>"$log/$t-gen.log" ||
    { names+=("$t"); failed+=("$t"); say "FAILED to generate $t.c (build/oracles/log/$t-gen.log)"; continue; }
  replace_if_changed "$obj/$t.c.tmp" "$obj/$t.c"
  build "$t" "$vflags" -- "$obj/$t.c" -- -lm
done
for t in aad_aam badseg bswapw bt_everything bt_literal bug125959-x86 bug126147-x86 \
         bug132813-x86 bug135421-x86 bug137714-x86 bug152818-x86 cet_nops cmpxchg8b \
         cse_fail fcmovnu faultstatus getseg incdec_alt jcxz lahf looper lzcnt32 movbe \
         movx pushpopseg sbbmisc shift_ndep ssse3_misaligned x87trigOOR xadd; do
  build "$t" "$vflags" -- "$X/$t.c" -- -lm
done
# smc1 jumps into code it writes into a static array: fine on the NX-less
# machines it was written for, SIGSEGV on today's. data-exec.c makes data and
# bss executable (mprotect in a constructor) so the native run is meaningful.
build smc1 "$vflags" -- "$X/smc1.c" "$here/data-exec.c"
build fpu_lazy_eflags "$vflags -march=pentiumpro" -- "$X/fpu_lazy_eflags.c"
build fxtract "$vflags -Wno-overflow" -- "$X/fxtract.c" -- -lm
build x86locked "${vflags/-O2/-O}" -- "$X/x86locked.c"

printf '%s\n' "${names[@]}" > "$out/tests.txt.tmp" && mv "$out/tests.txt.tmp" "$out/tests.txt"
if [ "${#rebuilt[@]}" -gt 10 ]; then
  say "built ${#rebuilt[@]} of ${#names[@]} oracles into build/oracles/bin"
elif [ "${#rebuilt[@]}" -gt 0 ]; then
  say "built ${rebuilt[*]}"
fi
if [ "${#failed[@]}" -gt 0 ]; then
  die "${#failed[@]} oracle(s) failed to build: ${failed[*]}"
fi
exit 0
