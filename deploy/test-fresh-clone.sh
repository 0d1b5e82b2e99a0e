#!/usr/bin/env bash
# test-fresh-clone.sh — the README's two commands on a fresh Debian 12 machine, as a new user
# would run them: a minimal root (debootstrap minbase bookworm), the repository alone cloned
# into it, `./dev.sh run` then `./dev.sh test`, as root on that root (pivot_root).
#
# Usage (as root; needs git, unshare, pivot_root and a Debian mirror; takes 10–20 minutes):
#   deploy/test-fresh-clone.sh [--keep]
#
#   --keep   leave the machine's root in place afterwards (its path is printed)
#
# What it checks:
#   clone      `git clone` of this repository, checked out at HEAD (uncommitted changes are
#              not part of it), is the only thing in the root besides Debian itself.
#   run        `./dev.sh run` on a pseudo-terminal (script -qc): installs what is missing,
#              builds, starts ezshmd + ezshm-pub and the live view. Once the view has drawn
#              EZSHM_FRESH_FRAMES screens showing data (default 20), Ctrl-C is typed; the
#              run must exit 0 and leave /dev/shm empty. Bounded by EZSHM_FRESH_RUN_TIMEOUT
#              seconds (default 1500: the first run installs the packages).
#   test       `./dev.sh test`, bounded by EZSHM_FRESH_TEST_TIMEOUT seconds (default 3600).
# The machine gets private /dev/shm, /tmp and /run (a mount namespace and a PID namespace,
# so nothing it starts outlives it). The debootstrap root comes from deploy/debian-rootfs.sh,
# cached on the host; that cache directory is also mounted at the same place in the machine,
# so the image test in `./dev.sh test` imports the same root instead of bootstrapping again
# (its podman image store is the machine's own: the image is built cold).
# Logs: run.log and test.log in the work directory (printed at the end), last lines echoed.
#
# Exit status: 0 both commands passed; 1 one failed; 2 usage or environment problem.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/.." && pwd)

die() { echo "test-fresh-clone: $*" >&2; exit 2; }
log() { echo "test-fresh-clone: $*"; }

# ------------------------------------------------------- inside the namespaces: one command
# Re-executed by the outer part under unshare: mounts the machine's file systems, makes its
# root the root of the mount namespace, then runs one of the README's commands there
# (arguments: ROOT CACHE run|test).
if [ "${1:-}" = "--in-namespace" ]; then
    root=$2 cache=$3 what=$4
    mount --bind "$root" "$root"
    mount -t proc proc "$root/proc"
    mount --rbind /sys "$root/sys"
    mount --rbind /dev "$root/dev"
    # A private /dev/shm: the segments the machine makes are its own, and visible for the check.
    mount -t tmpfs -o mode=1777,size=512m tmpfs "$root/dev/shm"
    mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
    mount -t tmpfs -o mode=755 tmpfs "$root/run"
    mkdir -p "$root$cache"
    mount --bind "$cache" "$root$cache"
    # pivot_root, not chroot: as on a real machine, / is the namespace's root mount. In a mere
    # chroot, podman cannot remount / private to unpack layers, and `podman exec` (runc
    # entering the container's mount namespace) lands in the namespace's root, not the
    # container's. From here on every path and program is the machine's.
    cd "$root"
    pivot_root . mnt
    umount -l /mnt
    cd /
    in_root() {
        /usr/bin/env -i HOME=/root TERM=xterm LANG=C.UTF-8 \
            PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            EZSHM_ROOTFS_CACHE="$cache" "$@"
    }
    case "$what" in
        test)
            status=0
            in_root /bin/bash -c 'cd /root/ezshm && ./dev.sh test' || status=$?
            exit "$status"
            ;;
        run)
            # The live view runs until Ctrl-C: type it (byte 0x03 into the pty) once the view
            # has drawn enough screens with data, or when the time bound is reached.
            typescript=/tmp/run.typescript
            mkfifo /tmp/keys
            in_root script -qfec "cd /root/ezshm && exec ./dev.sh run" "$typescript" \
                </tmp/keys >/dev/null 2>&1 &
            viewer=$!
            exec 8>/tmp/keys
            # Screens are separated by the clear sequence ESC [ H ESC [ 2 J (an awk regex here).
            clear='\033\\[H\033\\[2J'
            deadline=$((SECONDS + ${EZSHM_FRESH_RUN_TIMEOUT:-1500}))
            screens=0
            while kill -0 "$viewer" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
                screens=$(awk -v RS="$clear" '/ingest [1-9][0-9.]* frames\/s/ && /ch15 / { n++ } END { print n + 0 }' \
                          "$typescript" 2>/dev/null || echo 0)
                [ "$screens" -ge "${EZSHM_FRESH_FRAMES:-20}" ] && break
                sleep 1
            done
            printf '\003' >&8
            status=0
            for _ in $(seq 30); do kill -0 "$viewer" 2>/dev/null || break; sleep 1; done
            kill -0 "$viewer" 2>/dev/null && { kill -KILL "$viewer"; status=1; echo "dev.sh run did not stop on Ctrl-C"; }
            wait "$viewer" || { status=$?; echo "dev.sh run exited $status"; }
            exec 8>&-
            # The typescript holds the whole session; keep the build messages and the last screen.
            tr -d '\r' <"$typescript" | awk -v RS="$clear" '{ last = $0 } NR == 1 { first = $0 } END { print first; print "--- last screen ---"; print last }'
            echo "screens drawn with data (16 channels, frames/s > 0): $screens"
            [ "$screens" -ge "${EZSHM_FRESH_FRAMES:-20}" ] || { echo "too few screens with data"; status=1; }
            left=$(ls -A /dev/shm)
            [ -z "$left" ] || { echo "segments left in /dev/shm: $left"; status=1; }
            exit "$status"
            ;;
    esac
    exit 2
