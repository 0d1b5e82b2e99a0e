"""ezshm-mirror --watch: on a terminal (a pty here) it redraws a screen with the stream's
header, rates and one row per channel with a level bar and a sparkline; piped, it prints one
summary line per refresh. Both checked against a live ezshmd fed by ezshm-pub."""
import os
import pty
import select
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from ezshm_harness import BIN, Results, Session  # noqa: E402


def start_stream(s, name, channels):
    data_ep, ctl_ep = s.endpoint(), s.endpoint()
    s.start("ezshmd", "--sub-bind", data_ep, "--control", ctl_ep, "--shmem-name", name, "--buf-dur", "2",
            "--log-level", "error")
    s.wait_ready(ctl_ep)
    s.start("ezshm-pub", "--connect", data_ep, "--fs", "1000", "--channels", str(channels), "--chunk", "20",
            "--pattern", "sine", "--quiet")


def read_until(fd, done, seconds):
    """Reads the pty until done(text) or the deadline (slow machines and sanitizer builds
    take a while to attach and draw)."""
    out = b""
    deadline = time.time() + seconds
    while time.time() < deadline and not done(out.decode("utf-8", "replace")):
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                out += os.read(fd, 65536)
            except OSError:
                break
    return out.decode("utf-8", "replace")


def tty_view():
    s = Session("watch")
    try:
        start_stream(s, "watch-tty", 6)
        pid, fd = pty.fork()
        if pid == 0:
            os.execve(os.path.join(BIN, "ezshm-mirror"), ["ezshm-mirror", "--wait", "10", "--watch", "watch-tty"],
                      s.env)
        clear = "\033[H\033[2J"
        text = read_until(fd, lambda t: t.count(clear) >= 8 and "ch5" in t.split(clear)[-1], 30)
        os.kill(pid, signal.SIGINT)
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0, f"exit {status}"
        screen = text.split("\033[H\033[2J")[-1]
        assert "\033[H\033[2J" in text, "no redraw sequence"
        assert text.count("\033[H\033[2J") >= 5, "fewer than 5 redraws"
        assert "watch-tty" in screen and "dtype f" in screen and "shape [2000,6]" in screen, screen
        assert "srate 1000 Hz" in screen and "generation 0" in screen, screen
        rows = [line for line in screen.splitlines() if line.startswith("ch")]
        assert len(rows) == 6, screen
        assert all("|" in r and any(ch in r for ch in "▁▂▃▄▅▆▇█") for r in rows), rows
        rate = float(screen.split("ingest ")[1].split(" frames/s")[0])
        assert 500 < rate < 2000, f"rate {rate}"
    finally:
        s.close()


def piped_lines():
    s = Session("watch")
    try:
        start_stream(s, "watch-pipe", 3)
        p = s.start("ezshm-mirror", "--wait", "10", "--watch", "--refresh", "4", "watch-pipe",
                    stdout=subprocess.PIPE, text=True)
        time.sleep(4.0)
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=10)
        assert p.returncode == 0
        lines = [line for line in out.splitlines() if line.strip()]
        assert len(lines) >= 5, out
        assert "\033" not in out, "ANSI codes in piped output"
        last = lines[-1]
        assert last.startswith("watch-pipe gen=0 dtype=f") and " ch2=" in last, last
        assert float(last.split("frames/s=")[1].split()[0]) > 0, last
        ch0 = [line.split(" ch0=")[1].split()[0] for line in lines if " ch0=" in line]
        assert len(set(ch0)) >= 3, f"channel values do not follow the signal: {ch0}"
    finally:
        s.close()


def main():
    res = Results()
    res.check("--watch on a terminal draws header, rates and channel rows", tty_view)
    res.check("--watch piped prints summary lines", piped_lines)
    res.finish()


if __name__ == "__main__":
    main()
