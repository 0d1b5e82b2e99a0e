#!/usr/bin/env python3
"""No stream may take another stream's segments (issue 21, item 1). A stream's segments are
its name plus /buffer<n>, /meta<n>, /clock<n>, /wake<n>: a stream named "x/buffer0" has the
header segment of "x"'s ring. Real ezshmd and ezshm-pub processes:

(a) auto mode: topics eeg/buffer0, eeg/clock0, eeg/wake0, eeg/meta1 beside topic eeg make no
    stream (counted as name_conflict), rig/eeg keeps every frame; the reverse (rig/emg after
    rig/emg/buffer1) is refused the same way;
(b) add_stream and a rename onto such a name: refused as name_conflict;
(c) config: declarations that collide refuse the reload (and the start) as a whole;
(d) a second ezshmd squatting a live stream's ring or aux name is refused without touching
    it; one on a ring name of a future generation keeps its header through the first
    stream's rebuild, which skips that generation."""
import json
import os
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
sys.path.insert(0, HERE)
import shm_layout  # noqa: E402
from ezshm_harness import Results, Session, get_status, wait_until  # noqa: E402
from test_reload import Daemon  # noqa: E402
from test_streams import Rig, check_counter_ring  # noqa: E402

ATTACKS = ("eeg/buffer0", "eeg/clock0", "eeg/wake0", "eeg/meta1")


def auto_mode(r):
    rig = Rig("nc-auto", "--stream-per-topic", "rig/{topic}", "--header", "v1")
    try:
        os.environ["EZSHM_SHM_DIR"] = rig.s.dir

        def attack():
            rig.publish("eeg", 10, "--channels", "2")
            rig.wait_frames("rig/eeg", 100)
            before = {n: os.stat(os.path.join(rig.s.dir, n)).st_ino for n in rig.s.segments()}
            for topic in ATTACKS:
                rig.publish(topic, 3, "--channels", "2")
            wait_until(lambda: get_status(rig.s, rig.ctl_ep)["unrouted"]["dropped_by_reason"].get(
                "name_conflict", 0) == 3 * len(ATTACKS), what="the attack counted as name_conflict")
            assert set(rig.streams()) == {"rig/eeg"}, rig.streams()
            after = {n: os.stat(os.path.join(rig.s.dir, n)).st_ino for n in rig.s.segments()}
            assert after == before, "a segment of rig/eeg was replaced"
            check_counter_ring("rig/eeg", 100, 2)
            rig.publish("eeg", 10, "--channels", "2")
            rig.wait_frames("rig/eeg", 200)
            unrouted = get_status(rig.s, rig.ctl_ep)["unrouted"]
            assert unrouted["last_error"]["reason"] == "name_conflict", unrouted
            assert "rig/eeg" in unrouted["last_error"]["message"], unrouted
        r.check("(a) auto mode: topics eeg/buffer0, clock0, wake0, meta1 make no stream (name_conflict), "
                "rig/eeg untouched", attack)

        def reverse():
            rig.publish("emg/buffer1", 5, "--channels", "3")
            rig.wait_frames("rig/emg/buffer1", 50)
            rig.publish("emg", 4, "--channels", "3")
            wait_until(lambda: get_status(rig.s, rig.ctl_ep)["unrouted"]["dropped_by_reason"]["name_conflict"]
                       == 3 * len(ATTACKS) + 4, what="rig/emg refused")
            assert set(rig.streams()) == {"rig/eeg", "rig/emg/buffer1"}, rig.streams()
            check_counter_ring("rig/emg/buffer1", 50, 3)
        r.check("(a) auto mode, the reverse: rig/emg beside a live rig/emg/buffer1 is refused", reverse)
    finally:
        rig.close()


def add_stream(r):
    rig = Rig("nc-add", "--stream", "x=nc-x", "--stream", "y=nc-y")
    try:
        os.environ["EZSHM_SHM_DIR"] = rig.s.dir

        def refused():
            rig.publish("x", 5, "--channels", "2")
            rig.wait_frames("nc-x", 50)
            for name in ("nc-x/buffer0", "nc-x/meta1", "nc-x/clock7", "nc-x/wake0"):
                rc, reply = rig.request({"op": "add_stream", "stream": name, "topic": "z"})
                assert rc == 0 and reply["error"]["code"] == "name_conflict", reply
                assert "nc-x" in reply["error"]["message"], reply
            rc, reply = rig.request({"op": "update", "stream": "nc-y", "settings": {"shmem_name": "nc-x/buffer1"}})
            assert rc == 0 and reply["error"]["code"] == "name_conflict", reply
            assert set(rig.streams()) == {"nc-x", "nc-y"}, rig.streams()
            check_counter_ring("nc-x", 50, 2)
            # a name that only looks alike is fine
            rc, reply = rig.request({"op": "add_stream", "stream": "nc-x/buffer01", "topic": "z"})
            assert rc == 0 and reply["ok"], reply
        r.check("(b) add_stream and rename onto a name another stream generates: name_conflict", refused)
    finally:
        rig.close()


