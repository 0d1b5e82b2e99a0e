#!/usr/bin/env python3
"""Many streams, one ezshmd (issue 16): routing by exact topic, auto mode and its limit,
unmatched topics, per-stream control and lifecycle, isolation with every frame checked, the
ring budget across streams, and an independent Python reader attaching to each stream by its
own name."""
import json
import os
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
import numpy as np  # noqa: E402
import shm_layout  # noqa: E402
from ezshm_harness import BIN, Results, Session, get_status, helper_tool, wait_until  # noqa: E402
import subprocess  # noqa: E402

FS, CHUNK = 1000, 10


class Rig:
    """One ezshmd bound on a SUB endpoint, publishers connecting to it."""

    def __init__(self, tag, *flags, env_dir=None):
        self.s = Session(tag)
        if env_dir:
            self.s.env["EZSHM_SHM_DIR"] = env_dir
        self.sub = self.s.endpoint()
        self.ctl_ep = self.s.endpoint()
        self.d = self.s.start("ezshmd", "--sub-bind", self.sub, "--control", self.ctl_ep, "--buf-dur", "10",
                              "--log-level", "error", *flags)
        self.s.wait_ready(self.ctl_ep)

    def publish(self, topic, count, *extra):
        """Sends count counter-pattern messages of CHUNK frames on topic; waits for the sender."""
        r = self.s.run("ezshm-pub", "--connect", self.sub, "--topic", topic, "--pattern", "counter", "--fs",
                       str(FS), "--chunk", str(CHUNK), "--count", str(count), "--rate", "2000",
                       "--quiet", *extra)
        assert r.returncode == 0, r.stderr

    def ctl(self, *args):
        return self.s.ctl(self.ctl_ep, *args)

    def request(self, obj):
        """One raw request (through ezshm-test-flood's REQ socket): (0, reply) or (1, None)."""
        path = os.path.join(self.s.sockdir, "request.txt")
        with open(path, "w") as f:
            f.write(json.dumps(obj).encode().hex() + "\n")
        r = subprocess.run([helper_tool("ezshm-test-flood"), self.ctl_ep, path, "5000"], capture_output=True,
                           timeout=60)
        line = r.stdout.decode().strip()
        return (0, json.loads(line)) if r.returncode == 0 else (1, None)

    def streams(self):
        rc, reply = self.ctl("streams")
        assert rc == 0 and reply["ok"], reply
        return {st["stream"]: st for st in reply["streams"]}

    def stream_status(self, name):
        rc, reply = self.request({"op": "status", "stream": name})
        assert rc == 0 and reply["ok"], reply
        return reply["status"]

    def frames(self, name):
        """Frames written into stream name so far (0 while it does not exist yet)."""
        rc, reply = self.request({"op": "status", "stream": name})
        return reply["status"]["counters"]["frames"] if rc == 0 and reply["ok"] else 0

    def wait_frames(self, name, frames):
        wait_until(lambda: self.frames(name) >= frames, what=f"{frames} frames in {name}")
        st = self.stream_status(name)["counters"]
        assert st["frames"] == frames and st["dropped"] == 0, st

    def close(self):
        self.s.close()


def check_counter_ring(name, frames, channels):
    """Reads the stream with shm_layout (not libezshm): frames 0..frames-1, every channel equal."""
    s = shm_layout.read_stream(name)
    assert s["bvalid"] and s["shape"][1:] == (channels,), (s["bvalid"], s["shape"])
    got = s["ordered"]
    assert got.shape[0] == frames, got.shape
    want = np.repeat(np.arange(frames)[:, None], channels, axis=1).astype(got.dtype)
    assert np.array_equal(got, want), "ring values differ from the counter pattern"
    return s


