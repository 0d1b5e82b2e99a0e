#!/usr/bin/env python3
"""Hostile senders, clients and files against the real ezshmd, the operations side (issue 21):
(4) a topic flood under a low file descriptor limit is refused before the limit (fd_limit),
control and the streams already made keep being served, SIGTERM leaves no segment behind."""
import base64
import json
import os
import resource
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from ezshm_harness import STOP_TIMEOUT, Results, Session, get_status, helper_tool, wait_until  # noqa: E402


def single_part(topic, frames=10, channels=2):
    """An ezmsg-zmq single-part message on topic: frames x channels float32 zeros."""
    data = base64.b64encode(bytes(frames * channels * 4)).decode()
    obj = {"data": {"_type": "_ndarray", "dtype": "float32", "data": data, "shape": [frames, channels]},
           "dims": ["time", "ch"],
           "axes": {"time": {"unit": "s", "gain": 1e-3, "offset": 0.0,
                             "_type": "ezmsg.util.messages.axisarray:LinearAxis"}},
           "attrs": {}, "key": "", "_type": "ezmsg.util.messages.axisarray:AxisArray"}
    return topic.encode() + json.dumps({"ts": 0.0, "obj": obj}).encode()


def replay(s, endpoint, topics):
    """One single-part message per topic, in order, through ezshm-test-replay's PUB socket."""
    files = []
    for i, topic in enumerate(topics):
        path = os.path.join(s.sockdir, f"msg{s.count}-{i}.bin")
        with open(path, "wb") as f:
            f.write(single_part(topic))
        files.append(path)
    s.count += 1
    r = subprocess.run([helper_tool("ezshm-test-replay"), endpoint, "unused", "--single", *files],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr


def case_fd_flood():
    """ezshmd at RLIMIT_NOFILE 64 in auto mode, 40 topics: the streams the limit leaves room for
    are made, every other topic is counted as fd_limit (add_stream refused as fd_limit too),
    control answers, the first stream keeps ingesting, and SIGTERM unlinks every segment."""
    s = Session("ops-fd")
    try:
        pub, ctl = s.endpoint(), s.endpoint()
        low = (64, 64)
        # ezshm-test-replay binds pub for each batch; the daemon connects to it.
        d = s.start("ezshmd", "--sub", pub, "--control", ctl, "--stream-per-topic", "fd/{topic}",
                    "--log-level", "error", "--header", "v1",
                    preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, low))
        s.wait_ready(ctl)
        topics = [f"t{i}" for i in range(40)]
        replay(s, pub, topics)

        def streams():
            rc, reply = s.ctl(ctl, "streams")
            assert rc == 0, reply
            return reply["streams"]

        def refused():
            st = get_status(s, ctl)
            return st["unrouted"]["dropped_by_reason"]["fd_limit"] + len(streams()) >= len(topics) and st
        st = wait_until(refused, 20, "every topic made a stream or was refused")
        listed = streams()
        made = [x["stream"] for x in listed]
        assert 1 <= len(made) < len(topics), made
        assert made == [f"fd/{t}" for t in topics[:len(made)]], made
        assert st["unrouted"]["dropped_by_reason"]["fd_limit"] == len(topics) - len(made), st["unrouted"]
        assert st["unrouted"]["last_error"]["reason"] == "fd_limit", st["unrouted"]
        fds = len(os.listdir(f"/proc/{d.pid}/fd"))
        assert fds < low[0], f"{fds} file descriptors open at a limit of {low[0]}"
        rc, reply = s.ctl(ctl, "--stream", "fd/extra", "add-stream", "extra")
        assert rc == 1 and reply["error"]["code"] == "fd_limit" and "RLIMIT_NOFILE" in reply["error"]["message"], \
            reply
        # The streams made keep ingesting, and control keeps answering, many times over.
        before = next(x for x in listed if x["stream"] == "fd/t0")
        replay(s, pub, ["t0"] * 3)
        wait_until(lambda: s.ctl(ctl, "--stream", "fd/t0", "status")[1]["status"]["counters"]["written"] >= 4,
                   20, "fd/t0 to take 3 more messages")
        for _ in range(20):
            rc, reply = s.ctl(ctl, "health")
            assert rc in (0, 1) and reply is not None, "health not answered"
        assert d.poll() is None, f"ezshmd died ({d.returncode})"
        assert before["health"] in ("ingesting", "idle"), before
        print(f"     RLIMIT_NOFILE {low[0]}: {len(made)} streams, {len(topics) - len(made)} topics refused, "
              f"{fds} fds open")
        assert s.segments(), "no segment was made"
        d.send_signal(signal.SIGTERM)
        d.wait(timeout=STOP_TIMEOUT)
        assert d.returncode == 0, f"exit {d.returncode}"
        assert s.segments() == [], f"left behind: {s.segments()}"
    finally:
        s.close()


def main():
    res = Results()
    res.check("(4) a topic flood at RLIMIT_NOFILE 64: refused as fd_limit before the limit, control and "
              "streams served, nothing left after SIGTERM", case_fd_flood)
    res.finish()


if __name__ == "__main__":
    main()
