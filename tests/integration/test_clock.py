"""Timestamps and wake-ups end to end, with the real binaries: ezshm-pub → ezshmd → the clock
segment. (1) `ezshm-mirror --follow --timestamps`: every frame's time equals the sender's
(LinearAxis offset + i*gain, then, after a switch to a CoordinateAxis and the ring rebuild it
causes, every coordinate value); (2) `--follow | head` ends cleanly (exit 0, head gets its
lines); (3) the Python reader docs/examples/ezshm_clock.py (ctypes + numpy): the same
timestamps as the C reader, a wait that times out while idle and wakes when data lands, a
wait for a block of frames that sleeps on wake bits,
the ingest wall clock and seq of the newest frame, no waiter left counted; `status`
reports the transport delay only for a wall-clock sender; (4) without a clock segment
readers get NaN and poll; (5) a reader killed inside its wait: the writer takes its waiter
count back; (6) the Python reader's wait_any sleeps on two streams at once; (7) the Python
reader's newest() under a publisher at 10 000 messages/s: every answer one frame's, whole."""
import os
import signal
import subprocess
import sys
import time

here = os.path.dirname(__file__)
sys.path.insert(0, os.path.join(here, "..", "python"))
sys.path.insert(0, os.path.join(here, "..", "..", "docs", "examples"))
from ezshm_harness import STOP_TIMEOUT, MirrorFollow, Results, Session, get_status, wait_until  # noqa: E402

FS, CHUNK = 1000.0, 10


def expected_time(f, coordinate):
    """ezshm-pub's time of frame f: its message offset first_frame/fs plus i * (1/fs), or
    the coordinate value (first_frame + i)/fs."""
    if coordinate:
        return f / FS
    i = f % CHUNK
    return (f - i) / FS + i * (1.0 / FS)


def start_daemon(s, name):
    """ezshmd on fresh endpoints with stream name, ready; returns (data, control) endpoints."""
    data, ctl = s.endpoint(), s.endpoint()
    s.start("ezshmd", "--sub-bind", data, "--control", ctl, "--shmem-name", name, "--buf-dur", "2",
            "--log-level", "warning")
    s.wait_ready(ctl)
    return data, ctl


def pub(s, data, *extra, count=600, rate=500):
    return s.start("ezshm-pub", "--connect", data, "--pattern", "counter", "--dtype", "i", "--fs", str(int(FS)),
                   "--channels", "2", "--chunk", str(CHUNK), "--rate", str(rate), "--count", str(count), "--quiet",
                   *extra)


def case_follow_timestamps():
    s = Session("clockts")
    try:
        data, _ = start_daemon(s, "clock-ts")
        mirror = MirrorFollow(s, "clock-ts", 5000, extra=("--timestamps",))
        p = pub(s, data, "--change-after", "300", "--change", "axis")
        rc, rows, err = mirror.finish(timeout=STOP_TIMEOUT * 2)
        p.wait(timeout=30)
        assert rc == 0, err
        assert len(rows) == 5000, (len(rows), err)
        assert "ring rebuilt" in err, err   # the coordinate axis has srate 0: a new ring
        linear = coordinate = 0
        for r in rows:
            f = int(r[1])
            assert r[1] == r[2], r
            want = "%.9f" % expected_time(f, f >= 300 * CHUNK)
            assert r[0] == want, f"frame {f}: {r[0]}, want {want}"
            linear += f < 300 * CHUNK
            coordinate += f >= 300 * CHUNK
        assert linear > 1000 and coordinate > 1000, (linear, coordinate)
    finally:
        s.close()


def case_follow_into_head():
    s = Session("clockhead")
    try:
        p = pub(s, start_daemon(s, "clock-head")[0], count=0)
        env = dict(s.env, B=os.path.join(os.environ.get("EZSHM_BIN", ""), "ezshm-mirror"))
        r = subprocess.run(["bash", "-c", '"$B" --wait 15 --follow clock-head | head -n 5; echo "${PIPESTATUS[0]}"'],
                           env=env, capture_output=True, text=True, timeout=STOP_TIMEOUT * 2)
        lines = r.stdout.splitlines()
        assert len(lines) == 6, r
        assert lines[-1] == "0", f"ezshm-mirror exit {lines[-1]}: {r.stderr}"
        assert all(len(x.split(",")) == 2 for x in lines[:5]), lines
        p.terminate()
        p.wait(timeout=10)
    finally:
        s.close()


