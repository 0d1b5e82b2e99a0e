#!/usr/bin/env bash
# bench/run.sh — ezshm's benchmark suite against the raw ceiling (docs/benchmarks.md).
#
#   bench/run.sh [--quick] [--smoke] [--runs N] [--only LIST] [--bin DIR] [--raw FILE]
#
#   --quick      5 runs, shorter runs, rig load 5 s (default: 5 runs, full counts, rig 30 s)
#   --smoke      CI: one run of everything at tiny counts (~ seconds); checks, never timings
#   --runs N     runs per figure (>= 5 for published numbers)
#   --only LIST  comma list of sections: throughput,latency,rebuild,rig,wait,clock,mirror,syscalls,
#                meta,streams,storm,wire
#   --sizes LIST throughput payloads, a comma list of 2KiB,32KiB,1MiB (default: all three)
#   --senders L  throughput senders, a comma list of pub,fast (default: both)
#   --bin DIR    where ezshmd, ezshm-pub, ezshm-ctl, ezshm-bench are (default: $EZSHM_BIN,
#                else build-bench/bin, else build/bin)
#   --raw FILE   also keep every raw result line in FILE
#
# Prints markdown tables: median [min–max] of the runs, and every comparison as the median of
# per-run ratios, the two sides measured alternately (A B A B) in the same run so background
# load cancels. Exit status 1 when any frame-count check failed (a lost frame is a failure,
# never a speed); the last line is "CHECKS: PASS (n runs)" or "CHECKS: FAIL (...)".
set -u
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"

cmdline="$0 $*"
runs=5 quick=0 smoke=0 only="throughput,latency,rebuild,rig,wait,clock,mirror,syscalls,meta,streams,storm,wire" bin="${EZSHM_BIN:-}" rawout=""
size_list="2KiB,32KiB,1MiB" sender_list="pub,fast"
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1 ;;
        --smoke) smoke=1 ;;
        --runs) runs="$2"; shift ;;
        --only) only="$2"; shift ;;
        --sizes) size_list="$2"; shift ;;
        --senders) sender_list="$2"; shift ;;
        --bin) bin="$2"; shift ;;
        --raw) rawout="$2"; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown option $1" >&2; exit 64 ;;
    esac
    shift
done
if [ -z "$bin" ]; then
    for d in "$root/build-bench/bin" "$root/build/bin"; do
        [ -x "$d/ezshm-bench" ] && { bin="$d"; break; }
    done
fi
for p in ezshmd ezshm-pub ezshm-ctl ezshm-bench; do
    [ -x "$bin/$p" ] || { echo "run.sh: $bin/$p not found (build with add_subdirectory(bench), or --bin)" >&2; exit 2; }
done
[ "$smoke" = 1 ] && runs=1
# Debian's python3 (json only here): a pyenv shim ahead of it on PATH costs 0.4 s a call, and
# the streams and storm sections read every stream's status through it.
python3() { /usr/bin/python3 "$@"; }
has() { case ",$only," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

work="$(mktemp -d /tmp/ezshm-bench-XXXXXX)"
export EZSHM_SHM_DIR="$(mktemp -d /dev/shm/ezshm-bench-XXXXXX)"
results="$work/results.txt"
: >"$results"
pids=()
cleanup() {
    for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
    rm -rf "$work" "$EZSHM_SHM_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

seq_id=0
endpoint() {   # transport -> a fresh endpoint
    seq_id=$((seq_id + 1))
    if [ "$1" = ipc ]; then echo "ipc://$work/ep$seq_id"
    else echo "tcp://127.0.0.1:$((20000 + (RANDOM * 7 + seq_id) % 30000))"; fi
}
record() { echo "$*" >>"$results"; }

# wait_ready FILE PID: until the receiver PID printed "ready" into FILE. Returns 1, saying why,
# when it exited first or 30 s passed (a receiver that never binds must not hang the suite).
wait_ready() {
    for _ in $(seq 3000); do
        grep -q ready "$1" 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || break
        sleep 0.01
    done
    echo "run.sh: receiver $2 did not get ready: $(tr '\n' ' ' <"$1" 2>/dev/null)" >&2
    kill "$2" 2>/dev/null
    return 1
}

# Extra arguments of ezshmd and of the senders (the metadata section sets them).
ezshmd_args=() send_args=()
# Starts ezshmd bound to $1 with stream $2 and buf_dur $3; sets dpid and dctl. With
# ezshmd_clock=0 it runs without the clock segment (EZSHM_CLOCK=0).
ezshmd_clock=1
start_ezshmd() {
    dctl="ipc://$work/ctl$seq_id"
    EZSHM_CLOCK="$ezshmd_clock" "$bin/ezshmd" --sub-bind "$1" --shmem-name "$2" --buf-dur "$3" --rcvhwm 0 --control "$dctl" \
        --log-level error "${ezshmd_args[@]}" >>"$work/ezshmd.log" 2>&1 &
    dpid=$!; pids+=("$dpid")
    for _ in $(seq 100); do
        "$bin/ezshm-ctl" --endpoint "$dctl" --timeout 0.2 health >/dev/null 2>&1; [ $? -ne 2 ] && return 0
        sleep 0.05
    done
    echo "run.sh: ezshmd did not come up" >&2; return 1
}
stop_ezshmd() { kill "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null; }
ctl_counters() {   # frames dropped received
    "$bin/ezshm-ctl" --endpoint "$dctl" --json status 2>/dev/null | python3 -c '
import json, sys
try:
    c = json.load(sys.stdin)["status"]["counters"]; print(int(c["frames"]), int(c["dropped"]), int(c["received"]))
except Exception:
    print("-1 -1 -1")'
}

# send SENDER FORMAT ENDPOINT FRAMES CHANNELS COUNT
send() {
    if [ "$1" = pub ]; then
        "$bin/ezshm-pub" --connect "$3" --fs 1000 --chunk "$4" --channels "$5" --rate 0 --count "$6" \
            --sndhwm 0 --linger 10000 --quiet --pattern counter --format "$2" "${send_args[@]}"
    else
        "$bin/ezshm-bench" send --connect "$3" --mode "$2" --frames "$4" --channels "$5" --count "$6" \
            "${send_args[@]}" 2>/dev/null
    fi
}

# ---- 1. ingest throughput --------------------------------------------------------------------
# size label, frames, channels; counts per (sender, format) scaled by $scale.
sizes=()
for s in "2KiB 64 8" "32KiB 64 128" "1MiB 1000 256"; do
    case ",$size_list," in *",${s%% *},"*) sizes+=("$s") ;; esac
done
count_for() {   # label sender format
    local n
    case "$1/$2/$3" in
        2KiB/pub/native) n=100000 ;;  2KiB/pub/ezmsg) n=50000 ;;
        2KiB/fast/native) n=300000 ;; 2KiB/fast/ezmsg) n=200000 ;;
        32KiB/pub/native) n=20000 ;;  32KiB/pub/ezmsg) n=5000 ;;
        32KiB/fast/native) n=50000 ;; 32KiB/fast/ezmsg) n=20000 ;;
        1MiB/pub/native) n=1000 ;;    1MiB/pub/ezmsg) n=200 ;;
        1MiB/fast/native) n=2000 ;;   1MiB/fast/ezmsg) n=400 ;;
    esac
    if [ "$smoke" = 1 ]; then n=$((n / 100)); [ "$n" -lt 20 ] && n=20
    elif [ "$quick" = 1 ]; then n=$((n / 2)); fi
    echo "$n"
}
BUF_DUR=10   # ring = 10 s at fs 1000: 2KiB 320 KB, 32KiB 5 MB, 1MiB 10 MB (ceiling: the same bytes)

