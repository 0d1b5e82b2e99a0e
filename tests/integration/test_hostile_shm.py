"""Hostile neighbours and readers of the shared-memory side, with the real processes
(private EZSHM_SHM_DIR, ipc:// endpoints, every wait bounded):

 (a) a second ezshmd on a live name exits 1 naming the holder's pid, touching nothing; the
     first keeps ingesting into the same files; a control rename onto the held name answers
     name_in_use and changes nothing; the first, when stopped, removes only its own files;
 (b) a FIFO, symlink or directory at the header's name: ezshmd and ezshm-mirror exit with an
     error that says which, within seconds (no hang), and leave it there; at a ring's name:
     the rebuild is refused and counted (shm_error), control and SIGTERM still work, a mirror
     says which;
 (c) another uid truncates the ring and the header while ezshmd writes (setpriv): ezshmd
     survives, rebuilds (new generation, new header), counts segment_faults, logs it;
 (d) a segment truncated under ezshm-mirror --dump --latest, --watch and the monitor: a clear
     error and exit 1, never a SIGBUS death; --follow says so, re-attaches and goes on;
 (e) ezshm-mirror --latest with a huge N: clamped to what the ring holds; beyond 2^63 a usage
     error;
 (f) rings of L = 1 (made 2), 2, 3, 15, 16, 17 frames: a follower reads every frame;
 (g) a reader attached while the ring is rebuilt on a tmpfs that cannot hold two rings: it
     lets go of the old ring, the rebuild succeeds, the reader follows it;
 (h) a reader that scribbles on the wake segment (the one segment readers may write: waiter
     count, block target and futex word overwritten with garbage, thousands of times a
     second): ezshmd keeps ingesting and loses nothing, a follower still gets every frame,
     and a block reader (Python, docs/examples/ezshm_clock.py) still gets its blocks.
"""
import os
import signal
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from ezshm_harness import (MirrorFollow, Results, Session, check_counter_rows, csv_rows,  # noqa: E402
                           get_status, lost_reports, wait_until)
from shm_layout import clock_name, ring_name, short_name, wake_name  # noqa: E402

DTYPE = "i"
NOBODY = 65534


def pub_args(endpoint, fs=1000, chunk=10, channels=3):
    return ("ezshm-pub", "--connect", endpoint, "--pattern", "counter", "--dtype", "int32", "--fs", str(fs),
            "--chunk", str(chunk), "--channels", str(channels), "--quiet")


def start_daemon(s, name, data_ep, ctl_ep, *extra, **kw):
    d = s.start("ezshmd", "--sub-bind", data_ep, "--control", ctl_ep, "--shmem-name", name, "--log-level",
                "warning", *extra, **kw)
    s.wait_ready(ctl_ep)
    return d


def ingesting(s, ctl, name="ring"):
    wait_until(lambda: get_status(s, ctl)["counters"]["written"] >= 5 and get_status(s, ctl)["stream"]["bvalid"],
               15, f"{name} ingesting")


def inode(s, segment):
    return os.lstat(os.path.join(s.dir, segment)).st_ino


def run_bounded(s, *args, timeout=10):
    """Runs a binary; a hang is a failure (TimeoutExpired)."""
    return s.run(*args, timeout=timeout)


# ---- (a) a second writer on a live name -------------------------------------------------

SECOND = {}