def case_python_reader():
    from ezshm_clock import ClockReader, short_name
    s = Session("clockpy")
    try:
        data, ctl = start_daemon(s, "clock-py")
        os.environ["EZSHM_SHM_DIR"] = s.dir
        pub(s, data, count=100).wait(timeout=30)
        wait_until(lambda: get_status(s, ctl)["counters"]["written"] == 100, 10, "100 messages")
        clock = ClockReader("clock-py")
        pos = clock.position()
        assert pos == 1000, pos
        t = clock.times(pos - 50, 50)
        first = pos - 50
        assert list(t) == [expected_time(first + i, False) for i in range(50)], t
        r = s.run("ezshm-mirror", "--dump", "csv", "--latest", "50", "--timestamps", "clock-py")
        assert r.returncode == 0, r
        assert [line.split(",")[0] for line in r.stdout.splitlines()] == ["%.9f" % v for v in t]
        st = get_status(s, ctl)["transport_delay"]
        assert st["messages"] == 0 and st["p50_ms"] is None, st   # counter time base from 0

        t0 = time.monotonic()
        assert clock.wait(0.3) is False
        assert time.monotonic() - t0 >= 0.29
        p = pub(s, data, "--wall-clock", "--seq", count=0)
        assert clock.wait(10.0) is True
        pos2, tn, wall_ns, seq = clock.newest()
        assert pos2 > pos and seq is not None, (pos2, seq)
        assert abs(tn - time.time()) < 60 and abs(wall_ns / 1e9 - time.time()) < 60, (tn, wall_ns)
        # A block of 500 frames (50 chunks at 500 chunks/s): returned once it is there, after
        # one sleep on the target bit (FUTEX_WAIT_BITSET), not one per chunk.
        import resource
        p0, nv0 = clock.position(), resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw
        assert clock.wait(10.0, min_frames=500) is True
        nv, p1 = resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw - nv0, clock.position()
        print(f"  a block of 500 frames: {nv} sleeps, returned with {p1 - p0} frames past the call")
        assert 500 <= p1 - p0 <= 600, (p0, p1)
        assert nv <= 4, nv
        with open(os.path.join(s.dir, short_name(f"clock-py/wake{clock.generation}")), "rb") as f:
            target = int.from_bytes(f.read(136)[128:136], "little")
        assert target == 0xFFFFFFFFFFFFFFFF, f"the writer clears the target it reached: {target:#x}"
        wait_until(lambda: get_status(s, ctl)["transport_delay"]["messages"] > 10, 10, "delays")
        st = get_status(s, ctl)["transport_delay"]
        assert 0 <= st["p50_ms"] <= st["p99_ms"] < 1000, st
        p.terminate()
        p.wait(timeout=10)
        assert waiters_of(s, "clock-py", clock.generation) == 0
        clock.close()
    finally:
        s.close()


def case_without_clock_segment():
    """EZSHM_CLOCK=0 (what an ezmsg-tools writer looks like to us): no clock segment; the C
    tool prints nan timestamps, the Python reader NaN times and its wait polls."""
    from ezshm_clock import ClockReader
    s = Session("clocknone")
    try:
        s.env["EZSHM_CLOCK"] = "0"
        data, ctl = start_daemon(s, "clock-none")
        del s.env["EZSHM_CLOCK"]
        os.environ["EZSHM_SHM_DIR"] = s.dir
        pub(s, data, count=20).wait(timeout=30)
        wait_until(lambda: get_status(s, ctl)["counters"]["written"] == 20, 10, "20 messages")
        assert len(s.segments()) == 2, s.segments()   # header and ring only
        r = s.run("ezshm-mirror", "--dump", "csv", "--latest", "3", "--timestamps", "clock-none")
        assert r.returncode == 0 and [x.split(",")[0] for x in r.stdout.splitlines()] == ["nan"] * 3, r
        clock = ClockReader("clock-none")
        pos = clock.position()
        assert pos == 200 and all(v != v for v in clock.times(pos - 5, 5)), pos
        assert clock.wait(0.2) is False
        p = pub(s, data, count=0)
        assert clock.wait(10.0) is True and clock.position() > pos
        p.terminate()
        p.wait(timeout=10)
        clock.close()
    finally:
        s.close()


def waiters_of(s, name, generation=0):
    """The waiter count in a stream's wake segment, read as any process may."""
    from ezshm_clock import OFF_WAITERS, short_name
    with open(os.path.join(s.dir, short_name(f"{name}/wake{generation}")), "rb") as f:
        return int.from_bytes(f.read(OFF_WAITERS + 4)[OFF_WAITERS:], "little")


