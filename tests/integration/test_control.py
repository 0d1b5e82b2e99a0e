"""ezshmd's control plane with the real binaries, a publisher (counter pattern, --seq)
running throughout, a private segment dir (EZSHM_SHM_DIR) and ipc:// endpoints:

 (1) set shmem_name → applied events in order, old segments gone, placeholder header
     (bvalid 0, generation 0xFFFFFFFF read from the file), next message → generation 0,
     a mirror waiting on the new name sees continuous counter data;
 (2) set buf_dur / axis → ring rebuilt (shape[0], generation + 1); unchanged values → applied
     [] and nothing rebuilt;
 (3) 1000 invalid requests of every kind interleaved with get/status through one REQ
     socket: each answered with the right code; no frame lost (counters, seq_gaps, a mirror
     following throughout);
 (4) quit → reply, exit 0, segments unlinked; (5) SIGTERM → same;
 (6) the events socket carries the lifecycle events ("buffer reset" with generation, ...);
 (7) set sub=[…] sub_bind=[] switches ingest to another publisher; set topic filters;
 (8) startup errors: one line on stderr, exit ≠ 0, no segment left behind.
"""
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from ezshm_harness import (GEN_NONE, MirrorFollow, Results, Session, counter_runs,  # noqa: E402
                           counter_values, get_status, helper_tool, lost_reports, read_header_file,
                           wait_until)
from shm_layout import short_name, stream_segments  # noqa: E402

DTYPE = "i"                # int32 counter: exact, no wrap within the test
FS, CHUNK, CHANNELS = 1000, 10, 2


def start_pub(s, endpoint, *extra):
    return s.start("ezshm-pub", "--connect", endpoint, "--pattern", "counter", "--seq", "--dtype", "int32",
                   "--fs", str(FS), "--chunk", str(CHUNK), "--channels", str(CHANNELS), "--quiet", *extra)


def set_(s, ep, *kv):
    rc, reply = s.ctl(ep, "set", *kv)
    assert reply is not None, f"no reply to set {kv} (rc {rc})"
    return rc, reply


def continuous(rows, n=None):
    """Rows uniform and consecutive; returns the values."""
    values = counter_values(rows, DTYPE)
    runs = counter_runs(values, DTYPE)
    assert len(runs) == 1, f"data not continuous: runs {runs[:6]}"
    if n is not None:
        assert len(values) == n, f"{len(values)} rows, wanted {n}"
    return values


class Main:
    """One daemon + one publisher + an events subscriber shared by cases 1, 2, 3, 6, 7, 4."""

    def __init__(self):
        self.s = Session("ctl")
        s = self.s
        self.data_ep, self.ctl_ep, self.ev_ep = s.endpoint(), s.endpoint(), s.endpoint()
        self.name = "ctl-first"
        self.daemon = s.start("ezshmd", "--sub-bind", self.data_ep, "--control", self.ctl_ep, "--events", self.ev_ep,
                              "--shmem-name", self.name, "--buf-dur", "1", "--log-level", "warning",
                              "--ipc-dir", s.sockdir)   # where the test's ipc endpoints live
        s.wait_ready(self.ctl_ep)
        self.ev_out = open(os.path.join(s.sockdir, "events.out"), "w")
        self.events_sub = subprocess.Popen([helper_tool("ezshm-test-sub"), self.ev_ep, "ezshm.event", "120"],
                                           stdout=self.ev_out, stderr=subprocess.DEVNULL)
        s.procs.append(self.events_sub)
        time.sleep(0.3)    # the SUB's subscription reaches the PUB (slow joiner)
        self.pub = start_pub(s, self.data_ep)
        wait_until(lambda: self.status()["stream"].get("bvalid") and self.status()["counters"]["written"] >= 5,
                   10, "first ring")

    def status(self):
        return get_status(self.s, self.ctl_ep)

    def events(self):
        with open(self.ev_out.name) as f:
            out = []
            for line in f.read().splitlines():
                topic, _, body = line.partition("\t")
                out.append((topic, json.loads(body)))
            return out

    def pause_pub(self):
        """SIGSTOP the publisher and let in-flight messages drain (no message is lost: it
        resumes where it stopped)."""
        self.pub.send_signal(signal.SIGSTOP)
        last = -1
        for _ in range(40):
            time.sleep(0.05)
            r = self.status()["counters"]["received"]
            if r == last:
                return
            last = r

    def resume_pub(self):
        self.pub.send_signal(signal.SIGCONT)


