#!/usr/bin/env bash
# test_debian_package.sh — the Debian packages of debian/ checked as an operator meets them.
#
# Needs root, the packages built by `./dev.sh package` (into $EZSHM_DEB_DIR, default
# $EZSHM_BUILD_DIR/deb; built here if missing), lintian, and the minimal Debian 12 root of
# deploy/debian-rootfs.sh (the one deploy/test-fresh-clone.sh and deploy/test-image.sh use;
# fetched once and cached). APT's lists and downloads are kept in that cache directory too
# (apt/), so a second run downloads nothing new.
#
# On the host:
#   version   debian/changelog carries project(VERSION) of CMakeLists.txt
#   units     ezshmd@.service differs from ezshmd.service only in its config and overrides
#   lintian   no error, no warning (overrides carry their reason in debian/*.lintian-overrides)
#   symbols   libezshm relinked from the package build's objects without one exported symbol
#             fails dpkg-gensymbols against debian/libezshm0.symbols; relinked whole, it passes
# In a fresh copy of the Debian root (chroot, own mount and PID namespaces, private /dev/shm;
# ezshmd runs in a network namespace of its own), with APT's sources Debian's alone:
#   install   `apt-get install ./*.deb` resolves every dependency; the ezshm system user and
#             group, the conffile, the units (systemd-analyze verify), ezshmd.service enabled,
#             ezshm-web.service installed but not enabled
#   run       ezshmd started as its unit would start it (User, Group, UMask, EnvironmentFile,
#             ExecStart read from the installed unit; systemd is not running) fed by ezshm-pub:
#             segments 0640 ezshm:ezshm; ezshm-mirror as a member of group ezshm reads
#             consecutive frames, as a non-member is refused; a C program built with
#             `pkg-config --cflags --libs ezshm` reads the ring; SIGTERM leaves /dev/shm empty
#   remove    `apt-get remove` keeps /etc/ezshm/ezshmd.json
#   purge     `apt-get purge` removes the config and the segments a killed ezshmd left; every
#             file is as before the install (APT's and dpkg's own records aside)
#
# Prints one ok/FAIL line per check, then "N passed, N failed"; exit 1 if a check failed.
# shellcheck disable=SC2016,SC2034,SC2086  # check() evals its single-quoted condition (which
#                                          # reads the variables); $debs, $deps are word lists
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${EZSHM_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
pass=0 fail=0
check() { if eval "$2"; then echo "ok   $1"; pass=$((pass + 1)); else echo "FAIL $1"; fail=$((fail + 1)); fi; }

# ------------------------------------------------------------- inside the fresh root
# Run by chroot in the namespaces set up below; print ok/FAIL lines like check(). The
# install needs the network (Debian's mirror), the rest runs in a network namespace of its
# own: ezshmd binds the default config's ports (5560, 5561) on a loopback no one else uses.
snapshot() {   # every path in the root but the mounts and APT's cache (shared between runs)
    find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /tmp -o -path /run \
        -o -path /var/cache/apt -o -path /var/lib/apt/lists \) -prune -o -print | sort
}

