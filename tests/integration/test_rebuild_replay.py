"""Through the real binaries: (1) every captured ezmsg-zmq and ezmsg-zmq-more fixture (structured,
bytes, complex and object coordinate axes: never a reason to drop the data), replayed through a real PUB
socket in both framings, lands in ezshmd's ring byte-exact (sha256 of the ring rows equals the
manifest's data_sha256_time_first; header fields as the reference sink wrote them); (2) a
publisher that changes shape, dtype or time-axis kind mid-run makes ezshmd build a new
generation, and a mirror following the stream re-attaches and reads on with the counter
continuous across the rebuild."""
import hashlib
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from ezshm_harness import (STOP_TIMEOUT, Results, Session, check_counter_rows, get_status, helper_tool,  # noqa: E402
                           lost_reports, wait_until)

FIXTURES = os.environ.get("EZSHM_FIXTURES", os.path.join(os.path.dirname(__file__), "..", "fixtures"))


def replay(folder, fixture, single):
    s = Session("replay")
    try:
        data_ep, ctl_ep = s.endpoint(), s.endpoint()
        name = f"replay-{fixture['name']}"
        s.start("ezshmd", "--sub", data_ep, "--control", ctl_ep, "--shmem-name", name, "--buf-dur", "1",
                "--log-level", "error")
        s.wait_ready(ctl_ep)
        args = [helper_tool("ezshm-test-replay"), data_ep, fixture["topic"]]
        args += ["--single", os.path.join(folder, fixture["singlepart_file"])] if single else \
            [os.path.join(folder, fixture["file"])]
        subprocess.run(args, check=True, timeout=30)
        status = wait_until(lambda: (st := get_status(s, ctl_ep))["counters"]["written"] == 1 and st,
                            what="the message to land")
        ref, stream = fixture["reference_sink"], status["stream"]
        assert stream["dtype"] == ref["dtype_char"] and stream["shape"] == ref["shape"], stream
        assert stream["srate"] == ref["srate"] and stream["key"] == ref["key"], stream
        assert stream["write_index"] == ref["write_index"] and stream["generation"] == ref["buffer_generation"]
        n = ref["write_index"]
        out = subprocess.run([os.path.join(os.environ["EZSHM_BIN"], "ezshm-mirror"), "--dump", "raw", "--latest",
                              str(n), name], env=s.env, capture_output=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert hashlib.sha256(out.stdout).hexdigest() == fixture["data_sha256_time_first"], "ring rows differ"
    finally:
        s.close()


def change(kind, dtype="f"):
    s = Session("rebuild")
    try:
        data_ep, ctl_ep = s.endpoint(), s.endpoint()
        name = f"rebuild-{kind}"
        s.start("ezshmd", "--sub-bind", data_ep, "--control", ctl_ep, "--shmem-name", name, "--buf-dur", "2",
                "--log-level", "error")
        s.wait_ready(ctl_ep)
        mirror = s.start("ezshm-mirror", "--wait", "15", "--dump", "csv", "--follow", "--frames", "1500", name,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        s.start("ezshm-pub", "--connect", data_ep, "--pattern", "counter", "--dtype", dtype, "--channels", "3",
                "--chunk", "10", "--rate", "200", "--count", "200", "--change-after", "80", "--change", kind,
                "--quiet")
        out, err = mirror.communicate(timeout=STOP_TIMEOUT * 4)
        assert mirror.returncode == 0, err
        assert "ring rebuilt, generation 1" in err, err
        rows = [line.split(",") for line in out.splitlines()]
        assert len(rows) == 1500
        widths = sorted({len(r) for r in rows})
        assert widths == ([3, 4] if kind == "shape" else [3]), widths
        check_counter_rows(rows, "f", lost_reports(err))
        stream = get_status(s, ctl_ep)["stream"]
        assert stream["generation"] == 1, stream
        expected = {"shape": ("f", [2000, 4], 1000), "dtype": ("d", [2000, 3], 1000),
                    "axis": ("f", [2000, 3], 0)}[kind]
        assert (stream["dtype"], stream["shape"], stream["srate"]) == expected, stream
    finally:
        s.close()


def main():
    res = Results()
    replays = []
    for sub in ("ezmsg-zmq", "ezmsg-zmq-more"):
        folder = os.path.join(FIXTURES, sub)
        with open(os.path.join(folder, "manifest.json")) as f:
            fixtures = json.load(f)["fixtures"]
        replays += [(f"replay {sub}/{fixture['name']} {'single part' if single else 'multipart'} lands byte-exact",
                     replay, folder, fixture, single) for fixture in fixtures for single in (False, True)]
    # A replay has no reader that must keep real time: two at a time. The --change cases do.
    res.check_parallel(replays)
    for kind in ("shape", "dtype", "axis"):
        res.check(f"--change {kind}: new generation, the mirror follows with continuous data", change, kind)
    res.finish()


if __name__ == "__main__":
    main()
