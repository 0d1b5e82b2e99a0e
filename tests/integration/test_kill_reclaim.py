#!/usr/bin/env python3
"""kill -9 around a rename leaves nothing for good (issue 21, item 12). Real ezshmd processes,
SIGKILL, and a restart under the configured name; the restart removes what is provably dead
(the flock says who is alive):

(1) a stream renamed over control, then killed: the restart under the old name removes the
    renamed stream's header, ring, clock, wake and aux segments;
(2) kill -9 at a random moment of a rename (4 rounds): whatever the moment, the restart leaves
    exactly the configured stream;
(3) hidden temporary headers: one whose creator is dead is removed, one whose creator lives is
    left alone."""
import os
import random
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
from ezshm_harness import Results, Session, get_status, wait_until  # noqa: E402
from shm_layout import short_name  # noqa: E402


class Daemon:
    def __init__(self, s, name):
        self.s, self.data, self.ctl = s, s.endpoint(), s.endpoint()
        self.log = os.path.join(s.sockdir, f"ezshmd-{len(s.procs)}.log")
        with open(self.log, "w") as log:
            self.p = s.start("ezshmd", "--sub-bind", self.data, "--control", self.ctl, "--shmem-name", name,
                             "--header", "v1", "--buf-dur", "1", "--log-level", "warning", stderr=log)
        s.wait_ready(self.ctl)

    def publish(self, count):
        before = get_status(self.s, self.ctl)["counters"]["written"]
        r = self.s.run("ezshm-pub", "--connect", self.data, "--pattern", "counter", "--fs", "1000", "--chunk", "10",
                       "--count", str(count), "--rate", "1000", "--wait-sub", "300", "--quiet", "--labels")
        assert r.returncode == 0, r.stderr
        wait_until(lambda: get_status(self.s, self.ctl)["counters"]["written"] >= before + count, what="the messages")

    def kill(self):
        self.p.send_signal(signal.SIGKILL)
        self.p.wait()

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        assert self.p.wait(timeout=15) == 0

    def logged(self):
        with open(self.log) as f:
            return f.read()


def renamed_then_killed():
    s = Session("kr-renamed")
    try:
        d = Daemon(s, "kr-a")
        d.publish(3)
        rc, reply = s.ctl(d.ctl, "set", "shmem_name=kr-b")
        assert rc == 0 and reply["ok"], reply
        d.publish(3)
        st = get_status(s, d.ctl)["stream"]
        assert st["shmem_name"] == "kr-b" and st["meta_generation"] >= 1 and st["bvalid"], st
        d.kill()
        left = s.segments()
        assert short_name("kr-b") in left and len(left) >= 5, left       # header, ring, clock, wake, aux (+ record)
        d = Daemon(s, "kr-a")
        assert s.segments() == [short_name("kr-a")], s.segments()
        assert "reclaimed stale segment" in d.logged() and "kr-b" in d.logged(), d.logged()
        d.stop()
    finally:
        s.close()


def killed_during_rename():
    s = Session("kr-during")
    rng = random.Random(21)
    try:
        for i in range(4):
            d = Daemon(s, "kr-a")
            d.publish(2)
            rename = subprocess.Popen([os.path.join(os.environ.get("EZSHM_BIN", os.path.join(HERE, "..", "..",
                                                                                              "build", "bin")),
                                                    "ezshm-ctl"), "--endpoint", d.ctl, "--timeout", "2", "set",
                                       f"shmem_name=kr-b{i}"], env=s.env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.0, 0.02))
            d.kill()
            rename.kill()              # its answer may never come
            rename.wait()
            d = Daemon(s, "kr-a")
            assert s.segments() == [short_name("kr-a")], (i, s.segments())
            d.stop()
            assert s.segments() == [], (i, s.segments())
    finally:
        s.close()


def temporary_headers():
    s = Session("kr-temp")
    try:
        dead = subprocess.Popen(["true"])
        dead.wait()
        gone = f".{short_name('kr-t')}-{dead.pid}-0"
        alive = f".{short_name('kr-t')}-{os.getpid()}-0"
        for name in (gone, alive):
            with open(os.path.join(s.dir, name), "wb") as f:
                f.write(bytes(1318))
        d = Daemon(s, "kr-t")
        left = s.segments()
        assert gone not in left, left
        assert alive in left, left
        os.unlink(os.path.join(s.dir, alive))
        d.stop()
    finally:
        s.close()


def main():
    r = Results()
    r.check("(1) renamed, then kill -9: the restart under the old name reclaims the renamed stream's segments",
            renamed_then_killed)
    r.check("(2) kill -9 at a random moment of a rename, 4 rounds: the restart leaves only the configured stream",
            killed_during_rename)
    r.check("(3) a dead writer's hidden temporary header is reclaimed, a live one's left alone", temporary_headers)
    r.finish()


if __name__ == "__main__":
    main()
