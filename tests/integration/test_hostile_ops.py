#!/usr/bin/env python3
"""Hostile senders, clients and files against the real ezshmd, the operations side (issue 21):
(4) a topic flood under a low file descriptor limit is refused before the limit (fd_limit),
control and the streams already made keep being served, SIGTERM leaves no segment behind;
(6) a process that truncates the wake and clock segments kills neither the Python ClockReader
nor ezshm-mirror --follow: both go on with the rebuilt ring; and (issue 22) a follower started
before the stream's first message waits for it; (9) a config path that is (a link to) a FIFO
neither blocks startup nor a SIGHUP reload; (11) with a narrow control_mutable, remove_stream
and add_stream are refused like an update; (13) the CLIs read numbers strictly (decimal, the
whole text) and a usage error is 64."""
import base64
import json
import os
import resource
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from ezshm_harness import (STOP_TIMEOUT, MirrorFollow, Results, Session, counter_runs, counter_values,  # noqa: E402
                           get_status, helper_tool, read_header_file, wait_until)
import shm_layout  # noqa: E402

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "examples")

# A ClockReader (docs/examples/ezshm_clock.py) that prints "generation position time" after
# every wait, until stopped.
CLOCK_READER = """
import sys
sys.path.insert(0, sys.argv[1])
from ezshm_clock import ClockReader
c = ClockReader(sys.argv[2])
while True:
    c.wait(0.2)
    pos, t, _, _ = c.newest()
    print(c.generation, pos, t, flush=True)
"""


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


def start_single(s, name):
    """ezshmd with one stream name, and a counter publisher at 1 kHz in chunks of 10 (until
    stopped); returns (daemon, control endpoint)."""
    data, ctl = s.endpoint(), s.endpoint()
    d = s.start("ezshmd", "--sub-bind", data, "--control", ctl, "--shmem-name", name, "--buf-dur", "2",
                "--log-level", "error")
    s.wait_ready(ctl)
    s.start("ezshm-pub", "--connect", data, "--pattern", "counter", "--dtype", "i", "--fs", "1000", "--chunk", "10",
            "--quiet", "--wait-sub", "300")
    return d, ctl


def case_truncated_wake():
    """ezshm-mirror --follow and a Python ClockReader on a live stream; another process
    truncates the ring's wake and clock segments (as a group member may with shm_mode 0660).
    Both readers live on: the mirror says so and re-attaches, the ClockReader reads the
    rebuilt ring's times; the mirror's rows stay the counter, with the gap reported."""
    s = Session("ops-wake")
    try:
        name = f"ops-wake-{os.getpid()}"
        d, ctl = start_single(s, name)
        header = os.path.join(s.dir, shm_layout.short_name(name))
        wait_until(lambda: os.path.exists(header) and read_header_file(header)["bvalid"], 10, "the ring")
        mirror = MirrorFollow(s, name, 10**7)
        lines = os.path.join(s.sockdir, "clock.out")
        with open(lines, "w") as out:
            reader = subprocess.Popen([sys.executable, "-c", CLOCK_READER, EXAMPLES, name], env=s.env, stdout=out)
            s.procs.append(reader)

        def clock_lines():
            with open(lines) as f:
                return [ln.split() for ln in f.read().splitlines()]
        wait_until(lambda: mirror.rows_so_far() > 50 and len(clock_lines()) > 5, 20, "both readers reading")
        gen = read_header_file(header)["generation"]
        for segment in (shm_layout.wake_name(name, gen), shm_layout.clock_name(name, gen)):
            os.truncate(os.path.join(s.dir, segment), 0)
        wait_until(lambda: read_header_file(header)["generation"] > gen, 20, "ezshmd to rebuild the ring")
        rows = mirror.rows_so_far()

        def resumed():
            after = [ln for ln in clock_lines() if int(ln[0]) > gen and ln[2] != "nan"]
            return mirror.rows_so_far() > rows + 50 and len(after) > 3
        wait_until(resumed, 20, "both readers on the rebuilt ring")
        assert reader.poll() is None, f"the ClockReader died ({reader.returncode})"
        assert mirror.proc.poll() is None, f"the follower ended ({mirror.proc.returncode})"
        mirror.interrupt()
        rc, got, err = mirror.finish(timeout=STOP_TIMEOUT)
        assert rc == 0, (rc, err)
        assert "truncated" in err and "re-attaching" in err, err
        runs = counter_runs(counter_values(got, "i"), "i")
        assert all(n > 0 for _, _, n in runs) and len(runs) <= 3, runs[:5]
        assert d.poll() is None, "ezshmd died"
    finally:
        s.close()