# format ezmsg: the JSON ceiling (ezmsg messages received, their decoded size memcpy'd), rx=ceiling_json.
tp_ceiling() {   # label frames channels transport sender rep [format [section]]
    local ep n out cout fmt="${7:-native}" sec="${8:-tp}" rx=ceiling
    [ "$fmt" = ezmsg ] && rx=ceiling_json
    ep="$(endpoint "$4")"; n="$(count_for "$1" "$5" "$fmt")"
    rm -f "$work/pos"
    "$bin/ezshm-bench" ceiling --bind "$ep" --frame-bytes $(($3 * 4)) --frames "$2" --mode "$fmt" \
        --ring-frames $((BUF_DUR * 1000)) --count "$n" --warmup 1 --timeout 30 --pos-file "$work/pos" >"$work/c.out" &
    local cp=$!; pids+=("$cp")
    if ! wait_ready "$work/c.out" "$cp"; then
        record "section=$sec size=$1 tr=$4 sender=$5 rx=$rx rep=$6 n=$n bench=ceiling ok=0 reason=not_ready"
        return
    fi
    # The same observer as for ezshmd times it: polls the landed position every 100 us.
    "$bin/ezshm-bench" watch --pos-file "$work/pos" --frame-bytes $(($3 * 4)) --frames "$2" --count "$n" \
        --warmup 1 --timeout 30 >"$work/w.out" &
    local wp=$!; pids+=("$wp")
    send "$5" "$fmt" "$ep" "$2" "$3" 1 && send "$5" "$fmt" "$ep" "$2" "$3" "$n"
    wait "$cp"; wait "$wp"
    cout="$(grep '^bench=' "$work/c.out")"
    out="$(grep '^bench=' "$work/w.out")"
    # ok only when the ceiling itself counted every message too.
    case "$cout" in *ok=1*) ;; *) out="${out/ok=1/ok=0 reason=ceiling_count}" ;; esac
    record "section=$sec size=$1 tr=$4 sender=$5 rx=$rx rep=$6 n=$n ${out/bench=watch/bench=ceiling} self_msg_per_s=$(sed -n 's/.*msg_per_s=\([0-9.]*\).*/\1/p' <<<"$cout")"
}

tp_ezshmd() {   # label frames channels transport sender rep format [section]
    local ep n out name; ep="$(endpoint "$4")"; n="$(count_for "$1" "$5" "$7")"; name="bench-$$-$seq_id"
    start_ezshmd "$ep" "$name" "$BUF_DUR" || return
    "$bin/ezshm-bench" watch --name "$name" --frames "$2" --count "$n" --warmup 1 --timeout 30 >"$work/w.out" &
    local wp=$!; pids+=("$wp")
    send "$5" "$7" "$ep" "$2" "$3" 1 && send "$5" "$7" "$ep" "$2" "$3" "$n"
    wait "$wp"
    out="$(grep '^bench=' "$work/w.out")"
    read -r frames dropped received <<<"$(ctl_counters)"
    # The daemon's own counters must agree: every frame sent (warm-up included) written, no drop.
    if [ "$frames" != "$(( (n + 1) * $2 ))" ] || [ "$dropped" != 0 ]; then
        out="${out/ok=1/ok=0 reason=ctl_counters}"
    fi
    record "section=${8:-tp} clock=$ezshmd_clock size=$1 tr=$4 sender=$5 rx=$7 rep=$6 n=$n ctl_frames=$frames ctl_dropped=$dropped meta=${#send_args[@]}${#ezshmd_args[@]} $out"
    stop_ezshmd
}

# --smoke: one size, one transport, the fast sender (a few seconds in all).
transports="ipc tcp"; senders="${sender_list//,/ }"
if [ "$smoke" = 1 ]; then sizes=("2KiB 64 8"); transports="ipc"; senders="fast"; fi
if has throughput; then
    for s in "${sizes[@]}"; do
        set -- $s
        for tr in $transports; do
            for snd in $senders; do
                for rep in $(seq "$runs"); do   # A B C A B C ...
                    tp_ceiling "$1" "$2" "$3" "$tr" "$snd" "$rep"
                    tp_ezshmd "$1" "$2" "$3" "$tr" "$snd" "$rep" native
                    tp_ezshmd "$1" "$2" "$3" "$tr" "$snd" "$rep" ezmsg
                done
            done
        done
    done
fi

# ---- 2. latency and 5. rebuild -----------------------------------------------------------------
lat_count=3000; [ "$quick" = 1 ] && lat_count=1500; [ "$smoke" = 1 ] && lat_count=100
if has latency; then
    for tr in $transports; do
        for rep in $(seq "$runs"); do
            for mode in raw raw-spin; do   # a blocking receiver (the ceiling's loop), a spinning one
                ep="$(endpoint "$tr")"
                out="$("$bin/ezshm-bench" latency --mode "$mode" --bind "$ep" --connect "$ep" --count "$lat_count" \
                       --rate 1000 --frames 64 --channels 8 --timeout 30)"
                record "section=lat tr=$tr rx=$mode rep=$rep $out"
            done
            # A mirror spinning on the position, then one asleep in ezshm_mirror_wait.
            for mode in shm shm-wait; do
                ep="$(endpoint "$tr")"; name="bench-$$-$seq_id"
                start_ezshmd "$ep" "$name" 1 || continue
                out="$("$bin/ezshm-bench" latency --mode "$mode" --name "$name" --connect "$ep" --count "$lat_count" \
                       --rate 1000 --frames 64 --channels 8 --timeout 30)"
                record "section=lat tr=$tr rx=$mode rep=$rep $out"
                stop_ezshmd
            done
        done
    done
fi
if has rebuild; then
    reb_count=400; [ "$smoke" = 1 ] && reb_count=100
    bds="1 10"; [ "$smoke" = 1 ] && bds=1
    for bd in $bds; do   # ring 64000 frames (2 MB) / 640000 frames (20 MB) of 64x8 float32
        for rep in $(seq "$runs"); do
            ep="$(endpoint ipc)"; name="bench-$$-$seq_id"
            start_ezshmd "$ep" "$name" "$bd" || continue
            out="$("$bin/ezshm-bench" latency --mode shm --name "$name" --connect "$ep" --count "$reb_count" \
                   --change-at $((reb_count / 2)) --rate 1000 --frames 64 --channels 8 --timeout 30)"
            record "section=rebuild buf_dur=$bd rep=$rep $out"
            stop_ezshmd
        done
    done
fi

