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


def main():
    res = Results()
    res.check("ezshm-ctl status: human output (durations, a block per stream, drop reasons on one line); "
              "--json status: the raw reply", case_status_output)
    res.finish()


if __name__ == "__main__":
    main()
