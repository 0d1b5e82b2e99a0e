#!/usr/bin/env python3
"""SIGHUP reconciles the declared streams (issue 16): a real ezshmd started from a config file
that declares three streams; the file is edited (one stream added, one removed, one's buf_dur
changed, one untouched) and SIGHUP sent. Checked: the stream listing, the segments in the
private EZSHM_SHM_DIR, the changed stream's ring rebuilt with the new length, the untouched
stream's frames continuous through the reload (a reader following it reports no loss), the
events of each step, a stream added over control surviving, renames and topic changes by the
file, and broken files (invalid JSON, an invalid field, a duplicated topic) changing nothing
and saying why in the log."""
import json
import os
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
import shm_layout  # noqa: E402
from ezshm_harness import (MirrorFollow, Results, Session, check_counter_rows, helper_tool,  # noqa: E402
                           lost_reports, wait_until)
from test_streams import FS, CHUNK, Rig, check_counter_ring  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402


class Daemon(Rig):
    """ezshmd from a config file, its log in a file, an events subscriber (a Rig of
    test_streams otherwise: publish, ctl, request, streams, stream_status, wait_frames)."""

    def __init__(self, tag, streams):
        self.s = Session(tag)
        os.environ["EZSHM_SHM_DIR"] = self.s.dir
        self.sub, self.ctl_ep, self.ev_ep = self.s.endpoint(), self.s.endpoint(), self.s.endpoint()
        self.config = os.path.join(self.s.sockdir, "ezshmd.json")
        self.write_config(streams)
        self.log_path = os.path.join(self.s.sockdir, "ezshmd.log")
        self.log = open(self.log_path, "w")
        self.d = self.s.start("ezshmd", "--config", self.config, "--sub-bind", self.sub, "--control", self.ctl_ep,
                              "--events", self.ev_ep, stderr=self.log)
        self.s.wait_ready(self.ctl_ep)
        self.ev_path = os.path.join(self.s.sockdir, "events.out")
        self.ev_out = open(self.ev_path, "w")
        self.s.procs.append(subprocess.Popen([helper_tool("ezshm-test-sub"), self.ev_ep, "ezshm.event", "120"],
                                             stdout=self.ev_out, stderr=subprocess.DEVNULL))
        time.sleep(0.3)   # the events subscription reaches the PUB (slow joiner)

    def write_config(self, streams, text=None):
        """The config file: buf_dur 10 s, the streams list (None: no list), or raw text."""
        config = {"buf_dur": 10, "log_level": "info", "shmem_name": "sg-one"}
        if streams is not None:
            config = {"buf_dur": 10, "log_level": "info", "streams": streams}
        with open(self.config + ".new", "w") as f:
            f.write(text if text is not None else json.dumps(config))
        os.replace(self.config + ".new", self.config)

    def reload(self, streams=None, text=None):
        """Rewrites the file and sends SIGHUP; returns the log line the reload ended with."""
        lines = self.log_lines()
        self.write_config(streams, text)
        self.d.send_signal(signal.SIGHUP)
        return wait_until(lambda: next((ln for ln in self.log_lines()[len(lines):]
                                        if "on SIGHUP" in ln or "reload refused" in ln), None),
                          what="the reload's log line")

    def log_lines(self):
        with open(self.log_path) as f:
            return f.read().splitlines()

    def events(self):
        with open(self.ev_path) as f:
            return [json.loads(line.partition("\t")[2]) for line in f.read().splitlines()]

    def publish_background(self, topic, count, *extra):
        return self.s.start("ezshm-pub", "--connect", self.sub, "--topic", topic, "--pattern", "counter", "--fs",
                            str(FS), "--chunk", str(CHUNK), "--count", str(count), "--quiet",
                            *extra)

    def get(self, name=None):
        """The settings of stream name (None: the daemon's)."""
        rc, reply = self.request({"op": "get", **({"stream": name} if name else {})})
        assert rc == 0 and reply["ok"], reply
        return reply["settings"]

    def stop(self):
        """SIGTERM: ezshmd must exit 0 with no sanitizer report in its log (ASan build)."""
        self.d.send_signal(signal.SIGTERM)
        rc = self.d.wait(timeout=120)
        text = "\n".join(self.log_lines())
        assert rc == 0 and "Sanitizer" not in text and "runtime error" not in text, (rc, text[-3000:])

    def close(self):
        self.s.close()
        self.log.close()
        self.ev_out.close()