# ---- 3. rig load CPU ------------------------------------------------------------------------
rig_secs=30; [ "$quick" = 1 ] && rig_secs=5; [ "$smoke" = 1 ] && rig_secs=1
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz="$(getconf CLK_TCK)"
msgs=$(( (rig_secs + 2) * 1000 ))
rig_pub() {   # endpoint [format]
    "$bin/ezshm-pub" --connect "$1" --fs 30000 --channels 256 --dtype int16 --chunk 30 --count "$msgs" \
        --sndhwm 0 --quiet --pattern counter --format "${2:-native}" &
    pp=$!; pids+=("$pp")
}
cpu_window() {   # pid -> CPU % of one core over rig_secs, after 1.3 s (the sender waits for the subscription, then warms up)
    sleep 1.3
    local c0 t0 c1 t1
    c0="$(cpu_ticks "$1")"; t0="$(date +%s.%N)"
    sleep "$rig_secs"
    c1="$(cpu_ticks "$1")"; t1="$(date +%s.%N)"
    awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" -v hz="$hz" 'BEGIN{printf "%.3f", (b-a)/hz/(t1-t0)*100}'
}
# One rep of the rig-load pair: the raw ceiling (JSON ceiling for ezmsg), then ezshmd.
rig_pair() {   # rep format section
    local rx=ceiling; [ "$2" = ezmsg ] && rx=ceiling_json
    ep="$(endpoint ipc)"
    "$bin/ezshm-bench" ceiling --bind "$ep" --frame-bytes 512 --frames 30 --ring-frames 300000 \
        --count "$msgs" --timeout 30 --mode "$2" >"$work/c.out" &
    cp=$!; pids+=("$cp")
    if ! wait_ready "$work/c.out" "$cp"; then
        record "section=$3 rx=$rx rep=$1 bench=rig ok=0 reason=not_ready"
        return
    fi
    rig_pub "$ep" "$2"
    cpu="$(cpu_window "$cp")"
    wait "$pp"; wait "$cp"
    ok=0; grep -q 'ok=1' "$work/c.out" && ok=1
    record "section=$3 rx=$rx rep=$1 bench=rig ok=$ok cpu_pct=$cpu secs=$rig_secs"

    ep="$(endpoint ipc)"; name="bench-$$-$seq_id"
    start_ezshmd "$ep" "$name" 10 || return
    rig_pub "$ep" "$2"
    cpu="$(cpu_window "$dpid")"
    wait "$pp"; sleep 0.2
    read -r frames dropped received <<<"$(ctl_counters)"
    ok=1; [ "$frames" = "$((msgs * 30))" ] && [ "$dropped" = 0 ] || ok=0
    record "section=$3 rx=ezshmd rep=$1 bench=rig ok=$ok cpu_pct=$cpu frames=$frames expected=$((msgs * 30)) dropped=$dropped secs=$rig_secs"
    stop_ezshmd
}
if has rig; then
    for rep in $(seq "$runs"); do   # ceiling, ezshmd, ceiling, ezshmd ...
        # The raw ceiling under the same load: what libzmq alone costs at 1000 msg/s.
        rig_pair "$rep" native rig
    done
fi

# ---- W. the ezmsg wire: JSON + base64 against its own ceiling (issue 24) ----------------------
# Per size and rep, in turn over ipc with the fast sender: the native ceiling, the JSON ceiling
# (ezmsg messages received, their decoded size memcpy'd), ezshmd native, ezshmd JSON; then ezshmd
# JSON fed by ezshm-pub (2 and 32 KiB: how fast the publisher's encoder offers the format).
# The base64 paths against memcpy (ezshm-bench base64) at the three payload sizes, and the rig
# load sent in the ezmsg format (ezshm-pub --format ezmsg): ezshmd's CPU against the JSON ceiling's.
if has wire; then
    for s in "${sizes[@]}"; do
        set -- $s
        for rep in $(seq "$runs"); do
            # --smoke: the JSON pair only (section 1 runs the native one).
            [ "$smoke" = 1 ] || tp_ceiling "$1" "$2" "$3" ipc fast "$rep" native wire
            tp_ceiling "$1" "$2" "$3" ipc fast "$rep" ezmsg wire
            [ "$smoke" = 1 ] || tp_ezshmd "$1" "$2" "$3" ipc fast "$rep" native wire
            tp_ezshmd "$1" "$2" "$3" ipc fast "$rep" ezmsg wire
            [ "$1" = 1MiB ] || [ "$smoke" = 1 ] || tp_ezshmd "$1" "$2" "$3" ipc pub "$rep" ezmsg wire
        done
    done
    # --smoke: one span, and no rig pair (the rig section runs its machinery).
    spans="2048 32768 1048576"; [ "$smoke" = 1 ] && spans=2048
    for span in $spans; do
        "$bin/ezshm-bench" base64 --span-bytes "$span" --runs "$runs" | while read -r line; do
            record "section=b64 rep=$(sed -n 's/.* run=\([0-9]*\).*/\1/p' <<<"$line") $line"
        done
    done
    for rep in $(seq "$runs"); do
        [ "$smoke" = 1 ] || rig_pair "$rep" ezmsg wirerig
    done
fi

