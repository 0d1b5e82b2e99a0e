#!/usr/bin/env bash
# Builds the libFuzzer harnesses (if needed) and runs each for SECONDS (default 30) on a
# copy of its seed corpus. Exit status 0 only when no harness crashed.
#
#   tests/fuzz/run.sh [SECONDS]
#   EZSHM_FUZZ_BUILD=dir      build directory (default: <repo>/build-fuzz)
#   EZSHM_FUZZ_TARGETS="..."  subset of: fuzz_wire fuzz_base64 fuzz_control fuzz_mirror_header
#                             fuzz_clock fuzz_pickle fuzz_web
#   EZSHM_FUZZ_JOBS=N         harnesses run at the same time (default 1)
#   EZSHM_FUZZ_KEEP=dir       keep the grown corpora and crash files in dir
#   EZSHM_FUZZ_NICE=N         nice level (default 0; use 19 next to a benchmark)
set -u
secs=${1:-30}
case $secs in ''|*[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 64;; esac
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${EZSHM_FUZZ_BUILD:-$root/build-fuzz}
targets=${EZSHM_FUZZ_TARGETS:-fuzz_wire fuzz_base64 fuzz_control fuzz_mirror_header fuzz_clock fuzz_pickle fuzz_web}
jobs=${EZSHM_FUZZ_JOBS:-1}
nicelvl=${EZSHM_FUZZ_NICE:-0}

if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=${CC:-clang} cmake -S "$root" -B "$build" -DEZSHM_FUZZ=ON -DEZSHM_TESTS=OFF \
      -DEZSHM_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo || exit 2
fi
# shellcheck disable=SC2086
cmake --build "$build" -j "$(nproc)" --target $targets || exit 2

work=${EZSHM_FUZZ_KEEP:-$(mktemp -d "${TMPDIR:-/tmp}/ezshm-fuzz.XXXXXX")}
mkdir -p "$work"
[ -n "${EZSHM_FUZZ_KEEP:-}" ] || trap 'rm -rf "$work"' EXIT

# ASan/UBSan: every finding is fatal; leaks count as findings.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

corpus_of() {
  case $1 in
    fuzz_wire) echo wire;;
    fuzz_base64) echo base64;;
    fuzz_control) echo control;;
    fuzz_mirror_header) echo mirror_header;;
    fuzz_clock) echo clock;;
    fuzz_pickle) echo pickle;;
    fuzz_web) echo web;;
  esac
}
max_len_of() {
  case $1 in
    fuzz_wire) echo 65536;;           # several frames of a realistic message
    fuzz_base64) echo 4096;;          # many vector blocks of every width, and every tail
    fuzz_control) echo 16384;;        # one request (the socket allows 1 MiB; parsing is linear)
    fuzz_mirror_header) echo 2048;;   # 8 + 1334-byte v1 header + a few patches
    fuzz_clock) echo 16384;;          # 4 + a clock segment of a 100-frame ring, or patches
    fuzz_pickle) echo 16384;;         # labels of a few hundred channels, attrs
    fuzz_web) echo 16384;;            # a path and a settings body / status reply
  esac
}

run_one() {
  local t=$1 c d log
  c=$(corpus_of "$t")
  d="$work/$t"
  mkdir -p "$d/corpus" "$d/artifacts"
  find "$here/corpus/$c" -maxdepth 1 -type f ! -name '*.md' -exec cp {} "$d/corpus/" \;
  log="$d/log.txt"
  nice -n "$nicelvl" "$build/bin/$t" -max_total_time="$secs" -max_len="$(max_len_of "$t")" \
      -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
      -artifact_prefix="$d/artifacts/" "$d/corpus" >"$log" 2>&1
  local rc=$?
  local execs
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ $rc -eq 0 ]; then
    echo "$t: ok, ${execs:-?} execs in ${secs}s, corpus $(find "$d/corpus" -type f | wc -l) files"
  else
    echo "$t: FAILED (exit $rc), ${execs:-?} execs; artifacts: $(ls "$d/artifacts" 2>/dev/null | tr '\n' ' ')"
    grep -E 'ERROR|SUMMARY|check failed|fuzz_[a-z_]+:' "$log" | head -20
    if [ -z "${EZSHM_FUZZ_KEEP:-}" ]; then
      mkdir -p "$root/build-fuzz-artifacts/$t"
      cp "$d"/artifacts/* "$root/build-fuzz-artifacts/$t/" 2>/dev/null
      echo "  crash inputs copied to $root/build-fuzz-artifacts/$t/"
    else
      echo "  crash inputs in $d/artifacts/"
    fi
  fi
  return $rc
}

status=0
pids=()
names=()
for t in $targets; do
  if [ "$jobs" -gt 1 ]; then
    run_one "$t" & pids+=($!); names+=("$t")
    if [ ${#pids[@]} -ge "$jobs" ]; then
      wait "${pids[0]}" || status=1; pids=("${pids[@]:1}"); names=("${names[@]:1}")
    fi
  else
    run_one "$t" || status=1
  fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
[ $status -eq 0 ] && echo "fuzz: all harnesses ran ${secs}s without a finding" || echo "fuzz: FINDINGS (see above)"
exit $status