def case_second_writer():
    s = Session("hostile-a")
    try:
        data, ctl = s.endpoint(), s.endpoint()
        name = "hostile-a"
        d1 = start_daemon(s, name, data, ctl, "--buf-dur", "1", stderr=subprocess.PIPE, text=True)
        s.start(*pub_args(data))
        ingesting(s, ctl)
        header, ring, clock, wake = short_name(name), ring_name(name, 0), clock_name(name, 0), wake_name(name, 0)
        before = {seg: inode(s, seg) for seg in (header, ring, clock, wake)}

        data2, ctl2 = s.endpoint(), s.endpoint()
        r = run_bounded(s, "ezshmd", "--sub-bind", data2, "--control", ctl2, "--shmem-name", name, timeout=15)
        SECOND["code"], SECOND["message"] = r.returncode, r.stderr.strip()
        assert r.returncode == 1, (r.returncode, r.stderr)
        assert f"in use by another writer (pid {d1.pid}" in r.stderr, r.stderr
        assert s.segments() == sorted([header, ring, clock, wake]), s.segments()
        assert {seg: inode(s, seg) for seg in (header, ring, clock, wake)} == before, "the live segments were replaced"
        w0 = get_status(s, ctl)["counters"]["written"]
        wait_until(lambda: get_status(s, ctl)["counters"]["written"] > w0 + 20, 10, "the first keeps ingesting")
        m = run_bounded(s, "ezshm-mirror", "--dump", "csv", "--latest", "5", name)
        assert m.returncode == 0 and len(csv_rows(m.stdout)) == 5, (m.returncode, m.stderr)

        # a third daemon renamed onto the held name: name_in_use, its own stream untouched
        data3, ctl3 = s.endpoint(), s.endpoint()
        start_daemon(s, "hostile-a3", data3, ctl3)
        rc, reply = s.ctl(ctl3, "set", f"shmem_name={name}")
        assert rc == 1 and reply["error"]["code"] == "name_in_use", reply
        assert str(d1.pid) in reply["error"]["message"], reply
        assert get_status(s, ctl3)["stream"]["shmem_name"] == "hostile-a3"
        assert short_name("hostile-a3") in s.segments(), s.segments()
        assert {seg: inode(s, seg) for seg in (header, ring, clock, wake)} == before

        # the first stops: it removes its own files only (the third's header stays)
        d1.send_signal(signal.SIGTERM)
        _, err = d1.communicate(timeout=15)
        assert d1.returncode == 0, err
        assert s.segments() == [short_name("hostile-a3")], s.segments()
        # the name is free now: the rename succeeds
        rc, reply = s.ctl(ctl3, "set", f"shmem_name={name}")
        assert rc == 0 and reply["ok"], reply
        assert s.segments() == [header], s.segments()
    finally:
        s.close()


# ---- (b) FIFO / symlink / directory at a segment's name ---------------------------------

def plant(kind, path):
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "symlink":
        os.symlink("/etc/passwd", path)
    else:
        os.mkdir(path)


def unplant(path):
    if os.path.isdir(path) and not os.path.islink(path):
        os.rmdir(path)
    else:
        os.unlink(path)


WORDS = {"fifo": "FIFO", "symlink": "symbolic link", "directory": "directory"}


def case_planted(kind):
    s = Session(f"hostile-b-{kind}")
    try:
        name = f"hostile-b-{kind}"
        header = os.path.join(s.dir, short_name(name))
        plant(kind, header)
        data, ctl = s.endpoint(), s.endpoint()
        r = run_bounded(s, "ezshmd", "--sub-bind", data, "--control", ctl, "--shmem-name", name)
        assert r.returncode == 1 and WORDS[kind] in r.stderr, (r.returncode, r.stderr)
        m = run_bounded(s, "ezshm-mirror", "--wait", "1", name)
        assert m.returncode == 1 and WORDS[kind] in m.stderr, (m.returncode, m.stderr)
        assert os.path.lexists(header), f"the {kind} was removed"
        unplant(header)

        # at the ring's name: the rebuild is refused and counted, the daemon stays in control
        ring = os.path.join(s.dir, ring_name(name, 0))
        plant(kind, ring)
        d = start_daemon(s, name, data, ctl, stderr=subprocess.PIPE, text=True)
        s.start(*pub_args(data))
        # the first message's rebuild fails (counted); the next one builds generation 1
        ingesting(s, ctl)
        st = get_status(s, ctl)
        c = st["counters"]
        assert c["dropped_by_reason"]["shm_error"] == 1, c
        assert WORDS[kind] in c["last_error"]["message"], c["last_error"]
        assert st["stream"]["generation"] == 1, st["stream"]
        assert os.path.lexists(ring), f"the {kind} at the ring's name was removed"
        unplant(ring)
        # a mirror meeting it at the live ring's name
        gen = get_status(s, ctl)["stream"]["generation"]
        live = os.path.join(s.dir, ring_name(name, gen))
        os.rename(live, live + ".moved")
        plant(kind, live)
        m = run_bounded(s, "ezshm-mirror", "--dump", "csv", "--latest", "3", name)
        assert m.returncode == 1 and WORDS[kind] in m.stderr, (m.returncode, m.stderr)
        unplant(live)
        os.rename(live + ".moved", live)
        t = time.time()
        d.send_signal(signal.SIGTERM)
        _, err = d.communicate(timeout=10)
        assert d.returncode == 0 and time.time() - t < 5, (d.returncode, err)
    finally:
        s.close()


# ---- (c) another uid truncates segments under ezshmd ------------------------------------

def as_other_uid(*cmd):
    """cmd as uid 65534 in group 0 (the segments' group), no other groups."""
    return subprocess.run(["setpriv", f"--reuid={NOBODY}", "--regid=0", "--clear-groups", *cmd],
                          capture_output=True, text=True, timeout=10)


