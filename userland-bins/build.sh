#!/usr/bin/env bash
# Build our own i386 guest programs (userland-bins/*.c) into build/bin.
#
#   userland-bins/build.sh            build what is missing or stale
#   userland-bins/build.sh -f         rebuild every program
#   userland-bins/build.sh NAME...    build only these (e.g. hello smc)
#   userland-bins/build.sh -h         this help
#
# Each NAME.c becomes build/bin/NAME, compiled with `gcc -m32 -O2 -static`
# plus the extra flags listed in extra_flags below. A program is rebuilt when
# its source or this script is newer than the binary. Quiet when everything
# is up to date; exits non-zero naming the program that failed to compile.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
out=$top/build/bin
cc=${CC:-gcc}
base_flags=(-m32 -O2 -static -Wall -Wextra)
libs=(-lm)

force=0
names=()
for a in "$@"; do
  case "$a" in
    -f|--force) force=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    -*) echo "build.sh: unknown option $a (try -h)" >&2; exit 2 ;;
    *) names+=("${a%.c}") ;;
  esac
done

say() { echo "userland-bins: $*" >&2; }
die() { say "error: $*"; exit 1; }

# Print the flags a program needs on top of base_flags.
extra_flags() {
  case "$1" in
    fp_sse) echo "-msse2 -mfpmath=sse" ;;
    tls)    echo "-fstack-protector-all" ;;
    *)      echo "" ;;
  esac
}

command -v "$cc" >/dev/null 2>&1 || die "$cc not found; run scripts/setup.sh"
mkdir -p "$out"

if [ ${#names[@]} -eq 0 ]; then
  for f in "$here"/*.c; do
    n=$(basename "$f" .c)
    names+=("$n")
  done
fi

# Check once, before the first compile, that gcc can link static i386 programs.
multilib_checked=0
check_multilib() {
  [ "$multilib_checked" = 1 ] && return
  case $("$cc" -m32 -print-file-name=libc.a) in
    /*) multilib_checked=1 ;;
    *) die "$cc -m32 finds no static i386 libc (install gcc-multilib: run scripts/setup.sh)" ;;
  esac
}

built=0
for n in "${names[@]}"; do
  src=$here/$n.c
  bin=$out/$n
  [ -f "$src" ] || die "no source $src"
  if [ "$force" = 0 ] && [ -x "$bin" ] && [ "$bin" -nt "$src" ] && [ "$bin" -nt "$here/build.sh" ]; then
    continue
  fi
  check_multilib
  # shellcheck disable=SC2046  # extra_flags is a list of words
  if ! "$cc" "${base_flags[@]}" $(extra_flags "$n") -o "$bin.tmp" "$src" "${libs[@]}"; then
    rm -f "$bin.tmp"
    die "failed to compile $n.c (command: $cc ${base_flags[*]} $(extra_flags "$n") $src ${libs[*]})"
  fi
  mv -f "$bin.tmp" "$bin"
  built=$((built + 1))
done

if [ "$built" -gt 0 ]; then say "built $built program(s) into $out"; fi
