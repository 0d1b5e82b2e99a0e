#!/usr/bin/env python3
"""The console served by the real ezshm-web (issue 26, docs/console.md §5), in headless
Chromium: ezshmd fed by `ezshm-pub --pattern counter --labels`, ezshm-web started with and
without --allow-control. Checks: the pages come with the CSP and an ETag (304 on revalidation),
the WebSocket upgrade is refused from another Origin; the overview lists the stream with the
values the control socket reports; the stream view draws the counter exactly where it was
published (the drawn data the page exposes: every column's min/max is the counter at its time)
with the metadata's channel labels; a buf_dur change made in the Settings form reaches ezshmd,
the rebuild event appears in the page's event log and the plot follows the new generation;
without --allow-control the form is read-only and a forged PUT is refused. Screenshots go to
$EZSHM_BUILD_DIR/screenshots/ (console-live-*.png)."""
import base64
import http.client as httpc
import json
import math
import os
import shutil
import socket
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
from ezshm_harness import Results, Session, Skip, get_status, start_web, wait_until  # noqa: E402
from test_console_pages import SCREENSHOTS, csp, errors_in, open_browser  # noqa: E402

FS, CHUNK, CHANNELS = 1000, 10, 4
NAME = "live/eeg"
COUNTER_RANGE = 2 ** 24   # float32 counter (docs/wire-protocol.md, "counter pattern")