def decl(topic, name, **fields):
    return dict(topic=topic, shmem_name=name, **fields)


def edit(r):
    """Add one, remove one, change one's buf_dur, leave one untouched, keep one from control."""
    first = [decl("eeg", "rl-eeg"), decl("emg", "rl-emg"), decl("acc", "rl-acc")]
    d = Daemon("reload", first)
    try:
        d.publish("emg", 20, "--channels", "4")
        d.publish("acc", 10, "--channels", "2")
        d.wait_frames("rl-emg", 200)
        d.wait_frames("rl-acc", 100)
        rc, reply = d.request({"op": "add_stream", "stream": "rl-ctl", "topic": "ctl", "settings": {"buf_dur": 3}})
        assert rc == 0 and reply["ok"], reply
        d.publish("ctl", 5, "--channels", "2")
        d.wait_frames("rl-ctl", 50)
        # The untouched stream: a reader follows every frame while the reload happens mid-stream.
        mirror = MirrorFollow(d.s, "rl-eeg", 10**7, wait=20)
        pub = d.publish_background("eeg", 300, "--channels", "8", "--rate", "150")
        wait_until(lambda: d.stream_status("rl-eeg")["counters"]["frames"] >= 500 and mirror.rows_so_far() > 0,
                   timeout=30, what="the untouched stream mid-way, its reader attached")
        before = set(d.s.segments())
        line = d.reload([decl("eeg", "rl-eeg"), decl("emg", "rl-emg", buf_dur=2), decl("mrk", "rl-mrk")])
        assert pub.wait(timeout=60) == 0

        def listing():
            assert "added 1 ('rl-mrk')" in line and "removed 1 ('rl-acc')" in line and "updated 1 ('rl-emg')" in line \
                and "refused 0" in line, line
            st = d.streams()
            assert set(st) == {"rl-eeg", "rl-emg", "rl-mrk", "rl-ctl"}, st
            assert st["rl-mrk"]["topic"] == "mrk" and st["rl-ctl"]["topic"] == "ctl", st
            assert d.get("rl-ctl")["buf_dur"] == 3
        r.check("edit: listing after the reload (added, removed, updated; the control-added stream kept)", listing)

        def segments():
            now = set(d.s.segments())
            gone = before - now
            assert shm_layout.short_name("rl-acc") in gone and shm_layout.ring_name("rl-acc", 0) in gone, gone
            assert not any(n.startswith(shm_layout.short_name("rl-acc")) for n in now)
            # the new stream: its header at once, its ring with its first message
            assert shm_layout.short_name("rl-mrk") in now and shm_layout.ring_name("rl-mrk", 0) not in now, now
            d.publish("mrk", 10, "--channels", "3")
            d.wait_frames("rl-mrk", 100)
            check_counter_ring("rl-mrk", 100, 3)
            assert shm_layout.ring_name("rl-mrk", 0) in set(d.s.segments())
        r.check("edit: removed stream's segments unlinked, new stream's header then ring on its first message",
                segments)

        def rebuilt():
            st = d.stream_status("rl-emg")
            assert st["stream"]["bvalid"] is False and st["counters"]["frames"] == 200, st
            d.publish("emg", 30, "--channels", "4")
            wait_until(lambda: d.stream_status("rl-emg")["counters"]["frames"] >= 500, what="rl-emg after reload")
            s = shm_layout.read_stream("rl-emg")
            assert s["shape"] == (2 * FS, 4), s["shape"]
            counters = d.stream_status("rl-emg")["counters"]
            assert counters["ring_resets"] == 2 and counters["dropped"] == 0, counters
            check_counter_ring("rl-emg", 300, 4)
        r.check("edit: changed buf_dur drops the ring; the next message rebuilds it 2 s long", rebuilt)

        def continuous():
            d.wait_frames("rl-eeg", 3000)
            check_counter_ring("rl-eeg", 3000, 8)
            st = d.stream_status("rl-eeg")
            assert st["counters"]["ring_resets"] == 1 and st["stream"]["generation"] == 0, st
            with open(mirror.out_path) as f:
                wait_until(lambda: f.seek(0) == 0 and f.read().endswith("\n2999,2999,2999,2999,2999,2999,2999,2999\n"),
                           timeout=30, what="the reader at the last frame")
            mirror.interrupt()
            rc, rows, err = mirror.finish(timeout=60)
            assert rc == 0 and not lost_reports(err) and "rebuilt" not in err, (rc, err)
            # from before the reload (the reader attached at frame 500 or earlier) to the last frame
            assert check_counter_rows(rows, "f") <= 500 and rows[-1][0] == "2999", (rows[0], rows[-1])
        r.check("edit: the untouched stream keeps every frame through the reload (no rebuild, reader lost none)",
                continuous)

        def events():
            evs = d.events()
            by = {name: [e["event"] for e in evs if e.get("stream") == name]
                  for name in ("rl-acc", "rl-emg", "rl-mrk", "rl-eeg")}
            assert by["rl-acc"][-1] == "close" and "buffer cleanup" in by["rl-acc"], by["rl-acc"]
            assert "buffer cleanup" in by["rl-emg"], by["rl-emg"]
            assert by["rl-mrk"], by
            assert "close" not in by["rl-eeg"] and "buffer cleanup" not in by["rl-eeg"], by["rl-eeg"]
        r.check("edit: events for the removed, updated and added streams, none for the untouched one", events)
        r.check("edit: ezshmd stops cleanly after the reloads (exit 0, no sanitizer report)", d.stop)
    finally:
        d.close()


