#!/usr/bin/env bash
# test_bench_smoke.sh — a few-second smoke run of the benchmark suite (bench/run.sh --smoke):
# every section runs once at tiny counts. It never asserts a timing; it asserts that every
# run's frame-count check passed (frames landed == frames sent, for ezshmd also its own
# status counters, no drop) and that every table was printed.
# Env: EZSHM_BIN (ezshmd, ezshm-pub, ezshm-ctl and ezshm-bench), EZSHM_SOURCE_DIR.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
src="${EZSHM_SOURCE_DIR:-$here/../..}"
bin="${EZSHM_BIN:-$src/build/bin}"
work="$(mktemp -d /tmp/ezshm-bench-smoke-XXXXXX)"
trap 'rm -rf "$work"' EXIT

for p in ezshmd ezshm-pub ezshm-ctl; do
    [ -x "$bin/$p" ] || { echo "VERDICT: FAIL ($bin/$p missing)"; exit 1; }
done
[ -x "$bin/ezshm-bench" ] || { echo "VERDICT: FAIL ($bin/ezshm-bench not built)"; exit 1; }

bash "$src/bench/run.sh" --smoke --bin "$bin" --raw "$work/raw.txt" >"$work/out.md" 2>"$work/err.txt"
rc=$?
cat "$work/out.md"
[ -s "$work/err.txt" ] && sed 's/^/    stderr: /' "$work/err.txt" | head -20

fail=0
if [ "$rc" -ne 0 ]; then echo "FAIL: run.sh exited $rc"; fail=1; fi
if ! grep -q '^CHECKS: PASS' "$work/out.md"; then echo "FAIL: frame-count checks did not pass"; fail=1; fi
# Every section produced results, each with ok=1.
for section in tp lat rebuild rig wait clock clockab mirror wire b64; do
    if ! grep -q "^section=$section " "$work/raw.txt"; then echo "FAIL: no result for section $section"; fail=1; fi
done
if grep -v ' ok=1 ' "$work/raw.txt" | grep -q .; then
    echo "FAIL: runs without ok=1:"; grep -v ' ok=1 ' "$work/raw.txt" | sed 's/^/    /'; fail=1
fi
# The throughput check covered the ceiling and both ezshmd formats.
for rx in ceiling native ezmsg; do
    if ! grep -q "^section=tp .* rx=$rx .* ok=1 landed=" "$work/raw.txt"; then
        echo "FAIL: no passing throughput run for $rx"; fail=1
    fi
done
if ! grep -q "^section=lat .* rx=shm-wait .* ok=1" "$work/raw.txt"; then
    echo "FAIL: no passing latency run of a mirror asleep in ezshm_mirror_wait"; fail=1
fi
for t in "Ingest throughput" "Latency" "A reader that burns no CPU" "Ring rebuild" "Rig load" "A reader's CPU" \
         "Cost of the clock segment" "Mirror read" "The ezmsg wire"; do
    grep -q "$t" "$work/out.md" || { echo "FAIL: table '$t' missing"; fail=1; }
done
if [ "$fail" -ne 0 ]; then echo "VERDICT: FAIL"; exit 1; fi
echo "VERDICT: PASS (benchmark smoke run: every frame sent landed, all tables printed)"