def case_follow_before_first_message():
    """ezshm-mirror --follow without --wait, started while the stream has a header but no ring
    yet, waits for it (like tail -F) and prints the frames; --wait still bounds a stream that
    does not exist."""
    s = Session("ops-follow")
    try:
        name = f"ops-follow-{os.getpid()}"
        data, ctl = s.endpoint(), s.endpoint()
        s.start("ezshmd", "--sub-bind", data, "--control", ctl, "--shmem-name", name, "--log-level", "error")
        s.wait_ready(ctl)
        mirror = MirrorFollow(s, name, 30, wait=0)
        time.sleep(0.3)
        assert mirror.proc.poll() is None, f"the follower exited before the first message: {mirror.proc.returncode}"
        s.start("ezshm-pub", "--connect", data, "--pattern", "counter", "--dtype", "i", "--fs", "1000", "--chunk",
                "10", "--quiet", "--wait-sub", "300")
        rc, rows, err = mirror.finish(timeout=STOP_TIMEOUT * 2)
        assert rc == 0 and len(rows) == 30, (rc, len(rows), err)
        assert len(counter_runs(counter_values(rows, "i"), "i")) == 1, rows
        t = time.monotonic()
        r = s.run("ezshm-mirror", "--follow", "--wait", "0.3", f"{name}-missing")
        assert r.returncode == 2 and time.monotonic() - t >= 0.3, (r.returncode, r.stderr)
    finally:
        s.close()


def case_config_fifo():
    """The config path a symbolic link, pointed at a FIFO nobody writes: SIGHUP refuses the
    reload (not a regular file) and the loop goes on: control answers, SIGTERM stops it.
    Started on a FIFO, ezshmd exits with the reason instead of waiting for a writer."""
    s = Session("ops-fifo")
    try:
        config, fifo, link = (os.path.join(s.sockdir, f) for f in ("ezshmd.json", "fifo", "config.json"))
        with open(config, "w") as f:
            json.dump({"log_level": "error"}, f)
        os.mkfifo(fifo)
        os.symlink(config, link)
        ctl = s.endpoint()
        log = open(os.path.join(s.sockdir, "ezshmd.log"), "w")
        d = s.start("ezshmd", "--config", link, "--sub-bind", s.endpoint(), "--control", ctl, "--shmem-name",
                    f"ops-fifo-{os.getpid()}", stderr=log)
        s.wait_ready(ctl)
        os.unlink(link)
        os.symlink(fifo, link)
        d.send_signal(signal.SIGHUP)
        for _ in range(3):
            rc, reply = s.ctl(ctl, "get")
            assert rc == 0 and reply["settings"]["log_level"] == "error", (rc, reply)
        d.send_signal(signal.SIGTERM)
        d.wait(timeout=STOP_TIMEOUT)
        log.close()
        assert d.returncode == 0, d.returncode
        with open(log.name) as f:
            text = f.read()
        assert "not a regular file" in text, text
        r = s.run("ezshmd", "--config", fifo, "--control", s.endpoint(), timeout=20)
        assert r.returncode != 0 and "not a regular file" in r.stderr, (r.returncode, r.stderr)
    finally:
        s.close()


