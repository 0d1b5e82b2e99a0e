"""ezshm-pub with --count delivers every message: it waits (bounded) until a subscriber of its
topic has subscribed before the first one. (1) ezshmd up, `ezshm-pub --connect --count 5
--chunk 20`: all 100 frames in the ring, every time (before, the first messages went out
before the connection was up: 60 of 100 landed); (2) nobody listening, or a subscriber of
another topic only: exit 3 and a line on stderr, nothing sent."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from ezshm_harness import Results, Session, get_status, wait_until  # noqa: E402


def case_all_frames_land():
    s = Session("pubcount")
    try:
        data, ctl = s.endpoint(), s.endpoint()
        s.start("ezshmd", "--sub-bind", data, "--control", ctl, "--shmem-name", "pub-count", "--buf-dur", "10",
                "--log-level", "warning")
        s.wait_ready(ctl)
        for run in range(1, 6):
            r = s.run("ezshm-pub", "--connect", data, "--count", "5", "--chunk", "20", "--rate", "0", "--quiet",
                      timeout=60)
            assert r.returncode == 0 and r.stderr == "", (run, r.returncode, r.stderr)
            # The socket's linger delivers what was queued before exit; ezshmd may still be
            # writing the last message.
            wait_until(lambda: get_status(s, ctl)["counters"]["frames"] >= 100 * run, 10, f"run {run}'s frames")
            counters = get_status(s, ctl)["counters"]
            assert counters["frames"] == 100 * run and counters["dropped"] == 0, (run, counters)
    finally:
        s.close()


def case_nobody_listening():
    s = Session("pubnone")
    try:
        data = s.endpoint()
        r = s.run("ezshm-pub", "--connect", data, "--count", "5", "--wait-sub", "300", timeout=60)
        assert r.returncode == 3, (r.returncode, r.stderr)
        assert "no subscriber of topic 'ezshm' within 300 ms; nothing sent" in r.stderr, r.stderr
        assert "sent " not in r.stderr.replace("nothing sent", ""), r.stderr
        data2, ctl = s.endpoint(), s.endpoint()
        s.start("ezshmd", "--sub-bind", data2, "--control", ctl, "--topic", "other", "--shmem-name", "pub-other",
                "--log-level", "warning")
        s.wait_ready(ctl)
        r = s.run("ezshm-pub", "--connect", data2, "--topic", "eeg", "--count", "5", "--wait-sub", "500",
                  timeout=60)
        assert r.returncode == 3 and "no subscriber of topic 'eeg'" in r.stderr, (r.returncode, r.stderr)
        assert get_status(s, ctl)["counters"]["received"] == 0
    finally:
        s.close()


def main():
    res = Results()
    res.check("(1) --connect --count 5 --chunk 20 into a running ezshmd: all 100 frames, five runs out of five",
              case_all_frames_land)
    res.check("(2) --count with nobody (or only another topic's subscriber) listening: exit 3, said on stderr",
              case_nobody_listening)
    res.finish()


if __name__ == "__main__":
    main()
