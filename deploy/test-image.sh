#!/usr/bin/env bash
# test-image.sh — build the real image from deploy/Dockerfile with podman and check it with
# real containers. `./dev.sh test` (CI) runs it last.
#
# Usage (as root; needs podman, runc, debootstrap and a Debian mirror):
#   deploy/test-image.sh
#
# What it checks (each line printed as ok/FAIL):
#   build     `podman build --format docker` of deploy/Dockerfile, unchanged, context = the
#             repository; the base images debian:bookworm and debian:bookworm-slim are one
#             debootstrap minbase root (deploy/debian-rootfs.sh) imported locally, since no
#             registry is used (--pull=never).
#   image     HEALTHCHECK, USER 10001:10001, ENTRYPOINT ezshmd, STOPSIGNAL SIGTERM; no compiler
#             and no -dev package in the runtime image.
#   ingest    ezshmd (--network none: loopback only) fed by ezshm-pub in a second container
#             sharing its network namespace over tcp://127.0.0.1:5555 (ezmsg format, counter
#             pattern: every channel of frame i holds i).
#   read      a reader container sharing ezshmd's IPC namespace as uid 10002 / gid 10001 reads
#             the newest 50 frames with ezshm-mirror: 8 equal channels, consecutive counters;
#             the segments carry the image's EZSHM_SHM_MODE, owned by 10001:10001; a reader
#             outside the group (10003:10003) is refused.
#   health    `podman healthcheck run` is healthy while ingesting.
#   control   ezshm-ctl in a third container sets buf_dur=4: the reader sees generation 1 and
#             shape [4000, 8], and consecutive counters again.
#   stop      `podman stop` exits 0, ezshmd's exit code is 0 (not killed), and the IPC
#             namespace's /dev/shm is empty afterwards.
#   kube      `podman kube play` of deploy/k8s/ezshm-pod.yaml (the image swapped in, network
#             none): the pod starts, ezshm-web's /readyz and /healthz answer 200 from inside
#             the pod and its /metrics lists both streams; `kube play --down` tears it down.
#
# Podman runs with its own configuration (written to a temporary directory, passed through
# CONTAINERS_CONF / CONTAINERS_STORAGE_CONF; the machine's is left untouched):
# runtime runc (crun fails on hybrid-cgroup hosts), no default ulimits (setting
# RLIMIT_NOFILE fails in some sandboxes), cgroupfs, file events, and a private image store
# that keeps the base images and build layers between runs. Containers are removed on exit,
# whatever happens; untagged images of earlier runs are pruned.
# Environment: EZSHM_IMAGE_STORE, the private store (default /var/lib/ezshm-test-image;
# remove it to start cold); EZSHM_ROOTFS_CACHE, EZSHM_ROOTFS_MAX_AGE, EZSHM_DEBIAN_MIRROR
# (see deploy/debian-rootfs.sh).
#
# Exit status: 0 every check passed; 1 a check failed; 2 environment problem (not root,
# podman/runc/debootstrap missing, base root or build failed).
# shellcheck disable=SC2015,SC2016  # `ok` never fails, so `test && ok || fail` is an if/else;
#                                    the single-quoted $ are for dpkg-query and the container's sh
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/.." && pwd)
image=localhost/ezshm:test
prefix=ezshm-test-$$
started=$SECONDS