def rename_and_topic(r):
    """The file renames a stream (same topic) and moves another to a new topic (replaced)."""
    d = Daemon("rename", [decl("a", "rn-a"), decl("b", "rn-b"), {"topic": "c"}])
    try:
        generated = {st["topic"]: name for name, st in d.streams().items()}["c"]
        d.publish("b", 5, "--channels", "2")
        d.wait_frames("rn-b", 50)
        line = d.reload([decl("a", "rn-a2"), decl("b2", "rn-b"), {"topic": "c", "buf_dur": 4}])

        def applied():
            assert "updated 2" in line and "replaced 1 ('rn-b')" in line and "refused 0" in line, line
            st = d.streams()
            assert set(st) == {"rn-a2", "rn-b", generated}, st
            assert st["rn-b"]["topic"] == "b2" and d.stream_status("rn-b")["counters"]["frames"] == 0
            assert d.get(generated)["buf_dur"] == 4
            assert shm_layout.short_name("rn-a") not in d.s.segments()
            line2 = d.reload([decl("a", "rn-a2"), decl("b2", "rn-b"), {"topic": "c", "buf_dur": 4}])
            assert "added 0, removed 0, updated 0, replaced 0, refused 0" in line2, line2
        r.check("rename: a new name for a declared topic renames, a new topic replaces, no name keeps its own",
                applied)
        r.check("rename: ezshmd stops cleanly after the reloads (exit 0, no sanitizer report)", d.stop)
    finally:
        d.close()