def case_rename(m):
    s, old = m.s, m.status()["stream"]
    assert old["shmem_name"] == "ctl-first" and old["generation"] == 0, old
    assert stream_segments("ctl-first", 0) == s.segments(), s.segments()
    new = "ctl-second"
    mirror = MirrorFollow(s, new, 600, wait=20)
    m.pause_pub()
    try:
        rc, reply = set_(s, m.ctl_ep, f"shmem_name={new}")
        assert rc == 0 and reply["ok"], reply
        assert reply["applied"] == ["buffer cleanup", "meta cleanup", "meta reset"], reply["applied"]
        assert reply["settings"]["shmem_name"] == new
        # old header + old ring gone; only the new header, with placeholders
        assert s.segments() == [short_name(new)], s.segments()
        h = read_header_file(os.path.join(s.dir, short_name(new)))
        assert h["layout"] == "legacy" and h["size"] == 1318, h
        assert h["bvalid"] == 0 and h["generation"] == GEN_NONE, h
        st = m.status()["stream"]
        assert st["shmem_name"] == new and st["bvalid"] is False and st["generation"] == -1, st
    finally:
        m.resume_pub()
    wait_until(lambda: m.status()["stream"].get("bvalid"), 10, "ring under the new name")
    st = m.status()["stream"]
    assert st["generation"] == 0 and st["shape"] == [FS, CHANNELS], st
    assert s.segments() == stream_segments(new, 0), s.segments()
    h = read_header_file(os.path.join(s.dir, short_name(new)))
    assert h["bvalid"] == 1 and h["generation"] == 0, h
    rc, rows, err = mirror.finish()
    assert rc == 0, f"mirror exit {rc}: {err}"
    continuous(rows, 600)
    assert lost_reports(err) == [], err
    m.name = new


def case_buf_dur(m):
    s = m.s
    st0 = m.status()
    gen0, resets0 = st0["stream"]["generation"], st0["counters"]["ring_resets"]
    rc, reply = set_(s, m.ctl_ep, "buf_dur=2")
    assert rc == 0 and reply["ok"] and reply["settings"]["buf_dur"] == 2, reply
    assert reply["applied"] == ["buffer cleanup"], reply["applied"]
    wait_until(lambda: m.status()["stream"]["generation"] == gen0 + 1 and m.status()["stream"]["bvalid"], 10,
               "rebuilt ring")
    st = m.status()
    assert st["stream"]["shape"] == [2 * FS, CHANNELS], st["stream"]
    assert st["stream"]["ring_bytes"] == 2 * FS * CHANNELS * 4, st["stream"]
    assert st["counters"]["ring_resets"] == resets0 + 1, st["counters"]
    assert s.segments() == stream_segments(m.name, gen0 + 1), s.segments()


