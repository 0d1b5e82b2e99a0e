#!/usr/bin/env bash
# ezshm developer entry point: the README's two commands.
#   ./dev.sh run    install what is missing, build, run ezshmd fed by ezshm-pub, with a live view
#   ./dev.sh test   install what is missing, build, run the whole test suite (normal + ASan/UBSan,
#                   fuzzers, the container image built and run with podman)
#   ./dev.sh build  install what is missing and build into build/
#   ./dev.sh package  install what is missing, build the Debian packages into build/deb/
#   ./dev.sh deps   only install missing Debian packages (those of run and test)
set -euo pipefail
cd "$(dirname "$0")"

# Debian 12 packages: to build, to test, to run the demo (a minbase Debian 12 has the rest:
# deploy/test-fresh-clone.sh checks that on a fresh root). libwebsockets-dev builds ezshm-web;
# prometheus (with promtool) is the real scraper of tests/integration/test_web.py.
PACKAGES=(build-essential cmake pkg-config libzmq3-dev libczmq-dev libcjson-dev libsodium-dev
          libcriterion-dev python3 python3-numpy python3-yaml valgrind clang libclang-rt-14-dev
          groff-base man-db strace libwebsockets-dev prometheus)
# Only for `test`: deploy/test-image.sh builds and runs the image with podman on runc, its
# base image bootstrapped with debootstrap; catatonit is the pod's infra process when it
# plays the Kubernetes manifest (podman kube play).
IMAGE_PACKAGES=(podman runc debootstrap catatonit)
# Only for `test`: tests/integration/test_console_pages.py drives the console's pages in a
# headless Chromium through Selenium.
BROWSER_PACKAGES=(chromium chromium-driver python3-selenium)
# For `package` (dpkg-buildpackage with dh) and the packages' test (lintian; iproute2 brings
# up the loopback of the network namespace its ezshmd runs in).
DEB_PACKAGES=(debhelper lintian iproute2)

