#!/usr/bin/env python3
"""bench/watch_cpu.py — what `ezshm-mirror --watch A B C` costs while it waits (docs/benchmarks.md).

    bench/watch_cpu.py [--seconds S] [--runs N] [--bin DIR] MIRROR...

One ezshmd serving three streams (topics a, b, c; 8 ch float32 at 1 kHz, 20-frame chunks:
50 messages/s each) fed by three ezshm-pub; every MIRROR binary given (e.g. this build's
ezshm-mirror and one built from an older commit) runs `--watch --refresh 5` on the three
streams side by side, so the same load falls on all of them. Per run, a window of S seconds
(default 10) with the senders running ("loaded"), then one with the senders stopped
("idle"): each watcher's CPU (utime + stime from /proc/PID/stat, % of one core) and its
voluntary context switches per second (how often it went to sleep: the wake-ups). Prints a
markdown table, median [min–max] over the runs. --bin: where ezshmd and ezshm-pub are
(default $EZSHM_BIN, else build/bin).
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time

TOPICS = ("a", "b", "c")


def counts(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    with open(f"/proc/{pid}/status") as f:
        vol = next(int(line.split()[1]) for line in f if line.startswith("voluntary_ctxt_switches"))
    return int(fields[11]) + int(fields[12]), vol


def window(procs, seconds):
    """{label: (cpu % of a core, wake-ups/s)} over the next seconds."""
    c0 = {k: counts(p.pid) for k, p in procs.items()}
    t0 = time.monotonic()
    time.sleep(seconds)
    dt = time.monotonic() - t0
    c1 = {k: counts(p.pid) for k, p in procs.items()}
    tck = os.sysconf("SC_CLK_TCK")
    return {k: (100.0 * (c1[k][0] - c0[k][0]) / tck / dt, (c1[k][1] - c0[k][1]) / dt) for k in procs}


def one_run(bindir, mirrors, seconds):
    shm = tempfile.mkdtemp(prefix="ezshm-watchcpu-", dir="/dev/shm")
    sock = tempfile.mkdtemp(prefix="ezshm-watchcpu-")
    env = dict(os.environ, EZSHM_SHM_DIR=shm)
    sub, ctl = f"ipc://{sock}/sub", f"ipc://{sock}/ctl"
    procs = []
    try:
        streams = [a for t in TOPICS for a in ("--stream", f"{t}=watchcpu-{t}")]
        procs.append(subprocess.Popen([os.path.join(bindir, "ezshmd"), "--sub-bind", sub, "--control", ctl,
                                       "--buf-dur", "2", "--log-level", "error", *streams], env=env))
        time.sleep(0.5)
        pubs = [subprocess.Popen([os.path.join(bindir, "ezshm-pub"), "--connect", sub, "--topic", t, "--fs",
                                  "1000", "--chunk", "20", "--channels", "8", "--pattern", "sine", "--wait-sub",
                                  "300", "--quiet"], env=env) for t in TOPICS]
        procs += pubs
        time.sleep(1.5)
        watchers = {m: subprocess.Popen([m, "--wait", "10", "--watch", "--refresh", "5",
                                         *[f"watchcpu-{t}" for t in TOPICS]], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for m in mirrors}
        procs += watchers.values()
        time.sleep(1.0)
        loaded = window(watchers, seconds)
        for p in pubs:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=15)
        time.sleep(1.0)
        idle = window(watchers, seconds)
        return loaded, idle
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGINT if p.args[0] in mirrors else signal.SIGTERM)
                p.wait(timeout=15)
        shutil.rmtree(shm, ignore_errors=True)
        shutil.rmtree(sock, ignore_errors=True)


def cell(values, fmt):
    return f"{fmt.format(statistics.median(values))} [{fmt.format(min(values))}–{fmt.format(max(values))}]"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--bin", default=os.environ.get("EZSHM_BIN", "build/bin"))
    ap.add_argument("mirrors", nargs="+")
    args = ap.parse_args()
    mirrors = [os.path.abspath(m) for m in args.mirrors]
    results = [one_run(args.bin, mirrors, args.seconds) for _ in range(args.runs)]
    print("| ezshm-mirror | loaded: CPU % | loaded: wake-ups/s | idle: CPU % | idle: wake-ups/s |")
    print("| --- | --- | --- | --- | --- |")
    for m in mirrors:
        lc = [r[0][m][0] for r in results]
        lw = [r[0][m][1] for r in results]
        ic = [r[1][m][0] for r in results]
        iw = [r[1][m][1] for r in results]
        print(f"| {m} | {cell(lc, '{:.2f}')} | {cell(lw, '{:.0f}')} | {cell(ic, '{:.3f}')} | {cell(iw, '{:.1f}')} |")


if __name__ == "__main__":
    main()