def case_axis(m):
    """axis=ch: the ring is dropped, the messages (no 'ch' axis entry) are counted as
    axis_missing; axis=time again: rebuilt with generation + 1."""
    s = m.s
    st0 = m.status()
    gen0, c0 = st0["stream"]["generation"], st0["counters"]
    rc, reply = set_(s, m.ctl_ep, "axis=ch")
    assert rc == 0 and reply["ok"] and reply["settings"]["axis"] == "ch", reply
    assert reply["applied"] == ["buffer cleanup"], reply["applied"]
    wait_until(lambda: m.status()["counters"]["dropped_by_reason"]["axis_missing"]
               > c0["dropped_by_reason"]["axis_missing"] + 3, 10, "axis_missing drops")
    st = m.status()
    assert st["stream"]["bvalid"] is False and st["stream"]["generation"] == gen0, st["stream"]
    assert st["counters"]["last_error"]["reason"] == "axis_missing", st["counters"]["last_error"]
    assert s.segments() == [short_name(m.name)], s.segments()
    rc, reply = set_(s, m.ctl_ep, "axis=time")
    assert rc == 0 and reply["ok"], reply
    wait_until(lambda: m.status()["stream"]["bvalid"], 10, "ring along time again")
    st = m.status()
    assert st["stream"]["generation"] == gen0 + 1 and st["stream"]["shape"] == [2 * FS, CHANNELS], st["stream"]
    c = st["counters"]
    assert c["received"] == c["written"] + c["dropped"], c


def case_unchanged(m):
    s = m.s
    st0 = m.status()
    rc, reply = set_(s, m.ctl_ep, "buf_dur=2", "axis=time", f"shmem_name={m.name}", "header=legacy",
                     f'sub_bind=["{m.data_ep}"]')
    assert rc == 0 and reply["ok"] and reply["applied"] == [], reply
    rc, reply = s.ctl(m.ctl_ep, "set", "buf_dur=2.0")
    assert rc == 0 and reply["applied"] == [], reply
    n0 = st0["counters"]["written"]
    wait_until(lambda: m.status()["counters"]["written"] >= n0 + 10, 10, "more messages")
    st = m.status()
    assert st["stream"]["generation"] == st0["stream"]["generation"] and st["stream"]["bvalid"], st["stream"]
    assert st["counters"]["ring_resets"] == st0["counters"]["ring_resets"], st["counters"]


# ---- (3) invalid requests -------------------------------------------------------------

def _j(obj):
    return json.dumps(obj).encode()


def invalid_requests(rng):
    """(frames, expected error code) of every kind, each drawn at random."""
    kinds = [
        (lambda: [b"\xff" + rng.randbytes(rng.randint(0, 40))], "bad_json"),
        (lambda: [bytes(rng.randrange(1, 256) for _ in range(rng.randint(1, 30))) + b"\x00"], "bad_json"),
        (lambda: [b""], "bad_json"),
        (lambda: [b'{"op": "get"'], "bad_json"),
        (lambda: [b'{"op": "get"} trailing'], "bad_json"),
        (lambda: [b"{'op': 'get'}"], "bad_json"),
        (lambda: [b'{"op": "get"}\x00'], "bad_json"),
        (lambda: [_j({"op": "get"}), _j({"op": "get"})], "bad_request"),
        (lambda: [b"a", b"", b"c"], "bad_request"),
        (lambda: [_j({"buf_dur": 2})] + [b"x"] * rng.randint(1, 4), "bad_request"),
        (lambda: [b"[1, 2, 3]"], "not_object"),
        (lambda: [b'"get"'], "not_object"),
        (lambda: [str(rng.randint(-99, 99)).encode()], "not_object"),
        (lambda: [b"null"], "not_object"),
        (lambda: [b"true"], "not_object"),
        (lambda: [_j({"op": rng.choice(["reboot", "GET", "Status", "", "quit!"])})], "unknown_op"),
        (lambda: [_j({"op": "update", "settings": {"bufdur": 1}})], "unknown_field"),
        (lambda: [_j({"shmem": "x"})], "unknown_field"),
        (lambda: [_j({"op": "get", "verbose": True})], "unknown_field"),
        (lambda: [_j({"op": "status", "settings": {}})], "unknown_field"),
        (lambda: [_j({"op": "update", "settings": {"buf_dur": 3}, "extra": 1})], "unknown_field"),
        (lambda: [_j({"buf_dur": "2"})], "wrong_type"),
        (lambda: [_j({"op": "update", "settings": {"axis": 5}})], "wrong_type"),
        (lambda: [_j({"sub": 5})], "wrong_type"),
        (lambda: [_j({"rcvhwm": 1.5})], "wrong_type"),
        (lambda: [_j({"op": "update", "settings": 5})], "wrong_type"),
        (lambda: [_j({"op": 5})], "wrong_type"),
        (lambda: [_j({"buf_dur": rng.choice([-1, 0, 86401, -0.5])})], "out_of_range"),
        (lambda: [_j({"sub": "localhost:5555"})], "out_of_range"),
        (lambda: [_j({"header": "v2"})], "out_of_range"),
        (lambda: [_j({"log_level": "verbose"})], "out_of_range"),
        (lambda: [_j({"axis": ""})], "out_of_range"),
        (lambda: [b'{"buf_dur": NaN}'], "not_finite"),
        (lambda: [b'{"op": "update", "settings": {"buf_dur": Infinity}}'], "not_finite"),
        (lambda: [b'{"buf_dur": -Infinity}'], "not_finite"),
        (lambda: [b'{"buf_dur": 1e999}'], "not_finite"),
        (lambda: [_j({"rcvhwm": 5})], "immutable"),
        (lambda: [_j({"control": "ipc:///tmp/elsewhere.sock"})], "immutable"),
        (lambda: [b'{"op": "get", "op": "get"}'], "bad_request"),
        (lambda: [b'{"buf_dur": 2, "buf_dur": 3}'], "bad_request"),
        (lambda: [_j({"op": "update"})], "bad_request"),
    ]
    return kinds


