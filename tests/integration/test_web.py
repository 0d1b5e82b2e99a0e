#!/usr/bin/env python3
"""ezshm-web (issue 25) against the real programs: ezshmd fed by ezshm-pub, ezshm-web, and a
real Prometheus (Debian's /usr/bin/prometheus, private config and storage, 1 s scrapes) that
must see the publisher's frame rate, drops by reason and a rebuild's generation; promtool
checks the exposition; every endpoint and error code, settings round trip, SSE, auth on and
off, ezshmd down, and abuse (huge headers, slowloris, bad bodies, unknown paths, client
limits) over real sockets."""
import http.client as httpc
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
from ezshm_harness import Results, Session, Skip, free_port, helper_tool, start_web, wait_until  # noqa: E402

FS, CHUNK = 1000, 10
NAME = 'web/t"x\\y'   # a '/' for the URL, a quote and a backslash for label escaping


def http(port, method, path, body=None, headers=None, timeout=10):
    """(status, headers dict, body text) of one request on its own connection."""
    conn = httpc.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode()
    finally:
        conn.close()


def api(port, method, path, body=None, headers=None):
    status, _, text = http(port, method, path, body, headers)
    return status, json.loads(text)


def raw(port, data, wait=5.0):
    """Sends raw bytes; returns what comes back until the server closes or wait passes."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.settimeout(wait)
        s.sendall(data)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except socket.timeout:
            out += b"<open>"
        return out


def metric(text, name, **labels):
    """The value of the sample name{labels...} in an exposition, None if absent."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and line.split(" ")[0] != name:
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


class SSE:
    """A reader of /api/v1/events in a thread, collecting the data: lines as JSON."""

    def __init__(self, port, headers=""):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
        self.head = b""
        self.events = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        buf = b""
        try:
            while chunk := self.sock.recv(65536):
                buf += chunk
                if not self.head and b"\r\n\r\n" in buf:
                    self.head, buf = buf.split(b"\r\n\r\n", 1)
                while b"\n\n" in buf and self.head:
                    block, buf = buf.split(b"\n\n", 1)
                    for line in block.decode().splitlines():
                        if line.startswith("data: "):
                            self.events.append(json.loads(line[6:]))
        except OSError:
            pass

    def close(self):
        # shutdown sends the FIN now: a plain close waits for the reader thread's recv.
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


class Rig:
    """ezshmd (SUB to ezshm-pub and to a replayer), ezshm-pub, and ezshm-web instances."""

    def __init__(self):
        self.s = Session("web")
        self.pub_ep = self.s.endpoint("tcp")
        self.bad_ep = self.s.endpoint("tcp")
        self.ctl_ep = self.s.endpoint("tcp")
        self.events_ep = self.s.endpoint("tcp")
        self.d = self.s.start("ezshmd", "--sub", self.pub_ep, "--sub", self.bad_ep, "--shmem-name", NAME,
                              "--control", self.ctl_ep, "--events", self.events_ep, "--buf-dur", "2",
                              "--log-level", "error")
        self.s.wait_ready(self.ctl_ep)
        self.webs = []
        self.pub = self.s.start("ezshm-pub", "--bind", self.pub_ep, "--fs", str(FS), "--chunk", str(CHUNK),
                                "--pattern", "counter", "--seq", "--quiet")

    def web(self, *flags, env=None, control=None):
        """Starts ezshm-web on a free port; returns the port once it accepts connections."""
        proc, port = start_web(self.s, control or self.ctl_ep, *flags, env=env)
        self.webs.append(proc)
        return port

    def bad_messages(self, n):
        """n messages whose JSON part is no JSON, through a second publisher."""
        path = os.path.join(self.s.sockdir, "bad.bin")
        with open(path, "wb") as f:
            f.write(b"{not json")
        r = subprocess.run([helper_tool("ezshm-test-replay"), self.bad_ep, "eeg", *([path] * n)],
                           capture_output=True, timeout=30)
        assert r.returncode == 0, r.stderr