def can_switch_uid():
    return os.geteuid() == 0 and subprocess.run(["setpriv", f"--reuid={NOBODY}", "--clear-groups", "true"],
                                                capture_output=True).returncode == 0


TRUNCATED = {}


def case_truncated_under_writer(res, label):
    if not can_switch_uid():
        print(f"SKIP {label}: not root or setpriv cannot switch uid: truncating as the same uid instead")
    other = can_switch_uid()
    s = Session("hostile-c")
    try:
        os.chmod(s.dir, 0o755)             # the other uid must reach the segments
        data, ctl = s.endpoint(), s.endpoint()
        name = "hostile-c"
        # group-writable on purpose (the old documented 0660): a group member can truncate
        d = start_daemon(s, name, data, ctl, "--shm-mode", "0660", stderr=subprocess.PIPE, text=True)
        s.start(*pub_args(data))
        ingesting(s, ctl)
        ring = os.path.join(s.dir, ring_name(name, 0))
        cmd = ("truncate", "-s", "0", ring)
        r = as_other_uid(*cmd) if other else subprocess.run(cmd, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        wait_until(lambda: get_status(s, ctl)["stream"]["generation"] >= 1 and get_status(s, ctl)["stream"]["bvalid"],
                   10, "a new generation")
        st = get_status(s, ctl)
        assert st["stream"]["segment_faults"] == 1, st["stream"]
        assert d.poll() is None, "ezshmd died"
        assert not os.path.exists(ring), "the truncated ring was left"
        w0 = st["counters"]["written"]
        wait_until(lambda: get_status(s, ctl)["counters"]["written"] > w0 + 10, 10, "ingest after the rebuild")
        # the header: recreated (a new file), ingest goes on
        header = os.path.join(s.dir, short_name(name))
        ino = os.stat(header).st_ino
        cmd = ("truncate", "-s", "0", header)
        r = as_other_uid(*cmd) if other else subprocess.run(cmd, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        wait_until(lambda: get_status(s, ctl)["stream"]["segment_faults"] == 2, 10, "the header fault counted")
        wait_until(lambda: get_status(s, ctl)["stream"]["bvalid"], 10, "a ring after the header was recreated")
        assert os.stat(header).st_ino != ino and os.stat(header).st_size == 1318
        m = run_bounded(s, "ezshm-mirror", "--dump", "csv", "--latest", "5", name)
        assert m.returncode == 0 and len(csv_rows(m.stdout)) == 5, (m.returncode, m.stderr)
        d.send_signal(signal.SIGTERM)
        _, err = d.communicate(timeout=10)
        assert d.returncode == 0, err
        assert err.count("was truncated by another process") == 2, err
        TRUNCATED["by"] = "uid 65534" if other else "the same uid"
        assert s.segments() == [], s.segments()
    finally:
        s.close()


# ---- (d) segments truncated under readers -----------------------------------------------

def mirror_dies_cleanly(p, err_path, what):
    rc = p.wait(timeout=15)
    with open(err_path) as f:
        err = f.read()
    assert rc != -signal.SIGBUS, f"{what}: killed by SIGBUS"
    assert rc == 1 and "truncated" in err, f"{what}: exit {rc}, stderr {err!r}"


def mirror_reattaches(p, out_path, err_path):
    """--follow, like tail -F, says what happened, re-attaches and goes on; SIGINT ends it."""
    def said():
        with open(err_path) as f:
            text = f.read()
        return "truncated" in text and "re-attaching" in text
    wait_until(said, 15, "the follower to re-attach")
    size = os.path.getsize(out_path)
    wait_until(lambda: os.path.getsize(out_path) > size, 15, "the follower reading again")
    p.send_signal(signal.SIGINT)
    assert p.wait(timeout=15) == 0


def case_truncated_under_readers():
    s = Session("hostile-d")
    try:
        data, ctl = s.endpoint(), s.endpoint()
        name = "hostile-d"
        start_daemon(s, name, data, ctl, "--buf-dur", "1")
        pub = s.start(*pub_args(data))
        ingesting(s, ctl)
        header = os.path.join(s.dir, short_name(name))

        # --follow, --watch and the monitor read the header on every poll: truncating it
        # makes each of them fault on its next look (ezshmd recreates it meanwhile)
        modes = {"follow": ("--dump", "csv", "--follow", "--frames", "100000000"), "watch": ("--watch",),
                 "monitor": ()}
        for mode, args in modes.items():
            out = open(os.path.join(s.sockdir, f"{mode}.out"), "w")
            err_path = os.path.join(s.sockdir, f"{mode}.err")
            err = open(err_path, "w")
            p = s.start("ezshm-mirror", "--wait", "5", *args, name, stdout=out, stderr=err)
            wait_until(lambda: os.path.getsize(out.name) > 0, 10, f"{mode} output")
            subprocess.run(["truncate", "-s", "0", header], check=True)
            if mode == "follow":
                mirror_reattaches(p, out.name, err_path)
            else:
                mirror_dies_cleanly(p, err_path, mode)
            out.close()
            err.close()
            wait_until(lambda: get_status(s, ctl)["stream"]["bvalid"], 10, "the stream back")

        # --dump --latest copies out of the ring: stop the sender so nothing rebuilds it
        pub.send_signal(signal.SIGSTOP)
        try:
            time.sleep(0.3)
            gen = get_status(s, ctl)["stream"]["generation"]
            subprocess.run(["truncate", "-s", "0", os.path.join(s.dir, ring_name(name, gen))], check=True)
            m = run_bounded(s, "ezshm-mirror", "--dump", "csv", "--latest", "50", name)
            assert m.returncode != -signal.SIGBUS, "killed by SIGBUS"
            assert m.returncode in (1, 2) and ("truncated" in m.stderr or "not ready" in m.stderr), \
                (m.returncode, m.stderr)
        finally:
            pub.send_signal(signal.SIGCONT)
        assert get_status(s, ctl)["stream"]["segment_faults"] >= 3
    finally:
        s.close()


# ---- (e) huge --latest ------------------------------------------------------------------

def case_huge_latest():
    s = Session("hostile-e")
    try:
        data, ctl = s.endpoint(), s.endpoint()
        name = "hostile-e"
        start_daemon(s, name, data, ctl, "--buf-dur", "0.5")        # 500 frames, guard 32
        s.start(*pub_args(data))
        wait_until(lambda: get_status(s, ctl)["counters"]["frames"] >= 1000, 15, "a full ring")
        for n in ("468", "469", "100000", str(2**32), str(2**63 - 1)):
            m = run_bounded(s, "ezshm-mirror", "--dump", "csv", "--latest", n, name)
            assert m.returncode == 0, (n, m.returncode, m.stderr)
            rows = csv_rows(m.stdout)
            assert len(rows) == 468, (n, len(rows))
            check_counter_rows(rows, DTYPE)
        m = run_bounded(s, "ezshm-mirror", "--dump", "csv", "--latest", str(2**64), name)
        assert m.returncode == 64, (m.returncode, m.stderr)
    finally:
        s.close()


# ---- (h) a reader scribbling on the wake segment ------------------------------------------

SCRIBBLER = r"""
import mmap, os, random, struct, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, 4096)
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    m[0:4] = struct.pack("<I", random.getrandbits(32))           # the futex word
    m[64:68] = struct.pack("<I", random.choice((0, 1, 0xFFFFFFFF, random.getrandbits(32))))
    m[128:136] = struct.pack("<Q", random.choice((0, 1, 2**64 - 1, random.getrandbits(64))))
    time.sleep(0.0002)
"""


def case_wake_scribbler():
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "docs", "examples"))
    from ezshm_clock import ClockReader
    s = Session("hostile-h")
    try:
        data, ctl = s.endpoint(), s.endpoint()
        name = "hostile-h"
        start_daemon(s, name, data, ctl, "--buf-dur", "2")
        s.start(*pub_args(data, fs=5000, chunk=10), "--count", "2000")
        ingesting(s, ctl)
        os.environ["EZSHM_SHM_DIR"] = s.dir
        mirror = MirrorFollow(s, name, 5000)
        scribbler = subprocess.Popen([sys.executable, "-c", SCRIBBLER, os.path.join(s.dir, wake_name(name, 0)), "3"])
        clock = ClockReader(name)
        blocks = 0
        for _ in range(10):
            p0 = clock.position()
            assert clock.wait(5.0, min_frames=500), "a block of 500 frames never came"
            assert clock.position() - p0 >= 500, (p0, clock.position())
            blocks += 1
        clock.close()
        assert scribbler.wait(timeout=30) == 0
        rc, rows, err = mirror.finish()
        assert rc == 0, (rc, err)
        assert len(rows) == 5000, len(rows)
        check_counter_rows(rows, DTYPE, lost_reports(err))
        assert not lost_reports(err), err
        st = get_status(s, ctl)
        assert st["counters"]["dropped"] == 0 and st["counters"]["written"] >= 1000, st["counters"]
        print(f"  {blocks} blocks of 500 frames and 5000 frames followed while the wake segment was scribbled on")
    finally:
        s.close()