def run_flood(s, endpoint, requests, path, timeout_ms=5000):
    """requests: list of frame lists. Returns the list of reply lines (one per request)."""
    with open(path, "w") as f:
        for frames in requests:
            f.write(",".join(fr.hex() for fr in frames) + "\n")
    r = subprocess.run([helper_tool("ezshm-test-flood"), endpoint, path, str(timeout_ms)], capture_output=True,
                       timeout=300)
    lines = r.stdout.decode("utf-8", "replace").splitlines()
    return r.returncode, lines, r.stderr.decode()


def case_invalid_flood(m):
    s = m.s
    rng = random.Random(1234)
    kinds = invalid_requests(rng)
    st0 = m.status()
    settings0 = s.ctl(m.ctl_ep, "get")[1]["settings"]
    mirror = MirrorFollow(s, m.name, 2500, wait=10)
    wait_until(lambda: mirror.rows_so_far() > 0, 10, "mirror attached")
    requests, expected = [], []
    for i in range(1000):
        gen, code = kinds[i % len(kinds)] if i < len(kinds) else rng.choice(kinds)
        requests.append(gen())
        expected.append(code)
        if i % 4 == 3:
            op = rng.choice(["get", "status"])
            requests.append([_j({"op": op})])
            expected.append(op)
    rc, lines, err = run_flood(s, m.ctl_ep, requests, os.path.join(s.sockdir, "invalid.req"))
    assert rc == 0 and len(lines) == len(requests), f"rc {rc}, {len(lines)} replies of {len(requests)}: {err}"
    bad = []
    for req, want, line in zip(requests, expected, lines):
        reply = json.loads(line)
        if want in ("get", "status"):
            ok = reply.get("ok") is True and (reply.get("settings") == settings0 if want == "get"
                                              else "counters" in reply.get("status", {}))
        else:
            ok = reply.get("ok") is False and reply.get("error", {}).get("code") == want \
                and isinstance(reply["error"].get("message"), str) and reply["error"]["message"]
        if not ok:
            bad.append((req, want, line))
    assert not bad, f"{len(bad)} wrong replies, first: {bad[:3]}"
    rc, rows, merr = mirror.finish()
    assert rc == 0, f"mirror exit {rc}: {merr}"
    assert lost_reports(merr) == [] and "rebuilt" not in merr, merr
    continuous(rows, 2500)
    st = m.status()
    c, c0 = st["counters"], st0["counters"]
    assert c["received"] == c["written"] + c["dropped"], c
    assert c["dropped"] == c0["dropped"], f"dropped {c0['dropped']} -> {c['dropped']}"
    assert c["seq_gaps"] == 0, c
    assert st["stream"]["generation"] == st0["stream"]["generation"] and c["ring_resets"] == c0["ring_resets"]
    assert s.ctl(m.ctl_ep, "get")[1]["settings"] == settings0