class Prometheus:
    """Debian's Prometheus scraping one target every second, on 127.0.0.1, private storage."""

    def __init__(self, target_port):
        if not os.access("/usr/bin/prometheus", os.X_OK):
            raise Skip("/usr/bin/prometheus is not installed (./dev.sh deps)")
        self.dir = tempfile.mkdtemp(prefix="ezshm-prom-")
        self.port = free_port()
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: ezshm\n"
                    f"    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n")
        self.p = subprocess.Popen(["/usr/bin/prometheus", f"--config.file={config}",
                                   f"--storage.tsdb.path={self.dir}/data",
                                   f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=error"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def query(self, expr):
        """The instant vector of expr as [(labels, value)]; [] while Prometheus is not up."""
        try:
            status, body = api(self.port, "GET", "/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        except (OSError, ValueError):   # not listening, or not ready (a text answer)
            return []
        return [(r["metric"], float(r["value"][1])) for r in body.get("data", {}).get("result", [])]

    def close(self):
        self.p.terminate()
        try:
            self.p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def case_prometheus(res, rig, port):
    prom = Prometheus(port)
    try:
        sel = f'{{stream="{NAME.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"}}'

        def rate_ok():
            # The best of a few evaluations: the publisher's pace is the reference.
            got = prom.query(f"rate(ezshm_stream_frames_total{sel}[5s])")
            return got and abs(got[0][1] - FS) <= 0.05 * FS and got[0][1]

        def rate():
            wait_until(lambda: prom.query("count_over_time(ezshm_up[10s]) >= 6"), 30,
                       "6 scrapes in Prometheus")
            wait_until(rate_ok, 10, f"rate(ezshm_stream_frames_total[5s]) within 5 % of {FS}",
                       interval=1.0)
        res.check("Prometheus: rate(ezshm_stream_frames_total[5s]) matches the publisher's frame rate within 5 %",
                  rate)

        def drops():
            rig.bad_messages(4)
            wait_until(lambda: prom.query(f'ezshm_stream_messages_dropped_total{{reason="invalid_json"}} == 4'),
                       15, "4 invalid_json drops in Prometheus", interval=0.5)
            assert prom.query('ezshm_stream_messages_dropped_total{reason="bad_ndim"} == 0')
        res.check("Prometheus: drops by reason appear after bad messages (reason=invalid_json, 4)", drops)

        def rebuild():
            before = prom.query("ezshm_stream_generation")[0][1]
            sse = SSE(port)
            try:
                wait_until(lambda: sse.head, 5, "SSE headers")
                assert b"200" in sse.head.split(b"\r\n")[0] and b"text/event-stream" in sse.head, sse.head
                status, reply = api(port, "PATCH", "/api/v1/settings", json.dumps({"buf_dur": 3}))
                assert status == 200 and reply["ok"] and "buffer cleanup" in reply["applied"], reply
                reset = wait_until(lambda: [e for e in sse.events if e["event"] == "buffer reset"], 10,
                                   "a buffer reset event on /api/v1/events")
                assert reset[0]["generation"] > before and reset[0]["stream"] == NAME, reset
                assert reset[0]["daemon"] == rig.ctl_ep, reset
            finally:
                sse.close()
            wait_until(lambda: prom.query(f"ezshm_stream_generation > {before}"), 15,
                       "the new generation in Prometheus", interval=0.5)
        res.check("rebuild (PATCH buf_dur): SSE relays buffer reset, Prometheus sees the generation move", rebuild)
    finally:
        prom.close()


def case_exposition(res, rig, port):
    def promtool():
        status, headers, text = http(port, "GET", "/metrics")
        assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4"), headers
        r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), r.stdout + r.stderr
        for family in ("ezshm_up", "ezshm_stream_frames_total", "ezshm_stream_messages_dropped_total",
                       "ezshm_stream_info", "ezshm_stream_health", "ezshm_web_http_requests_total"):
            assert f"# HELP {family} " in text and f"# TYPE {family} " in text, family
        assert metric(text, "ezshm_up", daemon=rig.ctl_ep) == 1
        esc = 'stream="web/t\\"x\\\\y"'
        assert esc in text, "label value escaped"
        assert metric(text, "ezshm_stream_info", dtype="f", shape="[8]") == 1
        assert metric(text, "ezshm_stream_health", state="ingesting") == 1
        assert metric(text, "ezshm_stream_sample_rate_hertz") == FS
        assert metric(text, "ezshm_stream_readers_waiting") == 0, "nobody sleeps on the wake word"
        assert metric(text, "ezshm_control_requests_total", outcome="ok") >= 1
        assert metric(text, "ezshm_control_requests_total", outcome="bad_json") == 0
    res.check("/metrics: promtool check metrics passes, HELP/TYPE, escaping, info and state set, "
              "readers waiting and control requests by outcome", promtool)


def case_api(res, rig, port):
    quoted = urllib.parse.quote(NAME, safe="")

    def endpoints():
        status, _, text = http(port, "GET", "/healthz")
        assert status == 200 and text.startswith("ok:") and text.count("\n") == 1, text
        status, _, text = http(port, "GET", "/readyz")
        assert status == 200 and text.startswith("ready:"), text
        status, body = api(port, "GET", "/api/v1/streams")
        assert status == 200 and [s["stream"] for s in body["streams"]] == [NAME], body
        assert body["streams"][0]["daemon"] == rig.ctl_ep and body["unreachable"] == [], body
        for path in (f"/api/v1/streams/{quoted}", "/api/v1/streams/" + NAME.replace('"', "%22").replace("\\", "%5C")):
            status, body = api(port, "GET", path)
            assert status == 200 and body["status"]["stream"]["shmem_name"] == NAME, (path, body)
        status, body = api(port, "GET", "/api/v1/streams/nope")
        assert status == 404 and body["error"]["code"] == "unknown_stream", body
        status, body = api(port, "GET", "/api/v1/settings")
        assert status == 200 and body["settings"]["shmem_name"] == NAME, body
        status, body = api(port, "GET", "/api/v1/settings?stream=nope")
        assert status == 404 and body["error"]["code"] == "unknown_stream", body
        status, body = api(port, "GET", "/api/v1/settings?daemon=tcp://127.0.0.1:1")
        assert status == 400 and body["error"]["code"] == "bad_request", body
    res.check("every GET endpoint; stream names with '/', '\"', '\\' in the path, encoded or not", endpoints)

    def settings_errors():
        cases = [('{"buf_dur": ', 400, "bad_json"), ("[1]", 400, "not_object"),
                 ('{"bufdur": 1}', 422, "unknown_field"), ('{"buf_dur": "2"}', 422, "wrong_type"),
                 ('{"buf_dur": -1}', 422, "out_of_range"), ('{"buf_dur": NaN}', 422, "not_finite"),
                 ('{"buf_dur": 1, "buf_dur": 2}', 400, "bad_request"), ('{"rcvhwm": 5}', 403, "immutable")]
        for body, want, code in cases:
            status, reply = api(port, "PUT", "/api/v1/settings", body)
            assert (status, reply["ok"], reply["error"]["code"]) == (want, False, code), (body, status, reply)
        status, reply = api(port, "PATCH", "/api/v1/settings?stream=nope", '{"buf_dur": 1}')
        assert status == 404 and reply["error"]["code"] == "unknown_stream", reply
        status, reply = api(port, "PUT", "/api/v1/settings", "{" + " " * 70000 + "}")
        assert status == 413 and reply["error"]["code"] == "too_large", reply
        status, reply = api(port, "GET", "/api/v1/settings")
        assert reply["settings"]["buf_dur"] in (2, 3), "failed updates changed nothing"
    res.check("PUT/PATCH errors: the REP protocol's codes (bad_json ... immutable), 413; nothing changed",
              settings_errors)

    def round_trip():
        status, reply = api(port, "PATCH", f"/api/v1/settings?stream={quoted}", '{"buf_dur": 2.5}')
        assert status == 200 and reply["settings"]["buf_dur"] == 2.5 and reply["applied"], reply
        status, reply = api(port, "GET", "/api/v1/settings")
        assert reply["settings"]["buf_dur"] == 2.5, reply
        # on_settings semantics: the whole settings object again is no change.
        status, again = api(port, "PUT", "/api/v1/settings", json.dumps(reply["settings"]))
        assert status == 200 and again["applied"] == [], again
    res.check("settings round trip: PATCH, GET, PUT of the same settings applies nothing", round_trip)

    def http_errors():
        status, body = api(port, "GET", "/nope")
        assert status == 404 and body["error"]["code"] == "not_found", body
        status, headers, _ = http(port, "POST", "/metrics", "x")
        assert status == 405 and headers["allow"] == "GET", headers
        status, headers, _ = http(port, "DELETE", "/api/v1/settings")
        assert status == 405 and headers["allow"] == "GET, PUT, PATCH", headers
        status, _, _ = http(port, "GET", "/../../etc/passwd")
        assert status == 404
    res.check("unknown paths 404, wrong methods 405 with Allow, no path reaches the file system", http_errors)


def case_abuse(res, rig, port):
    def huge_headers():
        before = metric(http(port, "GET", "/metrics")[2], "ezshm_web_connections_refused_total")
        out = raw(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        assert b"200 OK" not in out, out[:200]
        many = b"".join(b"X-H%d: v\r\n" % i for i in range(2000))
        out = raw(port, b"GET /metrics HTTP/1.1\r\n" + many + b"\r\n")
        assert b"200 OK" not in out, out[:200]
        out = raw(port, b"GARBAGE\r\n\r\n")
        assert out.startswith(b"HTTP/1.") and b" 200 " not in out.split(b"\r\n")[0], out[:200]
        after = metric(http(port, "GET", "/metrics")[2], "ezshm_web_connections_refused_total")
        assert after >= before + 2, (before, after)
    res.check("huge headers, too many headers and garbage are refused and counted", huge_headers)

    def slowloris():
        # Several half-sent requests: the server closes them; meanwhile others are served.
        socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]
        for s in socks:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        assert http(port, "GET", "/healthz")[0] == 200
        for s in socks:
            s.settimeout(60)
            assert s.recv(100) == b"", "a half-sent request is closed without an answer"
            s.close()
    res.check("slowloris: half-sent requests are closed, other clients served meanwhile", slowloris)

    def counted():
        text = http(port, "GET", "/metrics")[2]
        for code in (200, 400, 403, 404, 405, 413, 422):
            assert metric(text, "ezshm_web_http_requests_total", code=str(code)) >= 1, code
    res.check("responses counted by code in ezshm_web_http_requests_total", counted)


def case_limits(res, rig):
    def sse_limit():
        port = rig.web("--max-sse", "1")
        first = SSE(port)
        try:
            wait_until(lambda: first.head, 5, "the first SSE client")
            status, body = api(port, "GET", "/api/v1/events")
            assert status == 503 and body["error"]["code"] == "too_many_clients", body
            assert metric(http(port, "GET", "/metrics")[2], "ezshm_web_sse_clients") == 1
        finally:
            first.close()
        wait_until(lambda: metric(http(port, "GET", "/metrics")[2], "ezshm_web_sse_clients") == 0, 10,
                   "the SSE client forgotten")
    res.check("--max-sse 1: a second events client gets 503, a closed one is forgotten", sse_limit)

    def read_only():
        port = rig.web()
        status, body = api(port, "PATCH", "/api/v1/settings", '{"buf_dur": 1}')
        assert status == 403 and body["error"]["code"] == "control_not_allowed", body
        assert api(port, "GET", "/api/v1/settings")[1]["settings"]["buf_dur"] != 1
    res.check("without --allow-control, PATCH is 403 and changes nothing", read_only)


def case_auth(res, rig):
    def token():
        path = os.path.join(rig.s.sockdir, "token")
        with open(path, "w") as f:
            f.write("s3cret-token\n")
        port = rig.web("--token-file", path, "--allow-control")
        status, headers, _ = http(port, "GET", "/metrics")
        assert status == 401 and headers["www-authenticate"].startswith("Bearer"), (status, headers)
        assert http(port, "GET", "/metrics", headers={"Authorization": "Bearer wrong"})[0] == 401
        assert http(port, "GET", "/metrics", headers={"Authorization": "Bearer s3cret-token"})[0] == 200
        assert http(port, "GET", "/api/v1/streams", headers={"Cookie": "a=b; ezshm_token=s3cret-token"})[0] == 200
        assert http(port, "GET", "/healthz")[0] == 200, "probes need no token"
        status, _ = api(port, "PATCH", "/api/v1/settings", '{"buf_dur": 2}')
        assert status == 401, "writes need the token"
        status, reply = api(port, "PATCH", "/api/v1/settings", '{"buf_dur": 2}',
                            {"Authorization": "Bearer s3cret-token"})
        assert status == 200 and reply["ok"], reply
        # The token from the environment.
        env_port = rig.web(env={"EZSHM_WEB_TOKEN": "from-env"})
        assert http(env_port, "GET", "/metrics")[0] == 401
        assert http(env_port, "GET", "/metrics", headers={"Authorization": "Bearer from-env"})[0] == 200
    res.check("token: 401 without or wrong, bearer or cookie, probes open, writes need it, EZSHM_WEB_TOKEN",
              token)

    def non_loopback():
        r = rig.s.run("ezshm-web", "--listen", "0.0.0.0:1", timeout=30)
        assert r.returncode == 64 and "not loopback" in r.stderr, r.stderr
        r = rig.s.run("ezshm-web", "--listen", "localhost", timeout=30)
        assert r.returncode == 64 and "HOST:PORT" in r.stderr, r.stderr
        r = rig.s.run("ezshm-web", "--help")
        assert r.returncode == 0 and "--allow-control" in r.stdout and "--insecure-no-token" in r.stdout
    res.check("a non-loopback listen address without a token refuses to start; --help", non_loopback)


def case_down(res, rig):
    def down():
        dead = rig.s.endpoint("tcp")   # nobody listens
        port = rig.web("--timeout", "0.5", control=dead)
        t = time.monotonic()
        status, _, text = http(port, "GET", "/metrics")
        assert status == 200 and metric(text, "ezshm_up", daemon=dead) == 0, text[:300]
        assert time.monotonic() - t < 10, "answered within its budget"
        status, _, text = http(port, "GET", "/healthz")
        assert status == 503 and text.startswith("not ok: ezshmd") and text.count("\n") == 1, text
        assert http(port, "GET", "/readyz")[0] == 503
        status, body = api(port, "GET", "/api/v1/streams")
        assert status == 504 and body["error"]["code"] == "no_answer", body
        status, body = api(port, "GET", "/api/v1/settings")
        assert status == 504 and body["error"]["code"] == "no_answer", body
        # A budget beyond libwebsockets' own 5 s request timeout: the scrape still gets its page.
        slow = rig.web("--timeout", "5.5", control=dead)
        t = time.monotonic()
        status, _, text = http(slow, "GET", "/metrics", timeout=30)
        assert status == 200 and metric(text, "ezshm_up", daemon=dead) == 0, (status, text[:300])
        assert time.monotonic() - t >= 5, "the whole budget was waited for"
    res.check("ezshmd down: /metrics answers ezshm_up 0 (also after a 5.5 s budget), probes 503 with a reason, "
              "API 504", down)

    def two():
        dead = rig.s.endpoint("tcp")
        port = rig.web("--control", dead, "--timeout", "0.5")
        # Right after the start the connection to the live daemon may not be complete yet.
        text = wait_until(lambda: (lambda t: metric(t, "ezshm_up", daemon=rig.ctl_ep) == 1 and t)(
            http(port, "GET", "/metrics")[2]), 10, "the live daemon up")
        assert metric(text, "ezshm_up", daemon=dead) == 0, text[:300]
        status, body = api(port, "GET", "/api/v1/streams")
        assert status == 200 and body["unreachable"] == [dead] and len(body["streams"]) == 1, body
        status, body = api(port, "GET", "/api/v1/settings")
        assert status == 400 and "?daemon=" in body["error"]["message"], body
        status, body = api(port, "GET", "/api/v1/settings?daemon=" + urllib.parse.quote(rig.ctl_ep, safe=""))
        assert status == 200 and body["daemon"] == rig.ctl_ep, body
    res.check("two --control: one up, one down; ?daemon= picks one", two)


def case_curve(res, rig):
    def curve():
        d = rig.s.sockdir
        os.makedirs(os.path.join(d, "clients"))
        for name in ("server.cert", "me.cert"):
            r = rig.s.run("ezshm-ctl", "keygen", os.path.join(d, name))
            assert r.returncode == 0, r.stderr
        shutil.copy(os.path.join(d, "me.cert"), os.path.join(d, "clients"))
        ctl, events = rig.s.endpoint("tcp"), rig.s.endpoint("tcp")
        rig.s.start("ezshmd", "--shmem-name", "web-curve", "--control", ctl, "--events", events,
                    "--curve-server-cert", os.path.join(d, "server.cert"), "--curve-clients-dir",
                    os.path.join(d, "clients"), "--log-level", "error")
        port = rig.web("--allow-control", "--curve-client", os.path.join(d, "me.cert"), "--curve-server",
                       os.path.join(d, "server.cert"), control=ctl)
        wait_until(lambda: metric(http(port, "GET", "/metrics")[2], "ezshm_up") == 1, 15, "ezshmd up over CURVE")
        plain = rig.web("--timeout", "0.5", control=ctl)
        assert metric(http(plain, "GET", "/metrics")[2], "ezshm_up") == 0, "no key, no answer"
        sse = SSE(port)
        try:
            wait_until(lambda: sse.head, 5, "SSE headers")
            # The events socket is a CURVE server too: the rename's events come through it.
            def renamed():
                api(port, "PATCH", "/api/v1/settings", json.dumps({"shmem_name": f"web-curve-{time.monotonic_ns()}"}))
                time.sleep(0.5)
                return [e for e in sse.events if e["event"] == "meta reset"]
            wait_until(renamed, 15, "a meta reset event over CURVE", interval=0.5)
        finally:
            sse.close()
    res.check("CURVE: ezshm-web with the client certificate reads status and events; without it ezshm_up 0",
              curve)


def main():
    res = Results()
    rig = Rig()
    try:
        port = rig.web("--allow-control")
        cases = [lambda: case_prometheus(res, rig, port), lambda: case_exposition(res, rig, port),
                 lambda: case_api(res, rig, port), lambda: case_abuse(res, rig, port),
                 lambda: case_limits(res, rig), lambda: case_auth(res, rig), lambda: case_down(res, rig),
                 lambda: case_curve(res, rig)]
        for case in cases:
            try:
                case()
            except Skip as e:
                res.report("Prometheus", e)

        def stops():
            # SIGTERM ends the service loop; exit 0 (under ASan: no leak, no error at exit).
            for p in rig.webs:
                p.terminate()
            codes = [p.wait(timeout=30) for p in rig.webs]
            assert codes == [0] * len(codes), codes
        res.check("every ezshm-web exits 0 on SIGTERM", stops)
    finally:
        rig.s.close()
    res.finish()


if __name__ == "__main__":
    main()
