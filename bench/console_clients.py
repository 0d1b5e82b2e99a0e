#!/usr/bin/env python3
"""bench/console_clients.py — ezshm-web serving the console to N clients at rig load
(docs/benchmarks.md, section 11).

    bench/console_clients.py [--bin DIR] [--clients N] [--seconds S]

Starts ezshmd, ezshm-pub at the rig load (30 kHz x 256 ch int16, 1 ms chunks) and ezshm-web,
then N WebSocket clients that behave as the page does (docs/console.md §3, §4): subscribe to a
1000-column, 10 s plot at 60 frames/s, and acknowledge every frame at once ("drawn"). Prints,
over S seconds: ezshm-web's and ezshmd's CPU (utime + stime from /proc, % of one core), the
frames per second each client got, their bytes, and the time from a frame's newest sample
(its chunk's publication: the frame's "time of the newest frame", the sender's wall clock with
--wall-clock) to the frame's arrival at the client, p50 / p99. The clients are Python, not
browsers: the browser's drawing time is measured by test_console_pages.py."""
import argparse
import base64
import os
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import json

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_proc import cpu_seconds, free_port  # noqa: E402



class Client(threading.Thread):
    """A minimal RFC 6455 client: handshake, masked text frames out, unfragmented frames in."""

    def __init__(self, port, stream, stop):
        super().__init__(daemon=True)
        self.port, self.stream, self.stop = port, stream, stop
        self.frames, self.bytes, self.delays = 0, 0, []

    def send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        head = bytes([0x81]) + (bytes([0x80 | len(data)]) if len(data) < 126 else
                                bytes([0x80 | 126]) + struct.pack(">H", len(data)))
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def run(self):
        try:
            self.follow()
        except (EOFError, OSError):
            pass   # ezshm-web stopped at the end of the run

    def follow(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port))
        key = base64.b64encode(os.urandom(16)).decode()
        origin = f"http://127.0.0.1:{self.port}"
        self.sock.sendall((f"GET /api/v1/console HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           f"Sec-WebSocket-Protocol: ezshm-console.v1\r\nOrigin: {origin}\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert b" 101 " in head.split(b"\r\n")[0], head
        self.send(json.dumps({"type": "subscribe", "id": 1, "stream": self.stream, "columns": 1000,
                              "window": 10, "fps": 60}))
        while not self.stop.is_set():
            b0, b1 = self.recv_exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self.recv_exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self.recv_exact(8))[0]
            payload = self.recv_exact(n)
            if b0 & 0x0F != 2:
                continue
            arrived = time.time()
            sequence = struct.unpack_from("<I", payload, 20)[0]
            newest = struct.unpack_from("<d", payload, 64)[0]
            self.frames += 1
            self.bytes += n
            if newest == newest:
                self.delays.append(arrived - newest)
            self.send(json.dumps({"type": "drawn", "id": 1, "sequence": sequence}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(HERE, "..", "build", "bin"))
    ap.add_argument("--clients", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=15)
    a = ap.parse_args()
    shm = tempfile.mkdtemp(prefix="ezshm-bench-console-", dir="/dev/shm")
    sock = tempfile.mkdtemp(prefix="ezshm-bench-console-")
    env = dict(os.environ, EZSHM_SHM_DIR=shm)
    pub, ctl, port = f"ipc://{sock}/pub", f"ipc://{sock}/ctl", free_port()
    procs = []
    try:
        d = subprocess.Popen([f"{a.bin}/ezshmd", "--sub-bind", pub, "--control", ctl, "--shmem-name", "rig",
                              "--buf-dur", "10", "--log-level", "error"], env=env)
        procs.append(d)
        time.sleep(0.5)
        procs.append(subprocess.Popen([f"{a.bin}/ezshm-pub", "--connect", pub, "--fs", "30000", "--channels", "256",
                                       "--chunk", "30", "--dtype", "int16", "--wall-clock", "--quiet"], env=env))
        w = subprocess.Popen([f"{a.bin}/ezshm-web", "--control", ctl, "--listen", f"127.0.0.1:{port}",
                              "--max-console", str(max(8, a.clients))], env=env, stderr=subprocess.DEVNULL)
        procs.append(w)
        time.sleep(2)
        stop = threading.Event()
        clients = [Client(port, "rig", stop) for _ in range(a.clients)]
        for c in clients:
            c.start()
        time.sleep(3)   # attached, the first full frames gone
        for c in clients:
            c.frames, c.bytes, c.delays = 0, 0, []
        w0, d0, t0 = cpu_seconds(w.pid), cpu_seconds(d.pid), time.time()
        time.sleep(a.seconds)
        w1, d1, t1 = cpu_seconds(w.pid), cpu_seconds(d.pid), time.time()
        stop.set()
        wall = t1 - t0
        delays = sorted(x for c in clients for x in c.delays)
        print(f"clients={a.clients} seconds={wall:.1f} ezshm-web_cpu={100 * (w1 - w0) / wall:.2f}% "
              f"ezshmd_cpu={100 * (d1 - d0) / wall:.2f}% "
              f"frames_per_s_per_client={[round(c.frames / wall, 1) for c in clients]} "
              f"kB_per_s_per_client={round(statistics.mean(c.bytes for c in clients) / wall / 1000, 1)} "
              f"delay_p50_ms={1000 * delays[len(delays) // 2]:.1f} delay_p99_ms={1000 * delays[int(len(delays) * 0.99)]:.1f} "
              f"load={os.getloadavg()[0]:.1f}", flush=True)
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(shm, ignore_errors=True)
        shutil.rmtree(sock, ignore_errors=True)


if __name__ == "__main__":
    main()