die() { echo "test-image: $*" >&2; exit 2; }
log() { echo "test-image: $*"; }
status=0
ok() { echo "test-image: ok:   $*"; }
fail() { echo "test-image: FAIL: $*"; status=1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (podman, debootstrap)"
for tool in podman runc debootstrap flock timeout; do
    command -v "$tool" >/dev/null || die "missing $tool (./dev.sh deps installs it)"
done

tarball=$("$here/debian-rootfs.sh") || die "no Debian root for the base images"
store=${EZSHM_IMAGE_STORE:-/var/lib/ezshm-test-image}
mkdir -p "$store"
work=$(mktemp -d /tmp/ezshm-test-image.XXXXXX)
cat >"$work/containers.conf" <<'EOF'
[containers]
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
cat >"$work/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$store/storage"
runroot = "/run/ezshm-test-image-$(printf %s "$store" | md5sum | cut -c1-8)"
EOF
export CONTAINERS_CONF=$work/containers.conf CONTAINERS_STORAGE_CONF=$work/storage.conf

# pm SECONDS ARGS...: podman, bounded in time. The healthcheck timer needs systemd, which a
# CI machine or a chroot may lack; its complaint is noise here (we run the check by hand).
pm() {
    local bound=$1 rc=0; shift
    timeout "$bound" podman "$@" 2>"$work/stderr" || rc=$?
    grep -v "unable to get systemd connection" "$work/stderr" >&2 || true
    return "$rc"
}

# Every container this script starts carries this label, so that the ones a killed run left
# behind are found and removed too.
label=org.ezshm.test-image
# shellcheck disable=SC2317  # invoked by the EXIT trap and before the first container
remove_containers() {
    local c
    for c in $(timeout 60 podman ps -aq --filter "label=$label" 2>/dev/null); do
        # --depend: the containers sharing its namespaces go first.
        timeout 60 podman rm -f -t 5 --depend "$c" >/dev/null 2>&1 || true
    done
}
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    trap '' INT TERM HUP   # a second signal must not cut the cleanup short (each step is bounded)
    remove_containers
    [ ! -f "$work/pod.yaml" ] || timeout 120 podman kube play --down "$work/pod.yaml" >/dev/null 2>&1 || true
    # Untagged leftovers of earlier builds; the current image and its layers stay cached.
    timeout 120 podman image prune -f >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 2' INT TERM HUP   # so that the EXIT trap cleans up after a signal too
exec 9>"$store/lock"
flock -w 1800 9 || die "timed out waiting for another test-image.sh ($store/lock)"
trap 'echo "test-image: FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR
remove_containers

# ------------------------------------------------------------------------- base images
# Re-imported only when the root tarball changed, so the build layers stay cached.
stamp=$(stat -c %Y "$tarball")
have=$(pm 30 image inspect --format '{{index .Config.Labels "org.ezshm.rootfs"}}' debian:bookworm 2>/dev/null || true)
if [ "$have" != "$stamp" ]; then
    log "importing $tarball as debian:bookworm and debian:bookworm-slim"
    pm 300 import -q --change "LABEL=org.ezshm.rootfs=$stamp" --change 'CMD ["bash"]' \
        "$tarball" debian:bookworm >/dev/null || die "podman import failed"
    pm 30 tag debian:bookworm debian:bookworm-slim || die "podman tag failed"
fi

# ------------------------------------------------------------------------------- build
log "building $image from deploy/Dockerfile"
t0=$SECONDS
# The build stage is tagged too: untagged, the cleanup's prune would drop its layers (the
# final image does not descend from them) and every run would reinstall the compiler.
for target in "--target=build -t $image-build" "-t $image"; do
    # shellcheck disable=SC2086  # $target is two options
    if ! pm 1500 build --pull=never --format docker --network=host -f "$src/deploy/Dockerfile" $target "$src" \
            >>"$work/build.log" 2>&1; then
        tail -n 30 "$work/build.log" >&2
        die "podman build failed"
    fi
done
log "built in $((SECONDS - t0)) s"

inspect() { pm 30 image inspect --format "$1" "$image"; }
[ "$(inspect '{{json .Config.Healthcheck.Test}}')" = '["CMD","ezshm-ctl","--endpoint","tcp://127.0.0.1:5560","health"]' ] \
    && ok "HEALTHCHECK kept (ezshm-ctl health)" || fail "HEALTHCHECK: $(inspect '{{json .Config.Healthcheck}}')"
[ "$(inspect '{{.Config.User}}')" = "10001:10001" ] && ok "USER 10001:10001" || fail "USER $(inspect '{{.Config.User}}')"
[ "$(inspect '{{json .Config.Entrypoint}}')" = '["ezshmd"]' ] && ok "ENTRYPOINT ezshmd" || fail "ENTRYPOINT"
[ "$(inspect '{{.Config.StopSignal}}')" = "SIGTERM" ] && ok "STOPSIGNAL SIGTERM" || fail "STOPSIGNAL"
shm_mode=$(inspect '{{range .Config.Env}}{{println .}}{{end}}' | sed -n 's/^EZSHM_SHM_MODE=0*//p')
[ -n "$shm_mode" ] || fail "no EZSHM_SHM_MODE in the image's environment"

# A tool container: the image with another entrypoint and no healthcheck (it probes ezshmd).
tool() { local bound=$1 entry=$2; shift 2; pm "$bound" run --rm --label "$label" --no-healthcheck --entrypoint "$entry" "$@"; }

# Runtime image: no compiler, no -dev package.
packages=$(tool 60 dpkg-query "$image" -W -f '${Package}\n')
dev=$(grep -E -- '-dev$' <<<"$packages" || true)
compilers=$(tool 60 sh "$image" -c 'for c in cc gcc c++ g++ clang cpp ld as make cmake; do command -v $c; done' || true)
[ -n "$packages" ] && [ -z "$dev" ] && [ -z "$compilers" ] \
    && ok "runtime image: $(wc -l <<<"$packages") packages, no -dev package, no compiler" \
    || fail "runtime image has: ${dev//$'\n'/ } ${compilers//$'\n'/ }"

# ---------------------------------------------------------------------------- ingest
daemon=$prefix-ezshmd
pm 60 run -d --name "$daemon" --label "$label" --network none --ipc shareable --shm-size 64m --health-interval disable \
    -e EZSHM_SUB=tcp://127.0.0.1:5555 -e EZSHM_SHMEM_NAME=ci -e EZSHM_BUF_DUR=2 -e EZSHM_LOG_LEVEL=info \
    "$image" >/dev/null || die "cannot start ezshmd"
pm 60 run -d --name "$prefix-rig" --label "$label" --network "container:$daemon" --no-healthcheck --entrypoint ezshm-pub "$image" \
    --bind tcp://127.0.0.1:5555 --fs 1000 --channels 8 --dtype int32 --chunk 20 --format ezmsg \
    --pattern counter --quiet >/dev/null || die "cannot start ezshm-pub"
# The reader stays up (sleeping) so that /dev/shm can be inspected after ezshmd stops.
reader=$prefix-reader
pm 60 run -d --name "$reader" --label "$label" --ipc "container:$daemon" --user 10002:10001 --no-healthcheck \
    --entrypoint sleep "$image" infinity >/dev/null || die "cannot start the reader"

# check_frames LABEL: the newest 50 frames hold 8 equal channels and consecutive counters.
check_frames() {
    local csv verdict
    csv=$(pm 30 exec "$reader" ezshm-mirror --wait 10 --dump csv --latest 50 ci) || { fail "$1: ezshm-mirror --dump failed"; return; }
    verdict=$(awk -F, '
        NF != 8 { print "row " NR " has " NF " columns"; exit }
        { for (c = 2; c <= NF; c++) if ($c != $1) { print "row " NR ": channels differ: " $0; exit } }
        NR > 1 && $1 != prev + 1 { print "row " NR ": " $1 " after " prev; exit }
        { prev = $1; n++ }
        END { if (n != 50) print n + 0 " rows"; else if (prev < 50) print "counter " prev }' <<<"$csv")
    [ -z "$verdict" ] && ok "$1: 50 frames × 8 channels, consecutive counters up to $(tail -n 1 <<<"$csv" | cut -d, -f1)" \
        || fail "$1: $verdict"
}
# header_of: the reader's view of the header (ezshm-mirror NAME prints it, then rates until SIGINT).
header_of() { pm 30 exec "$reader" timeout -s INT 1 ezshm-mirror --wait 10 ci || true; }

sleep 2
check_frames "reader 10002:10001"
# Every segment carries shm_mode but the wake segment (docs/shm-layout.md §11): waiting readers
# count themselves in it, so it is writable wherever shm_mode grants read (0640 → 0660).
wake=$(python3 -c 'import base64, hashlib; print("sm_" + base64.urlsafe_b64encode(hashlib.sha256(b"ci/wake0").digest()).decode()[:20])')
wake_mode=$(printf '%o' $(( 8#$shm_mode | ((8#$shm_mode & 8#044) >> 1) )))
modes=$(pm 30 exec "$reader" sh -c 'stat -c "%n %a %u:%g" /dev/shm/*' \
        | awk -v wake="/dev/shm/$wake" -v m="$shm_mode" -v w="$wake_mode" \
              '{ want = ($1 == wake ? w : m) " 10001:10001"; if ($2 " " $3 != want) print $0 " (expected " want ")" }')
[ -z "$modes" ] && ok "segments: mode $shm_mode (wake segment $wake_mode), owner 10001:10001" \
    || fail "segments: ${modes//$'\n'/; }"
out=$(tool 30 ezshm-mirror --ipc "container:$daemon" --user 10003:10003 "$image" --dump csv --latest 1 ci 2>&1) \
    && fail "a reader outside group 10001 read the ring" \
    || { grep -q "permission denied" <<<"$out" && ok "reader 10003:10003 (not in the group): refused" \
         || fail "reader 10003:10003: $out"; }

# ---------------------------------------------------------------------------- health
if out=$(pm 30 healthcheck run "$daemon" 2>&1); then
    ok "podman healthcheck run: healthy while ingesting"
else
    fail "podman healthcheck run: $out"
fi

# --------------------------------------------------------------------------- control
out=$(tool 30 ezshm-ctl --network "container:$daemon" "$image" --endpoint tcp://127.0.0.1:5560 set buf_dur=4 2>&1) \
    && ok "ezshm-ctl set buf_dur=4 (third container): ${out%%$'\n'*}" || fail "ezshm-ctl set buf_dur=4: $out"
sleep 1
header=$(header_of)
grep -q "^generation: 1$" <<<"$header" && grep -q "^shape: \[4000, 8\]$" <<<"$header" \
    && ok "reader sees the new ring: generation 1, shape [4000, 8]" || fail "reader after buf_dur=4: $header"
check_frames "reader after the rebuild"

# ------------------------------------------------------------------------------ stop
if pm 60 stop -t 10 "$daemon" >/dev/null; then ok "podman stop exits 0"; else fail "podman stop failed"; fi
code=$(pm 30 inspect --format '{{.State.ExitCode}}' "$daemon")
[ "$code" = 0 ] && ok "ezshmd exit code 0 (stopped by SIGTERM, not killed)" || fail "ezshmd exit code $code"
left=$(pm 30 exec "$reader" ls -A /dev/shm)
[ -z "$left" ] && ok "no segment left in the IPC namespace's /dev/shm" || fail "segments left: $left"
pm 30 logs "$daemon" 2>&1 | grep -q "unlinking segments" || fail "ezshmd did not log its shutdown"

# ------------------------------------------------------------------------------ kube
# deploy/k8s/ezshm-pod.yaml played for real with the image (podman kube play, loopback-only
# network): the pod starts, ezshm-web's probe endpoints answer from inside the pod, its
# /metrics lists the manifest's two streams, then the pod is torn down. Two things podman
# does not do as Kubernetes does are left out of the copy played: port mappings (refused
# without a container network: ezshm-web's `ports:` go, its probes name the port by number)
# and fsGroup (podman's emptyDir stays root's, so ezshmd, uid 10001, could not create its
# segments: the /dev/shm mounts go, the pod's own shared /dev/shm serves instead).
t1=$SECONDS
sed -e "s#image: ezshm:0.1.0#image: $image#" -e '/^          ports:$/,+2d' -e 's/port: http$/port: 8080/' \
    -e '/^            - name: dshm$/,+1d' "$src/deploy/k8s/ezshm-pod.yaml" >"$work/pod.yaml"
kube_get() {   # kube_get PATH: the HTTP answer of ezshm-web inside the pod, read with bash's /dev/tcp
    pm 30 exec ezshmd-pod-0-ezshm-web bash -c "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET $1 HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3" 2>/dev/null
}
if pm 300 kube play --network none "$work/pod.yaml" >"$work/kube.log" 2>&1; then
    ok "podman kube play deploy/k8s/ezshm-pod.yaml: the pod starts"
    ready=""
    for _ in $(seq 60); do
        ready=$(kube_get /readyz | head -1 || true)   # the container may still be starting
        case $ready in *" 200 "*) break ;; esac
        sleep 1
    done
    case $ready in *" 200 "*) ok "kube: ezshm-web /readyz 200 (ezshmd ingesting)" ;; *) fail "kube: /readyz: $ready" ;; esac
    kube_get /healthz | head -1 | grep -q " 200 " && ok "kube: ezshm-web /healthz 200" || fail "kube: /healthz"
    metrics=$(kube_get /metrics || true)
    grep -q 'ezshm_stream_frames_total{daemon="tcp://127.0.0.1:5560",stream="demo"}' <<<"$metrics" \
        && grep -q 'ezshm_stream_frames_total{daemon="tcp://127.0.0.1:5560",stream="acc"}' <<<"$metrics" \
        && ok "kube: ezshm-web /metrics lists the streams demo and acc" || fail "kube: /metrics: $(head -c 300 <<<"$metrics")"
    pm 120 kube play --down "$work/pod.yaml" >/dev/null 2>&1 && ok "kube: pod torn down" || fail "podman kube play --down"
else
    fail "podman kube play: $(tail -n 5 "$work/kube.log")"
fi
log "kube play checked in $((SECONDS - t1)) s"

if [ "$status" -eq 0 ]; then
    log "PASS: image built and checked with real containers in $((SECONDS - started)) s"
else
    log "FAIL (ezshmd log follows)"
    pm 30 logs "$daemon" 2>&1 | tail -n 20 | sed 's/^/    /'
fi
exit "$status"