# ---- 9. many streams: one ezshmd vs 64 single-stream ezshmd vs the ceiling (issue 16) ---------
# 64 topics x 1000 msg/s x [64 time x 8 ch] float32 (2 KiB native), 64 000 msg/s from one
# paced sender (ezshm-bench multisend). CPU of the receiving side over a window of steady
# traffic (after the rings exist): one ezshmd routing all 64 topics; 64 ezshmd, one topic
# each (their CPU summed; the sender's PUB filters per subscriber, so each gets its topic
# only); the raw ceiling (one bare SUB socket, every message memcpy'd into one ring).
# Frames landed: every frame of every topic, checked per stream.
ms_secs=12; [ "$quick" = 1 ] && ms_secs=7; [ "$smoke" = 1 ] && ms_secs=1
nstreams=64; [ "$smoke" = 1 ] && nstreams=8
cpu_sum() { local t=0 p; for p in "$@"; do t=$((t + $(cpu_ticks "$p"))); done; echo "$t"; }
# cpu_window_all PIDS...: CPU % of one core, all PIDS together, over ms_secs - 4 s of steady
# load: it starts 2.5 s after the sender (1 s for the subscriptions, then 1.5 s of traffic, so
# every 1 s ring has been written once: its first-touch page faults are not in the window).
# --smoke checks frames, not CPU: a 0.5 s window after 0.5 s.
cpu_warm=2.5 cpu_win=$((ms_secs - 4)); [ "$smoke" = 1 ] && cpu_warm=0.5 cpu_win=0.5
cpu_window_all() {
    sleep "$cpu_warm"
    local c0 t0 c1 t1
    c0="$(cpu_sum "$@")"; t0="$(date +%s.%N)"
    sleep "$cpu_win"
    c1="$(cpu_sum "$@")"; t1="$(date +%s.%N)"
    awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" -v hz="$hz" 'BEGIN{printf "%.3f", (b-a)/hz/(t1-t0)*100}'
}
# stream_frames CTL: "frames dropped" summed over every stream of the daemon at CTL
stream_frames() {
    "$bin/ezshm-ctl" --endpoint "$1" --json status 2>/dev/null | python3 -c '
import json, sys
try:
    st = json.load(sys.stdin)["status"]
    ss = st.get("streams") or [dict(st["stream"], counters=st["counters"])]
    print(sum(int(s["counters"]["frames"]) for s in ss), sum(int(s["counters"]["dropped"]) for s in ss))
except Exception:
    print("-1 -1")'
}
wait_ctl() {   # CTL: until the daemon answers
    for _ in $(seq 100); do
        "$bin/ezshm-ctl" --endpoint "$1" --timeout 0.2 health >/dev/null 2>&1; [ $? -ne 2 ] && return 0
        sleep 0.05
    done
    return 1
}
multisend() {   # ENDPOINTS TOPICS [extra...]: paced 1000 msg/s per topic for ms_secs
    local eps="$1" n="$2"; shift 2
    "$bin/ezshm-bench" multisend --connect "$eps" --topics "$n" --rate "$((n * 1000))" --frames 64 --channels 8 \
        --count "$((ms_secs * 1000))" --timeout 1 "$@" >"$work/ms.out" &
    mpid=$!; pids+=("$mpid")
}
if has streams; then
    hz="$(getconf CLK_TCK)"
    per=$((ms_secs * 1000)); total=$((per * nstreams))
    for rep in $(seq "$runs"); do   # ceiling, one ezshmd, 64 ezshmd; alternating per run
        ep="$(endpoint ipc)"
        "$bin/ezshm-bench" ceiling --bind "$ep" --frame-bytes 32 --frames 64 --ring-frames 64000 \
            --count "$total" --timeout "$((ms_secs + 30))" >"$work/c.out" &
        cp=$!; pids+=("$cp")
        if wait_ready "$work/c.out" "$cp"; then
            multisend "$ep" "$nstreams"
            cpu="$(cpu_window_all "$cp")"
            wait "$mpid"; wait "$cp"
            ok=0; grep -q 'ok=1' "$work/c.out" && ok=1
            record "section=streams rx=ceiling rep=$rep ok=$ok cpu_pct=$cpu msgs=$total rate=$((nstreams * 1000)) $(grep -o 'rate=[0-9]*' "$work/ms.out" | sed 's/rate/sent_rate/')"
        else
            record "section=streams rx=ceiling rep=$rep ok=0 reason=not_ready"
        fi

        ep="ipc://$work/one$rep"; dctl="ipc://$work/onectl$rep"
        "$bin/ezshmd" --sub-bind "$ep" --stream-per-topic "ms$rep-{topic}" --max-streams "$nstreams" --buf-dur 1 \
            --rcvhwm 0 --max-buffer-bytes 4294967296 --control "$dctl" --log-level error >>"$work/ezshmd.log" 2>&1 &
        dpid=$!; pids+=("$dpid")
        if wait_ctl "$dctl"; then
            multisend "$ep" "$nstreams"
            cpu="$(cpu_window_all "$dpid")"
            wait "$mpid"
            for _ in $(seq 100); do read -r frames dropped <<<"$(stream_frames "$dctl")"; [ "$frames" -ge $((total * 64)) ] && break; sleep 0.1; done
            ok=1; [ "$frames" = "$((total * 64))" ] && [ "$dropped" = 0 ] || ok=0
            record "section=streams rx=one rep=$rep ok=$ok cpu_pct=$cpu frames=$frames expected=$((total * 64)) dropped=$dropped rate=$((nstreams * 1000))"
        else
            record "section=streams rx=one rep=$rep ok=0 reason=not_ready"
        fi
        stop_ezshmd

        eps="" dpids=() ctls=()
        for k in $(seq 0 $((nstreams - 1))); do
            ep="ipc://$work/many$rep-$k"; ctl="ipc://$work/manyctl$rep-$k"; topic="$(printf 's%02d' "$k")"
            "$bin/ezshmd" --sub-bind "$ep" --topic "$topic" --shmem-name "ms$rep-single-$topic" --buf-dur 1 --rcvhwm 0 \
                --control "$ctl" --log-level error >>"$work/ezshmd.log" 2>&1 &
            dpids+=($!); pids+=($!); ctls+=("$ctl"); eps="$eps${eps:+,}$ep"
        done
        up=1; for ctl in "${ctls[@]}"; do wait_ctl "$ctl" || up=0; done
        if [ "$up" = 1 ]; then
            multisend "$eps" "$nstreams"
            cpu="$(cpu_window_all "${dpids[@]}")"
            wait "$mpid"; sleep 0.5
            frames=0 dropped=0
            for ctl in "${ctls[@]}"; do
                read -r f d <<<"$(stream_frames "$ctl")"; frames=$((frames + f)); dropped=$((dropped + d))
            done
            ok=1; [ "$frames" = "$((total * 64))" ] && [ "$dropped" = 0 ] || ok=0
            record "section=streams rx=many rep=$rep ok=$ok cpu_pct=$cpu frames=$frames expected=$((total * 64)) dropped=$dropped rate=$((nstreams * 1000))"
        else
            record "section=streams rx=many rep=$rep ok=0 reason=not_ready"
        fi
        for p in "${dpids[@]}"; do kill "$p" 2>/dev/null; done
        for p in "${dpids[@]}"; do wait "$p" 2>/dev/null; done
    done
fi

# ---- 10. rebuild storm on one stream beside 7 at rig load (issue 16) ----------------------------
# One ezshmd, 8 declared streams: 6 background topics at 1000 msg/s (multisend), the latency
# stream "bench" at 1000 msg/s (ezshm-bench latency, shm mode: send -> frame visible), and
# "storm". Quiet: storm silent; storm: its channel count changes every 10 ms (a rebuild per
# message, as far as the rebuild rate limit lets it). The 7 must lose nothing; latency p99 of
# "bench" in both cases, alternating quiet/storm per run.
if has storm; then
    st_count=$((ms_secs * 1000))
    for rep in $(seq "$runs"); do
        for mode in quiet storm; do
            ep="ipc://$work/storm$rep$mode"; dctl="ipc://$work/stormctl$rep$mode"; flags=()
            for k in 0 1 2 3 4 5; do flags+=(--stream "$(printf 's%02d' "$k")=st$rep$mode-s$k"); done
            "$bin/ezshmd" --sub-bind "$ep" "${flags[@]}" --stream "bench=st$rep$mode-bench" \
                --stream "storm=st$rep$mode-storm" --buf-dur 1 --rcvhwm 0 --control "$dctl" --log-level error \
                >>"$work/ezshmd.log" 2>&1 &
            dpid=$!; pids+=("$dpid")
            if ! wait_ctl "$dctl"; then
                record "section=storm mode=$mode rep=$rep ok=0 reason=not_ready"; continue
            fi
            storm=(); [ "$mode" = storm ] && storm=(--storm-every 10)
            multisend "$ep" 6 "${storm[@]}"
            out="$("$bin/ezshm-bench" latency --mode shm --name "st$rep$mode-bench" --connect "$ep" \
                --count "$((st_count - 3000 > 1000 ? st_count - 3000 : 1000))" --rate 1000 --channels 8 --frames 64 \
                --timeout "$((ms_secs + 20))")"
            wait "$mpid"; sleep 0.3
            bg=0 bgd=0
            for k in 0 1 2 3 4 5; do
                "$bin/ezshm-ctl" --endpoint "$dctl" --json --stream "st$rep$mode-s$k" status >"$work/st.json" 2>/dev/null
                read -r f d <<<"$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["status"]["counters"]; print(c["frames"], c["dropped"])' "$work/st.json" 2>/dev/null || echo "-1 -1")"
                bg=$((bg + f)); bgd=$((bgd + d))
            done
            "$bin/ezshm-ctl" --endpoint "$dctl" --json --stream "st$rep$mode-storm" status >"$work/st.json" 2>/dev/null
            rebuilds="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"]["counters"]["ring_resets"])' "$work/st.json" 2>/dev/null || echo -1)"
            ok=1; [ "$bg" = "$((6 * st_count * 64))" ] && [ "$bgd" = 0 ] || ok=0
            case "$out" in *ok=1*) ;; *) ok=0 ;; esac
            record "section=storm mode=$mode rep=$rep ok=$ok bg_frames=$bg bg_expected=$((6 * st_count * 64)) bg_dropped=$bgd storm_rebuilds=$rebuilds ${out#bench=latency mode=shm }"
            stop_ezshmd
        done
    done
fi

