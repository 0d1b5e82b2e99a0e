#!/usr/bin/env bash
# cmake --install into a temporary prefix, then a program built only from the installed
# headers and ezshm.pc (pkg-config) writes a ring and reads it back; the installed
# executables run from the prefix and the man pages are in place.
set -u
build="${EZSHM_BUILD_DIR:?EZSHM_BUILD_DIR must name the build folder}"
work="$(mktemp -d)"
shm="$(mktemp -d /dev/shm/ezshm-install-XXXXXX)"
trap 'rm -rf "$work" "$shm"' EXIT
pass=0 fail=0
check() { if eval "$2"; then echo "ok   $1"; pass=$((pass + 1)); else echo "FAIL $1"; fail=$((fail + 1)); fi; }

cmake --install "$build" --prefix "$work/prefix" >/dev/null
libdir=$(ls -d "$work"/prefix/lib*/pkgconfig | head -n 1)
check "ezshm.pc installed" '[ -f "$libdir/ezshm.pc" ]'
check "headers installed" '[ -f "$work/prefix/include/ezshm.h" ] && [ -f "$work/prefix/include/ezshm_mirror.h" ]'
check "man pages installed" '[ -f "$work/prefix/share/man/man8/ezshmd.8" ] && [ -f "$work/prefix/share/man/man1/ezshm-mirror.1" ] && [ -f "$work/prefix/share/man/man1/ezshm-web.1" ]'
check "Python clock reader installed" '[ -f "$work/prefix/share/doc/ezshm/examples/ezshm_clock.py" ]'
for exe in ezshmd ezshm-pub ezshm-ctl ezshm-mirror ezshm-web; do
    check "$exe runs from the prefix" '"$work/prefix/bin/$exe" --version | grep -q "0\."'
done

cat > "$work/consumer.c" <<'C'
#include <ezshm.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
    ezshm_writer_t *w;
    if (ezshm_writer_new("install-check", NULL, &w) != EZSHM_OK) return 1;
    uint64_t frame_shape[1] = {2};
    ezshm_ring_spec_t spec = {.dtype = 'f', .srate = 100.0, .n_frames = 10, .frame_ndim = 1,
                              .frame_shape = frame_shape, .key = "k", .key_len = 1};
    float frames[4][2] = {{1, 2}, {3, 4}, {5, 6}, {7, 8}};
    if (ezshm_writer_configure(w, &spec) != EZSHM_OK || ezshm_writer_write(w, frames, 4) != EZSHM_OK) return 2;
    ezshm_mirror_t *m;
    float out[3][2];
    uint64_t got = 0;
    if (ezshm_mirror_new("install-check", &m) != EZSHM_OK || ezshm_mirror_attach(m) != EZSHM_OK
        || ezshm_mirror_latest(m, out, 3, &got) != EZSHM_OK || got != 3) return 3;
    int ok = memcmp(out, frames[1], sizeof out) == 0;
    ezshm_mirror_destroy(&m);
    ezshm_writer_destroy(&w);
    printf("%s\n", ok ? "roundtrip ok" : "roundtrip mismatch");
    return ok ? 0 : 4;
}
C
flags=$(PKG_CONFIG_PATH="$libdir" pkg-config --cflags --libs ezshm)
# A sanitizer build installs an instrumented library: its consumer must link the runtime too.
if ldd "${libdir%/pkgconfig}/libezshm.so" | grep -q libasan; then
    flags="$flags -fsanitize=address,undefined"
fi
check "a consumer compiles against the installed headers and ezshm.pc" \
    'cc -std=c11 -Wall -Werror "$work/consumer.c" -o "$work/consumer" $flags -Wl,-rpath,"${libdir%/pkgconfig}"'
check "the consumer writes and reads a ring through the installed library" \
    'EZSHM_SHM_DIR="$shm" "$work/consumer" | grep -q "roundtrip ok"'
check "ezshm.pc resolves its prefix to the install prefix" \
    '[ "$(readlink -f "$(PKG_CONFIG_PATH="$libdir" pkg-config --variable=prefix ezshm)")" = "$(readlink -f "$work/prefix")" ]'
# Debian's multiarch libdir is one level deeper: the .pc must climb one ".." more.
if [ -n "${EZSHM_SOURCE_DIR:-}" ] && cmake -S "$EZSHM_SOURCE_DIR" -B "$work/multiarch" -DEZSHM_TESTS=OFF \
        -DCMAKE_INSTALL_LIBDIR=lib/x86_64-linux-gnu >/dev/null 2>&1; then
    mkdir -p "$work/ma/lib/x86_64-linux-gnu/pkgconfig"
    cp "$work/multiarch/ezshm.pc" "$work/ma/lib/x86_64-linux-gnu/pkgconfig/"
    check "ezshm.pc under a multiarch libdir resolves prefix and libdir" \
        '[ "$(readlink -f "$(PKG_CONFIG_PATH="$work/ma/lib/x86_64-linux-gnu/pkgconfig" pkg-config --variable=libdir ezshm)")" = "$(readlink -f "$work/ma/lib/x86_64-linux-gnu")" ]'
else
    check "a multiarch configure of the source tree" 'false'
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
