#!/usr/bin/env python3
"""A folder with room for the ring but not for ring + clock + wake (issue 21, item 5): a real
ezshmd on a 256 KiB tmpfs, a real ezshm-pub. The ring (200 kB) fits alone, its clock (100 kB)
does not fit beside it: the writer must check the three together before creating any, so no
message is counted written that no reader can read, no generation is burned per message, every
message is counted no_space, and health says error, not ingesting."""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
from ezshm_harness import Results, Session, Skip, get_status, wait_until  # noqa: E402
from shm_layout import short_name  # noqa: E402


def full_folder():
    s = Session("fullfolder")
    small = os.path.join(s.sockdir, "small")
    os.makedirs(small)
    m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "ezshm-full-folder", small], capture_output=True,
                       text=True)
    if m.returncode != 0:
        s.close()
        raise Skip(f"cannot mount a small tmpfs: {m.stderr.strip()}")
    try:
        s.env["EZSHM_SHM_DIR"] = small
        data, ctl = s.endpoint(), s.endpoint()
        s.start("ezshmd", "--sub-bind", data, "--control", ctl, "--shmem-name", "ff-stream", "--buf-dur", "2",
                "--log-level", "error")
        s.wait_ready(ctl)
        # 2000 frames x 25 int32 channels = 200 kB ring; clock 4096 + 2002 x 48 B ≈ 100 kB; wake 4 kB
        s.start("ezshm-pub", "--connect", data, "--fs", "1000", "--chunk", "10", "--channels", "25", "--dtype",
                "int32", "--pattern", "counter", "--quiet")
        wait_until(lambda: get_status(s, ctl)["counters"]["received"] >= 30, 15, "30 messages")
        time.sleep(0.5)              # any ring made would have had time to be reserved (and fail)
        st = get_status(s, ctl)
        c, stream = st["counters"], st["stream"]
        assert c["written"] == 0 and c["frames"] == 0, c
        assert c["dropped_by_reason"]["no_space"] == c["dropped"] and c["dropped"] >= 30, c
        assert c["ring_resets"] == 0, c
        assert stream["generation"] <= 0 and stream["bvalid"] is False, stream
        assert os.listdir(small) == [short_name("ff-stream")], os.listdir(small)
        rc, health = s.ctl(ctl, "health")
        assert rc == 1 and health["state"] == "error" and "no_space" in health["detail"], health
    finally:
        s.close()
        subprocess.run(["umount", small])


def main():
    r = Results()
    r.check("a ring that fits but not with its clock: no_space per message, nothing counted written, no "
            "generation burned, health error", full_folder)
    r.finish()


if __name__ == "__main__":
    main()