fi

# ------------------------------------------------------------------------------ outside
keep=0
case "${1:-}" in
    "") ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
esac
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, mount, pivot_root)"
for tool in git unshare pivot_root tar; do
    command -v "$tool" >/dev/null || die "missing tool: $tool"
done

tarball=$("$here/debian-rootfs.sh") || die "no Debian root"
cache=$(dirname "$tarball")
work=$(mktemp -d /var/tmp/ezshm-fresh.XXXXXX)
root=$work/root
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    # The mounts died with their namespaces; remove only what this script made.
    if [ "$keep" -eq 0 ]; then
        rm -rf --one-file-system "$root"
    else
        log "machine kept in $root"
    fi
}
trap cleanup EXIT

mkdir "$root"
tar -C "$root" --numeric-owner -xf "$tarball"
cp /etc/resolv.conf "$root/etc/resolv.conf"
commit=$(git -C "$src" rev-parse HEAD)
git clone -q --no-hardlinks "$src" "$root/root/ezshm"
git -C "$root/root/ezshm" checkout -q --detach "$commit"
log "machine: $root (debootstrap minbase bookworm), clone of $commit at /root/ezshm"
[ -z "$(git -C "$src" status --porcelain)" ] || log "note: uncommitted changes in $src are not in the clone"

status=0
step() {  # step run|test BOUND_SECONDS
    local what=$1 bound=$2 rc=0 start=$SECONDS
    log "./dev.sh $what (log: $work/$what.log)"
    timeout -s KILL "$bound" unshare --mount --pid --fork --propagation private \
        "$here/test-fresh-clone.sh" --in-namespace "$root" "$cache" "$what" >"$work/$what.log" 2>&1 || rc=$?
    log "./dev.sh $what: exit $rc after $((SECONDS - start)) s; last lines:"
    tail -n 25 "$work/$what.log" | sed 's/^/    /'
    [ "$rc" -eq 0 ] || status=1
}
step run $((${EZSHM_FRESH_RUN_TIMEOUT:-1500} + 120))
step test "${EZSHM_FRESH_TEST_TIMEOUT:-3600}"
log "logs: $work/run.log $work/test.log"
if [ "$status" -eq 0 ]; then log "PASS: both commands on a fresh clone"; else log "FAIL"; fi
exit "$status"