# ---- (6) events -----------------------------------------------------------------------

def case_events(m):
    """Everything the earlier cases did, as seen on the events socket."""
    evs = m.events()
    assert evs, "no event received"
    assert all(t == "ezshm.event" for t, _ in evs), evs[:3]
    names = [e["event"] for _, e in evs]
    # the rename, then the first ring under the new name
    want = ["buffer cleanup", "meta cleanup", "meta reset", "begin update", "meta updated", "buffer reset"]
    i = next((k for k in range(len(names)) if names[k:k + len(want)] == want), None)
    assert i is not None, f"rename sequence not found in {names}"
    reset = evs[i + 5][1]
    assert reset == {"event": "buffer reset", "generation": 0, "shmem_name": "ctl-second",
                     "stream": "ctl-second"}, reset
    # buf_dur=2: cleanup then rebuilt as generation 1; axis=ch: cleanup; axis=time: generation 2
    after = [(e["event"], e.get("generation")) for _, e in evs[i + 6:]]
    assert after == [("buffer cleanup", 0), ("begin update", 0), ("meta updated", 1), ("buffer reset", 1),
                     ("buffer cleanup", 1), ("begin update", 1), ("meta updated", 2), ("buffer reset", 2)], after
    assert evs[i][1]["shmem_name"] == evs[i + 1][1]["shmem_name"] == "ctl-first", evs[i:i + 2]
    assert all(e["shmem_name"] == "ctl-second" for _, e in evs[i + 2:]), evs


# ---- (7) subscription changes ---------------------------------------------------------

def case_resubscribe(m):
    s = m.s
    ep2 = s.endpoint()
    pub2 = s.start("ezshm-pub", "--bind", ep2, "--topic", "second", "--key", "pub2", "--pattern", "counter", "--seq",
                   "--dtype", "int32", "--fs", str(FS), "--chunk", str(CHUNK), "--channels", str(CHANNELS), "--quiet")
    time.sleep(0.3)
    assert m.status()["stream"]["key"] == "", m.status()["stream"]
    rc, reply = set_(s, m.ctl_ep, f'sub=["{ep2}"]', "sub_bind=[]")
    assert rc == 0 and reply["ok"] and reply["applied"] == ["resubscribed"], reply
    st = m.status()
    assert st["subscriptions"]["connect"] == [ep2] and st["subscriptions"]["bind"] == [], st["subscriptions"]
    wait_until(lambda: m.status()["stream"]["key"] == "pub2" and m.status()["stream"]["bvalid"], 10,
               "ring of the second publisher (key pub2)")
    # only pub2 now: the key stays pub2 and no rebuild back to pub1's key
    gen = m.status()["stream"]["generation"]
    time.sleep(0.5)
    st = m.status()
    assert st["stream"]["key"] == "pub2" and st["stream"]["generation"] == gen, st["stream"]
    rows = [line.split(",") for line in s.run("ezshm-mirror", "--dump", "csv", "--latest", "200",
                                               m.name).stdout.splitlines()]
    continuous(rows, 200)
    # topic filter: nothing of topic "second" passes "x"
    rc, reply = set_(s, m.ctl_ep, 'topic=["x"]')
    assert rc == 0 and reply["applied"] == ["resubscribed"], reply
    time.sleep(0.3)
    r1 = m.status()["counters"]["received"]
    time.sleep(0.7)
    r2 = m.status()["counters"]["received"]
    assert r2 == r1, f"messages received through topic filter x: {r1} -> {r2}"
    rc, reply = set_(s, m.ctl_ep, 'topic=["sec"]')
    assert rc == 0 and reply["applied"] == ["resubscribed"] and reply["settings"]["topic"] == ["sec"], reply
    wait_until(lambda: m.status()["counters"]["received"] > r2 + 5, 10, "messages through topic prefix sec")
    pub2.terminate()