in_root_install() {
    apt_q update
    # Resolution from Debian alone: the simulation lists what apt would take from the mirror.
    # Those packages (and a compiler for the consumer) go in first, so that the snapshot
    # below is the machine just before our packages and the purge can be compared with it.
    sim=$(apt-get install -s --no-install-recommends $debs 2>&1)
    check "apt-get resolves the dependencies of the .debs from Debian's sources alone" \
        '[ $? -eq 0 ] && grep -q "^Inst ezshm " <<<"$sim"'
    deps=$(awk '/^Inst / && $2 !~ /^(ezshm|libezshm0|libezshm-dev)$/ { print $2 }' <<<"$sim")
    apt_q install $deps gcc libc6-dev pkg-config
    snapshot >/tmp/before
    apt_q install $debs
    check "apt-get install ./*.deb installs ezshm, libezshm0 and libezshm-dev" \
        '[ "$(dpkg-query -W -f="\${db:Status-Abbrev}\n" ezshm libezshm0 libezshm-dev | grep -c "^ii")" = 3 ]'

    uid=$(id -u ezshm 2>/dev/null || echo none)
    check "system user ezshm (uid $uid < 1000, group ezshm, nologin)" \
        '[ "$uid" != none ] && [ "$uid" -lt 1000 ] && [ "$(id -gn ezshm)" = ezshm ] && getent passwd ezshm | grep -q ":/usr/sbin/nologin$"'
    check "/etc/ezshm/ezshmd.json is a conffile" \
        'dpkg-query -W -f="\${Conffiles}" ezshm | grep -q " /etc/ezshm/ezshmd.json "'
    check "ezshmd.service enabled by the package" '[ -L /etc/systemd/system/multi-user.target.wants/ezshmd.service ]'
    check "ezshm-web installed, its unit not enabled (the operator's choice)" \
        '[ -x /usr/bin/ezshm-web ] && [ -f /lib/systemd/system/ezshm-web.service ] && ! [ -e /etc/systemd/system/multi-user.target.wants/ezshm-web.service ]'
    for unit in ezshmd.service ezshmd@.service ezshm-web.service; do
        # --man=no: man-db is not installed here (the page itself is: checked below).
        out=$(systemd-analyze verify --man=no "/lib/systemd/system/$unit" 2>&1)
        check "systemd-analyze verify $unit" '[ $? -eq 0 ] && [ -z "$out" ] || { echo "$out"; false; }'
    done
    check "man pages installed" '[ -f /usr/share/man/man8/ezshmd.8.gz ] && [ -f /usr/share/man/man1/ezshm-mirror.1.gz ]'
    score=$(systemd-analyze security --offline=yes /lib/systemd/system/ezshmd.service 2>&1 | sed -n 's/.*Overall exposure level for ezshmd.service: \([0-9.]*\).*/\1/p')
    check "systemd-analyze security --offline=yes ezshmd.service: ${score:-none} (at most 2.0)" \
        '[ -n "$score" ] && awk -v s="$score" "BEGIN { exit !(s <= 2.0) }"'

}