deps() {   # deps PACKAGE...
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "dev.sh: installing ${missing[*]}" >&2
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

build() {   # build DIR [cmake args...]
    local dir=$1; shift
    cmake -S . -B "$dir" -DEZSHM_WERROR=ON "$@" >/dev/null
    cmake --build "$dir" -j"$(nproc)" >/dev/null
}

# The Debian packages (debian/) into build/deb/ (or $EZSHM_DEB_DIR), built from a copy of the
# working tree (tracked and untracked files, not the ignored build folders): dpkg-buildpackage
# writes its results next to the source, which must not be the repository's parent.
package() {
    local out=${EZSHM_DEB_DIR:-build/deb} version
    version=$(dpkg-parsechangelog -l debian/changelog -SVersion)
    rm -rf "$out" && mkdir -p "$out/ezshm-$version"
    git ls-files -z --cached --others --exclude-standard | xargs -0 tar --ignore-failed-read -cf - | tar -C "$out/ezshm-$version" -xf -
    (cd "$out/ezshm-$version" && dpkg-buildpackage -us -uc -b -j"$(nproc)") >"$out/build.log" 2>&1 \
        || { tail -n 30 "$out/build.log" >&2; echo "dev.sh: package build failed (log: $out/build.log)" >&2; return 1; }
    ls "$out"/*.deb
}

run_demo() {
    build build
    local sock="ipc:///tmp/ezshm-demo-$$.sock" ctl="ipc:///tmp/ezshm-demo-ctl-$$.sock"
    ./build/bin/ezshmd --sub-bind "$sock" --control "$ctl" --shmem-name demo --buf-dur 10 \
        --log-level warning &
    local daemon=$!
    ./build/bin/ezshm-pub --connect "$sock" --fs 1000 --channels 16 --chunk 20 --pattern sine --labels --quiet &
    local pub=$!
    # The browser console beside it, on loopback: 8080, or the next free port up to 8089
    # (ezshm-web exits at once when it cannot listen).
    local web="" port
    for port in $(seq 8080 8089); do
        ./build/bin/ezshm-web --control "$ctl" --listen "127.0.0.1:$port" --allow-control >/dev/null 2>&1 &
        web=$!
        sleep 0.3
        if kill -0 "$web" 2>/dev/null; then break; fi
        echo "dev.sh: port $port is taken, trying the next one" >&2
        web=""
    done
    # Ctrl-C stops the view; then stop the rig and the daemon (SIGTERM unlinks the segments).
    trap 'kill -TERM $pub $daemon $web 2>/dev/null || true' EXIT
    if [ -n "$web" ]; then
        echo "dev.sh: the console is at http://127.0.0.1:$port/ (open it in a browser; Ctrl-C here stops everything)"
    else
        echo "dev.sh: no free port in 8080-8089: the console is not served" >&2
    fi
    ./build/bin/ezshm-mirror --wait 10 --watch demo || true
    kill -TERM "$pub" "$daemon" ${web:+"$web"} 2>/dev/null || true
    wait "$daemon" 2>/dev/null || true
    trap - EXIT
}

run_tests() {
    build build
    # The image test's Debian root (debootstrap, about a minute of download and unpacking) is
    # fetched while the tests run (not during the build: both would take twice as long);
    # test-image.sh waits on its lock, or fetches it itself if this failed.
    deploy/debian-rootfs.sh >build/debian-rootfs.log 2>&1 &
    local rootfs=$!
    # test_debian_package runs at the end, beside the image test (below).
    (cd build && ctest --output-on-failure -j2 --timeout 300 -E integration.test_debian_package)
    # Integration tests run again under memcheck (ctest -R prefixes), two at a time, then one at
    # a time: the second set's readers keep real time, so the slowed daemon gets a core of its own.
    local memcheck_j2='pipeline|control|curve_sub|watch' memcheck_j1='faults|rebuild_replay|resubscribe'
    echo "dev.sh: the pipeline, control, CURVE and live-view tests again with ezshmd and ezshm-mirror under valgrind memcheck"
    (cd build && EZSHM_VALGRIND=1 ctest --output-on-failure -j2 -R "integration.test_($memcheck_j2)" --timeout 900)
    echo "dev.sh: the fault, replay and resubscription tests with ezshmd under valgrind memcheck, one at a time"
    (cd build && EZSHM_VALGRIND=ezshmd ctest --output-on-failure -j1 -R "integration.test_($memcheck_j1)" --timeout 900)
    echo "dev.sh: again under AddressSanitizer + UndefinedBehaviorSanitizer"
    build build-asan -DEZSHM_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
    # Every unit test and every integration test but those memcheck just ran (their code paths
    # are also in the unit tests and the fuzzers, which are sanitized), the checks of sources,
    # docs and packaging (layering, manpages, deploy files, doc links, install), the benchmark smoke run
    # and the console pages' test (its server is Python; test_console_live drives the sanitized ezshm-web).
    # The cross-process stress runs 3 s a case (4 s above): its five cases still cover every layout.
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        EZSHM_STRESS_SECONDS=3 ctest --output-on-failure -j2 --timeout 300 \
        -E "integration.test_($memcheck_j2|$memcheck_j1|layering|manpages|deploy_files|doc_links|install|bench_smoke|debian_package|console_pages)")
    # The fuzzers run for a fixed time, whatever else runs: the Debian packages are built beside them.
    package >/dev/null &
    local packages=$!
    echo "dev.sh: each libFuzzer harness for ${EZSHM_FUZZ_SECONDS:-10} s (the Debian packages built meanwhile)"
    EZSHM_FUZZ_BUILD=build-fuzz EZSHM_FUZZ_JOBS=2 tests/fuzz/run.sh "${EZSHM_FUZZ_SECONDS:-10}"
    wait "$packages"
    echo "dev.sh: the container image, built from deploy/Dockerfile and run with podman, beside the Debian packages' test"
    wait "$rootfs" || true
    EZSHM_BUILD_DIR=build EZSHM_SOURCE_DIR=$PWD timeout 1500 tests/integration/test_debian_package.sh \
        >build/test_debian_package.log 2>&1 &
    local debian=$!
    local status=0
    deploy/test-image.sh || status=$?
    wait "$debian" || status=$?
    cat build/test_debian_package.log
    return "$status"
}

case "${1:-}" in
    deps)  deps "${PACKAGES[@]}" "${IMAGE_PACKAGES[@]}" "${BROWSER_PACKAGES[@]}" "${DEB_PACKAGES[@]}" ;;
    build) deps "${PACKAGES[@]}"; build build ;;
    package) deps "${PACKAGES[@]}" "${DEB_PACKAGES[@]}"; package ;;
    run)   deps "${PACKAGES[@]}"; run_demo ;;
    test)  deps "${PACKAGES[@]}" "${IMAGE_PACKAGES[@]}" "${BROWSER_PACKAGES[@]}" "${DEB_PACKAGES[@]}"; run_tests ;;
    *) echo "usage: $0 run|test|build|package|deps" >&2; exit 64 ;;
esac
