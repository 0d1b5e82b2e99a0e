#!/usr/bin/env bash
# check-image.sh — replay deploy/Dockerfile's two stages in fresh Debian chroots, without Docker.
#
# Usage (as root; needs debootstrap, chroot, mount and network access to a Debian mirror):
#   sudo deploy/check-image.sh [--mirror URL] [--workdir DIR] [--keep]
#
#   --mirror URL   Debian mirror (default http://deb.debian.org/debian)
#   --workdir DIR  where the two chroots go (default: a fresh mktemp -d under /var/tmp)
#   --keep         leave the chroots in place afterwards (default: delete them)
#
# What it does:
#   build stage    debootstrap --variant=minbase of the suite in the first FROM (bookworm),
#                  apt-get install the Dockerfile's BUILD_PACKAGES, copy the source tree
#                  (minus build*/ and .git, as .dockerignore), run the RUN block between
#                  "# check-image: build-steps begin/end" exactly as written (it installs
#                  into /staging).
#   runtime stage  a second, fresh minbase chroot of the suite in the second FROM
#                  (bookworm-slim -> bookworm); apt-get install ONLY RUNTIME_PACKAGES; copy
#                  /staging/usr/local in; ldconfig; run `ezshmd --version` and
#                  `ezshm-ctl --help`; `ldd` every binary and libezshm.so*, failing on any
#                  "not found".
# The package lists and build steps are parsed out of deploy/Dockerfile itself, so this
# script and the image cannot drift apart. It is not part of CI.
#
# Exit status: 0 all good; 1 a check failed; 2 usage or environment problem.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/.." && pwd)
dockerfile="$here/Dockerfile"
mirror=http://deb.debian.org/debian
workdir=
keep=0

die() { echo "check-image: $*" >&2; exit 2; }
fail() { echo "check-image: FAIL: $*" >&2; exit 1; }
log() { echo "check-image: $*"; }

while [ $# -gt 0 ]; do
    case "$1" in
        --mirror) mirror=${2:?--mirror needs a URL}; shift 2 ;;
        --workdir) workdir=${2:?--workdir needs a directory}; shift 2 ;;
        --keep) keep=1; shift ;;
        -h|--help) sed -n '2,26p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot, mount)"
for tool in debootstrap chroot mount umount tar; do
    command -v "$tool" >/dev/null || die "missing tool: $tool"
done
[ -f "$dockerfile" ] || die "no $dockerfile"

# ---------------------------------------------------------------- parse the Dockerfile
# Logical lines: comments dropped, backslash continuations joined.
logical_lines() {
    awk '
        /^[ \t]*#/ { next }
        { line = (pending == "" ? $0 : pending " " $0) }
        /\\[ \t]*$/ { sub(/\\[ \t]*$/, "", line); pending = line; next }
        { print line; pending = "" }
    ' "$dockerfile"
}

# Value of `ARG NAME="..."` (quotes optional).
dockerfile_arg() {
    logical_lines | sed -n -E "s/^[[:space:]]*ARG[[:space:]]+$1=\"?([^\"]*)\"?[[:space:]]*\$/\\1/p" | head -n 1
}

# Suite of the Nth FROM (1-based): debian:bookworm-slim -> bookworm.
from_suite() {
    logical_lines | awk -v n="$1" 'toupper($1) == "FROM" { if (++i == n) { print $2; exit } }' \
        | sed -E 's/^debian://; s/-slim$//; s/@.*$//'
}

# The RUN block between the build-steps markers, as shell commands (RUN stripped).
build_steps() {
    awk '
        /^# check-image: build-steps begin/ { on = 1; next }
        /^# check-image: build-steps end/   { on = 0; next }
        on && !/^[ \t]*#/ {
            line = (pending == "" ? $0 : pending " " $0)
            if (line ~ /\\[ \t]*$/) { sub(/\\[ \t]*$/, "", line); pending = line; next }
            print line; pending = ""
        }
    ' "$dockerfile" | sed -E 's/^[[:space:]]*RUN[[:space:]]+//'
}

build_packages=$(dockerfile_arg BUILD_PACKAGES)
runtime_packages=$(dockerfile_arg RUNTIME_PACKAGES)
build_suite=$(from_suite 1)
runtime_suite=$(from_suite 2)
steps=$(build_steps)
[ -n "$build_packages" ] || die "no ARG BUILD_PACKAGES in $dockerfile"
[ -n "$runtime_packages" ] || die "no ARG RUNTIME_PACKAGES in $dockerfile"
if [ -z "$build_suite" ] || [ -z "$runtime_suite" ]; then
    die "need two FROM debian:<suite> lines"
