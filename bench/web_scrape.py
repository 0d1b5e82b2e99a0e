#!/usr/bin/env python3
"""bench/web_scrape.py — ezshm-web's /metrics scrape with many streams (docs/benchmarks-web.md).

    bench/web_scrape.py [--bin DIR] [--streams N] [--scrapes N] [--cpu-seconds S]

Starts ezshmd with N streams (auto mode, one short counter burst per topic so each has a ring),
ezshm-web in front of it, then:
  1. latency: --scrapes back-to-back GET /metrics on one keep-alive connection, each timed from
     the request to the last byte; prints p50 / p99 / max and the page size;
  2. CPU: one scrape a second (Prometheus' pace) for --cpu-seconds; prints ezshm-web's CPU time
     (utime + stime from /proc) over that wall time, as a percentage of one core.
Everything runs on ipc:// and 127.0.0.1, segments in a private directory."""
import argparse
import http.client
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_proc import cpu_seconds, free_port  # noqa: E402



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.environ.get("EZSHM_BIN", os.path.join(HERE, "..", "build", "bin")))
    ap.add_argument("--streams", type=int, default=64)
    ap.add_argument("--scrapes", type=int, default=500)
    ap.add_argument("--cpu-seconds", type=int, default=60)
    a = ap.parse_args()
    shm = tempfile.mkdtemp(prefix="ezshm-webbench-", dir="/dev/shm")
    socks = tempfile.mkdtemp(prefix="ezshm-webbench-")
    env = dict(os.environ, EZSHM_SHM_DIR=shm)
    sub, ctl = f"ipc://{socks}/sub", f"ipc://{socks}/ctl"
    procs = []
    try:
        procs.append(subprocess.Popen([f"{a.bin}/ezshmd", "--sub-bind", sub, "--control", ctl, "--stream-per-topic",
                                       "bench/{topic}", "--max-streams", str(a.streams), "--buf-dur", "1",
                                       "--log-level", "error"], env=env))

        def burst(i):
            subprocess.run([f"{a.bin}/ezshm-pub", "--connect", sub, "--topic", f"t{i}", "--count", "3", "--rate",
                            "1000", "--wait-sub", "300", "--chunk", "10", "--quiet"], env=env, check=True)
        time.sleep(0.5)
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(burst, range(a.streams)))
        port = free_port()
        web = subprocess.Popen([f"{a.bin}/ezshm-web", "--control", ctl, "--listen", f"127.0.0.1:{port}"], env=env,
                               stderr=subprocess.DEVNULL)
        procs.append(web)
        conn = None
        for _ in range(100):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("GET", "/metrics")
                body = conn.getresponse().read()
                break
            except OSError:
                time.sleep(0.1)
        streams = body.count(b"\nezshm_stream_frames_total{")
        assert streams == a.streams, f"{streams} streams in /metrics, expected {a.streams}"
        times = []
        for _ in range(a.scrapes):
            t = time.perf_counter()
            conn.request("GET", "/metrics")
            r = conn.getresponse()
            body = r.read()
            times.append((time.perf_counter() - t) * 1e3)
            assert r.status == 200 and b"ezshm_up{" in body
        times.sort()
        q = statistics.quantiles(times, n=100, method="inclusive")
        print(f"streams {a.streams}, page {len(body)} bytes, {a.scrapes} scrapes back to back: "
              f"p50 {q[49]:.2f} ms, p99 {q[98]:.2f} ms, max {times[-1]:.2f} ms")
        c0, t0 = cpu_seconds(web.pid), time.monotonic()
        for i in range(a.cpu_seconds):
            conn.request("GET", "/metrics")
            conn.getresponse().read()
            time.sleep(max(0.0, t0 + i + 1 - time.monotonic()))
        used, wall = cpu_seconds(web.pid) - c0, time.monotonic() - t0
        print(f"one scrape a second for {wall:.0f} s: ezshm-web used {used:.2f} s of CPU = "
              f"{100 * used / wall:.2f} % of one core")
        conn.close()
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=15)
        shutil.rmtree(shm, ignore_errors=True)
        shutil.rmtree(socks, ignore_errors=True)


if __name__ == "__main__":
    main()