# ---- (4) quit, (5) SIGTERM ------------------------------------------------------------

def case_quit(m):
    s = m.s
    assert len(s.segments()) == 4, s.segments()   # header, ring, clock, wake
    rc, reply = s.ctl(m.ctl_ep, "quit")
    assert rc == 0 and reply == {"ok": True}, (rc, reply)
    assert m.daemon.wait(timeout=10) == 0
    assert s.segments() == [], f"segments left: {s.segments()}"


def case_close_event(m):
    """docs/operations.md: the events socket carries "close" (and the cleanups) at shutdown."""
    time.sleep(0.3)
    names = [e["event"] for _, e in m.events()]
    assert names[-3:] == ["buffer cleanup", "meta cleanup", "close"], f"last events {names[-5:]}"


def case_sigterm():
    s = Session("ctlterm")
    try:
        data_ep, ctl_ep = s.endpoint(), s.endpoint()
        d = s.start("ezshmd", "--sub-bind", data_ep, "--control", ctl_ep, "--shmem-name", "ctl-term",
                    "--log-level", "warning", stderr=subprocess.PIPE, text=True)
        s.wait_ready(ctl_ep)
        start_pub(s, data_ep)
        wait_until(lambda: get_status(s, ctl_ep)["stream"].get("bvalid"), 10, "ring")
        assert s.segments() == stream_segments("ctl-term", 0), s.segments()
        d.send_signal(signal.SIGTERM)
        _, err = d.communicate(timeout=10)
        assert d.returncode == 0, f"exit {d.returncode}: {err}"
        assert s.segments() == [], f"segments left: {s.segments()}"
        assert "error" not in err.lower(), err
    finally:
        s.close()


# ---- (8) startup errors ---------------------------------------------------------------

def startup_error(args, label):
    s = Session("ctlerr")
    try:
        p = s.start("ezshmd", "--shmem-name", "ctl-err", *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    text=True)
        out, err = p.communicate(timeout=15)
        lines = err.splitlines()
        assert p.returncode != 0, f"{label}: exit 0"
        assert len(lines) == 1 and lines[0].startswith("ezshmd: ") and len(lines[0]) > 15, \
            f"{label}: stderr {err!r}"
        assert s.segments() == [], f"{label}: segments left {s.segments()}"
        return p.returncode, lines[0]
    finally:
        s.close()


def case_startup_errors():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    busy = f"tcp://127.0.0.1:{sock.getsockname()[1]}"
    ctl_ep = f"ipc:///tmp/ezshm-ctlerr-{os.getpid()}.sock"
    try:
        checks = [
            (["--control", ctl_ep, "--sub", "localhost:5555"], "bad sub endpoint", ["localhost:5555"]),
            (["--control", "tcp://127.0.0.1"], "bad control endpoint", ["tcp://127.0.0.1"]),
            (["--control", busy], "control address in use", ["bind", busy]),
            (["--control", ctl_ep, "--sub-bind", busy], "sub-bind address in use", [busy]),
            (["--control", ctl_ep, "--events", busy], "events address in use", [busy]),
            (["--control", ctl_ep, "--buf-dur", "-1"], "buf_dur out of range", ["buf_dur"]),
            (["--control", ctl_ep, "--buf-dur", "nan"], "buf_dur NaN", ["buf_dur"]),
            (["--control", ctl_ep, "--header", "v7"], "bad header", ["header"]),
            (["--control", ctl_ep, "--rcvhwm", "-5"], "bad rcvhwm", ["rcvhwm"]),
            (["--control", ctl_ep, "--no-such-flag"], "unknown flag", ["no-such-flag"]),
        ]
        failures = []
        for args, label, words in checks:
            try:
                _, line = startup_error(args, label)
                missing = [w for w in words if w not in line]
                assert not missing, f"{label}: {missing} not in {line!r}"
                print(f"     {label}: {line}")
            except AssertionError as e:
                failures.append(str(e))
        assert not failures, failures
    finally:
        sock.close()
        if os.path.exists(ctl_ep[6:]):
            os.unlink(ctl_ep[6:])