# ---- 6. a waiting reader's CPU: idle and at rig load, vs a 1 ms poll loop ---------------------
# Four readers of the same ezshmd stream, each alone for its window (a reader measures itself
# with getrusage), in an order that rotates per rep: wait (every chunk, ezshm_mirror_wait),
# block (10 ms blocks of 300 frames, ezshm_mirror_wait_frames), futex (the floor: sleeps on
# the wake word, reads nothing) and poll (1 ms sleeps); first while the rig publisher runs,
# then with the stream idle. Alone, because side by side they would wake together at every
# chunk and charge each other the contention.
if has wait; then
    # lead: the rig publisher's seconds beyond the four rig windows (1.3 s before them, and each
    # reader's start-up)
    wait_secs=10 idle_secs=5 lead=4; [ "$quick" = 1 ] && wait_secs=5
    [ "$smoke" = 1 ] && wait_secs=1 idle_secs=0.5 lead=2
    readers=(wait:1 block:300 futex:1 poll:1)
    follow_each() {   # stream secs load rep: each reader alone, order rotated by rep
        local i r
        for i in 0 1 2 3; do
            r="${readers[$(( (i + $4) % 4 ))]}"
            "$bin/ezshm-bench" follow --name "$1" --mode "${r%:*}" --frames "${r#*:}" --timeout "$2" \
                >"$work/f.out" || true
            record "section=wait load=$3 rep=$4 $(grep '^bench=' "$work/f.out")"
        done
    }
    for rep in $(seq "$runs"); do
        ep="$(endpoint ipc)"; name="bench-$$-$seq_id"
        start_ezshmd "$ep" "$name" 10 || continue
        msgs=$(( (4 * wait_secs + lead) * 1000 ))
        "$bin/ezshm-pub" --connect "$ep" --fs 30000 --channels 256 --dtype int16 --chunk 30 --count "$msgs" \
            --sndhwm 0 --quiet --pattern counter &
        pp=$!; pids+=("$pp")
        sleep 1.3
        follow_each "$name" "$wait_secs" rig "$rep"
        wait "$pp"; sleep 0.3
        follow_each "$name" "$idle_secs" idle "$rep"
        stop_ezshmd
    done
fi

# ---- 7. the clock segment's cost: native 2 KiB through ezshmd, and decode + ingest in process ---
if has clock; then
    for rep in $(seq "$runs"); do   # with, without / without, with ...
        order="1 0"; [ $((rep % 2)) = 0 ] && order="0 1"
        for ezshmd_clock in $order; do
            tp_ezshmd 2KiB 64 8 ipc fast "$rep" native clockab
        done
    done
    ezshmd_clock=1
    n=1000000; [ "$quick" = 1 ] && n=300000; [ "$smoke" = 1 ] && n=2000
    "$bin/ezshm-bench" ingest --count "$n" --runs "$((runs * 2 + 1))" | while read -r line; do
        record "section=clock $line"
    done
fi

# ---- 4. mirror read bandwidth ------------------------------------------------------------------
if has mirror; then
    spans="1048576 16777216"; [ "$smoke" = 1 ] && spans=1048576
    for span in $spans; do
        "$bin/ezshm-bench" mirror --span-bytes "$span" --runs "$runs" | while read -r line; do
            record "section=mirror $line"
        done
    done
fi

# ---- syscalls per message (strace -c; not a timing) ---------------------------------------------
# strace_start PID: traces PID (all threads) until strace_stop, which sets calls (the total)
# and top (name:calls,... the six most frequent). Not called in a subshell: it waits for strace.
strace_start() { strace -c -f -p "$1" -o "$work/strace.txt" 2>/dev/null & spid=$!; sleep 0.3; }
strace_stop() {
    kill -INT "$spid"; wait "$spid" 2>/dev/null
    calls="$(awk '$NF=="total"{print $4}' "$work/strace.txt")"   # % seconds usecs/call CALLS [errors] total
    top="$(awk 'NR>2 && $1 ~ /^[0-9.]+$/ && $NF!="total" {print $NF":"$4}' "$work/strace.txt" | head -6 | tr '\n' ',')"
    top="${top%,}"
}
if has syscalls && command -v strace >/dev/null && [ "$smoke" = 0 ]; then
    # At saturation: a fast sender, 20 000 messages (one wake-up drains a backlog).
    for fmt in native ezmsg; do
        ep="$(endpoint ipc)"; name="bench-$$-$seq_id"; n=20000
        start_ezshmd "$ep" "$name" 10 || continue
        send fast "$fmt" "$ep" 64 8 1
        strace_start "$dpid"
        send fast "$fmt" "$ep" 64 8 "$n"
        # Stop tracing once all n are in (ezshmd runs slower under strace than the sender).
        for _ in $(seq 600); do
            read -r _ _ received <<<"$(ctl_counters)"; [ "$received" -ge $((n + 1)) ] && break; sleep 0.1
        done
        strace_stop
        record "section=sys load=saturated rx=ezshmd fmt=$fmt n=$n bench=sys ok=1 calls=$calls per_msg=$(awk -v c="$calls" -v n="$n" 'BEGIN{printf "%.3f", c/n}') top=$top"
        stop_ezshmd
    done
    # At rig load: 1000 msg/s, so every message is one wake-up; the ceiling beside ezshmd.
    for rx in ceiling ezshmd; do
        ep="$(endpoint ipc)"; name="bench-$$-$seq_id"; n=6000
        if [ "$rx" = ceiling ]; then
            "$bin/ezshm-bench" ceiling --bind "$ep" --frame-bytes 512 --frames 30 --ring-frames 300000 \
                --count "$n" --timeout 30 >"$work/c.out" &
            rpid=$!; pids+=("$rpid")
            wait_ready "$work/c.out" "$rpid" || continue
        else
            start_ezshmd "$ep" "$name" 10 || continue
            rpid=$dpid
        fi
        "$bin/ezshm-pub" --connect "$ep" --fs 30000 --channels 256 --dtype int16 --chunk 30 --count "$n" \
            --sndhwm 0 --quiet --pattern counter &
        pp=$!; pids+=("$pp")
        sleep 1.5
        t0="$(date +%s.%N)"; strace_start "$rpid"; sleep 2.7; t1="$(date +%s.%N)"
        strace_stop
        wait "$pp"
        # ezshm-pub paces at 1000 msg/s: the traced window saw 1000 × its length messages.
        msgs="$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%d", (b - a) * 1000}')"
        record "section=sys load=rig rx=$rx fmt=native n=$msgs bench=sys ok=1 calls=$calls per_msg=$(awk -v c="$calls" -v n="$msgs" 'BEGIN{printf "%.2f", c/n}') top=$top"
        [ "$rx" = ceiling ] && wait "$rpid" || stop_ezshmd
    done
fi

# ---- 8. stream metadata A/B -------------------------------------------------------------------
# The same ingest as section 1 (2 KiB, ipc, the fast sender: the receiver is measured): without
# metadata (legacy header, no labels), the same labelled messages without metadata (legacy header,
# --labels: a ch axis of labels and a unit in every message) and with it (--header v1, --labels:
# the aux segment published), in turn in each rep so background load cancels.
if has meta; then
    for rep in $(seq "$runs"); do
        for fmt in native ezmsg; do
            # --smoke: only the run that publishes the metadata segment, per format
            if [ "$smoke" = 0 ]; then
                ezshmd_args=() send_args=()
                tp_ezshmd 2KiB 64 8 ipc fast "$rep" "$fmt" meta
                ezshmd_args=() send_args=(--labels)
                tp_ezshmd 2KiB 64 8 ipc fast "$rep" "$fmt" meta
            fi
            ezshmd_args=(--header v1) send_args=(--labels)
            tp_ezshmd 2KiB 64 8 ipc fast "$rep" "$fmt" meta
        done
    done
    ezshmd_args=() send_args=()