def refusals(r):
    """Broken files change nothing; a step that fails is refused alone and named."""
    d = Daemon("broken", [decl("x", "bk-x"), decl("y", "bk-y")])
    try:
        d.publish("x", 10, "--channels", "2")
        d.wait_frames("bk-x", 100)

        def unchanged(line, why):
            assert "reload refused, nothing changed" in line and why in line, line
            assert set(d.streams()) == {"bk-x", "bk-y"}
            st = d.stream_status("bk-x")
            assert st["counters"]["frames"] == 100 and st["stream"]["bvalid"] and st["counters"]["ring_resets"] == 1

        def broken():
            unchanged(d.reload(text='{"streams": [{"topic": "x", "shmem_name": "bk-x"}'), d.config)
            unchanged(d.reload([decl("x", "bk-x"), decl("z", "bk-z", buf_dur=-1)]), "streams[1]: buf_dur")
            unchanged(d.reload([decl("x", "bk-x"), decl("z", "bk-z", rcvhwm=5)]), "streams[1]: rcvhwm is not a "
                      "per-stream field")
            unchanged(d.reload([decl("x", "bk-x"), decl("x", "bk-z")]), "topic 'x' is declared twice")
            unchanged(d.reload(text=json.dumps({"buf_dur": 10, "shm_mode": "0644", "streams": [decl("x", "bk-x")]})),
                      "shm_mode is startup-only")
        r.check("refusals: invalid JSON, an invalid or shared field in a stream, a topic twice, a startup-only "
                "change: nothing changes, the log says why", broken)

        def one_refused():
            rc, reply = d.request({"op": "add_stream", "stream": "bk-ctl", "topic": "w"})
            assert rc == 0 and reply["ok"], reply
            line = d.reload([decl("x", "bk-x"), decl("y", "bk-y", buf_dur=3), decl("w", "bk-w")])
            assert "refused 1 ('bk-w')" in line and "updated 1 ('bk-y')" in line, line
            log = "\n".join(d.log_lines())
            assert "reload: stream 'bk-w' not added: stream 'bk-w' refused: its topic already goes to stream " \
                   "'bk-ctl'" in log, log[-2000:]
            assert set(d.streams()) == {"bk-x", "bk-y", "bk-ctl"}
        r.check("refusals: a declared topic held by a control-added stream is refused alone, the rest applied",
                one_refused)

        def adopted():
            line = d.reload([decl("x", "bk-x"), decl("y", "bk-y", buf_dur=3), decl("w", "bk-ctl", buf_dur=7)])
            assert "updated 1 ('bk-ctl')" in line and "refused 0" in line, line
            assert d.get("bk-ctl")["buf_dur"] == 7
            line = d.reload([decl("x", "bk-x"), decl("y", "bk-y", buf_dur=3)])
            assert "removed 1 ('bk-ctl')" in line, line
            assert set(d.streams()) == {"bk-x", "bk-y"}
        r.check("refusals: a control-added stream the file names is adopted, then removed with its declaration",
                adopted)

        def defaults():
            line = d.reload(text=json.dumps({"buf_dur": 6, "log_level": "info",
                                             "streams": [decl("x", "bk-x"), decl("y", "bk-y", buf_dur=3)]}))
            assert "updated 1 ('bk-x')" in line and "refused 0" in line, line
            assert d.get("bk-x")["buf_dur"] == 6
            assert d.get("bk-y")["buf_dur"] == 3
            assert d.get()["buf_dur"] == 6
            rc, reply = d.request({"op": "add_stream", "stream": "bk-new", "topic": "n"})
            assert rc == 0 and reply["ok"] and reply["settings"]["buf_dur"] == 6, reply
        r.check("refusals: the file's top-level buf_dur reaches declared streams without their own and later "
                "streams", defaults)
        r.check("refusals: ezshmd stops cleanly after the reloads (exit 0, no sanitizer report)", d.stop)
    finally:
        d.close()


def single_stream(r):
    """No declared stream: one stream takes every topic and a reload applies the file to it, as
    before; streams declared later are only warned about (switching needs a restart)."""
    d = Daemon("single", None)
    try:
        d.publish("anything", 10, "--channels", "2")
        d.wait_frames("sg-one", 100)

        def as_before():
            line = d.reload(text=json.dumps({"buf_dur": 3, "log_level": "info", "shmem_name": "sg-one"}))
            assert "reloaded settings on SIGHUP" in line, line
            assert d.get()["buf_dur"] == 3
            line = d.reload([decl("x", "sg-x")])
            assert "reloaded settings on SIGHUP" in line, line
            assert "streams are declared, but this ezshmd runs one stream taking every topic" in "\n".join(
                d.log_lines())
            assert set(d.streams()) == {"sg-one"} and d.get()["buf_dur"] == 10
        r.check("single stream: the reload applies every field to the one stream; declared streams only warned",
                as_before)
        r.check("single: ezshmd stops cleanly after the reloads (exit 0, no sanitizer report)", d.stop)
    finally:
        d.close()


def main():
    Results().run_cases(edit, rename_and_topic, refusals, single_stream)


if __name__ == "__main__":
    main()
