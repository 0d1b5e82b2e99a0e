#!/usr/bin/env bash
# Soak (not in CI): a realistic rig load for MINUTES (default 30) — ezshm-pub at 30 kHz x 256 ch
# int16 in 1 ms chunks (30 frames, 1000 msg/s, 15.4 MB/s) with the counter pattern and seq,
# ezshmd with a 2 s ring, a reader (ezshm-stress read --keep) verifying every frame's counter,
# and a settings change every minute (buf_dur 2 <-> 3: a declared ring rebuild). Every 10 s
# ezshmd's RSS is sampled. Verdict: zero corrupt or misplaced frames, counters consistent
# (received = written, nothing dropped, no seq gap), private memory flat (RssAnon growth after the first sixth of the run
# under 1 MiB). Needs a build: EZSHM_BIN (default build/bin). Writes the log to $SOAK_LOG.
#   tests/soak/soak.sh [MINUTES]
set -u
minutes=${1:-30}
here="$(cd "$(dirname "$0")" && pwd)"
bin="${EZSHM_BIN:-$here/../../build/bin}"
log="${SOAK_LOG:-/tmp/ezshm-soak-$$.log}"
shm="$(mktemp -d /dev/shm/ezshm-soak-XXXXXX)"
sock="$(mktemp -d)"
export EZSHM_SHM_DIR="$shm"
data="ipc://$sock/data" ctl="ipc://$sock/ctl"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$shm" "$sock"; }
trap cleanup EXIT
say() { echo "$(date -u +%H:%M:%S) $*" | tee -a "$log"; }
status() { "$bin/ezshm-ctl" --endpoint "$ctl" --json status; }
field() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin)['status']; print($1)"; }

"$bin/ezshmd" --sub-bind "$data" --control "$ctl" --shmem-name soak --buf-dur 2 --log-level warning \
    2>>"$log" &
daemon=$!; pids+=("$daemon")
sleep 1
"$bin/ezshm-pub" --connect "$data" --fs 30000 --channels 256 --chunk 30 --dtype int16 --pattern counter \
    --seq --quiet 2>>"$log" &
pids+=($!)
seconds=$((minutes * 60))
"$bin/ezshm-stress" read soak --seconds "$seconds" --wait 10 --keep >"$sock/reader.out" 2>"$sock/reader.err" &
reader=$!; pids+=("$reader")

say "soak: $minutes min, ezshmd pid $daemon"
rss=()
for ((t = 10; t <= seconds; t += 10)); do
    sleep 10
    rss+=("$(awk '/RssAnon/ {print $2}' "/proc/$daemon/status")")
    if ((t % 60 == 0)); then
        dur=$(( (t / 60) % 2 == 0 ? 2 : 3 ))
        "$bin/ezshm-ctl" --endpoint "$ctl" set buf_dur="$dur" >/dev/null
        say "t=${t}s rss_anon=${rss[-1]} kB buf_dur=$dur $(status | field '"frames=%d written=%d dropped=%d seq_gaps=%d resets=%d" % tuple(d["counters"][k] for k in ("frames","written","dropped","seq_gaps","ring_resets"))')"
    fi
done
wait "$reader"; reader_rc=$?
final=$(status)
say "reader: $(cat "$sock/reader.out") (exit $reader_rc)"
sed 's/^/reader: /' "$sock/reader.err" | head -20 | tee -a "$log"
received=$(echo "$final" | field 'd["counters"]["received"]')
written=$(echo "$final" | field 'd["counters"]["written"]')
dropped=$(echo "$final" | field 'd["counters"]["dropped"]')
gaps=$(echo "$final" | field 'd["counters"]["seq_gaps"]')
# Baseline after a sixth of the run (allocator and ZeroMQ buffers warm up in the first minutes).
warm=$(( ${#rss[@]} / 6 > 6 ? ${#rss[@]} / 6 : 6 ))
first=${rss[$warm]:-${rss[0]}}
peak=$(printf '%s\n' "${rss[@]:$warm}" | sort -n | tail -1)
growth=$((peak - first))
say "counters: received $received written $written dropped $dropped seq_gaps $gaps; RssAnon after warm-up ${first} kB, peak ${peak:-$first} kB, growth ${growth} kB"
ok=1
[ "$reader_rc" -eq 0 ] || { say "FAIL: reader saw corrupt or misplaced frames"; ok=0; }
[ "$received" -eq "$written" ] && [ "$dropped" -eq 0 ] && [ "$gaps" -eq 0 ] || { say "FAIL: counters"; ok=0; }
[ "$growth" -lt 1024 ] || { say "FAIL: RSS grew ${growth} kB"; ok=0; }
[ "$ok" -eq 1 ] && say "VERDICT: PASS" || say "VERDICT: FAIL"
[ "$ok" -eq 1 ]
