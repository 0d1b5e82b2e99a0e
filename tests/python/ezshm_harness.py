"""Shared helpers of the Python integration tests: start the real binaries on ipc:// or
127.0.0.1 endpoints with a private segment directory, and clean up after them."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

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
        p = subprocess.Popen([*memcheck_prefix(args[0]), os.path.join(BIN, args[0]), *args[1:]], env=self.env,
                             **kw)
        self.procs.append(p)
        return p

    def run(self, *args, timeout=30):
        return subprocess.run([os.path.join(BIN, args[0]), *args[1:]], env=self.env, capture_output=True,
                              text=True, timeout=timeout)

    def ctl(self, endpoint, *args):
        r = self.run("ezshm-ctl", "--endpoint", endpoint, "--timeout", "5", "--json", *args)
        return r.returncode, (json.loads(r.stdout) if r.stdout.strip() else None)

    def wait_ready(self, endpoint, timeout=None):
        deadline = time.time() + (timeout or STOP_TIMEOUT)
        while time.time() < deadline:
            rc, reply = self.ctl(endpoint, "get")
            if rc == 0:
                return reply
            time.sleep(0.05)
        raise AssertionError(f"control endpoint {endpoint} never answered")

    def segments(self):
        """The segment files, without the record (".sm_….stream") of a renamed stream's live
        header (docs/shm-layout.md §8): a record whose header is gone is listed."""
        names = os.listdir(self.dir)
        return sorted(n for n in names if not (n.startswith(".") and n.endswith(".stream")
                                                and n[1:-len(".stream")] in names))

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.rmtree(self.sockdir, ignore_errors=True)


# With EZSHM_VALGRIND=1 the long-running programs (ezshmd, ezshm-mirror) run under memcheck;
# EZSHM_VALGRIND=ezshmd picks a comma-separated subset (tests whose readers must keep up with a
# real-time stream memcheck only the daemon). Any invalid access or definitely lost block makes
# the program exit 99, which the tests' exit-code checks catch.
def memchecked():
    chosen = os.environ.get("EZSHM_VALGRIND", "")
    return ("ezshmd", "ezshm-mirror") if chosen == "1" else tuple(p for p in chosen.split(",") if p)


# How long a stopping process may take: memcheck is slow, more so on a busy machine.
STOP_TIMEOUT = 120 if os.environ.get("EZSHM_VALGRIND") else 15


def memcheck_prefix(program):
    if program not in memchecked():
        return []
    return ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite",
            "--show-leak-kinds=definite"]


def start_web(session, control, *flags, env=None):
    """Starts ezshm-web for control on a free loopback port (a process of session); returns the
    process and the port once it accepts connections."""
    import socket
    port = free_port()
    proc = subprocess.Popen([os.path.join(BIN, "ezshm-web"), "--control", control, "--listen", f"127.0.0.1:{port}",
                             *flags], env=dict(session.env, **(env or {})))
    session.procs.append(proc)

    def up():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            return True
        except OSError:
            return False
    wait_until(up, 15, "ezshm-web listening")
    return proc, port


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_counter_rows(rows, dtype, losses=()):
    """rows: lists of CSV cells; losses: the mirror's 'lost N frames' reports in order. Every
    row uniform; consecutive rows +1 modulo the dtype's counter range, except at a gap, which
    must be exactly the frames reported lost before it. Returns the first counter value."""
    mod = COUNTER_RANGE[dtype]
    values = counter_values(rows, dtype)
    pending = list(losses)
    for a, b in zip(values, values[1:]):
        missing = (b - a - 1) % mod
        reported = 0
        while missing != reported % mod:
            assert pending, f"discontinuity {a} -> {b} (dtype {dtype}) without a matching loss report"
            reported += pending.pop(0)
    return values[0] if values else None


class Skip(Exception):
    """Raised by a check that cannot run here (say why): reported as SKIP, counted apart."""


def outcome(fn, *args):
    """None when fn(*args) returns, else the exception it raised."""
    try:
        fn(*args)
        return None
    except Exception as e:  # noqa: BLE001 (the caller reports it)
        return e


class Results:
    """Counts checks and prints the closing 'N passed, N failed[, N skipped]' line."""

    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    def check(self, label, fn, *args):
        self.report(label, outcome(fn, *args))

    def check_parallel(self, checks, workers=2):
        """checks: (label, fn, *args) tuples of independent checks (each its own Session), run
        `workers` at a time — under memcheck a case is mostly waiting on its slowed daemon —
        and reported in the order given."""
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [(c[0], pool.submit(outcome, *c[1:])) for c in checks]
            for label, future in futures:
                self.report(label, future.result())

    def report(self, label, error):
        if error is None:
            self.passed += 1
            print(f"ok   {label}", flush=True)
        elif isinstance(error, Skip):  # not a pass: the line and the count say it did not run
            self.skipped += 1
            print(f"SKIP {label}: {error}", flush=True)
        else:  # a failed check is reported, the others still run
            self.failed += 1
            print(f"FAIL {label}: {error!r}", flush=True)

    def run_cases(self, *cases):
        """Runs case(self) for each case, then finish(). A case that raises outside its checks
        (a daemon that did not start) is one failure; the other cases still run."""
        for case in cases:
            try:
                case(self)
            except Exception as e:  # noqa: BLE001 (reported as a failed check)
                self.report(case.__name__, e)
        self.finish()

    def finish(self):
        skipped = f", {self.skipped} skipped" if self.skipped else ""
        print(f"{self.passed} passed, {self.failed} failed{skipped}")
        raise SystemExit(1 if self.failed else 0)


# ---- additions for test_control.py / test_faults.py (existing helpers above unchanged) ----

import re  # noqa: E402
import struct  # noqa: E402

GEN_NONE = 0xFFFFFFFF


def helper_tool(name):
    """Path of a tests/tools helper (ezshm-test-sub, ezshm-test-flood, ezshm-test-replay),
    built by CMake into EZSHM_BIN."""
    built = os.path.join(BIN, name)
    assert os.access(built, os.X_OK), f"{built} is not built"
    return built


def get_status(session, endpoint):
    """The 'status' object of a running daemon (AssertionError when it does not answer ok)."""
    rc, reply = session.ctl(endpoint, "status")
    assert rc == 0 and reply and reply.get("ok"), f"status failed: rc {rc} {reply}"
    return reply["status"]


def wait_until(predicate, timeout=10.0, what="condition", interval=0.05):
    """Polls predicate() until it returns a true value (returned); AssertionError on timeout."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last {last!r})")


