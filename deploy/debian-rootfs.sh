#!/usr/bin/env bash
# debian-rootfs.sh — a minimal Debian 12 root (debootstrap --variant=minbase bookworm), cached
# as a tarball; prints the tarball's path on stdout.
#
# Usage (as root; needs debootstrap and a Debian mirror):
#   deploy/debian-rootfs.sh            path of the cached tarball, building it if missing or stale
#   deploy/debian-rootfs.sh --mirrors  the two mirrors it would use ("mirror URI", "security URI")
#
# Environment:
#   EZSHM_ROOTFS_CACHE             cache directory (default /var/cache/ezshm)
#   EZSHM_ROOTFS_MAX_AGE           days after which the tarball is rebuilt (default 14)
#   EZSHM_DEBIAN_MIRROR            Debian mirror (default: the one this machine's APT uses)
#   EZSHM_DEBIAN_SECURITY_MIRROR   Debian security mirror (default: this machine's APT's, else
#                                  none: the root then has no security line)
#   EZSHM_APT_ETC                  where APT's sources are read (default /etc/apt)
#
# The default mirrors are the ones this machine already installs from: the URI of the first
# enabled "deb" source of suite bookworm (else of the machine's own codename) and of
# bookworm-security (else <codename>-security), from sources.list, sources.list.d/*.list and
# the deb822 sources.list.d/*.sources. No host name is built in: a site mirror or proxy that
# APT uses is used here too.
#
# Both deploy/test-fresh-clone.sh (unpacked as a fresh machine) and deploy/test-image.sh
# (imported as the debian:bookworm base image) use it, so one download serves both.
# The root's APT sources are those of Debian's bookworm images: release, updates, security.
# A change of mirror takes effect when the tarball is next rebuilt.
# Concurrent callers wait on a lock instead of bootstrapping twice.
#
# Exit status: 0 the path is printed; 2 environment problem or debootstrap failed.
set -euo pipefail

cache=${EZSHM_ROOTFS_CACHE:-/var/cache/ezshm}
max_age=${EZSHM_ROOTFS_MAX_AGE:-14}
apt_etc=${EZSHM_APT_ETC:-/etc/apt}
tarball=$cache/bookworm-minbase.tar

die() { echo "debian-rootfs: $*" >&2; exit 2; }

# apt_uri SUITE: the URI of the first enabled "deb" source of SUITE in APT's sources (one-line
# files, then deb822 stanzas; "[options]" and Enabled: no are understood); nothing when none.
apt_uri() {
    local lists=() sources=() f
    for f in "$apt_etc/sources.list" "$apt_etc"/sources.list.d/*.list; do [ -f "$f" ] && lists+=("$f"); done
    for f in "$apt_etc"/sources.list.d/*.sources; do [ -f "$f" ] && sources+=("$f"); done
    {
        [ ${#lists[@]} -eq 0 ] || awk -v want="$1" '
            { sub(/#.*/, "") }
            $1 == "deb" { i = 2
                          if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                          if ($(i + 1) == want) print $i }' "${lists[@]}"
        [ ${#sources[@]} -eq 0 ] || awk -v want="$1" '
            function flush() { if (deb && enabled) for (u in uris) for (s in suites)
                                   if (suites[s] == want) print uris[u]
                               deb = 0; enabled = 1; delete uris; delete suites }
            BEGIN { enabled = 1 }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); next }
            { key = tolower($1); sub(/:$/, "", key)
              if (key == "types") { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
              else if (key == "uris") { for (i = 2; i <= NF; i++) uris[i] = $i }
              else if (key == "suites") { for (i = 2; i <= NF; i++) suites[i] = $i }
              else if (key == "enabled") enabled = tolower($2) != "no" }
            END { flush() }' "${sources[@]}"
    } | head -n 1
}

# The release's source, else the machine's own release's (a newer Debian host's mirror
# serves bookworm too).
codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
mirror=${EZSHM_DEBIAN_MIRROR:-$(apt_uri bookworm)}
[ -n "$mirror" ] || [ -z "$codename" ] || mirror=$(apt_uri "$codename")
security=${EZSHM_DEBIAN_SECURITY_MIRROR:-$(apt_uri bookworm-security)}
[ -n "$security" ] || [ -z "$codename" ] || security=$(apt_uri "$codename-security")
[ -n "$mirror" ] || die "no Debian mirror in $apt_etc's sources; set EZSHM_DEBIAN_MIRROR"
if [ "${1:-}" = --mirrors ]; then
    echo "mirror $mirror"
    echo "security ${security:--}"
    exit 0
fi

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
{
    echo "deb $mirror bookworm main"
    echo "deb $mirror bookworm-updates main"
    [ -z "$security" ] || echo "deb $security bookworm-security main"
} >"$root/etc/apt/sources.list"
# debootstrap leaves the building host's name and resolver behind; a fresh machine has neither.
: >"$root/etc/resolv.conf"
rm -f "$root/etc/hostname"
# The downloaded .debs are half the root's size and no image or machine needs them.
rm -f "$root"/var/cache/apt/archives/*.deb
tar -C "$root" --numeric-owner -cf "$tarball.part" .
mv "$tarball.part" "$tarball"
echo "$tarball"
