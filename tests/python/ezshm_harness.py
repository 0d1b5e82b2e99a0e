"""Shared helpers of the Python integration tests: start the real binaries on ipc:// or
127.0.0.1 endpoints with a private segment directory, and clean up after them."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

BIN = os.environ.get("EZSHM_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "bin"))

# Range of the counter pattern per dtype code: frame i carries i modulo this (see
# docs/wire-protocol.md, "counter pattern").
COUNTER_RANGE = {"?": 2, "b": 256, "B": 256, "h": 65536, "H": 65536, "i": 2**32, "I": 2**32,
                 "l": 2**64, "L": 2**64, "q": 2**64, "Q": 2**64, "e": 2048, "f": 2**24,
                 "d": 2**53, "F": 2**24, "D": 2**53}


def parse_value(text):
    """A CSV cell of ezshm-mirror: integer, float, or complex 're+imj' (real part kept)."""
    if text.endswith("j"):
        body = text[:-1]
        cut = max(body.rfind("+", 1), body.rfind("-", 1))
        while cut > 0 and body[cut - 1] in "eE":
            cut = max(body.rfind("+", 1, cut), body.rfind("-", 1, cut))
        return float(body[:cut])
    return float(text) if any(c in text for c in ".eEni") else int(text)


class Session:
    """A private EZSHM_SHM_DIR, unique endpoints, and every process started, for one test."""

    def __init__(self, tag):
        self.dir = tempfile.mkdtemp(prefix=f"ezshm-{tag}-", dir="/dev/shm")
        self.sockdir = tempfile.mkdtemp(prefix=f"ezshm-{tag}-")
        self.env = dict(os.environ, EZSHM_SHM_DIR=self.dir)
        self.procs = []
        self.count = 0

    def endpoint(self, kind="ipc"):
        self.count += 1
        if kind == "ipc":
            return f"ipc://{self.sockdir}/ep{self.count}.sock"
        return f"tcp://127.0.0.1:{free_port()}"

    def start(self, *args, **kw):
        p = subprocess.Popen([os.path.join(BIN, args[0]), *args[1:]], env=self.env, **kw)
        self.procs.append(p)
        return p

    def run(self, *args, timeout=30):
        return subprocess.run([os.path.join(BIN, args[0]), *args[1:]], env=self.env, capture_output=True,
                              text=True, timeout=timeout)

    def ctl(self, endpoint, *args):
        r = self.run("ezshm-ctl", "--endpoint", endpoint, "--timeout", "5", "--json", *args)
        return r.returncode, (json.loads(r.stdout) if r.stdout.strip() else None)

    def wait_ready(self, endpoint, timeout=10.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            rc, reply = self.ctl(endpoint, "get")
            if rc == 0:
                return reply
            time.sleep(0.05)
        raise AssertionError(f"control endpoint {endpoint} never answered")

    def segments(self):
        return sorted(os.listdir(self.dir))

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.rmtree(self.sockdir, ignore_errors=True)


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_counter_rows(rows, dtype):
    """rows: lists of CSV cells. Every cell of a row equal, consecutive rows +1 modulo the
    dtype's counter range. Returns the first counter value."""
    mod = COUNTER_RANGE[dtype]
    values = []
    for r in rows:
        cells = [parse_value(c) for c in r]
        assert all(c == cells[0] for c in cells), f"row not uniform: {r}"
        values.append(int(cells[0]))
    for a, b in zip(values, values[1:]):
        assert (b - a) % mod == 1, f"discontinuity {a} -> {b} (dtype {dtype})"
    return values[0] if values else None


class Results:
    """Counts checks and prints the closing 'N passed, N failed' line."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, label, fn, *args):
        try:
            fn(*args)
            self.passed += 1
            print(f"ok   {label}", flush=True)
        except Exception as e:  # a failed check is reported, the others still run
            self.failed += 1
            print(f"FAIL {label}: {e!r}", flush=True)

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        raise SystemExit(1 if self.failed else 0)
