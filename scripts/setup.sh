#!/usr/bin/env bash
# Install what vxos needs on a fresh Debian 12 and fetch the guest packages.
#
# Idempotent and quiet when everything is already there. Used by boot.sh and
# by the test command (.ci/run). Guest packages are downloaded with
# `apt-get download` and unpacked with `dpkg -x` into build/rootfs (ignored
# by git); nothing fetched here is ever committed.
#
#   scripts/setup.sh            host tools + rootfs packages
#   scripts/setup.sh --bench    also qemu-user for the benchmarks
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
want_bench=0
for a in "$@"; do
  case "$a" in
    --bench) want_bench=1 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $a" >&2; exit 2 ;;
  esac
done

say() { echo "setup: $*" >&2; }

# Run a command as root: directly, through sudo, or fail with a clear message.
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo "$@"
  else
    say "need root to run: $*"
    say "run this script as root (or with password-less sudo), or install it by hand"
    exit 1
  fi
}

apt_updated=0
apt_update() {
  if [ "$apt_updated" = 0 ]; then
    say "apt-get update"
    as_root apt-get update -qq >/dev/null 2>&1 || say "apt-get update reported errors; going on with the lists it has"
    apt_updated=1
  fi
}

# 1. i386 architecture for dpkg (guest packages) and deb-src for test suites.
if ! dpkg --print-foreign-architectures | grep -qx i386; then
  say "adding the i386 architecture to dpkg"
  as_root dpkg --add-architecture i386
  apt_updated=0
fi
if ! grep -rqs '^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null &&
   ! grep -rqs 'Types:.*deb-src' /etc/apt/sources.list.d/ 2>/dev/null; then
  src=$(grep -rhs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -n1 || true)
  if [ -n "$src" ]; then
    say "adding deb-src entries (public test suites come as source packages)"
    grep -rhs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      sed 's/^deb /deb-src /' | as_root tee /etc/apt/sources.list.d/vxos-src.list >/dev/null
  elif [ -f /etc/apt/sources.list.d/debian.sources ]; then
    say "adding deb-src entries (public test suites come as source packages)"
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
      as_root tee /etc/apt/sources.list.d/vxos-src.sources >/dev/null
  fi
  apt_updated=0
fi

# 2. Host packages.
need=()
dpkg -s gcc-multilib >/dev/null 2>&1 || need+=(gcc-multilib)
dpkg -s dpkg-dev >/dev/null 2>&1 || need+=(dpkg-dev)
# fusermount3 mounts `vxos boot|run --export DIR` (for a normal user too)
# and unmounts it when vxos ends, however it ends.
command -v fusermount3 >/dev/null 2>&1 || need+=(fuse3)
if [ "$want_bench" = 1 ]; then
  command -v qemu-i386 >/dev/null 2>&1 || need+=(qemu-user)
fi
if [ "${#need[@]}" -gt 0 ]; then
  apt_update
  say "installing ${need[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# 3. Guest packages (i386), unpacked into build/rootfs.
pkgs=$(grep -v '^#' "$top/rootfs/packages.txt" | awk 'NF{print $1}')
root="$top/build/rootfs"
debs="$top/build/debs"
mkdir -p "$root" "$debs" "$top/build/stamps"
rm -f "$root"/.pkg-*   # stamps once lived in the guest's root
for spec in $pkgs; do
  p=${spec%%:*}
  arch=i386
  [ "$spec" != "$p" ] && arch=${spec#*:}
  stamp="$top/build/stamps/pkg-$p"
  [ -f "$stamp" ] && continue
  if ! ls "$debs/${p}"_*_"$arch".deb >/dev/null 2>&1; then
    want="$p:i386"
    [ "$arch" = all ] && want=$p
    if ! (cd "$debs" && apt-get download -q "$want" >/dev/null 2>&1); then
      apt_update
      (cd "$debs" && apt-get download -q "$want" >/dev/null) ||
        { say "cannot download $want"; exit 1; }
    fi
  fi
  say "unpacking $p"
  dpkg -x "$(ls "$debs/${p}"_*_"$arch".deb | head -n1)" "$root"
  touch "$stamp"
done
# busybox's applets as links (/bin/sh, /usr/bin/vi, ...), as
# `busybox --install` makes them; the host runs the i386 busybox to list them.
links_stamp="$top/build/stamps/busybox-links"
if [ ! -f "$links_stamp" ] || [ "$root/bin/busybox" -nt "$links_stamp" ]; then
  for a in $("$root/bin/busybox" --list-full); do
    dir=${a%/*}
    up=$(printf '%s' "$dir" | sed 's#[^/][^/]*#..#g')
    mkdir -p "$root/$dir"
    [ -e "$root/$a" ] || [ -L "$root/$a" ] || ln -s "$up/bin/busybox" "$root/$a"
  done
  touch "$links_stamp"
fi
# Mount points the native side of the differential tests mounts on when it
# chroots into the rootfs (vxos's own namespace provides them itself).
mkdir -p "$root/dev" "$root/proc" "$root/tmp"
# Our own files (rootfs/etc and friends) over the packages', every time.
for d in "$top"/rootfs/*/; do
  cp -R -u "$d" "$root/"   # -u: edits made in build/rootfs are kept
done
exit 0