# ---- (f) small rings --------------------------------------------------------------------

def case_small_rings():
    s = Session("hostile-f")
    try:
        fs = 64                                                   # L / 64 is exact in binary
        rings = []                                                # all six at once: 40 frames take 0.6 s
        for want in (1, 2, 3, 15, 16, 17):
            data, ctl = s.endpoint(), s.endpoint()
            name = f"hostile-f{want}"
            d = start_daemon(s, name, data, ctl, "--buf-dur", repr(want / fs))
            mirror = MirrorFollow(s, name, 40, extra=())
            rings.append((want, ctl, d, mirror, s.start(*pub_args(data, fs=fs, chunk=1, channels=2))))
        for want, ctl, d, mirror, pub in rings:
            rc, rows, err = mirror.finish(timeout=30)
            assert rc == 0 and len(rows) == 40, (want, rc, len(rows), err)
            # 40 frames returned and every gap accounted for: the ring is readable (with L = 1
            # every frame was reported lost). Losses themselves depend on scheduling, not asserted.
            check_counter_rows(rows, DTYPE, lost_reports(err))
            L = get_status(s, ctl)["stream"]["shape"][0]
            assert L == max(2, want), (want, L)
            for p in (pub, d):
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=10)
    finally:
        s.close()


# ---- (g) a reader holding the old ring on a tight tmpfs ---------------------------------