def case_control_mutable_streams():
    """control_mutable = log_level: remove_stream cannot unlink a stream's segments, add_stream
    cannot make one (both immutable); log_level still changes."""
    s = Session("ops-mutable")
    try:
        pid = os.getpid()
        names = (f"ops-ma-{pid}", f"ops-mb-{pid}")
        data, ctl = s.endpoint(), s.endpoint()
        s.start("ezshmd", "--sub-bind", data, "--control", ctl, "--stream", f"a={names[0]}", "--stream",
                f"b={names[1]}", "--control-mutable", "log_level", "--log-level", "error")
        s.wait_ready(ctl)
        before = s.segments()
        assert shm_layout.short_name(names[1]) in before, before
        rc, reply = s.ctl(ctl, "--stream", names[1], "remove-stream")
        assert rc == 1 and reply["error"]["code"] == "immutable" and "control_mutable" in reply["error"]["message"], \
            reply
        rc, reply = s.ctl(ctl, "--stream", f"ops-mc-{pid}", "add-stream", "c")
        assert rc == 1 and reply["error"]["code"] == "immutable", reply
        assert s.segments() == before, (before, s.segments())
        rc, reply = s.ctl(ctl, "streams")
        assert sorted(x["stream"] for x in reply["streams"]) == sorted(names), reply
        rc, reply = s.ctl(ctl, "--stream", names[0], "set", "log_level=warning")
        assert rc == 0 and reply["settings"]["log_level"] == "warning", reply
    finally:
        s.close()


def case_cli_numbers():
    """Usage errors exit 64 before anything is asked of a daemon: ezshm-ctl set without '=',
    an empty, hexadecimal or infinite number to ezshm-mirror, ezshm-ctl, ezshm-pub; ezshmd
    refuses --buf-dur 0x10 as not a number. Plain decimals (.5) are still read."""
    s = Session("ops-cli")
    try:
        ctl = s.endpoint()
        usage = [("ezshm-ctl", "--endpoint", ctl, "set", "novalue"),
                 ("ezshm-ctl", "--endpoint", ctl, "--timeout", "0x10", "get"),
                 ("ezshm-ctl", "--endpoint", ctl, "--timeout", "", "get"),
                 ("ezshm-mirror", "--dump", "csv", "--latest", "", "x"),
                 ("ezshm-mirror", "--dump", "csv", "--latest", "0x10", "x"),
                 ("ezshm-mirror", "--wait", "", "x"),
                 ("ezshm-mirror", "--wait", "inf", "x"),
                 ("ezshm-mirror", "--follow", "--frames", " 3", "x"),
                 ("ezshm-mirror", "--watch", "--refresh", "nan", "x")]
        for args in usage:
            r = s.run(*args)
            assert r.returncode == 64, (args, r.returncode, r.stderr)
        r = s.run("ezshm-pub", "--fs", "inf", "--count", "1")
        assert r.returncode == 2 and "non-negative number" in r.stderr, (r.returncode, r.stderr)
        r = s.run("ezshm-pub", "--count", "0x10")
        assert r.returncode == 2 and "non-negative integer" in r.stderr, (r.returncode, r.stderr)
        r = s.run("ezshmd", "--buf-dur", "0x10", "--control", ctl)
        assert r.returncode != 0 and "buf_dur must be" in r.stderr and "0x10" in r.stderr, (r.returncode, r.stderr)
        r = s.run("ezshm-mirror", "--wait", ".2", "--follow", "missing")
        assert r.returncode == 2, (r.returncode, r.stderr)
    finally:
        s.close()


def main():
    res = Results()
    res.check("(4) a topic flood at RLIMIT_NOFILE 64: refused as fd_limit before the limit, control and "
              "streams served, nothing left after SIGTERM", case_fd_flood)
    res.check("(6) wake and clock segments truncated: the ClockReader and ezshm-mirror --follow read on",
              case_truncated_wake)
    res.check("(22) --follow before the first message waits for the ring; --wait bounds a missing stream",
              case_follow_before_first_message)
    res.check("(9) a config path linked to a FIFO: SIGHUP refused, control answers; startup refused",
              case_config_fifo)
    res.check("(11) control_mutable=log_level: remove_stream and add_stream refused as immutable, segments kept",
              case_control_mutable_streams)
    res.check("(13) CLI numbers: decimal only, the whole text; usage errors exit 64", case_cli_numbers)
    res.finish()


if __name__ == "__main__":
    main()
