"""Hostile senders and clients against the real ezshmd (issue 12, items 3, 9 and 10): a control
client cannot point the daemon at files outside ipc_dir or at other hosts, a control
request over the size limit is cut off by ZeroMQ before it costs memory, and a sender that
switches dtype with every message (each one a ring rebuild) cannot starve control requests or
SIGTERM: the loop bounds each batch by time and rebuilds are rate-limited, the excess dropped
and counted as rebuild_rate_limited. Latency and stop time are printed as figures, never
asserted (bench/ measures speed)."""
import base64
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from ezshm_harness import (STOP_TIMEOUT, Results, Session, get_status, helper_tool,  # noqa: E402
                           wait_until)

# ingest.h: INGEST_REBUILD_BURST, INGEST_REBUILDS_PER_SECOND
REBUILD_BURST, REBUILDS_PER_SECOND = 10, 5


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def start_daemon(s, *extra):
    data, ctl = s.endpoint(), s.endpoint()
    d = s.start("ezshmd", "--sub", data, "--control", ctl, "--shmem-name", f"limits-{os.getpid()}-{s.count}",
                "--log-level", "error", *extra)
    s.wait_ready(ctl)
    return d, data, ctl


def case_oversized_request():
    """A 2 MiB request (limit 1 MiB): no reply, the connection is dropped, the daemon's RSS
    does not grow by the request's size, and the next client is answered."""
    s = Session("limits-req")
    try:
        d, _, ctl = start_daemon(s)
        before = rss_kib(d.pid)
        path = os.path.join(s.sockdir, "requests.txt")
        big = b'{"op": "get", "pad": "' + b"x" * (2 << 20) + b'"}'
        with open(path, "w") as f:
            f.write(big.hex() + "\n")
            f.write(b'{"op": "get"}'.hex() + "\n")
        r = subprocess.run([helper_tool("ezshm-test-flood"), ctl, path, "2000"], capture_output=True, timeout=60)
        lines = r.stdout.decode().splitlines()
        assert len(lines) == 2, lines
        assert lines[0] == "TIMEOUT", f"the 2 MiB request was answered: {lines[0][:200]}"
        assert json.loads(lines[1])["ok"] is True, lines[1]
        after = rss_kib(d.pid)
        print(f"     RSS {before} KiB before, {after} KiB after a 2 MiB request")
        assert after - before < 1024, f"RSS grew {after - before} KiB"
        assert d.poll() is None, "ezshmd died"
    finally:
        s.close()


def payload(dtype, itemsize, frames=10, channels=8, gain=1e-5):
    """An ezmsg-zmq multipart payload: frames x channels zeros with a LinearAxis of gain."""
    data = base64.b64encode(bytes(frames * channels * itemsize)).decode()
    obj = {"data": {"_type": "_ndarray", "dtype": dtype, "data": data, "shape": [frames, channels]},
           "dims": ["time", "ch"],
           "axes": {"time": {"unit": "s", "gain": gain, "offset": 0.0,
                             "_type": "ezmsg.util.messages.axisarray:LinearAxis"}},
           "attrs": {}, "key": "", "_type": "ezmsg.util.messages.axisarray:AxisArray"}
    return json.dumps({"ts": 0.0, "obj": obj}).encode()


