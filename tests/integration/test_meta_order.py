#!/usr/bin/env python3
"""Metadata before the frames it describes (issue 22), and metadata inside the budget (issue 21,
item 8). Real ezshmd, ezshm-test-replay and a reader polling the segments from Python:

(1) 600 ezmsg-zmq messages, message k carrying attrs {"msg": k} and frames of value k: a reader
    that reads the whole ring and then the aux segment never finds a frame newer than the
    metadata (ezmsg-tools' ShMemCircBuff publishes its aux before the frames, and so must we);
(2) a message whose metadata does not fit in max_buffer_bytes beside the rings is dropped as
    meta_not_published (its frames not written, readers keep the previous metadata and frames),
    health says so, and the other stream's ring still fits."""
import base64
import json
import mmap
import os
import pickle
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
import numpy as np  # noqa: E402
import shm_layout  # noqa: E402
from ezshm_harness import Results, Session, get_status, helper_tool, wait_until  # noqa: E402

CHUNK = 50


def message(k, attrs=None):
    """An ezmsg-zmq AxisArray: CHUNK frames of one int32 channel, all k, at 1 kHz."""
    data = base64.b64encode(np.full((CHUNK, 1), k, dtype="<i4").tobytes()).decode()
    return json.dumps({"ts": 1.0, "obj": {
        "data": {"_type": "_ndarray", "dtype": "int32", "data": data, "shape": [CHUNK, 1]},
        "dims": ["time", "ch"],
        "axes": {"time": {"unit": "s", "gain": 0.001, "offset": k * CHUNK * 0.001,
                          "_type": "ezmsg.util.messages.axisarray:LinearAxis"}},
        "attrs": attrs if attrs is not None else {"msg": k}, "key": "order",
        "_type": "ezmsg.util.messages.axisarray:AxisArray"}})


def write_messages(s, tag, bodies):
    paths = []
    for i, body in enumerate(bodies):
        path = os.path.join(s.sockdir, f"{tag}{i:04d}.json")
        with open(path, "w") as f:
            f.write(body)
        paths.append(path)
    return paths


class Poller(threading.Thread):
    """Reads the ring (its largest value: the newest message's frames), then the aux segment's
    attrs["msg"], over and over; records every time the frames were newer than the metadata."""

    def __init__(self, s, name):
        super().__init__(daemon=True)
        self.s, self.name = s, name
        self.stop = threading.Event()
        self.lagging, self.reads, self.seen = [], 0, set()

    def aux_msg(self, hdr):
        path = os.path.join(self.s.dir, shm_layout.short_name(f"{self.name}/meta{hdr.meta_generation}"))
        try:
            with open(path, "rb") as f:
                blob = f.read()
        except FileNotFoundError:      # replaced between the header read and the open
            return None
        if len(blob) != hdr.aux_nbytes:
            return None
        return pickle.loads(blob)["attrs"]["msg"]

    def run(self):
        hpath = os.path.join(self.s.dir, shm_layout.short_name(self.name))
        ring = None
        while not self.stop.is_set():
            with open(hpath, "rb") as f:
                hdr = shm_layout.HeaderV1.from_buffer_copy(f.read())
            if not hdr.meta.bvalid or hdr.meta_generation == 0:
                continue
            if ring is None:
                with open(os.path.join(self.s.dir, shm_layout.ring_name(self.name, hdr.meta.buffer_generation)),
                          "rb") as f:
                    ring = np.frombuffer(mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ), dtype="<i4")
            newest = int(ring.max())
            with open(hpath, "rb") as f:
                hdr = shm_layout.HeaderV1.from_buffer_copy(f.read())
            described = self.aux_msg(hdr)
            if described is None:
                continue
            self.reads += 1
            self.seen.add(described)
            if described < newest:
                self.lagging.append((newest, described))