def routing(r):
    """Two declared streams take exactly their topics; a prefix and an unknown topic touch no ring."""
    rig = Rig("routing", "--stream", "eeg=st-eeg", "--stream", "emg=st-emg", "--header", "v1")
    try:
        os.environ["EZSHM_SHM_DIR"] = rig.s.dir
        rig.publish("eeg", 30, "--channels", "8")
        rig.publish("emg", 20, "--channels", "4", "--dtype", "int16")
        rig.publish("eegX", 7, "--channels", "8")
        rig.publish("", 5, "--channels", "8")

        def exact():
            rig.wait_frames("st-eeg", 300)
            rig.wait_frames("st-emg", 200)
            unrouted = get_status(rig.s, rig.ctl_ep)["unrouted"]
            assert unrouted["dropped_by_reason"]["no_stream"] == 12 and unrouted["dropped"] == 12, unrouted
            eeg = check_counter_ring("st-eeg", 300, 8)
            emg = check_counter_ring("st-emg", 200, 4)
            assert eeg["layout"] == emg["layout"] == "v1" and emg["dtype"] == "h", (eeg["layout"], emg["dtype"])
        r.check("routing: exact topics into their own rings, prefix/unknown topics counted as no_stream", exact)

        def listing():
            st = rig.streams()
            assert set(st) == {"st-eeg", "st-emg"}, st
            assert st["st-eeg"]["topic"] == "eeg" and st["st-eeg"]["shape"] == [8], st["st-eeg"]
            assert st["st-emg"]["dtype"] == "h" and st["st-emg"]["srate"] == FS, st["st-emg"]
            rc, get = rig.ctl("get")
            assert rc == 0 and len(get["streams"]) == 2, get
            rc, health = rig.ctl("--stream", "st-emg", "health")
            assert rc == 0 and health["state"] in ("ingesting", "idle"), health
        r.check("routing: streams listing (name, topic, shape, rate), get lists every stream", listing)

        def watch_together():
            for args in (("st-eeg", "st-emg"), ("--all", rig.ctl_ep)):
                p = subprocess.Popen([os.path.join(BIN, "ezshm-mirror"), "--watch", "--refresh", "10", *args],
                                     env=rig.s.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                try:
                    out, err = p.communicate(timeout=0.8)
                except subprocess.TimeoutExpired:
                    p.send_signal(signal.SIGINT)
                    out, err = p.communicate(timeout=10)
                assert p.returncode == 0, (args, p.returncode, err)
                lines = out.splitlines()
                eeg = [ln for ln in lines if ln.startswith("st-eeg gen=0 dtype=f")]
                emg = [ln for ln in lines if ln.startswith("st-emg gen=0 dtype=h")]
                assert len(eeg) >= 3 and len(emg) >= 3 and len(eeg) + len(emg) == len(lines), (args, out)
        r.check("routing: ezshm-mirror --watch shows several streams together (by names and --all)", watch_together)
    finally:
        rig.close()


def auto_mode(r):
    """--stream-per-topic names streams from the template, up to --max-streams."""
    rig = Rig("auto", "--stream-per-topic", "rig1/{topic}", "--max-streams", "2")
    try:
        os.environ["EZSHM_SHM_DIR"] = rig.s.dir
        rig.publish("a", 10, "--channels", "2")
        rig.publish("b", 10, "--channels", "3")
        rig.publish("c", 10, "--channels", "4")
        rig.publish("a", 10, "--channels", "2")

        def limited():
            rig.wait_frames("rig1/a", 200)
            rig.wait_frames("rig1/b", 100)
            assert set(rig.streams()) == {"rig1/a", "rig1/b"}
            unrouted = get_status(rig.s, rig.ctl_ep)["unrouted"]
            assert unrouted["dropped_by_reason"]["max_streams"] == 10, unrouted
            check_counter_ring("rig1/b", 100, 3)
        r.check("auto mode: {topic} template, max_streams refuses and counts the third topic", limited)

        def removed():
            before = set(rig.s.segments())
            rc, reply = rig.request({"op": "remove_stream", "stream": "rig1/b"})
            assert rc == 0 and reply["ok"], reply
            gone = before - set(rig.s.segments())
            # header, ring (and the clock segment when there is one)
            assert shm_layout.short_name("rig1/b") in gone and len(gone) >= 2, gone
            rig.publish("c", 5, "--channels", "4")
            rig.wait_frames("rig1/c", 50)
            check_counter_ring("rig1/c", 50, 4)
        r.check("auto mode: remove_stream unlinks header and ring, frees a slot for a new topic", removed)
    finally:
        rig.close()


def control(r):
    rig = Rig("ctl", "--stream", "x=st-x", "--stream", "y=st-y")
    try:
        os.environ["EZSHM_SHM_DIR"] = rig.s.dir

        def which():
            rc, reply = rig.request({"op": "update", "settings": {"buf_dur": 2}})
            assert reply["error"]["code"] == "bad_request" and "which stream?" in reply["error"]["message"], reply
            rc, reply = rig.request({"op": "update", "stream": "st-x", "settings": {"shmem_name": "st-y"}})
            assert reply["error"]["code"] == "stream_exists", reply
            rc, reply = rig.request({"op": "get", "stream": "nope"})
            assert reply["error"]["code"] == "unknown_stream", reply
            rc, reply = rig.request({"op": "update", "stream": "st-x", "settings": {"buf_dur": 3}})
            assert reply["ok"] and reply["settings"]["buf_dur"] == 3, reply
            rc, reply = rig.request({"op": "get", "stream": "st-y"})
            assert reply["settings"]["buf_dur"] == 10, reply
        r.check("control: update needs a stream among several, rename onto a live name refused, per-stream buf_dur",
                which)

        def add_rename():
            rc, reply = rig.request({"op": "add_stream", "stream": "st-z", "topic": "z",
                                     "settings": {"buf_dur": 5, "header": "v1"}})
            assert rc == 0 and reply["ok"] and reply["settings"]["buf_dur"] == 5, reply
            rc, reply = rig.request({"op": "add_stream", "stream": "st-w", "topic": "z"})
            assert reply["error"]["code"] == "stream_exists", reply
            rc, reply = rig.request({"op": "add_stream", "stream": "st-w", "topic": "w", "settings": {"sub": []}})
            assert reply["error"]["code"] == "unknown_field", reply
            rig.publish("z", 10, "--channels", "2")
            rig.wait_frames("st-z", 100)
            s = check_counter_ring("st-z", 100, 2)
            assert s["layout"] == "v1" and s["shape"][0] == 5 * FS, s["shape"]
            rc, reply = rig.ctl("--stream", "st-z", "set", "shmem_name=st-z2")
            assert rc == 0 and reply["ok"], reply
            assert "st-z2" in rig.streams() and shm_layout.short_name("st-z") not in rig.s.segments()
        r.check("control: add_stream with per-stream settings, topic taken refused, rename by --stream", add_rename)
    finally:
        rig.close()


def isolation(r):
    """Malformed messages, a dtype change (rebuild) and a ring over budget on one stream: the
    other stream keeps every frame."""
    rig = Rig("iso", "--stream", "good=st-good", "--stream", "bad=st-bad", "--stream", "big=st-big",
              "--max-buffer-bytes", "1500000")
    try:
        os.environ["EZSHM_SHM_DIR"] = rig.s.dir
        pub = rig.s.start("ezshm-pub", "--connect", rig.sub, "--topic", "good", "--pattern", "counter", "--fs",
                          str(FS), "--chunk", str(CHUNK), "--count", "300", "--rate", "500",
                          "--quiet", "--channels", "8")
        rig.publish("bad", 40, "--channels", "8", "--change-after", "20", "--change", "dtype")
        rig.publish("bad", 20, "--channels", "8", "--dtype", "int8", "--format", "ezmsg-single")
        rig.publish("big", 5, "--channels", "64", "--dtype", "float64")
        assert pub.wait(timeout=30) == 0

        def kept():
            rig.wait_frames("st-good", 3000)
            check_counter_ring("st-good", 3000, 8)
            bad = rig.stream_status("st-bad")
            assert bad["counters"]["ring_resets"] >= 2, bad["counters"]
            big = rig.stream_status("st-big")["counters"]
            assert big["dropped_by_reason"]["ring_too_big"] == 5, big
            assert "st-big" in big["last_error"]["message"] and "max_buffer_bytes" in big["last_error"]["message"]
        r.check("isolation: rebuilds and a ring over the total budget on other streams cost this one no frame",
                kept)
    finally:
        rig.close()


def shm_shortage(r):
    """A /dev/shm too small for one stream's ring (a 1500 KiB tmpfs): that stream counts no_space,
    the other keeps every frame."""
    s = Session("shortage")
    tight = os.path.join(s.sockdir, "tight")
    os.makedirs(tight)
    m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1500k", "ezshm-streams-tight", tight],
                       capture_output=True, text=True)
    s.close()
    if m.returncode != 0:
        print(f"SKIP isolation: /dev/shm shortage (cannot mount a small tmpfs: {m.stderr.strip()})")
        return
    try:
        os.environ["EZSHM_SHM_DIR"] = tight
        rig = Rig("shortage", "--stream", "small=st-small", "--stream", "huge=st-huge", env_dir=tight)
        try:
            rig.publish("small", 30, "--channels", "4")          # 10 s x 1 kHz x 4 x 4 B = 160 KB
            rig.publish("huge", 5, "--channels", "64")           # 10 s x 1 kHz x 64 x 4 B = 2.56 MB
            rig.publish("small", 30, "--channels", "4")

            def isolated():
                rig.wait_frames("st-small", 600)
                got = shm_layout.read_stream("st-small")["ordered"]
                # two senders, each counting from 0: 0..299 twice, every channel equal
                want = np.repeat(np.concatenate([np.arange(300), np.arange(300)])[:, None], 4, axis=1)
                assert np.array_equal(got, want.astype(got.dtype)), "st-small lost or changed frames"
                huge = rig.stream_status("st-huge")["counters"]
                assert huge["dropped_by_reason"]["no_space"] == 5 and huge["frames"] == 0, huge
            r.check("isolation: /dev/shm too small for one stream's ring: it counts no_space, the other "
                    "keeps every frame", isolated)
        finally:
            rig.close()
    finally:
        subprocess.run(["umount", tight])
        os.rmdir(tight)


def single_stream(r):
    """No --stream: one stream takes every topic, addressed without naming it (as always)."""
    rig = Rig("single", "--shmem-name", "st-one")
    try:
        os.environ["EZSHM_SHM_DIR"] = rig.s.dir
        rig.publish("anything", 10, "--channels", "2")
        rig.publish("else", 10, "--channels", "2")

        def one():
            status = get_status(rig.s, rig.ctl_ep)
            assert status["stream"]["shmem_name"] == "st-one" and status["counters"]["frames"] == 200, status
            rc, reply = rig.request({"op": "update", "settings": {"buf_dur": 4}})
            assert reply["ok"], reply
            rc, reply = rig.request({"op": "get", "stream": "st-one"})
            assert reply["settings"]["buf_dur"] == 4, reply
        r.check("single stream: every topic, update without a stream name", one)
    finally:
        rig.close()


def main():
    r = Results()
    for case in (routing, auto_mode, control, isolation, shm_shortage, single_stream):
        try:
            case(r)
        except Exception as e:  # a rig that failed to start is one failure, the others still run
            r.check(case.__name__, lambda: (_ for _ in ()).throw(e))
    r.finish()


if __name__ == "__main__":
    main()