fi

[ -n "$rawout" ] && cp "$results" "$rawout"
# ---- tables ------------------------------------------------------------------------------------
python3 - "$results" "$runs" "$quick" "$smoke" "$cmdline" <<'PY'
import re, statistics, subprocess, sys
path, runs, quick, smoke = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4] == "1"
rows = []
for line in open(path):
    d = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
    rows.append(d)

def cpu_model():
    for l in open("/proc/cpuinfo"):
        if l.startswith("model name"):
            return l.split(":", 1)[1].strip()
    return "?"

def f(v, fmt):
    return format(v, fmt)

def mmm(vals, fmt=".0f"):
    if not vals:
        return "—"
    return f"{f(statistics.median(vals), fmt)} [{f(min(vals), fmt)}–{f(max(vals), fmt)}]"

def ratio(a, b, fmt=".2f"):
    r = [x / y for x, y in zip(a, b) if y]
    return mmm(r, fmt) if r else "—"

fails = [r for r in rows if r.get("ok") != "1"]
nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
load = open("/proc/loadavg").read().split()[:3]
print(f"# ezshm benchmarks\n")
print(f"- machine: {nproc} CPUs, {cpu_model()}; load average at the end {' '.join(load)}")
print(f"- command: `{sys.argv[5].strip()}` ({runs} runs per figure; median [min–max])\n")

def sel(**kw):
    return [r for r in rows if all(r.get(k) == v for k, v in kw.items())]

def vals(rs, key):
    return [float(r[key]) for r in rs if r.get("ok") == "1" and key in r]

def paired(section, key, a_kw, b_kw, rep_key="rep"):
    a = {r[rep_key]: float(r[key]) for r in sel(section=section, **a_kw) if r.get("ok") == "1"}
    b = {r[rep_key]: float(r[key]) for r in sel(section=section, **b_kw) if r.get("ok") == "1"}
    common = sorted(set(a) & set(b))
    return [a[k] for k in common], [b[k] for k in common]