def case_tight_rebuild(res, label):
    s = Session("hostile-g")
    tight = os.path.join(s.sockdir, "tight")
    os.makedirs(tight)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "ezshm-tight", tight], capture_output=True,
                       text=True)
    if r.returncode != 0:
        print(f"SKIP {label}: cannot mount a small tmpfs ({r.stderr.strip()})")
        s.close()
        return
    try:
        s.env["EZSHM_SHM_DIR"] = tight
        data, ctl = s.endpoint(), s.endpoint()
        name = "hostile-g"
        # 64 int32 channels at 1 kHz, 1.5 s: a ring of 384 000 bytes; two never fit in 600 KiB
        start_daemon(s, name, data, ctl, "--buf-dur", "1.5")
        s.start(*pub_args(data, channels=64))
        ingesting(s, ctl)
        mirror = MirrorFollow(s, name, 100000000)
        wait_until(lambda: mirror.rows_so_far() >= 200, 15, "the mirror reading")
        rc, reply = s.ctl(ctl, "set", "buf_dur=1.4")               # a rebuild: bvalid 0, then a new ring
        assert rc == 0 and reply["ok"], reply
        wait_until(lambda: get_status(s, ctl)["stream"]["bvalid"] and get_status(s, ctl)["stream"]["generation"] == 1,
                   10, "the rebuilt ring (the reader must let go of the old one)")
        rows0 = mirror.rows_so_far()
        wait_until(lambda: mirror.rows_so_far() >= rows0 + 500, 10, "the mirror following the new ring")
        mirror.interrupt()
        rc, rows, err = mirror.finish(timeout=15)
        assert rc == 0 and "ring rebuilt, generation 1" in err, (rc, err)
    finally:
        s.close()
        subprocess.run(["umount", tight])


def main():
    res = Results()
    res.check("(a) a second ezshmd on a live name: exit 1 naming the holder, nothing touched", case_second_writer)
    for kind in ("fifo", "symlink", "directory"):
        res.check(f"(b) a {kind} at a segment's name: named errors, no hang", case_planted, kind)
    label = "(c) another uid truncates ring and header under ezshmd: survives, rebuilds, counts"
    res.check(label, case_truncated_under_writer, res, label)
    res.check("(d) segments truncated under --follow/--watch/monitor/--latest: error, no SIGBUS",
              case_truncated_under_readers)
    res.check("(e) --latest with a huge N is clamped", case_huge_latest)
    res.check("(f) rings of L = 1 (made 2), 2, 3, 15, 16, 17 are readable", case_small_rings)
    label = "(g) a reader lets go of the old ring on a tight tmpfs: the rebuild succeeds"
    res.check(label, case_tight_rebuild, res, label)
    res.check("(h) a reader scribbling on the wake segment: nothing lost, followers and block readers served",
              case_wake_scribbler)
    if SECOND:
        print(f"second writer: exit {SECOND['code']}: {SECOND['message']}")
    if TRUNCATED:
        print(f"truncated by {TRUNCATED['by']}")
    res.finish()


if __name__ == "__main__":
    main()