def order(r):
    s = Session("metaorder")
    try:
        data, ctl = s.endpoint(), s.endpoint()
        s.start("ezshmd", "--sub", data, "--control", ctl, "--shmem-name", "mo-stream", "--buf-dur", "60",
                "--header", "v1", "--log-level", "error")
        s.wait_ready(ctl)
        first = write_messages(s, "warm", [message(1)])
        subprocess.run([helper_tool("ezshm-test-replay"), data, "order", *first], check=True, timeout=30)
        wait_until(lambda: get_status(s, ctl)["counters"]["written"] >= 1, what="the first message")
        poller = Poller(s, "mo-stream")
        poller.start()
        paths = write_messages(s, "m", [message(k) for k in range(2, 602)])
        subprocess.run([helper_tool("ezshm-test-replay"), data, "order", *paths], check=True, timeout=60)
        wait_until(lambda: get_status(s, ctl)["counters"]["received"] >= 500, what="the messages")
        poller.stop.set()
        poller.join(timeout=10)

        def never_lag():
            assert poller.reads >= 20 and len(poller.seen) >= 10, (poller.reads, len(poller.seen))
            assert not poller.lagging, f"{len(poller.lagging)} of {poller.reads} reads found frames newer than " \
                                       f"their metadata, e.g. (frames of message, metadata of message) " \
                                       f"{poller.lagging[:3]}"
        r.check(f"(1) a reader polling ring then aux never finds frames newer than their metadata "
                f"({poller.reads} reads, {len(poller.seen)} relabels seen)", never_lag)
    finally:
        s.close()


def budget(r):
    s = Session("metabudget")
    try:
        data, ctl = s.endpoint(), s.endpoint()
        # a ring of 60 000 frames x 4 B = 240 kB; 600 kB in all
        s.start("ezshmd", "--sub", data, "--control", ctl, "--stream", "order=mb-a", "--stream", "other=mb-b",
                "--buf-dur", "60", "--header", "v1", "--max-buffer-bytes", "600000", "--log-level", "error")
        s.wait_ready(ctl)

        def status(name):
            r = s.run("ezshm-ctl", "--endpoint", ctl, "--timeout", "5", "--json", "--stream", name, "status")
            return json.loads(r.stdout)["status"]

        def replay(topic, bodies, tag):
            paths = write_messages(s, tag, bodies)
            subprocess.run([helper_tool("ezshm-test-replay"), data, topic, *paths], check=True, timeout=30)

        def over_budget():
            replay("order", [message(1)], "a")
            wait_until(lambda: status("mb-a")["counters"]["written"] == 1, what="mb-a's first message")
            big = {"msg": 2, "blob": "x" * 400000}          # 400 kB of metadata beside a 240 kB ring
            replay("order", [message(2, big)], "big")
            wait_until(lambda: status("mb-a")["counters"]["dropped"] >= 1, what="the relabel's drop")
            st = status("mb-a")
            c = st["counters"]
            assert c["written"] == 1 and c["dropped_by_reason"]["meta_not_published"] == 1, c
            assert "max_buffer_bytes" in c["last_error"]["message"], c["last_error"]
            assert st["stream"]["aux_nbytes"] < 1000 and st["stream"]["meta_generation"] == 1, st["stream"]
            got = shm_layout.read_stream("mb-a")
            assert got["position"] == CHUNK and int(got["ordered"].max()) == 1, got["position"]
            # the drop is the stream's newest event: not "ingesting" once its last write is 2 s old
            wait_until(lambda: s.ctl(ctl, "--stream", "mb-a", "health")[1]["state"] == "error", timeout=15,
                       what="health error")
            rc, health = s.ctl(ctl, "--stream", "mb-a", "health")
            assert "meta_not_published" in health["detail"], health
            # the other stream's ring still fits: the refused metadata holds no budget
            replay("other", [message(1)], "b")
            wait_until(lambda: status("mb-b")["counters"]["written"] == 1, what="mb-b's message")
        os.environ["EZSHM_SHM_DIR"] = s.dir
        r.check("(2) metadata over max_buffer_bytes: the message is dropped as meta_not_published, health error, "
                "readers keep the old metadata and frames", over_budget)
    finally:
        s.close()


def main():
    r = Results()
    r.run_cases(order, budget)


if __name__ == "__main__":
    main()
