"""ezshm-pub --pattern counter → ezshmd → ezshm-mirror, with the real binaries: every frame
value checked for every dtype (under memcheck one per item size), both header layouts, the
three wire formats, time-first and [ch x time] senders, over ipc:// and tcp://127.0.0.1;
segments gone after SIGTERM."""
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from ezshm_harness import STOP_TIMEOUT, Results, Session, check_counter_rows, lost_reports  # noqa: E402

FRAMES = 400


def run_case(dtype, fmt="native", layout="legacy", time_dim_index=0, transport="ipc"):
    s = Session("pipe")
    try:
        data_ep, ctl_ep = s.endpoint(transport), s.endpoint("ipc")
        name = f"pipe-{dtype}-{fmt}-{layout}-{time_dim_index}-{transport}"
        s.start("ezshmd", "--sub-bind", data_ep, "--control", ctl_ep, "--shmem-name", name,
                "--header", layout, "--buf-dur", "2", "--log-level", "warning")
        s.wait_ready(ctl_ep)
        mirror = s.start("ezshm-mirror", "--wait", "15", "--dump", "csv", "--follow", "--frames", str(FRAMES),
                         name, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        pub = s.start("ezshm-pub", "--connect", data_ep, "--pattern", "counter", "--dtype", dtype,
                      "--format", fmt, "--fs", "1000", "--channels", "3", "--chunk", "10", "--rate", "400",
                      "--count", "20000", "--time-dim-index", str(time_dim_index), "--quiet")
        out, err = mirror.communicate(timeout=STOP_TIMEOUT)
        assert mirror.returncode == 0, f"mirror exit {mirror.returncode}"
        rows = [line.split(",") for line in out.splitlines()]
        assert len(rows) == FRAMES, f"{len(rows)} rows"
        assert all(len(r) == 3 for r in rows)
        check_counter_rows(rows, dtype, lost_reports(err))
        rc, status = s.ctl(ctl_ep, "status")
        assert rc == 0 and status["ok"], status
        stream = status["status"]["stream"] if "status" in status else status["stream"]
        assert stream["dtype"] == {"q": "l", "Q": "L"}.get(dtype, dtype) and stream["shape"] == [2000, 3] and stream["layout"] == layout, stream
        # The mirror has its frames. The publisher would go on for 50 s: a mirror slowed by
        # memcheck on a busy machine may attach seconds after the first message, and follows
        # from there.
        pub.send_signal(signal.SIGTERM)
        assert pub.wait(timeout=STOP_TIMEOUT) == 0, f"ezshm-pub exit {pub.returncode}"
        daemon = s.procs[0]
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=STOP_TIMEOUT) == 0
        assert s.segments() == [], f"segments left: {s.segments()}"
    finally:
        s.close()


def main():
    res = Results()
    # Under memcheck one dtype of each item size (1, 2, 4, 8, 16 bytes): the ring's copies
    # differ only by size, and every dtype's decoding is in the unit tests and the fuzzers.
    dtypes = "?hfdD" if os.environ.get("EZSHM_VALGRIND") else "?bBhHiIlLqQefdFD"
    cases = [(f"native ipc legacy dtype {dtype}", run_case, dtype) for dtype in dtypes]
    cases += [(f"{fmt} tcp {layout} time_dim_index {tdi}", run_case, "f", fmt, layout, tdi, "tcp")
              for fmt in ("native", "ezmsg", "ezmsg-single") for layout in ("legacy", "v1") for tdi in (0, 1)]
    res.check_parallel(cases)
    res.finish()


if __name__ == "__main__":
    main()
