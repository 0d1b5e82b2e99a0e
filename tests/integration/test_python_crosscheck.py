"""test_python_crosscheck.py — our C writer vs an independent Python reader, and a Python
writer (ShMemCircBuff conventions) vs our ezshm-mirror tool; both layouts.
Env: EZSHM_BIN (ezshm-mirror, ezshm-stress), EZSHM_SOURCE_DIR."""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("EZSHM_SOURCE_DIR", os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "python"))
import shm_layout  # noqa: E402

BIN = os.environ.get("EZSHM_BIN", os.path.join(SRC, "build", "bin"))
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def stress_binary(work):
    exe = os.path.join(BIN, "ezshm-stress")
    if not os.access(exe, os.X_OK):
        raise SystemExit(f"FAIL {exe} is not built")
    return exe


def c_writer_python_reader(stress, layout, dtype):
    name = f"xcheck-c-{os.getpid()}-{layout}-{dtype}"
    L, T, E = 100, 250, 3
    p = subprocess.Popen([stress, "write", name, "--ring", str(L), "--chunks", "37,64,1",
                          "--elems", str(E), "--dtype", dtype, "--count", str(T), "--hold", "5",
                          "--layout", layout], stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()   # "writer: N frames" once everything is written
        check(line.strip() == f"writer: {T} frames", f"[C->py {layout} {dtype}] writer finished: {line.strip()}")
        s = shm_layout.read_stream(name)
        check(s["layout"] == layout, f"[C->py {layout} {dtype}] layout {s['layout']}")
        check(s["bvalid"] is True and s["dtype"] == dtype and s["shape"] == (L, E),
              f"[C->py {layout} {dtype}] bvalid/dtype/shape {s['bvalid']} {s['dtype']} {s['shape']}")
        check(s["srate"] == 1000.0 and s["key"] == "stress" and s["generation"] == 0,
              f"[C->py {layout} {dtype}] srate/key/generation")
        check((s["wrap_counter"], s["write_index"]) == (T // L, T % L),
              f"[C->py {layout} {dtype}] counters {s['wrap_counter']},{s['write_index']} (ours: write_index < L)")
        want = np.repeat(np.arange(T - L, T)[:, None], E, axis=1).astype(dtype)
        check(np.array_equal(s["ordered"], want), f"[C->py {layout} {dtype}] ring values = newest {L} frames")
        if layout == "v1":
            check((s["magic"], s["struct_version"], s["meta_generation"], s["aux_nbytes"]) == (0x455A4D53, 1, 0, 0),
                  f"[C->py v1] magic/version/meta_generation/aux_nbytes")
    finally:
        p.terminate()
        p.wait()


def mirror_csv(name, n):
    r = subprocess.run([os.path.join(BIN, "ezshm-mirror"), "--dump", "csv", "--latest", str(n), name],
                       capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout


def python_writer_c_reader(layout):
    # float64 [L x 2]; T = 130 -> wrap 1, index 30
    name = f"xcheck-py-{os.getpid()}-{layout}"
    w = shm_layout.PyWriter(name, layout)
    try:
        rc, out = mirror_csv(name, 3)
        check(rc == 2, f"[py->C {layout}] placeholder header (bvalid 0): exit {rc} (want 2)")
        w.configure("d", 250.0, 100, (2,), "py-key")
        data = np.stack([np.arange(130) + 0.5, -np.arange(130) * 0.25], axis=1)
        w.write(data[:70])
        w.write(data[70:])
        check((w.meta.wrap_counter, w.meta.write_index) == (1, 30), f"[py->C {layout}] python counters 1,30")
        rc, out = mirror_csv(name, 4)
        got = [[float(x) for x in line.split(",")] for line in out.splitlines()]
        check(rc == 0 and got == data[-4:].tolist(), f"[py->C {layout}] csv latest 4 (exact doubles): rc {rc} {out!r}")
        # Python's exactly-full convention: write_index == L, wrap 0.
        w.configure("F", 10.0, 20, (2,), "z")
        z = (np.arange(40) + 1j * (np.arange(40) - 0.5)).astype(np.complex64).reshape(20, 2)
        w.write(z)
        check((w.meta.wrap_counter, w.meta.write_index) == (0, 20), f"[py->C {layout}] write_index == L left by python")
        rc, out = mirror_csv(name, 2)
        want = "36+35.5j,37+36.5j\n38+37.5j,39+38.5j\n"
        check(rc == 0 and out == want, f"[py->C {layout}] complex csv at write_index == L: rc {rc} {out!r}")
        # int16 scalars, several laps
        w.configure("h", 100.0, 7, (), "h")
        w.write(np.arange(-20, 3, dtype=np.int16))
        rc, out = mirror_csv(name, 3)
        check(rc == 0 and out == "0\n1\n2\n", f"[py->C {layout}] int16 scalars after laps: {out!r}")
        # garbage: ndim 0 -> exit 3
        w.meta.ndim = 0
        w._flush()
        rc, out = mirror_csv(name, 1)
        check(rc == 3, f"[py->C {layout}] invalid header exit {rc} (want 3)")
    finally:
        w.close()


def main():
    with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as work:
        os.environ["EZSHM_SHM_DIR"] = work
        check(shm_layout.short_name("TESTSHMEM") == "sm_haP7fHG24nz2mRNNAfq1", "python short_name")
        stress = stress_binary(work)
        for layout in ("legacy", "v1"):
            for dtype in ("I", "d"):
                c_writer_python_reader(stress, layout, dtype)
            python_writer_c_reader(layout)
    if failures:
        print(f"VERDICT: FAIL ({len(failures)} checks failed)")
        return 1
    print("VERDICT: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