in_root_run() {
    # The unit's own settings, as systemd would apply them.
    unit=/lib/systemd/system/ezshmd.service
    key() { sed -n "s/^$1=//p" "$unit" | tail -n 1; }
    envfile=$(key EnvironmentFile); envfile=${envfile#-}
    echo "EZSHM_LOG_LEVEL=debug" >"$envfile"
    start_daemon() {   # the way ezshmd.service starts it, minus the namespaces systemd would add
        local user
        user=$(key User)
        # shellcheck disable=SC2046  # the environment file's lines and ExecStart's words
        (umask "$(key UMask)"
         exec setpriv --reuid="$user" --regid="$(key Group)" --init-groups --no-new-privs \
             env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
             USER="$user" LOGNAME="$user" HOME=/nonexistent SHELL=/usr/sbin/nologin \
             $(grep -E '^[A-Z_]+=' "$envfile") $(key ExecStart)) >>/tmp/ezshmd.log 2>&1 &
        daemon=$!
    }
    useradd --system --no-create-home --groups ezshm member
    useradd --system --no-create-home outsider
    as() { local who=$1; shift; setpriv --reuid="$who" --regid="$who" --init-groups "$@"; }
    start_daemon
    # The default config subscribes to tcp://127.0.0.1:5555 and routes topic "eeg" to rig1/eeg.
    ezshm-pub --bind tcp://127.0.0.1:5555 --topic eeg --fs 1000 --channels 4 --dtype int32 --chunk 20 \
        --format ezmsg --pattern counter --quiet &
    pub=$!
    # The ring fills at 1000 frames/s from the first message on: wait for 50 frames.
    for _ in $(seq 100); do
        csv=$(as member ezshm-mirror --wait 20 --dump csv --latest 50 rig1/eeg 2>&1)
        [ "$(wc -l <<<"$csv")" -ge 50 ] && break
        sleep 0.2
    done
    verdict=$(awk -F, 'NF != 4 || $1 != $4 { print "row " NR ": " $0; exit }
                       NR > 1 && $1 != prev + 1 { print "row " NR ": " $1 " after " prev; exit }
                       { prev = $1; n++ } END { if (n != 50) print n + 0 " rows" }' <<<"$csv")
    check "ezshm-mirror as a member of group ezshm: 50 consecutive frames" '[ -z "$verdict" ] || { echo "$verdict"; false; }'
    out=$(as outsider ezshm-mirror --dump csv --latest 1 rig1/eeg 2>&1)
    check "ezshm-mirror outside group ezshm: refused" '[ $? -ne 0 ] && grep -q "permission denied" <<<"$out"'
    modes=$(stat -c '%a %U:%G' /dev/shm/* | sort | uniq -c | tr -s ' \n' '  ')
    check "segments 0640 ezshm:ezshm (the wake segment 0660): $modes" \
        '! stat -c "%a %U:%G" /dev/shm/* | grep -qvE "^(640|660) ezshm:ezshm$" && stat -c %a /dev/shm/* | grep -qx 640'
    check "EnvironmentFile applied (debug log)" 'grep -q "debug" /tmp/ezshmd.log'

    cat >/tmp/consumer.c <<'C'
#include <ezshm.h>
#include <stdint.h>
#include <stdio.h>
/* Reads the newest 20 frames of rig1/eeg (4 int32 channels, a counter): equal channels, consecutive. */
int main(void)
{
    ezshm_mirror_t *m;
    int32_t frames[20][4];
    uint64_t got = 0;
    if (ezshm_mirror_new("rig1/eeg", &m) != EZSHM_OK || ezshm_mirror_attach(m) != EZSHM_OK) return 1;
    for (int tries = 0; got < 20 && tries < 100; tries++) {
        if (ezshm_mirror_latest(m, frames, 20, &got) != EZSHM_OK) return 2;
        if (got < 20) (void) ezshm_mirror_wait(m, 100);   /* the stream is ahead of us: rarely taken */
    }
    int ok = got == 20;
    for (int i = 0; ok && i < 20; i++)
        ok = frames[i][0] == frames[i][3] && (i == 0 || frames[i][0] == frames[i - 1][0] + 1);
    ezshm_mirror_destroy(&m);
    printf("%s %d..%d\n", ok ? "consumer ok" : "consumer mismatch", frames[0][0], frames[19][0]);
    return ok ? 0 : 4;
}
C
    check "a C consumer compiles and links with pkg-config --cflags --libs ezshm" \
        'cc -std=c11 -Wall -Werror /tmp/consumer.c -o /tmp/consumer $(pkg-config --cflags --libs ezshm)'
    out=$(as member /tmp/consumer 2>&1)
    check "the consumer reads the ring as a member of group ezshm ($out)" '[ $? -eq 0 ] && grep -q "consumer ok" <<<"$out"'

    kill -TERM "$daemon"; wait "$daemon"; rc=$?
    kill -TERM "$pub"; wait "$pub" 2>/dev/null
    check "SIGTERM: ezshmd exits 0 and leaves /dev/shm empty" '[ "$rc" -eq 0 ] && [ -z "$(ls -A /dev/shm)" ]'

    apt_q remove ezshm libezshm0 libezshm-dev
    check "apt-get remove keeps /etc/ezshm/ezshmd.json" '[ -f /etc/ezshm/ezshmd.json ] && [ ! -e /usr/bin/ezshmd ]'
    # A daemon that died without unlinking (SIGKILL) leaves its segments: purge removes them.
    apt_q install $debs
    start_daemon
    for _ in $(seq 100); do [ -n "$(ls -A /dev/shm)" ] && break; sleep 0.1; done
    kill -KILL "$daemon"; wait "$daemon" 2>/dev/null
    left=$(find /dev/shm -mindepth 1 | wc -l)
    rm -f "$envfile"
    userdel member; userdel outsider
    apt_q purge ezshm libezshm0 libezshm-dev
    check "apt-get purge removes /etc/ezshm and the $left segments a killed ezshmd left" \
        '[ "$left" -gt 0 ] && [ ! -e /etc/ezshm ] && [ -z "$(ls -A /dev/shm)" ]'
    # dpkg's and APT's records, logs and caches change with any install; the ld.so cache with
    # any library; the backups of passwd/group/shadow with any account change (member, outsider).
    snapshot >/tmp/after
    changed=$(diff /tmp/before /tmp/after | sed -n 's/^[<>] //p' \
              | grep -vE '^/var/(lib/dpkg|lib/apt|cache|log)/|^/etc/ld\.so\.cache$|^/etc/(passwd|group|shadow|gshadow|subuid|subgid)-?$')
    check "after purge every file is as before the install ($(wc -l </tmp/before) paths)" '[ -s /tmp/after ] && [ -z "$changed" ] || { echo "$changed"; false; }'
    check "ezshmd's log has no error" '! grep -E " (error|fatal):" /tmp/ezshmd.log'
}

if [ "${1:-}" = "--in-namespace" ]; then
    root=$2 cache=$3
    ip link set lo up
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    mount -t tmpfs -o mode=1777,size=256m tmpfs "$root/dev/shm"
    mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
    mount -t tmpfs -o mode=755 tmpfs "$root/run"
    mkdir -p "$cache/apt/archives/partial" "$cache/apt/lists/partial"
    mount --bind "$cache/apt/archives" "$root/var/cache/apt/archives"
    mount --bind "$cache/apt/lists" "$root/var/lib/apt/lists"
    mkdir "$root/tmp/debs" && cp "$4"/*.deb "$root/tmp/debs/" && rm -f "$root"/tmp/debs/*-dbgsym_*.deb
    status=0
    phase() {   # phase FUNCTION: run it in the root
        { declare -f check snapshot "$1"
          echo 'export DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin'
          echo 'apt_q() { apt-get -q -y -o Dpkg::Use-Pty=0 --no-install-recommends "$@" >>/tmp/apt.log 2>&1; }'
          echo "debs=\$(ls /tmp/debs/*.deb); pass=0 fail=0; $1; [ \"\$fail\" -eq 0 ]"
        } | chroot "$root" /usr/bin/env -i HOME=/root /bin/bash -s
    }
    phase in_root_install || status=$?
    export -f phase check snapshot in_root_run
    export root
    unshare --net bash -c 'ip link set lo up && phase in_root_run' || status=$?
    [ "$status" -eq 0 ] || { echo "--- apt log (tail)"; tail -n 15 "$root/tmp/apt.log"; echo "--- ezshmd log (tail)"; tail -n 15 "$root/tmp/ezshmd.log"; } 2>/dev/null
    exit "$status"
fi

# ------------------------------------------------------------------------ on the host
[ "$(id -u)" -eq 0 ] || { echo "test_debian_package: must run as root (chroot, namespaces)"; exit 1; }
build=${EZSHM_BUILD_DIR:-$src/build}
debs=${EZSHM_DEB_DIR:-$build/deb}
work=$(mktemp -d /var/tmp/ezshm-deb-test.XXXXXX)
trap 'rm -rf --one-file-system "$work"' EXIT

upstream=$(sed -En 's/^project\(ezshm VERSION ([0-9.]+).*/\1/p' "$src/CMakeLists.txt")
changelog=$(dpkg-parsechangelog -l "$src/debian/changelog" -SVersion)
check "debian/changelog version $changelog = project(VERSION) $upstream" '[ -n "$upstream" ] && [ "$changelog" = "$upstream" ]'

# The template may differ from ezshmd.service only in these lines.
unit_body() { sed -n '/^\[Unit\]/,$p' "$1" | grep -vE '^(Description|ExecStart|EnvironmentFile)=|^# Optional overrides'; }
differ=$(diff <(unit_body "$src/deploy/ezshmd.service") <(unit_body "$src/deploy/ezshmd@.service"))
check "ezshmd@.service has ezshmd.service's user and hardening" '[ -z "$differ" ] || { echo "$differ"; false; }'

if ! ls "$debs"/ezshm_*.deb >/dev/null 2>&1; then
    echo "no packages in $debs: building them (./dev.sh package)"
    EZSHM_DEB_DIR=$debs "$src/dev.sh" package >/dev/null || { echo "FAIL package build"; exit 1; }
fi
ezshm_debs=("$debs"/ezshm_*.deb)
version=$(dpkg-deb -f "${ezshm_debs[0]}" Version)
pkgs=("$debs/ezshm_${version}_"*.deb "$debs/libezshm0_${version}_"*.deb "$debs/libezshm-dev_${version}_"*.deb)
check "packages of version $version: ${pkgs[*]##*/}" '[ "$version" = "$changelog" ] && [ -f "${pkgs[2]}" ]'

out=$(lintian --fail-on error,warning "${pkgs[@]}" 2>&1)
check "lintian: no error, no warning" '[ $? -eq 0 ] || { echo "$out"; false; }'

# ------------------------------------------------- the symbols file catches a lost symbol
# The objects of libezshm from the package build, relinked whole and without one symbol;
# dpkg-gensymbols runs in a copy of the package's source tree as dh_makeshlibs runs it, for
# the next version: dpkg lets a symbol vanish in the version that introduced it (0.1.0 here),
# not after that version is out.
tree=$debs/ezshm-$version
objs=("$tree"/obj-*/shm/CMakeFiles/ezshm.dir/*.o)
cp -r "$tree/debian" "$work/" && mkdir -p "$work/src" && mv "$work/debian" "$work/src/"
dropped=$(awk '$1 ~ /@Base$/ { sub(/@Base$/, "", $1); print $1; exit }' "$src/debian/libezshm0.symbols")
relink() {   # relink OUT [VERSION-SCRIPT]
    mkdir -p "$(dirname "$1")"
    cc -shared -Wl,-soname,libezshm.so.0 ${2:+-Wl,--version-script="$2"} -o "$1" "${objs[@]}" -lsodium -lrt -lm
}
gensymbols() {   # gensymbols LIBRARY
    (cd "$work/src" && dpkg-gensymbols -plibezshm0 -Pdebian/libezshm0 -v"$version+next" -c4 \
        -I"$src/debian/libezshm0.symbols" -O"$work/symbols.out" -e"$1")
}
echo "{ global: *; local: $dropped; };" >"$work/drop.map"
check "libezshm relinked from the package's objects: dpkg-gensymbols -c4 passes" \
    '[ -f "${objs[0]}" ] && relink "$work/whole/libezshm.so.0" && gensymbols "$work/whole/libezshm.so.0" >/dev/null 2>&1'
out=$(relink "$work/dropped/libezshm.so.0" "$work/drop.map" && gensymbols "$work/dropped/libezshm.so.0" 2>&1)
check "without $dropped: dpkg-gensymbols fails and names it" '[ $? -ne 0 ] && grep -q "^-  *$dropped@Base" <<<"$out"'

# -------------------------------------------------------------------- the fresh root
tarball=$("$src/deploy/debian-rootfs.sh") || { echo "FAIL no Debian root"; exit 1; }
mkdir "$work/root" && tar -C "$work/root" --numeric-owner -xf "$tarball"
cp /etc/resolv.conf "$work/root/etc/resolv.conf"
unshare --mount --pid --fork --propagation private \
    "$here/test_debian_package.sh" --in-namespace "$work/root" "$(dirname "$tarball")" "$debs" >"$work/root.log" 2>&1
cat "$work/root.log"
pass=$((pass + $(grep -c '^ok ' "$work/root.log")))
fail=$((fail + $(grep -c '^FAIL ' "$work/root.log")))
grep -qE '^(ok|FAIL) .*after purge' "$work/root.log" || { echo "FAIL the checks in the fresh root did not all run"; fail=$((fail + 1)); }
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