def config(r):
    def startup():
        s = Session("nc-start")
        try:
            p = s.run("ezshmd", "--sub-bind", s.endpoint(), "--control", s.endpoint(), "--stream", "a=nc-a",
                      "--stream", "b=nc-a/clock0")
            assert p.returncode != 0 and "would share segments" in p.stderr, (p.returncode, p.stderr)
            assert s.segments() == [], s.segments()
        finally:
            s.close()
    r.check("(c) --stream declarations that collide: ezshmd refuses to start", startup)

    d = Daemon("nc-reload", [{"topic": "a", "shmem_name": "nc-a"}])
    try:
        def reload():
            line = d.reload([{"topic": "a", "shmem_name": "nc-a"}, {"topic": "b", "shmem_name": "nc-a/wake3"}])
            assert "reload refused" in line and "would share segments" in line, line
            assert set(d.streams()) == {"nc-a"}, d.streams()
            # a running stream made over control is checked too (through add_stream)
            rc, reply = d.request({"op": "add_stream", "stream": "nc-c", "topic": "c"})
            assert reply["ok"], reply
            d.reload([{"topic": "a", "shmem_name": "nc-a"}, {"topic": "b", "shmem_name": "nc-c/buffer0"}])
            assert set(d.streams()) == {"nc-a", "nc-c"}, d.streams()
            assert any("name_conflict" in ln or "collide" in ln for ln in d.log_lines()), d.log_lines()[-5:]
        r.check("(c) config on SIGHUP: colliding declarations refused, a collision with a running stream too",
                reload)
    finally:
        d.close()


def squat(r):
    s = Session("nc-squat")
    try:
        data, ctl = s.endpoint(), s.endpoint()
        s.start("ezshmd", "--sub-bind", data, "--control", ctl, "--shmem-name", "nc-sq", "--header", "v1",
                "--buf-dur", "2", "--log-level", "error")
        s.wait_ready(ctl)
        os.environ["EZSHM_SHM_DIR"] = s.dir

        def pub(n, channels):
            p = s.run("ezshm-pub", "--connect", data, "--pattern", "counter", "--fs", "1000", "--chunk", "10",
                      "--count", str(n), "--rate", "2000", "--wait-sub", "300", "--quiet", "--channels", str(channels))
            assert p.returncode == 0, p.stderr

        def second(name):
            """A second ezshmd on name and its control endpoint."""
            ep = s.endpoint()
            return s.start("ezshmd", "--sub-bind", s.endpoint(), "--control", ep, "--shmem-name", name,
                           "--log-level", "error", stderr=subprocess.PIPE, text=True), ep

        def refused():
            pub(10, 2)
            wait_until(lambda: get_status(s, ctl)["counters"]["frames"] == 100, what="100 frames")
            st = get_status(s, ctl)["stream"]
            assert st["meta_generation"] == 1, st
            inodes = {n: os.stat(os.path.join(s.dir, n)).st_ino for n in s.segments()}
            for name in ("nc-sq/buffer0", "nc-sq/meta1", "nc-sq/clock0", "nc-sq/wake0"):
                p, _ = second(name)
                try:
                    _, err = p.communicate(timeout=15)
                except subprocess.TimeoutExpired:
                    raise AssertionError(f"a second ezshmd took {name}") from None
                assert p.returncode != 0 and "in use" in err, (name, p.returncode, err)
            assert {n: os.stat(os.path.join(s.dir, n)).st_ino for n in s.segments()} == inodes
            check_counter_ring("nc-sq", 100, 2)
        r.check("(d) a second ezshmd on a live stream's ring, aux, clock or wake name is refused, nothing touched",
                refused)

        def future():
            p, ep = second("nc-sq/buffer1")
            s.wait_ready(ep)
            header = os.path.join(s.dir, shm_layout.short_name("nc-sq/buffer1"))
            ino = os.stat(header).st_ino
            pub(5, 3)                       # a new shape: nc-sq rebuilds, generation 1's name is taken
            wait_until(lambda: get_status(s, ctl)["counters"]["frames"] == 150, what="the rebuilt ring's frames")
            st = get_status(s, ctl)["stream"]
            assert st["generation"] == 2 and st["bvalid"], st
            assert os.stat(header).st_ino == ino, "the live header of nc-sq/buffer1 was reclaimed as a ring"
            other = get_status(s, ep)["stream"]
            assert other["shmem_name"] == "nc-sq/buffer1" and other["generation"] == -1, other
            assert shm_layout.read_stream("nc-sq")["shape"] == (2000, 3)
            p.send_signal(signal.SIGTERM)
            assert p.wait(timeout=15) == 0
        r.check("(d) a second ezshmd on a future ring name keeps its header; the rebuild skips that generation",
                future)
    finally:
        s.close()


def main():
    r = Results()
    for case in (auto_mode, add_stream, config, squat):
        try:
            case(r)
        except Exception as e:  # noqa: BLE001 (a rig that failed to start is one failure)
            r.report(case.__name__, e)
    r.finish()


if __name__ == "__main__":
    main()
