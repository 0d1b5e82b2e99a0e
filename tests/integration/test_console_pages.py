#!/usr/bin/env python3
"""The console's pages in a real browser (issue 26): headless Chromium driven by Selenium
loads the pages exactly as the binary holds them (ezshm-test-console-assets writes the
compiled table out), from a test-only server that speaks the server's side of
docs/console.md — the JSON API with canned ezshmd replies, the SSE events, and the console
WebSocket with columns frames built here from the spec, independently of the C encoder.

Checks: every page loads under the Content Security Policy with no console error and no
inline script; the overview lists the streams with their status values; the stream view
subscribes with its plot width, draws a columns frame (the values the page exposes, the
labels, pixels where data is and none in a gap) and acknowledges it; a rebuild is shown;
the settings form is read-only when control is not allowed; the events log shows the SSE
events; the phone width has no horizontal overflow. Screenshots of each page go to
$EZSHM_BUILD_DIR/screenshots/ (or build/screenshots)."""
import base64
import hashlib
import json
import os
import queue
import re
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("EZSHM_SOURCE_DIR", os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
from ezshm_harness import Results, Skip, helper_tool, wait_until  # noqa: E402

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SCREENSHOTS = os.path.join(os.environ.get("EZSHM_BUILD_DIR", os.path.join(SOURCE, "build")), "screenshots")
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
LABELS = ["Fp1", "Fp2", "Cz"]
DAEMON = "tcp://127.0.0.1:5560"
STREAMS = [
    {"stream": "eeg", "topic": "eeg", "dtype": "h", "shape": [3], "srate": 1000,
     "rates": {"messages": 100, "frames": 1000}, "health": "ingesting", "detail": "", "daemon": DAEMON},
    {"stream": "rig1/emg", "topic": "emg", "dtype": "f", "shape": [8, 4], "srate": 2000,
     "rates": {"messages": 0, "frames": 0}, "health": "idle", "detail": "", "daemon": DAEMON},
]
SETTINGS = {"shmem_name": "eeg", "buf_dur": 10.0, "axis": "time", "header": "v1", "sub_hwm": 1000}
EVENTS = [{"event": "buffer reset", "generation": 4, "shmem_name": "eeg", "stream": "eeg"},
          {"event": "meta updated", "generation": 5, "shmem_name": "eeg", "stream": "eeg"}]


def csp():
    """CONSOLE_CSP as console_assets.h spells it (the string pieces of the macro joined)."""
    with open(os.path.join(SOURCE, "web", "console", "console_assets.h")) as f:
        text = f.read()
    body = text.split("#define CONSOLE_CSP", 1)[1].split("\n\n", 1)[0]
    return "".join(re.findall(r'"([^"]*)"', body))


def status_of(name):
    """An ezshmd status reply for one stream (docs/control-protocol.md, the fields the
    overview shows)."""
    return {"ok": True, "settings": SETTINGS, "daemon": DAEMON, "status": {
        "stream": {"shmem_name": name, "generation": 4 if name == "eeg" else 0},
        "counters": {"dropped": 3 if name == "eeg" else 0,
                     "dropped_by_reason": {"invalid_json": 3 if name == "eeg" else 0, "bad_ndim": 0}},
        "transport_delay": {"messages": 10, "p50_ms": 0.41, "p99_ms": 1.9}}}


def pattern(columns):
    """The synthetic plot: 3 channels; min n·100 + k mod 50, max 5 more; columns 10..19 gaps,
    30..32 lost."""
    mins = [[float(n * 100 + k % 50) for k in range(columns)] for n in range(3)]
    maxs = [[v + 5.0 for v in row] for row in mins]
    gaps = set(range(10, 20))
    lost = {30, 31, 32}
    for n in range(3):
        for k in gaps:
            mins[n][k] = maxs[n][k] = float("nan")
    return mins, maxs, gaps, lost


FIRST_COLUMN = 340000000000   # the grid index of column 0 (t0 / dt), as a wall clock gives


def columns_frame(sub, seq, gen, columns, first_column=FIRST_COLUMN, span_first=0, value=None):
    """A columns frame as docs/console.md section 2 lays it out: the pattern, full; or, with
    span_first > 0, a delta frame of columns span_first.. holding value everywhere."""
    mins, maxs, gaps, lost = pattern(columns)
    if span_first:
        mins = [[value] * (columns - span_first) for _ in range(3)]
        maxs = [[value + 1.0] * (columns - span_first) for _ in range(3)]
        gaps, lost = set(), set()
    span = columns - span_first
    dt = 5.0 / columns
    head = struct.pack("<IHH" + "I" * 10 + "dddqQQIIQ", 0x31435A45, 1, 1, 112, 1 | (4 if span_first else 0), sub, seq,
                       gen, 0, columns, 3, 0, 3, first_column * dt, (first_column + columns) * dt,
                       (first_column + columns) * dt - 0.001, first_column, 5000, 3, span_first, span, 0)
    assert len(head) == 112
    body = b"".join(struct.pack(f"<{span}f", *row) for row in mins + maxs)

    def bitmap(cols):
        b = bytearray((span + 7) // 8)
        for k in cols:
            b[k // 8] |= 1 << (k % 8)
        return bytes(b)

    return head + body + bitmap(gaps) + bitmap(lost)


class Console(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, assets):
        super().__init__(("127.0.0.1", 0), Handler)
        self.assets = assets            # name -> (content type, etag, bytes)
        self.ws_in = queue.Queue()      # JSON messages the page sent on the WebSocket
        self.ws_out = queue.Queue()     # (text or bytes) for the test to push to the page
        self.origins = []
        self.puts = []
        self.stop = threading.Event()
        self.csp = csp()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, ctype, body, extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", self.server.csp)
        self.send_header("Connection", "close")
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def json(self, status, obj):
        self.reply(status, "application/json", json.dumps(obj).encode())

    def do_GET(self):
        path, _, query = self.path.partition("?")
        if path == "/api/v1/console":
            return self.websocket()
        if path == "/api/v1/events":
            return self.events()
        if path == "/api/v1/console/config":
            return self.json(200, {"allow_control": False})
        if path == "/api/v1/streams":
            return self.json(200, {"ok": True, "streams": STREAMS, "unreachable": []})
        if path.startswith("/api/v1/streams/"):
            from urllib.parse import unquote
            return self.json(200, status_of(unquote(path[len("/api/v1/streams/"):])))
        if path == "/api/v1/settings":
            return self.json(200, {"ok": True, "settings": SETTINGS, "daemon": DAEMON})
        name = "index.html" if path == "/" else path[1:]
        if name in self.server.assets:
            ctype, etag, data = self.server.assets[name]
            return self.reply(200, ctype, data, [("ETag", etag)])
        self.json(404, {"ok": False, "error": {"code": "not_found", "message": path}})

    def do_PUT(self):
        n = int(self.headers.get("Content-Length", "0"))
        self.server.puts.append(self.rfile.read(n))
        self.json(403, {"ok": False, "error": {"code": "control_not_allowed",
                                               "message": "ezshm-web was started without --allow-control"}})

    def events(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        for ev in EVENTS:
            self.wfile.write(f"data: {json.dumps(dict(ev, daemon=DAEMON))}\n\n".encode())
        self.wfile.flush()
        self.server.stop.wait(30)
        self.close_connection = True

    def websocket(self):
        key = self.headers.get("Sec-WebSocket-Key", "")
        self.server.origins.append(self.headers.get("Origin"))
        protocols = [p.strip() for p in self.headers.get("Sec-WebSocket-Protocol", "").split(",")]
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        if "ezshm-console.v1" in protocols:
            self.send_header("Sec-WebSocket-Protocol", "ezshm-console.v1")
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        sock = self.connection
        while not self.server.stop.is_set():
            try:
                while True:
                    send(sock, self.server.ws_out.get_nowait())
            except queue.Empty:
                pass
            if not select.select([sock], [], [], 0.05)[0]:
                continue
            msg = receive(sock)
            if msg is None:
                return
            self.server.ws_in.put(json.loads(msg))


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def receive(sock):
    """One text message from the browser (masked, unfragmented), None at close."""
    head = recv_exact(sock, 2)
    if head is None or head[0] & 0x0F == 8:
        return None
    n = head[1] & 0x7F
    if n == 126:
        n = struct.unpack(">H", recv_exact(sock, 2))[0]
    elif n == 127:
        n = struct.unpack(">Q", recv_exact(sock, 8))[0]
    mask = recv_exact(sock, 4)
    data = recv_exact(sock, n)
    return bytes(b ^ mask[i % 4] for i, b in enumerate(data)).decode()


def send(sock, payload):
    """One unmasked server message: text for str, binary for bytes."""
    data = payload.encode() if isinstance(payload, str) else payload
    op = 0x81 if isinstance(payload, str) else 0x82
    n = len(data)
    head = bytes([op, n]) if n < 126 else (bytes([op, 126]) + struct.pack(">H", n) if n < 65536
                                            else bytes([op, 127]) + struct.pack(">Q", n))
    sock.sendall(head + data)


def next_ws(server, kind, timeout=10):
    """The next message of that type the page sent."""
    def got():
        try:
            m = server.ws_in.get(timeout=0.1)
        except queue.Empty:
            return None
        return m if m.get("type") == kind else None
    return wait_until(got, timeout=timeout, what=f"a {kind} message from the page")


def subscribed_at_width(driver, server):
    """The page's subscribe message once its plot has its size: the page subscribes when the
    socket opens and again when the canvas is resized, so earlier ones may be narrower or
    wider; the one asked for the canvas' width (minus the labels) is the one drawn."""
    def settled():
        sub = next_ws(server, "subscribe")
        width = driver.execute_script("return document.getElementById('plot').width")
        label_px = round(80 * driver.execute_script("return window.devicePixelRatio"))
        return sub if sub["columns"] == width - label_px else None
    return wait_until(settled, timeout=10, what="a subscribe at the plot's width")


def stream_message(sub, gen):
    return json.dumps({"type": "stream", "id": sub, "stream": "eeg", "generation": gen, "dtype": "h",
                       "shape": [10000, 3], "srate": 1000, "channels_total": 3, "channel_first": 0,
                       "channels": 3, "slice": [], "slice_dims": [], "labels": LABELS, "unit": "uV"})


def errors_in(driver):
    """Console entries at level SEVERE (CSP violations, exceptions, failed loads) and errors
    the page caught itself."""
    logs = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    return logs + driver.execute_script("return window.ezshmConsole ? window.ezshmConsole.errors : ['no console']")


def no_errors(driver):
    errors = errors_in(driver)   # get_log empties the browser's log: read it once
    assert not errors, errors


def shot(driver, name):
    os.makedirs(SCREENSHOTS, exist_ok=True)
    driver.save_screenshot(os.path.join(SCREENSHOTS, f"console-{name}.png"))


def open_browser(tmp):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as e:
        raise Skip(f"python3-selenium is not installed ({e})")
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            raise Skip(f"{path} is not installed (Debian's chromium, chromium-driver)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,800",
              f"--user-data-dir={tmp}/profile"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def main():
    results = Results()
    tmp = tempfile.mkdtemp(prefix="ezshm-console-")
    assets_dir = os.path.join(tmp, "assets")
    os.makedirs(assets_dir)
    subprocess.run([helper_tool("ezshm-test-console-assets"), assets_dir], check=True)
    assets = {}
    with open(os.path.join(assets_dir, "manifest.tsv")) as f:
        for line in f:
            name, ctype, etag = line.rstrip("\n").split("\t")
            with open(os.path.join(assets_dir, name), "rb") as g:
                assets[name] = (ctype, etag, g.read())
    server = Console(assets)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    driver = None
    try:
        driver = open_browser(tmp)
        driver.set_script_timeout(10)
        ctx = {}

        def overview():
            driver.get(server.url + "/")
            wait_until(lambda: driver.execute_script("return document.body.dataset.ready === '1'"), what="the page")
            rows = wait_until(lambda: driver.execute_script(
                "const r = [...document.querySelectorAll('#streams tbody tr')];"
                "return r.length === 2 && r[0].cells[10].textContent !== '–' ? "
                "r.map((tr) => [...tr.cells].map((c) => c.textContent)) : null"), what="two rows with status")
            assert rows[0][0] == "eeg" and rows[1][0] == "rig1/emg", rows
            assert rows[0][2] == "[3]" and rows[0][3] == "h" and rows[0][5] == "1000", rows[0]
            assert rows[0][7] == "ingesting" and rows[1][7] == "idle", rows
            assert rows[0][8] == "3" and rows[0][9] == "0.41 / 1.90 ms" and rows[0][10] == "4", rows[0]
            assert driver.execute_script("return document.querySelectorAll('script:not([src]), style, [style]').length") == 0
            shot(driver, "overview")
            no_errors(driver)

        def stream_view():
            driver.get(server.url + "/#/stream/eeg")
            sub = subscribed_at_width(driver, server)
            assert sub["stream"] == "eeg" and sub["window"] == 5 and sub["id"] >= 1, sub
            assert server.origins[-1] == server.url, server.origins
            ctx.update(sub=sub["id"], columns=sub["columns"])
            server.ws_out.put(stream_message(sub["id"], 4))
            server.ws_out.put(columns_frame(sub["id"], 0, 4, sub["columns"]))
            drawn = next_ws(server, "drawn")
            assert drawn == {"type": "drawn", "id": sub["id"], "sequence": 0}, drawn
            f = driver.execute_script(
                "const f = window.ezshmConsole.lastFrame; return {min: Array.from(f.min), max: Array.from(f.max),"
                " labels: f.labels, unit: f.unit, columns: f.columns, channels: f.channels, generation: f.generation,"
                " gaps: Array.from({length: f.columns}, (_, k) => f.gap(k)),"
                " lost: Array.from({length: f.columns}, (_, k) => f.lostAt(k)), t1: f.t1, ms: window.ezshmConsole.lastDraw.ms}")
            mins, maxs, gaps, lost = pattern(sub["columns"])
            C = sub["columns"]
            assert f["columns"] == C and f["channels"] == 3 and f["generation"] == 4, f
            assert f["labels"] == LABELS and f["unit"] == "uV", f["labels"]
            for n in range(3):
                for k in range(C):
                    if k in gaps:
                        assert f["min"][n * C + k] is None and f["gaps"][k] == 1
                    else:
                        assert f["min"][n * C + k] == mins[n][k] and f["max"][n * C + k] == maxs[n][k], (n, k)
            assert [k for k in range(C) if f["lost"][k]] == sorted(lost)
            assert f["t1"] == (FIRST_COLUMN + C) * 5.0 / C
            # Pixels: a column with data has trace colour in its lane, a gap column none.
            lanes = driver.execute_script(
                "const c = document.getElementById('plot'), x = c.getContext('2d'), lx = Math.round(80 * devicePixelRatio);"
                "const h = c.height - Math.round(22 * devicePixelRatio), lane = Math.floor(h / 3);"
                "const lit = (k) => { const d = x.getImageData(lx + k, 0, 1, lane).data; let n = 0;"
                "  for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > 150) n++; return n; };"
                "return [lit(5), lit(15), lit(45)];")
            assert lanes[0] > 0 and lanes[1] == 0 and lanes[2] > 0, lanes
            # The time per drawn frame once warm (the page's own measure, performance.now()).
            ms = driver.execute_async_script(
                "const buf = arguments[0], done = arguments[1], C = window.ezshmConsole;"
                "const bytes = Uint8Array.from(atob(buf), (c) => c.charCodeAt(0)).buffer; const t = [];"
                "const step = (i) => { if (i === 20) { t.sort((a, b) => a - b); return done(t[10]); }"
                "  C.stream.injectFrame(bytes.slice(0)); requestAnimationFrame(() => requestAnimationFrame(() => {"
                "  t.push(C.lastDraw.ms); step(i + 1); })); }; step(0);",
                base64.b64encode(columns_frame(sub["id"], 0, 4, C)).decode())
            print(f"     median time per drawn frame ({C} columns x 3 channels): {ms:.2f} ms", flush=True)
            # A delta frame: the window slid by two columns, the newest three are new; the
            # page keeps the rest from the frame before, moved with the window.
            server.ws_out.put(columns_frame(sub["id"], 1, 4, C, FIRST_COLUMN + 2, C - 3, 7777.0))
            assert next_ws(server, "drawn")["sequence"] == 1
            d = driver.execute_script(
                "const f = window.ezshmConsole.lastFrame; return {min: Array.from(f.min), max: Array.from(f.max),"
                " gaps: Array.from({length: f.columns}, (_, k) => f.gap(k)), delta: f.delta}")
            assert d["delta"], d["delta"]
            for n in range(3):
                for k in range(C):
                    got = (d["min"][n * C + k], d["max"][n * C + k], d["gaps"][k])
                    if k >= C - 3:
                        want = (7777.0, 7778.0, 0)
                    elif k + 2 in gaps:
                        want = (None, None, 1)
                    else:
                        want = (mins[n][k + 2], maxs[n][k + 2], 0)
                    assert got == want, (n, k, got, want)
            shot(driver, "stream")
            no_errors(driver)

        def rebuild():
            server.ws_out.put(stream_message(ctx["sub"], 5))
            server.ws_out.put(columns_frame(ctx["sub"], 2, 5, ctx["columns"]))
            drawn = next_ws(server, "drawn")
            assert drawn["sequence"] == 2, drawn
            banner = wait_until(lambda: driver.execute_script(
                "const b = document.getElementById('stream-banner'); return b.hidden ? null : b.textContent"),
                what="the rebuild banner")
            assert "generation 5" in banner, banner
            assert driver.execute_script("return document.getElementById('plot').dataset.generation") == "5"
            # Shortcuts: "]" a longer window (a new subscribe), space pauses.
            body = driver.find_element("tag name", "body")
            body.send_keys("]")
            sub = wait_until(lambda: (lambda m: m if m["window"] == 10 else None)(next_ws(server, "subscribe")),
                             what="a subscribe with the 10 s window")
            assert sub["id"] > ctx["sub"], sub
            body.send_keys(" ")
            assert next_ws(server, "pause") == {"type": "pause"}
            shot(driver, "stream-rebuilt")

        def settings_read_only():
            driver.get(server.url + "/#/settings/eeg")
            wait_until(lambda: driver.execute_script("return document.querySelectorAll('#settings-fields input').length"),
                       what="the settings fields")
            state = driver.execute_script(
                "return {inputs: [...document.querySelectorAll('#settings-fields input')].map((i) => i.disabled),"
                " apply: document.getElementById('settings-apply').disabled,"
                " buf: document.getElementById('set-buf_dur').value,"
                " mode: document.getElementById('settings-mode').textContent}")
            assert state["inputs"] and all(state["inputs"]) and state["apply"], state
            assert state["buf"] == "10" and "read-only" in state["mode"], state
            no_errors(driver)
            # A forged request from the page is refused with the API's code (the browser logs
            # the 403, nothing else).
            code = driver.execute_async_script(
                "const done = arguments[0]; fetch('/api/v1/settings?stream=eeg', {method: 'PUT',"
                " headers: {'Content-Type': 'application/json'}, body: '{\"buf_dur\": 30}'})"
                ".then((r) => r.json()).then((j) => done(j.error.code));")
            assert code == "control_not_allowed", code
            logged = errors_in(driver)
            assert all("/api/v1/settings" in e and "403" in e for e in logged), logged
            shot(driver, "settings")

        def events():
            driver.get(server.url + "/#/events")
            items = wait_until(lambda: driver.execute_script(
                "const l = [...document.querySelectorAll('#events-log li')]; return l.length >= 2 ? "
                "l.map((li) => li.dataset.event + ' ' + li.textContent) : null"), what="two events")
            assert items[0].startswith("meta updated") and "generation 5" in items[0], items
            assert items[1].startswith("buffer reset") and DAEMON in items[1], items
            shot(driver, "events")
            no_errors(driver)

        def phone_width():
            driver.set_window_size(390, 844)
            driver.get(server.url + "/#/stream/eeg")
            sub = subscribed_at_width(driver, server)
            server.ws_out.put(stream_message(sub["id"], 5))
            server.ws_out.put(columns_frame(sub["id"], 0, 5, sub["columns"]))
            next_ws(server, "drawn")
            overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{overflow} px wider than the phone screen"
            assert sub["columns"] < 400, sub
            shot(driver, "stream-phone")
            driver.get(server.url + "/")
            wait_until(lambda: driver.execute_script("return document.querySelectorAll('#streams tbody tr').length"),
                       what="rows")
            shot(driver, "overview-phone")
            no_errors(driver)

        results.check("overview lists the streams with their status values, no inline script", overview)
        results.check("stream view subscribes at its width, draws the frame exactly, acknowledges it", stream_view)
        results.check("a rebuild is shown; keyboard: ] widens the window, space pauses", rebuild)
        results.check("settings are read-only without control; a forged PUT is refused", settings_read_only)
        results.check("events log shows the SSE events", events)
        results.check("phone width: no horizontal overflow, fewer columns", phone_width)
    except Skip as e:
        results.report("console pages in Chromium", e)
    finally:
        server.stop.set()
        if driver:
            driver.quit()
        server.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    results.finish()


if __name__ == "__main__":
    main()