def http(port, method, path, headers=None, body=None):
    conn = httpc.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def upgrade(port, origin, extra=""):
    """The status line of a console WebSocket upgrade from origin (extra: more header lines)."""
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall((f"GET /api/v1/console HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                   f"Sec-WebSocket-Protocol: ezshm-console.v1\r\nOrigin: {origin}\r\n{extra}\r\n").encode())
        try:
            return s.recv(4096).split(b"\r\n", 1)[0].decode()
        except (ConnectionResetError, socket.timeout):
            return "closed"


def web(s, ctl, *flags, env=None):
    return start_web(s, ctl, *flags, env=env)[1]


def shot(driver, name):
    os.makedirs(SCREENSHOTS, exist_ok=True)
    driver.save_screenshot(os.path.join(SCREENSHOTS, f"console-live-{name}.png"))


def drawn(driver):
    return driver.execute_script(
        "const f = window.ezshmConsole.lastFrame; if (!f) return null;"
        "return {min: Array.from(f.min), max: Array.from(f.max), labels: f.labels, unit: f.unit, t0: f.t0, t1: f.t1,"
        " columns: f.columns, channels: f.channels, generation: f.generation,"
        " gaps: Array.from({length: f.columns}, (_, k) => f.gap(k))}")


def check_counter(f):
    """Every drawn column with data holds the counter of its time span: frame i (value i) has
    time i / FS, so column k (time [t0 + k dt, t0 + (k+1) dt)) spans the values from
    ceil((t0 + k dt) FS) to ceil((t0 + (k+1) dt) FS) - 1, the same on every channel. (The
    counter stays far below the float32 range in this test.)"""
    C, dt = f["columns"], (f["t1"] - f["t0"]) / f["columns"]
    checked = 0
    for k in range(C):
        if f["gaps"][k]:
            continue
        lo = math.ceil(round((f["t0"] + k * dt) * FS, 6)) % COUNTER_RANGE
        hi = (math.ceil(round((f["t0"] + (k + 1) * dt) * FS, 6)) - 1) % COUNTER_RANGE
        # The first column of the data (the ring's oldest frame in the window) and the
        # newest (frames still arriving) hold part of their span; the others all of it.
        edge = k == 0 or k == C - 1 or f["gaps"][k - 1] or f["gaps"][k + 1]
        for n in range(f["channels"]):
            got = (f["min"][n * C + k], f["max"][n * C + k])
            assert got == (lo, hi) or (edge and lo <= got[0] <= got[1] <= hi), (k, n, got, (lo, hi))
        checked += not edge
    assert checked >= C // 4, f"only {checked} of {C} columns hold data"


def main():
    results = Results()
    s = Session("console-live")
    tmp = tempfile.mkdtemp(prefix="ezshm-console-live-")
    driver = None
    try:
        pub_ep, ctl, events = s.endpoint("tcp"), s.endpoint("tcp"), s.endpoint("tcp")
        s.start("ezshmd", "--sub", pub_ep, "--shmem-name", NAME, "--control", ctl, "--events", events,
                "--buf-dur", "4", "--header", "v1", "--log-level", "error")
        s.wait_ready(ctl)
        s.start("ezshm-pub", "--bind", pub_ep, "--fs", str(FS), "--chunk", str(CHUNK), "--channels",
                str(CHANNELS), "--pattern", "counter", "--labels", "--quiet")
        port = web(s, ctl, "--allow-control")
        ro_port = web(s, ctl)
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: get_status(s, ctl)["counters"]["frames"] > 0, 15, "frames in the ring")

        def pages():
            for path in ("/", "/console/", "/console/app.js", "/favicon.svg"):
                status, head, body = http(port, "GET", path)
                assert status == 200 and body, (path, status)
                assert head["content-security-policy"] == csp() and head.get("etag"), (path, head)
                status, _, body = http(port, "GET", path, {"If-None-Match": head["etag"]})
                assert status == 304 and not body, (path, status)
            assert http(port, "GET", "/console/../x")[0] == 404
            status, _, body = http(port, "GET", "/api/v1/console/config")
            assert status == 200 and json.loads(body) == {"allow_control": True}, body
            assert json.loads(http(ro_port, "GET", "/api/v1/console/config")[2]) == {"allow_control": False}
            assert upgrade(port, "http://evil.example") != "HTTP/1.1 101 Switching Protocols"
            assert upgrade(port, url) == "HTTP/1.1 101 Switching Protocols"
            # With a token: the upgrade needs it (cookie or bearer), the pages do not.
            tok_port = web(s, ctl, env={"EZSHM_WEB_TOKEN": "s3cret"})
            tok_url = f"http://127.0.0.1:{tok_port}"
            assert http(tok_port, "GET", "/")[0] == 200
            assert upgrade(tok_port, tok_url) != "HTTP/1.1 101 Switching Protocols"
            assert upgrade(tok_port, tok_url, "Cookie: ezshm_token=wrong\r\n") != "HTTP/1.1 101 Switching Protocols"
            assert upgrade(tok_port, tok_url, "Cookie: ezshm_token=s3cret\r\n") == "HTTP/1.1 101 Switching Protocols"
            assert upgrade(tok_port, tok_url, "Authorization: Bearer s3cret\r\n") == "HTTP/1.1 101 Switching Protocols"
            metrics = http(port, "GET", "/metrics")[2].decode()
            assert "\nezshm_web_console_refused_total 1\n" in metrics, metrics[-600:]

        driver = open_browser(tmp)
        driver.set_script_timeout(10)

        def overview():
            driver.get(url + "/")
            want = get_status(s, ctl)["stream"]
            row = wait_until(lambda: driver.execute_script(
                "const r = [...document.querySelectorAll('#streams tbody tr')];"
                "return r.length === 1 && r[0].cells[10].textContent !== '–' ? "
                "[...r[0].cells].map((c) => c.textContent) : null"), what="the stream's row")
            assert row[0] == NAME and row[3] == want["dtype"] and row[4] == str(FS), (row, want)
            assert row[2] == json.dumps(want["shape"][1:]).replace(" ", ""), (row, want["shape"])
            assert row[10] == str(want["generation"]) and row[7] == "ingesting", (row, want)
            shot(driver, "overview")

        def stream_view():
            driver.get(url + "/#/stream/" + NAME)
            f = wait_until(lambda: (lambda f: f if f and f["columns"] > 100 and sum(1 for g in f["gaps"] if not g)
                                    > f["columns"] // 3 else None)(drawn(driver)), 15, "a drawn frame with data")
            assert f["channels"] == CHANNELS, f["channels"]
            check_counter(f)
            assert f["labels"] == [f"Ch{n}" for n in range(CHANNELS)] and f["unit"] == "uV", (f["labels"], f["unit"])
            shot(driver, "stream")
            assert not errors_in(driver)
            # The page's socket (an upgrade closed before is freed by the pump within 200 ms).
            wait_until(lambda: "\nezshm_web_console_clients 1\n" in http(port, "GET", "/metrics")[2].decode(),
                       5, "one console client in /metrics")

        def settings_change():
            before = get_status(s, ctl)["stream"]["generation"]
            driver.get(url + "/#/events")
            wait_until(lambda: driver.execute_script("return document.getElementById('events-status').textContent"),
                       what="the events page")
            driver.get(url + "/#/settings/" + NAME)
            field = wait_until(lambda: driver.execute_script(
                "const i = document.getElementById('set-buf_dur'); return i && !i.disabled ? i : null"),
                what="an editable buf_dur")
            field.clear()
            field.send_keys("6")
            driver.find_element("id", "settings-apply").click()
            wait_until(lambda: get_status(s, ctl)["stream"]["generation"] > before, 15, "the rebuild in ezshmd")
            shot(driver, "settings")
            rc, got = s.ctl(ctl, "get")
            assert got["settings"]["buf_dur"] == 6, got
            driver.get(url + "/#/events")
            wait_until(lambda: driver.execute_script(
                "return [...document.querySelectorAll('#events-log li')].some((li) => /generation/.test(li.textContent))"),
                10, "a rebuild event in the log")
            shot(driver, "events")
            gen = get_status(s, ctl)["stream"]["generation"]
            driver.get(url + "/#/stream/" + NAME)
            f = wait_until(lambda: (lambda f: f if f and f["generation"] == gen and sum(1 for g in f["gaps"] if not g)
                                    > f["columns"] // 3 else None)(drawn(driver)), 15, "a frame of the new generation")
            check_counter(f)

        def read_only():
            driver.get(f"http://127.0.0.1:{ro_port}/#/settings/" + NAME)
            wait_until(lambda: driver.execute_script("return document.querySelectorAll('#settings-fields input').length"),
                       what="the settings fields")
            state = driver.execute_script(
                "return {inputs: [...document.querySelectorAll('#settings-fields input')].map((i) => i.disabled),"
                " apply: document.getElementById('settings-apply').disabled}")
            assert state["inputs"] and all(state["inputs"]) and state["apply"], state
            code = driver.execute_async_script(
                "const done = arguments[0]; fetch('/api/v1/settings', {method: 'PUT',"
                " headers: {'Content-Type': 'application/json'}, body: '{\"buf_dur\": 30}'})"
                ".then((r) => r.json()).then((j) => done(j.error.code));")
            assert code == "control_not_allowed", code
            rc, got = s.ctl(ctl, "get")
            assert got["settings"]["buf_dur"] != 30, got
            shot(driver, "settings-read-only")

        results.check("pages: CSP, ETag/304, config; the upgrade needs the server's own Origin and the token", pages)
        results.check("overview lists the stream with the control socket's values", overview)
        results.check("stream view draws the published counter at its times, with the metadata's labels", stream_view)
        results.check("a buf_dur change in the form rebuilds the ring; event logged; the plot follows", settings_change)
        results.check("without --allow-control: read-only form, a forged PUT refused", read_only)
    except Skip as e:
        results.report("console against the real ezshm-web", e)
    finally:
        if driver:
            driver.quit()
        s.close()
        shutil.rmtree(tmp, ignore_errors=True)
    results.finish()


if __name__ == "__main__":
    main()