fi
[ -n "$steps" ] || die "no build-steps block in $dockerfile"
case " $runtime_packages " in *-dev\ *) fail "RUNTIME_PACKAGES contains a -dev package" ;; esac

log "build stage:   $build_suite + $build_packages"
log "runtime stage: $runtime_suite + $runtime_packages"
log "build steps:"
printf '    %s\n' "$steps"

# ---------------------------------------------------------------- chroot helpers
made_workdir=0
if [ -z "$workdir" ]; then
    workdir=$(mktemp -d /var/tmp/ezshm-check-image.XXXXXX)
    made_workdir=1
fi
mkdir -p "$workdir"
if [ -e "$workdir/build" ] || [ -e "$workdir/runtime" ]; then
    die "$workdir already holds chroots"
fi
mounted=()

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount -l "${mounted[$i]}" 2>/dev/null || true
    done
    if [ "$keep" -eq 0 ]; then
        # Only what this script created; mounts are already detached (umount -l).
        rm -rf --one-file-system "$workdir/build" "$workdir/runtime" \
            "$workdir/build.debootstrap.log" "$workdir/runtime.debootstrap.log"
        [ "$made_workdir" -eq 0 ] || rmdir "$workdir" 2>/dev/null || true
    else
        log "chroots kept in $workdir"
    fi
}
trap cleanup EXIT

make_root() {  # make_root DIR SUITE
    local root=$1 suite=$2
    log "debootstrap $suite -> $root"
    debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$root.debootstrap.log" 2>&1 \
        || { tail -n 20 "$root.debootstrap.log" >&2; die "debootstrap $suite failed"; }
    # Same sources as the debian:<suite> images: release, updates, security.
    cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb http://deb.debian.org/debian-security $suite-security main
EOF
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    mount -t proc proc "$root/proc" && mounted+=("$root/proc")
    mount --bind /dev "$root/dev" && mounted+=("$root/dev")
}

in_root() {  # in_root DIR COMMAND...   (runs under /bin/sh -c, like a Dockerfile RUN)
    local root=$1; shift
    chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root DEBIAN_FRONTEND=noninteractive /bin/sh -c "$*"
}

apt_install() {  # apt_install DIR PACKAGES
    in_root "$1" "apt-get update -qq && apt-get install -y -qq --no-install-recommends $2 >/dev/null"
}

# ---------------------------------------------------------------- build stage
build_root=$workdir/build
make_root "$build_root" "$build_suite"
apt_install "$build_root" "$build_packages" || fail "installing BUILD_PACKAGES"
mkdir -p "$build_root/src"
tar -C "$src" --exclude='./build*' --exclude='./.git' -cf - . | tar -C "$build_root/src" -xf -
log "building"
while IFS= read -r step; do
    [ -n "$step" ] || continue
    in_root "$build_root" "cd /src && $step" || fail "build step failed: $step"
done <<<"$steps"
[ -d "$build_root/staging/usr/local/bin" ] || fail "nothing installed under /staging/usr/local"

# ---------------------------------------------------------------- runtime stage
run_root=$workdir/runtime
make_root "$run_root" "$runtime_suite"
apt_install "$run_root" "$runtime_packages" || fail "installing RUNTIME_PACKAGES"
cp -a "$build_root/staging/usr/local/." "$run_root/usr/local/"
in_root "$run_root" ldconfig

status=0
check() {  # check LABEL COMMAND
    local label=$1; shift
    local out
    if out=$(in_root "$run_root" "$*" 2>&1); then
        log "ok:   $label"
    else
        log "FAIL: $label"; printf '%s\n' "$out" | sed 's/^/    /' >&2; status=1
    fi
}
check "ezshmd --version" "ezshmd --version"
check "ezshm-ctl --help" "ezshm-ctl --help"
for f in "$run_root"/usr/local/bin/* "$run_root"/usr/local/lib/libezshm.so*; do
    [ -e "$f" ] || continue
    rel=${f#"$run_root"}
    out=$(in_root "$run_root" "ldd $rel" 2>&1) || true
    if printf '%s\n' "$out" | grep -q "not found"; then
        log "FAIL: ldd $rel"; printf '%s\n' "$out" | grep "not found" | sed 's/^/    /' >&2; status=1
    else
        log "ok:   ldd $rel"
    fi
done

if [ "$status" -eq 0 ]; then
    log "runtime image is complete"
else
    log "runtime image is missing something"
fi
exit "$status"