def case_dtype_storm():
    """3000 messages alternating float32/float64 at 100 kHz with buf_dur 10 s: every message
    asks for a new ring of 32 or 64 MB. health is answered throughout, SIGTERM ends the
    daemon promptly, and rebuilds stay within the rate limit."""
    s = Session("limits-storm")
    try:
        d, data, ctl = start_daemon(s, "--buf-dur", "10")
        files = []
        for dtype, size in (("float32", 4), ("float64", 8)):
            path = os.path.join(s.sockdir, f"{dtype}.json")
            with open(path, "wb") as f:
                f.write(payload(dtype, size))
            files.append(path)
        # The daemon connects to the replayer's PUB; the replayer waits 300 ms for it.
        t0 = time.monotonic()
        storm = subprocess.Popen([helper_tool("ezshm-test-replay"), data, "storm", *(files * 1500)])
        s.procs.append(storm)
        wait_until(lambda: get_status(s, ctl)["counters"]["received"] > 0, 10, "the storm to arrive")
        latencies = []
        for _ in range(30):
            t = time.monotonic()
            rc, reply = s.ctl(ctl, "health")
            latencies.append(time.monotonic() - t)
            assert rc in (0, 1) and reply is not None, f"health not answered: rc {rc}"
        st = get_status(s, ctl)
        c = st["counters"]
        elapsed = time.monotonic() - t0
        assert c["received"] == c["written"] + c["dropped"], c
        limited = c["dropped_by_reason"]["rebuild_rate_limited"]
        assert limited > 0, f"no message was rate-limited: {c}"
        allowed = REBUILD_BURST + REBUILDS_PER_SECOND * elapsed + 1
        assert c["ring_resets"] <= allowed, f"{c['ring_resets']} rebuilds in {elapsed:.1f} s (at most {allowed:.0f})"
        t = time.monotonic()
        d.send_signal(signal.SIGTERM)
        d.wait(timeout=STOP_TIMEOUT)
        stop = time.monotonic() - t
        assert d.returncode == 0, f"exit {d.returncode}"
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
        print(f"     storm: {c['received']} received, {c['ring_resets']} rebuilds, {limited} rate-limited; "
              f"health p50 {latencies[len(latencies) // 2] * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms "
              f"(ezshm-ctl process included); SIGTERM to exit {stop * 1e3:.0f} ms")
    finally:
        s.close()


def case_control_confined():
    """ipc endpoints set over control stay inside ipc_dir and never unlink a file; other
    hosts need the remote_endpoints opt-in; fields outside control_mutable are refused."""
    s = Session("limits-confined")
    try:
        ipc_dir = os.path.join(s.sockdir, "ipc")
        os.makedirs(ipc_dir)
        _, _, ctl = start_daemon(s, "--ipc-dir", ipc_dir, "--control-mutable", "sub",
                                 "--control-mutable", "sub_bind")
        victim = os.path.join(s.sockdir, "victim.txt")            # outside ipc_dir
        precious = os.path.join(ipc_dir, "precious.txt")          # inside, not a socket
        for path in (victim, precious):
            with open(path, "w") as f:
                f.write("keep me")
        for endpoint, why in ((f"ipc://{victim}", "not inside ipc_dir"),
                              (f"ipc://{ipc_dir}/../victim.txt", "not inside ipc_dir"),
                              (f"ipc://{precious}", "exists and is not a socket"),
                              ("tcp://10.255.255.1:5555", "remote_endpoints")):
            rc, reply = s.ctl(ctl, "set", f'sub_bind=["{endpoint}"]')
            assert rc != 0 and reply["error"]["code"] == "out_of_range", (endpoint, reply)
            assert why in reply["error"]["message"], (endpoint, reply)
        for path in (victim, precious):
            with open(path) as f:
                assert f.read() == "keep me", f"{path} was touched"
        inside = os.path.join(ipc_dir, "data.sock")
        rc, reply = s.ctl(ctl, "set", f'sub_bind=["ipc://{inside}"]')
        assert rc == 0 and reply["applied"] == ["resubscribed"], reply
        assert os.path.exists(inside), "the ipc socket inside ipc_dir was not bound"
        rc, reply = s.ctl(ctl, "set", "buf_dur=5")
        assert rc != 0 and reply["error"]["code"] == "immutable" and "control_mutable" in reply["error"]["message"], \
            reply
        rc, reply = s.ctl(ctl, "get")
        assert reply["settings"]["control_mutable"] == ["sub", "sub_bind"], reply
        assert reply["settings"]["ipc_dir"] == ipc_dir, reply
    finally:
        s.close()


def main():
    res = Results()
    res.check("(9) a 2 MiB control request is cut off before it costs memory; the next client is answered",
              case_oversized_request)
    res.check("(10) a dtype storm: health answered, rebuilds rate-limited and counted, SIGTERM honoured",
              case_dtype_storm)
    res.check("(3) control confined: ipc inside ipc_dir, no file unlinked, remote hosts opt-in, control_mutable",
              case_control_confined)
    res.finish()


if __name__ == "__main__":
    main()