def case_python_client():
    """What a Python client meets: ShMemCircBuffSettings' "conn" field in an update is accepted
    and ignored; a key longer than 1024 bytes cut inside a character still gives a status reply
    that is valid UTF-8."""
    s = Session("pyclient")
    try:
        data_ep, ctl_ep = s.endpoint(), s.endpoint()
        s.start("ezshmd", "--sub-bind", data_ep, "--control", ctl_ep, "--shmem-name", "pyclient",
                "--log-level", "error")
        s.wait_ready(ctl_ep)
        for value in ("null", '{"host":"127.0.0.1","port":25978}'):
            rc, reply = set_(s, ctl_ep, f"conn={value}")
            assert rc == 0 and reply["ok"] and reply["applied"] == [], reply
            assert "conn" not in reply["settings"], reply
        key = "a" * 1023 + "\u00e9"          # the 1024-byte cut falls inside the 2-byte character
        pub = s.start("ezshm-pub", "--connect", data_ep, "--key", key, "--count", "5", "--rate", "50",
                      "--quiet")
        pub.wait(timeout=30)
        wait_until(lambda: get_status(s, ctl_ep)["counters"]["written"] >= 1, what="a message")
        out = subprocess.run([os.path.join(os.environ["EZSHM_BIN"], "ezshm-ctl"), "--endpoint", ctl_ep, "--json",
                              "status"], env=s.env, capture_output=True, timeout=10)
        assert out.returncode == 0, out.stderr
        text = out.stdout.decode("utf-8")       # strict: raises on invalid UTF-8
        got = json.loads(text)["status"]["stream"]["key"]
        assert got == "a" * 1023 + "\ufffd", got[-4:]
    finally:
        s.close()


def main():
    res = Results()
    t0 = time.time()
    m = None
    try:
        m = Main()
        res.check("(1) rename: applied events, old segments gone, placeholders, gen 0, mirror follows",
                  case_rename, m)
        res.check("(2) buf_dur=2: ring rebuilt with 2*fs frames, generation + 1", case_buf_dur, m)
        res.check("(2) axis=ch then axis=time: ring dropped (axis_missing counted), rebuilt generation + 1",
                  case_axis, m)
        res.check("(2) unchanged values: applied [] and nothing rebuilt", case_unchanged, m)
        res.check("(3) 1000 invalid requests + get/status: right codes, no frame lost", case_invalid_flood, m)
        res.check("(6) events socket: lifecycle events in order with generation and name", case_events, m)
        res.check("(7) set sub/sub_bind switches ingest; set topic filters", case_resubscribe, m)
        res.check("(4) quit: reply, exit 0, segments unlinked", case_quit, m)
        res.check("(6) events socket: cleanups and 'close' published at shutdown", case_close_event, m)
    finally:
        if m:
            m.s.close()
    res.check("(5) SIGTERM: exit 0, segments unlinked", case_sigterm)
    res.check("(8) startup errors: one stderr line, exit != 0, nothing left", case_startup_errors)
    res.check("(9) a Python client: conn accepted and ignored, status valid UTF-8 with a cut key",
              case_python_client)
    print(f"runtime {time.time() - t0:.1f} s")
    res.finish()


if __name__ == "__main__":
    main()