if sel(section="tp"):
    print("## 1. Ingest throughput (messages/s; MB/s of payload)\n")
    print("Sender `pub` = `ezshm-pub --rate 0 --pattern counter` (encodes every message), `fast` = "
          "`ezshm-bench send` (one pre-built message resent). Ratio = ezshmd / ceiling of the same rep.\n")
    print("| payload | transport | sender | ceiling msg/s | ezshmd native msg/s | native / ceiling | ezshmd JSON (ezmsg) msg/s | JSON / ceiling | ceiling MB/s | native MB/s | JSON MB/s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for size in ["2KiB", "32KiB", "1MiB"]:
        for tr in ["ipc", "tcp"]:
            for snd in ["pub", "fast"]:
                c = sel(section="tp", size=size, tr=tr, sender=snd, rx="ceiling")
                if not c:
                    continue
                n = sel(section="tp", size=size, tr=tr, sender=snd, rx="native")
                j = sel(section="tp", size=size, tr=tr, sender=snd, rx="ezmsg")
                ca, na = paired("tp", "msg_per_s", dict(size=size, tr=tr, sender=snd, rx="ceiling"),
                                dict(size=size, tr=tr, sender=snd, rx="native"))
                cb, ja = paired("tp", "msg_per_s", dict(size=size, tr=tr, sender=snd, rx="ceiling"),
                                dict(size=size, tr=tr, sender=snd, rx="ezmsg"))
                print(f"| {size} | {tr} | {snd} | {mmm(vals(c,'msg_per_s'))} | {mmm(vals(n,'msg_per_s'))} | "
                      f"{ratio(na, ca)} | {mmm(vals(j,'msg_per_s'))} | {ratio(ja, cb)} | "
                      f"{mmm(vals(c,'MB_per_s'))} | {mmm(vals(n,'MB_per_s'))} | {mmm(vals(j,'MB_per_s'))} |")
    print()

if sel(section="lat"):
    print("## 2. Latency, sender → frame visible (µs), 1000 msg/s of 64×8 float32\n")
    print("Raw receiver `blocking` = a blocking `zmq_msg_recv` (the throughput ceiling's loop; how libzmq's "
          "perf/local_lat measures); `spinning` = `zmq_msg_recv(DONTWAIT)` in a busy loop (no wake-up: the floor). "
          "Δ = ezshmd − raw of the same rep.\n")
    print("| transport | raw receiver | raw p50 | ezshmd→mirror p50 | Δp50 | raw p99 | ezshmd p99 | Δp99 | raw max | ezshmd max |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for tr in ["ipc", "tcp"]:
        for mode, label in [("raw", "blocking"), ("raw-spin", "spinning")]:
            if not sel(section="lat", tr=tr, rx=mode):
                continue
            r50, s50 = paired("lat", "p50_us", dict(tr=tr, rx=mode), dict(tr=tr, rx="shm"))
            r99, s99 = paired("lat", "p99_us", dict(tr=tr, rx=mode), dict(tr=tr, rx="shm"))
            rmx, smx = paired("lat", "max_us", dict(tr=tr, rx=mode), dict(tr=tr, rx="shm"))
            print(f"| {tr} | {label} | {mmm(r50,'.1f')} | {mmm(s50,'.1f')} | {mmm([b-a for a,b in zip(r50,s50)],'.1f')} | "
                  f"{mmm(r99,'.1f')} | {mmm(s99,'.1f')} | {mmm([b-a for a,b in zip(r99,s99)],'.1f')} | "
                  f"{mmm(rmx,'.0f')} | {mmm(smx,'.0f')} |")
    print()
    if sel(section="lat", rx="shm-wait"):
        print("A reader that burns no CPU: the mirror asleep in `ezshm_mirror_wait` (futex on the wake "
              "segment's word), stamped when `ezshm_mirror_read` has returned the frames, beside the "
              "blocking raw receiver of the same rep (goal Δp50 ≤ +10 µs, Δp99 ≤ +30 µs).\n")
        print("| transport | raw blocking p50 | ezshmd→waiting mirror p50 | Δp50 | raw p99 | waiting p99 | Δp99 | raw max | waiting max |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for tr in ["ipc", "tcp"]:
            if not sel(section="lat", tr=tr, rx="shm-wait"):
                continue
            r50, s50 = paired("lat", "p50_us", dict(tr=tr, rx="raw"), dict(tr=tr, rx="shm-wait"))
            r99, s99 = paired("lat", "p99_us", dict(tr=tr, rx="raw"), dict(tr=tr, rx="shm-wait"))
            rmx, smx = paired("lat", "max_us", dict(tr=tr, rx="raw"), dict(tr=tr, rx="shm-wait"))
            print(f"| {tr} | {mmm(r50,'.1f')} | {mmm(s50,'.1f')} | {mmm([b-a for a,b in zip(r50,s50)],'.1f')} | "
                  f"{mmm(r99,'.1f')} | {mmm(s99,'.1f')} | {mmm([b-a for a,b in zip(r99,s99)],'.1f')} | "
                  f"{mmm(rmx,'.0f')} | {mmm(smx,'.0f')} |")
        print()

if sel(section="rebuild"):
    print("## 5. Ring rebuild: shape change → first frame of the new generation visible (µs)\n")
    print("| ring (64×8 float32) | rebuild | normal message p50 (same run) | rebuild / normal |")
    print("| --- | --- | --- | --- |")
    for bd, label in [("1", "64 000 frames, 2 MB"), ("10", "640 000 frames, 20 MB")]:
        if not sel(section="rebuild", buf_dur=bd):
            continue
        rs = [r for r in sel(section="rebuild", buf_dur=bd) if r.get("ok") == "1"]
        rb = [float(r["rebuild_us"]) for r in rs]
        p50 = [float(r["p50_us"]) for r in rs]
        print(f"| {label} | {mmm(rb,'.0f')} | {mmm(p50,'.1f')} | {ratio(rb, p50, '.0f')} |")
    print()

if sel(section="rig"):
    print("## 3. Rig load: 30 kHz × 256 ch int16, 30-frame chunks (1000 msg/s, 15 MB/s)\n")
    rs = sel(section="rig")
    c, e = paired("rig", "cpu_pct", dict(rx="ceiling"), dict(rx="ezshmd"))
    print(f"| CPU % of one core ({rs[0].get('secs')} s windows) | raw ceiling (libzmq SUB + memcpy) | ezshmd | ezshmd / ceiling |")
    print("| --- | --- | --- | --- |")
    print(f"| median [min–max] | {mmm(vals(sel(section='rig', rx='ceiling'),'cpu_pct'),'.2f')} | "
          f"{mmm(vals(sel(section='rig', rx='ezshmd'),'cpu_pct'),'.2f')} | {ratio(e, c)} |\n")

if sel(section="wait"):
    print("## 6. A reader's CPU: asleep in ezshm_mirror_wait vs a 1 ms poll loop (% of one core)\n")
    print("Four readers of the same ezshmd stream, each alone for its window, in an order rotated per run; "
          "the three that read take every frame (`lost` must be 0). wait: `ezshm_mirror_wait` + read, every chunk; block: "
          "`ezshm_mirror_wait_frames(m, 300)` + read, 10 ms blocks; futex: the floor, the anchor's bare futex "
          "reader (sleeps on the wake word, counted a waiter, reads nothing); poll: 1 ms sleeps + read. "
          "rig = 30 kHz × 256 ch int16 in 1 ms chunks, idle = the stream stays, nothing is sent.\n")
    readers = ["wait", "block", "futex", "poll"]
    print("Wake-ups/s = the reader's voluntary context switches (its kernel sleeps) per second.\n")
    print("| load | " + " | ".join(f"{r} CPU %" for r in readers) + " | " + " | ".join(f"{r} wake-ups/s" for r in readers) + " |")
    print("| --- |" + " --- |" * (2 * len(readers)))
    per_s = lambda rs: [float(r["sleeps"]) / float(r["secs"]) for r in rs]
    for load in ["rig", "idle"]:
        got = {m: [r for r in sel(section="wait", load=load, mode=m) if r.get("ok") == "1"] for m in readers}
        if not any(got.values()):
            continue
        print(f"| {load} | " + " | ".join(mmm(vals(got[m], 'cpu_pct'), '.3f') for m in readers) + " | "
              + " | ".join(mmm(per_s(got[m]), '.0f') for m in readers) + " |")
    print()
    wv, fw = paired("wait", "cpu_pct", dict(load="rig", mode="wait"), dict(load="rig", mode="futex"))
    bv, fb = paired("wait", "cpu_pct", dict(load="rig", mode="block"), dict(load="rig", mode="futex"))
    if wv and fw:
        print(f"At rig load, per run: wait / futex floor = {ratio(wv, fw)}; block / futex floor = {ratio(bv, fb)}.\n")

if sel(section="clockab"):
    print("## 7. Cost of the clock segment\n")
    print("Native 2 KiB (64×8 float32) through ezshmd, `fast` sender over ipc, ezshmd with the clock segment "
          "and with `EZSHM_CLOCK=0`, alternating per rep (goal ≥ 0.95):\n")
    a, b = paired("clockab", "msg_per_s", dict(clock="1"), dict(clock="0"))
    print("| with clock msg/s | without msg/s | with / without (per rep) |\n| --- | --- | --- |")
    print(f"| {mmm(a)} | {mmm(b)} | {ratio(a, b, '.3f')} |\n")

if sel(section="clock"):
    print("Decode + ingest alone, in process (no sockets: the clock's share is largest here):\n")
    print("`ezshm-bench ingest`: the same pre-encoded messages (64×8 float32, moving offset and seq) into a "
          "writer with and one without the clock segment, alternating A B / B A (goal ≥ 0.95).\n")
    rs = [r for r in sel(section="clock") if r.get("ok") == "1"]
    a = [float(r["clock_msg_per_s"]) for r in rs]; b = [float(r["noclock_msg_per_s"]) for r in rs]
    print("| with clock msg/s | without msg/s | with / without (per run) |\n| --- | --- | --- |")
    print(f"| {mmm(a,'.0f')} | {mmm(b,'.0f')} | {ratio(a, b, '.3f')} |\n")

if sel(section="mirror"):
    print("## 4. Mirror read bandwidth (GB/s)\n")
    print("| span | ezshm_mirror_read | memcpy of the same bytes | mirror / memcpy |")
    print("| --- | --- | --- | --- |")
    for span in ["1048576", "16777216"]:
        if not sel(section="mirror", span_bytes=span):
            continue
        rs = [r for r in sel(section="mirror", span_bytes=span) if r.get("ok") == "1"]
        a = [float(r["mirror_GBps"]) for r in rs]; b = [float(r["memcpy_GBps"]) for r in rs]
        print(f"| {int(span) >> 20} MiB | {mmm(a,'.2f')} | {mmm(b,'.2f')} | {ratio(a, b)} |")
    print()

if sel(section="sys"):
    print("## Syscalls per message (strace -c -f, all threads; 64×8 float32 saturated, rig load paced)\n")
    print("| load | receiver | format | syscalls / message | top (name:calls) |\n| --- | --- | --- | --- | --- |")
    for r in sel(section="sys"):
        print(f"| {r.get('load','saturated')} | {r.get('rx','ezshmd')} | {r['fmt']} | {r['per_msg']} | "
              f"{r.get('top','').strip(',').replace(',', ', ')} |")
    print()

if sel(section="meta"):
    print("## 8. Stream metadata A/B (2 KiB, ipc, fast sender; messages/s)\n")
    print("Off = legacy header, no labels; labels = legacy header, `ezshm-bench send --labels` (a labelled "
          "`ch` axis and unit in every message); on = the same with `--header v1` (the aux segment "
          "published). Ratios of the same rep.\n")
    print("| format | off msg/s | labels msg/s | on msg/s | on / off | on / labels |\n"
          "| --- | --- | --- | --- | --- | --- |")
    for fmt in ["native", "ezmsg"]:
        off, on = paired("meta", "msg_per_s", dict(rx=fmt, meta="00"), dict(rx=fmt, meta="12"))
        lab, on2 = paired("meta", "msg_per_s", dict(rx=fmt, meta="10"), dict(rx=fmt, meta="12"))
        print(f"| {fmt} | {mmm(off)} | {mmm(lab)} | {mmm(on)} | {ratio(on, off)} | {ratio(on2, lab)} |")
    print()

if sel(section="streams"):
    rs = sel(section="streams")
    rate = float(rs[0].get("rate", "64000"))
    print(f"## 9. Many streams: {int(rate) // 1000} topics × 1000 msg/s × 64×8 float32 ({int(rate)} msg/s)\n")
    print("CPU = all receiving processes together, % of one core over the steady window; "
          "µs/msg = CPU seconds per message. Ratios are per run.\n")
    print("| receiver | CPU % | µs CPU / message | frames landed |")
    print("| --- | --- | --- | --- |")
    for rx, label in (("ceiling", "raw ceiling (one SUB socket + memcpy)"), ("one", "one ezshmd, a stream per topic"),
                      ("many", "one ezshmd per topic (CPU summed)")):
        cpu = vals(sel(section="streams", rx=rx), "cpu_pct")
        us = [c / 100 / rate * 1e6 for c in cpu]
        landed = [r for r in sel(section="streams", rx=rx)]
        ok = sum(r.get("ok") == "1" for r in landed)
        print(f"| {label} | {mmm(cpu, '.1f')} | {mmm(us, '.2f')} | {ok}/{len(landed)} runs all |")
    c, o = paired("streams", "cpu_pct", dict(rx="ceiling"), dict(rx="one"))
    m, o2 = paired("streams", "cpu_pct", dict(rx="many"), dict(rx="one"))
    print(f"\none ezshmd / ceiling: {ratio(o, c)} (goal ≤ 1.2); one ezshmd / {int(rate) // 1000} ezshmd: "
          f"{ratio(o2, m)} (goal ≤ 1)\n")

if sel(section="storm"):
    print("## 10. Rebuild storm on one stream beside 7 at rig load (latency of one of the 7, µs)\n")
    print("| case | p50 | p99 | max | storm rebuilds | the 7 lost |")
    print("| --- | --- | --- | --- | --- | --- |")
    for mode in ("quiet", "storm"):
        rs = sel(section="storm", mode=mode)
        lost = sum(int(r.get("bg_expected", 0)) - int(r.get("bg_frames", 0)) for r in rs if "bg_frames" in r)
        print(f"| {mode} | {mmm(vals(rs, 'p50_us'), '.1f')} | {mmm(vals(rs, 'p99_us'), '.1f')} | "
              f"{mmm(vals(rs, 'max_us'), '.1f')} | {mmm(vals(rs, 'storm_rebuilds'), '.0f')} | {lost} frames |")
    q, st = paired("storm", "p99_us", dict(mode="quiet"), dict(mode="storm"))
    print(f"\np99 storm / quiet: {ratio(st, q)} (goal ≤ 2)\n")

if sel(section="wire") or sel(section="b64") or sel(section="wirerig"):
    flags = set()
    for l in open("/proc/cpuinfo"):
        if l.startswith("flags"):
            flags = set(l.split(":", 1)[1].split())
            break
    have = " ".join(x for x in ("ssse3", "sse4_1", "avx2", "avx512bw", "avx512vbmi") if x in flags)
    print("## W. The ezmsg wire: JSON + base64 against its ceilings (issue 24)\n")
    print(f"CPU flags: {have or 'none of ssse3 sse4_1 avx2'}. ezshmd's base64 path: the best of them "
          "(`EZSHM_BASE64` unset). ipc, fast sender (`ezshm-bench send`); the JSON ceiling receives the "
          "same ezmsg messages and memcpy's their decoded size. Ratios per rep, then the median.\n")
    print("| payload | native ceiling msg/s | JSON ceiling msg/s | ezshmd native | ezshmd JSON | JSON / native ceiling | "
          "JSON / JSON ceiling | ezshmd JSON MB/s | JSON fed by ezshm-pub msg/s | pub / fast |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for size in ("2KiB", "32KiB", "1MiB"):
        if not sel(section="wire", size=size):
            continue
        w = lambda **kw: sel(section="wire", size=size, **kw)
        c1, j1 = paired("wire", "msg_per_s", dict(size=size, rx="ceiling"), dict(size=size, rx="ezmsg", sender="fast"))
        c2, j2 = paired("wire", "msg_per_s", dict(size=size, rx="ceiling_json"), dict(size=size, rx="ezmsg", sender="fast"))
        f1, p1 = paired("wire", "msg_per_s", dict(size=size, rx="ezmsg", sender="fast"), dict(size=size, rx="ezmsg", sender="pub"))
        print(f"| {size} | {mmm(vals(w(rx='ceiling'), 'msg_per_s'))} | {mmm(vals(w(rx='ceiling_json'), 'msg_per_s'))} | "
              f"{mmm(vals(w(rx='native'), 'msg_per_s'))} | {mmm(vals(w(rx='ezmsg', sender='fast'), 'msg_per_s'))} | "
              f"{ratio(j1, c1)} | {ratio(j2, c2)} | {mmm(vals(w(rx='ezmsg', sender='fast'), 'MB_per_s'))} | "
              f"{mmm(vals(w(rx='ezmsg', sender='pub'), 'msg_per_s'))} | {ratio(p1, f1)} |")
    print("\nGoals: JSON / native ceiling ≥ 0.9 (2 KiB), ≥ 0.8 (32 KiB), ≥ 0.7 (1 MiB); JSON / JSON ceiling ≥ 0.9; "
          "pub / fast ≥ 0.9.\n")
    if sel(section="b64"):
        paths = [p for p in ("scalar", "ssse3", "avx2") if any(f"{p}_dec_GBps" in r for r in sel(section="b64"))]
        print("Base64 (`ezshm-bench base64`: random bytes, GB/s of decoded bytes, one core; memcpy of the decoded size "
              "in the same run):\n")
        print("| bytes | memcpy | " + " | ".join(f"{p} decode | {p} validate | {p} encode" for p in paths)
              + " | best decode / memcpy |")
        print("|" + " --- |" * (2 + 3 * len(paths) + 1))
        for span in sorted({int(r["span_bytes"]) for r in sel(section="b64")}):
            rs = sel(section="b64", span_bytes=str(span))
            cells = [mmm(vals(rs, f"{p}_{op}_GBps"), ".2f") for p in paths for op in ("dec", "val", "enc")]
            best = [float(r[f"{paths[-1]}_dec_GBps"]) for r in rs if r.get("ok") == "1"]
            mem = [float(r["memcpy_GBps"]) for r in rs if r.get("ok") == "1"]
            print(f"| {span} | {mmm(vals(rs, 'memcpy_GBps'), '.2f')} | " + " | ".join(cells) + f" | {ratio(best, mem)} |")
        print()
    if sel(section="wirerig"):
        c, e = paired("wirerig", "cpu_pct", dict(rx="ceiling_json"), dict(rx="ezshmd"))
        rs = sel(section="wirerig")
        print(f"Rig load in the ezmsg format (30 kHz × 256 ch int16, 1 ms chunks, `ezshm-pub --format ezmsg`), "
              f"CPU % of one core ({rs[0].get('secs')} s windows):\n")
        print("| JSON ceiling (libzmq SUB + memcpy) | ezshmd | ezshmd / JSON ceiling (goal ≤ 1.1) |")
        print("| --- | --- | --- |")
        print(f"| {mmm(vals(sel(section='wirerig', rx='ceiling_json'), 'cpu_pct'), '.2f')} | "
              f"{mmm(vals(sel(section='wirerig', rx='ezshmd'), 'cpu_pct'), '.2f')} | {ratio(e, c)} |\n")

if fails:
    print("## Failed checks\n")
    for r in fails:
        print("- " + " ".join(f"{k}={v}" for k, v in r.items()))
    print(f"\nCHECKS: FAIL ({len(fails)} of {len(rows)} runs lost frames or failed)")
    sys.exit(1)
print(f"CHECKS: PASS ({len(rows)} runs, every frame sent landed)")
PY