def case_killed_waiter():
    """A reader SIGKILLed inside its wait leaves `waiters` counted; ezshmd's wakes then find
    nobody asleep and it takes the count back (after ≥ 50 such wakes over ≥ 1 s)."""
    s = Session("clockkill")
    try:
        data, ctl = start_daemon(s, "clock-kill")
        p = pub(s, data, count=0, rate=100)           # 100 chunks a second: the reader mostly sleeps
        wait_until(lambda: get_status(s, ctl)["stream"].get("bvalid"), 10, "ring")
        mirror = MirrorFollow(s, "clock-kill", 10**7)
        wait_until(lambda: mirror.rows_so_far() > 50, 10, "the reader following")
        counted = 0
        for _ in range(50):                           # catch it asleep (it is, ~99 % of the time)
            mirror.proc.send_signal(signal.SIGSTOP)
            counted = waiters_of(s, "clock-kill")
            if counted == 1:
                break
            mirror.proc.send_signal(signal.SIGCONT)
            time.sleep(0.01)
        mirror.proc.send_signal(signal.SIGKILL)
        mirror.proc.wait(timeout=10)
        assert counted == 1, f"the reader was never caught inside its wait ({counted})"
        assert waiters_of(s, "clock-kill") == 1, "a killed reader's count stays"
        wait_until(lambda: waiters_of(s, "clock-kill") == 0, 10, "the stale waiter taken back")
        assert get_status(s, ctl)["counters"]["dropped"] == 0
        p.terminate()
        p.wait(timeout=10)
    finally:
        s.close()


def case_python_wait_any():
    """wait_any over two streams (two ezshmd): times out while both idle, counted a waiter on
    both while asleep, wakes with the index of the one that gets data, and leaves no count."""
    import threading
    from ezshm_clock import ClockReader, wait_any
    s = Session("clockany")
    try:
        names = ("clock-wa", "clock-wb")
        eps = [start_daemon(s, name) for name in names]
        os.environ["EZSHM_SHM_DIR"] = s.dir
        for (data, ctl) in eps:
            pub(s, data, count=5).wait(timeout=30)
            wait_until(lambda: get_status(s, ctl)["counters"]["written"] == 5, 10, "5 messages")
        readers = [ClockReader(name) for name in names]
        assert wait_any(readers, 0.3) is None
        got = []
        th = threading.Thread(target=lambda: got.append(wait_any(readers, 20.0)))
        th.start()
        wait_until(lambda: all(waiters_of(s, name) == 1 for name in names), 10, "counted a waiter on both streams")
        p = pub(s, eps[1][0], count=5)
        th.join(timeout=30)
        p.wait(timeout=30)
        assert got == [1], got
        assert all(waiters_of(s, name) == 0 for name in names)
        for r in readers:
            r.close()
    finally:
        s.close()


def case_python_newest_under_load():
    """newest() while ezshm-pub sends 10 000 messages a second (100 kHz, chunks of 10, with
    seq and wall clock): every answer is one frame's, whole — a seq (every message has one),
    the time of that very frame (an independent lookup agrees), positions and seqs never
    going back. The reader used to pair the position with the newest anchor, which is
    published before its chunk's frames: most calls then got seq None."""
    from ezshm_clock import ClockReader
    s = Session("clockload")
    try:
        data, ctl = start_daemon(s, "clock-load")
        os.environ["EZSHM_SHM_DIR"] = s.dir
        p = s.start("ezshm-pub", "--connect", data, "--fs", "100000", "--chunk", "10", "--seq", "--wall-clock",
                    "--quiet")
        wait_until(lambda: get_status(s, ctl)["counters"]["written"] > 100, 10, "100 messages")
        clock = ClockReader("clock-load")
        calls, w0 = 5000, get_status(s, ctl)["counters"]["written"]
        last_pos = last_seq = -1
        bad = []
        for _ in range(calls):
            pos, t, wall_ns, seq = clock.newest()
            again = clock.times(pos - 1, 1)[0]
            if seq is None or wall_ns <= 0 or not t == t or (again == again and again != t) \
                    or pos < last_pos or seq < last_seq:
                bad.append((pos, t, again, wall_ns, seq))
            last_pos, last_seq = pos, seq if seq is not None else last_seq
        moved = get_status(s, ctl)["counters"]["written"] - w0
        p.terminate()
        p.wait(timeout=10)
        clock.close()
        print(f"  {calls} calls while {moved} messages landed: {len(bad)} inconsistent")
        assert moved > 0, "the publisher sent nothing during the calls"
        assert not bad, f"{len(bad)} of {calls} inconsistent, e.g. {bad[:3]}"
    finally:
        s.close()


def main():
    res = Results()
    res.check("(1) --follow --timestamps: linear then coordinate, every frame's time", case_follow_timestamps)
    res.check("(2) --follow | head -n 5: exit 0", case_follow_into_head)
    res.check("(3) Python reader: timestamps, wait, newest, transport delay", case_python_reader)
    res.check("(4) no clock segment (EZSHM_CLOCK=0): nan timestamps, polling wait", case_without_clock_segment)
    res.check("(5) a reader SIGKILLed inside its wait: its waiter count is taken back by the writer",
              case_killed_waiter)
    res.check("(6) Python reader: wait_any on two streams (futex_waitv), the index of the one with data",
              case_python_wait_any)
    res.check("(7) Python reader: newest() under 10 000 messages/s, every answer one frame's",
              case_python_newest_under_load)
    res.finish()


if __name__ == "__main__":
    main()
