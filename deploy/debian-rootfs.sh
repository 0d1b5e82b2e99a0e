#!/usr/bin/env bash
# debian-rootfs.sh — a minimal Debian 12 root (debootstrap --variant=minbase bookworm), cached
# as a tarball; prints the tarball's path on stdout.
#
# Usage (as root; needs debootstrap and a Debian mirror):
#   deploy/debian-rootfs.sh            path of the cached tarball, building it if missing or stale
#
# Environment:
#   EZSHM_ROOTFS_CACHE    cache directory (default /var/cache/ezshm)
#   EZSHM_ROOTFS_MAX_AGE  days after which the tarball is rebuilt (default 14)
#   EZSHM_DEBIAN_MIRROR   Debian mirror (default http://deb.debian.org/debian)
#
# Both deploy/test-fresh-clone.sh (unpacked as a fresh machine) and deploy/test-image.sh
# (imported as the debian:bookworm base image) use it, so one download serves both.
# The root's APT sources are those of Debian's bookworm images: release, updates, security.
# Concurrent callers wait on a lock instead of bootstrapping twice.
#
# Exit status: 0 the path is printed; 2 environment problem or debootstrap failed.
set -euo pipefail

cache=${EZSHM_ROOTFS_CACHE:-/var/cache/ezshm}
max_age=${EZSHM_ROOTFS_MAX_AGE:-14}
mirror=${EZSHM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
tarball=$cache/bookworm-minbase.tar

die() { echo "debian-rootfs: $*" >&2; exit 2; }

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap)"
command -v debootstrap >/dev/null || die "missing debootstrap (apt-get install debootstrap)"
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock -w 1200 9 || die "timed out waiting for $cache/.lock"

if [ -n "$(find "$tarball" -maxdepth 0 -mtime -"$max_age" 2>/dev/null)" ]; then
    echo "$tarball"
    exit 0
fi

root=$(mktemp -d "$cache/root.XXXXXX")
# mktemp's 0700 would become the mode of / in the tarball: users like _apt could not reach a thing.
chmod 755 "$root"
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() { rm -rf --one-file-system "$root" "$tarball.part"; }
trap cleanup EXIT

echo "debian-rootfs: debootstrap --variant=minbase bookworm from $mirror (a few minutes)" >&2
timeout 1200 debootstrap --variant=minbase bookworm "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 \
    || { tail -n 20 "$cache/debootstrap.log" >&2; die "debootstrap failed (log: $cache/debootstrap.log)"; }
cat >"$root/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
# debootstrap leaves the building host's name and resolver behind; a fresh machine has neither.
: >"$root/etc/resolv.conf"
rm -f "$root/etc/hostname"
# The downloaded .debs are half the root's size and no image or machine needs them.
rm -f "$root"/var/cache/apt/archives/*.deb
tar -C "$root" --numeric-owner -cf "$tarball.part" .
mv "$tarball.part" "$tarball"
echo "$tarball"
