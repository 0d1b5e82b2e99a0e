"""`ezshm-ctl status` for people, `--json status` for programs: an ezshmd in auto mode with two
streams and a third topic refused (max_streams). The human output has no raw JSON object on any
line, the uptime as a duration, a block per stream under "stream NAME", the drop reasons on
one line (only those that dropped something), and numbers without 16 digits; --json prints
the raw reply, which still has every field."""
import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from ezshm_harness import Results, Session, get_status, wait_until  # noqa: E402


def case_status_output():
    s = Session("ctlstatus")
    try:
        data, ctl = s.endpoint(), s.endpoint()
        s.start("ezshmd", "--sub-bind", data, "--control", ctl, "--stream-per-topic", "cs/{topic}",
                "--max-streams", "2", "--log-level", "error")
        s.wait_ready(ctl)
        for topic in ("a", "b", "c"):
            r = s.run("ezshm-pub", "--connect", data, "--topic", topic, "--count", "2", "--wall-clock", "--quiet")
            assert r.returncode == 0, r.stderr
        wait_until(lambda: get_status(s, ctl)["unrouted"]["dropped"] == 2, 10, "the third topic refused")
        r = s.run("ezshm-ctl", "--endpoint", ctl, "status")
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert not any("{" in ln for ln in lines), r.stdout            # no raw JSON object
        assert re.fullmatch(r"uptime: +\d+\.\d s", lines[1]), lines[1]
        assert [ln for ln in lines if ln.startswith("stream ")] == ["stream cs/a", "stream cs/b"], r.stdout
        assert re.search(r"^unrouted\.dropped_by_reason: +max_streams 2$", r.stdout, re.M), r.stdout
        assert re.search(r"^  counters\.dropped_by_reason: +none$", r.stdout, re.M), r.stdout
        assert re.search(r"^  counters\.frames: +100$", r.stdout, re.M), r.stdout
        assert not re.search(r"\d\.\d{4}", r.stdout), r.stdout              # at most 3 decimals
        r = s.run("ezshm-ctl", "--endpoint", ctl, "--json", "status")
        assert r.returncode == 0 and len(r.stdout.splitlines()) == 1, r
        status = json.loads(r.stdout)["status"]
        assert isinstance(status["uptime"], float), status["uptime"]
        assert [st["shmem_name"] for st in status["streams"]] == ["cs/a", "cs/b"], status["streams"]
        assert status["unrouted"]["dropped_by_reason"]["no_space"] == 0
    finally:
        s.close()


def case_waiters_and_outcomes():
    """status reports the readers asleep on a stream's wake word and the control requests ezshmd
    answered, by outcome."""
    s = Session("ctlwait")
    try:
        data, ctl = s.endpoint(), s.endpoint()
        s.start("ezshmd", "--sub-bind", data, "--control", ctl, "--shmem-name", "wait/w",
                "--log-level", "error")
        s.wait_ready(ctl)
        r = s.run("ezshm-pub", "--connect", data, "--count", "2", "--wall-clock", "--quiet")
        assert r.returncode == 0, r.stderr
        stream = lambda: get_status(s, ctl)["stream"]  # noqa: E731
        wait_until(lambda: stream()["bvalid"], 10, "the ring")
        assert stream()["readers_waiting"] == 0
        follower = s.start("ezshm-mirror", "--follow", "wait/w")
        wait_until(lambda: stream()["readers_waiting"] == 1, 10, "the follower asleep on the wake word")
        follower.terminate()
        follower.wait(10)
        for bad in ("no_such_field=1", "buf_dur=-1"):
            assert s.run("ezshm-ctl", "--endpoint", ctl, "set", bad).returncode == 1
        outcomes = get_status(s, ctl)["control_requests"]
        assert outcomes["unknown_field"] == 1 and outcomes["out_of_range"] == 1, outcomes
        assert outcomes["ok"] >= 4 and set(outcomes) >= {"ok", "fd_limit", "name_conflict"}, outcomes
    finally:
        s.close()


def main():
    res = Results()
    res.check("status: readers_waiting per stream, control_requests by outcome", case_waiters_and_outcomes)
    res.check("ezshm-ctl status: human output (durations, a block per stream, drop reasons on one line); "
              "--json status: the raw reply", case_status_output)
    res.finish()


if __name__ == "__main__":
    main()