def read_header_file(path):
    """bvalid and buffer_generation of a header segment file, at the offsets of
    docs/shm-layout.md (v1 when it starts with the magic, else legacy)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) >= 1334 and struct.unpack_from("<II", raw, 0) == (0x455A4D53, 1):
        return {"layout": "v1", "size": len(raw), "bvalid": raw[8],
                "generation": struct.unpack_from("<I", raw, 278)[0]}
    return {"layout": "legacy", "size": len(raw), "bvalid": raw[0],
            "generation": struct.unpack_from("<I", raw, 270)[0]}


def csv_rows(text):
    """CSV text of ezshm-mirror → list of rows (lists of cells)."""
    return [line.split(",") for line in text.splitlines() if line]


def lost_reports(stderr_text):
    """The counts of every 'ezshm-mirror: lost N frames' line, in order."""
    return [int(m) for m in re.findall(r"lost (\d+) frames", stderr_text)]


def counter_values(rows, dtype):
    """Every row must be uniform (all cells equal): the list of counter values."""
    values = []
    for r in rows:
        cells = [parse_value(c) for c in r]
        assert all(c == cells[0] for c in cells), f"row not uniform (corrupt): {r}"
        values.append(int(cells[0]))
    return values


def counter_runs(values, dtype):
    """Splits counter values into maximal runs of consecutive values (+1 modulo the dtype's
    range): list of (first, last, length)."""
    mod = COUNTER_RANGE[dtype]
    runs = []
    for v in values:
        if runs and (v - runs[-1][1]) % mod == 1:
            first, _, n = runs[-1]
            runs[-1] = (first, v, n + 1)
        else:
            runs.append((v, v, 1))
    return runs


class MirrorFollow:
    """ezshm-mirror --dump csv --follow --frames N NAME with stdout/stderr in files (a stopped
    or slow reader never blocks on a pipe)."""

    def __init__(self, session, name, frames, wait=15, extra=()):
        self.session = session
        self.out_path = os.path.join(session.sockdir, f"mirror{session.count}-{len(session.procs)}.out")
        self.err_path = self.out_path[:-4] + ".err"
        self.out = open(self.out_path, "w")
        self.err = open(self.err_path, "w")
        self.proc = session.start("ezshm-mirror", "--wait", str(wait), *extra, "--dump", "csv", "--follow",
                                  "--frames", str(frames), name, stdout=self.out, stderr=self.err)

    def rows_so_far(self):
        with open(self.out_path) as f:
            text = f.read()
        return text.count("\n")

    def interrupt(self):
        """SIGINT: the mirror stops after the current read and exits 0."""
        self.proc.send_signal(signal.SIGINT)

    def finish(self, timeout=60):
        """Waits for the mirror; returns (returncode, rows, stderr text); an incomplete last
        line (after interrupt()) is left out."""
        rc = self.proc.wait(timeout=timeout)
        self.out.close()
        self.err.close()
        with open(self.out_path) as f:
            text = f.read()
        if text and not text.endswith("\n"):
            text = text[:text.rfind("\n") + 1]
        rows = csv_rows(text)
        with open(self.err_path) as f:
            err = f.read()
        return rc, rows, err


