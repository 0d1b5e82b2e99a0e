/* stream.js — the Stream view: a live plot of every channel, stacked, from the columns frames
   of the console WebSocket (docs/console.md). The server decimates; the page draws each frame
   as min/max spans into an ImageData (no per-sample DOM, no path per sample), labels and the
   time axis on top, then acknowledges the frame ("drawn") so the server sends the next. */
'use strict';

(function () {
  const C = window.ezshmConsole;
  const LABEL_W = 80;      /* CSS px of channel labels left of the plot */
  const AXIS_H = 22;       /* CSS px of the time axis under it */
  const COLORS = [0x4fb3ff, 0x3fb950, 0xd29922, 0xf778ba, 0xa371f7, 0x56d4dd, 0xff7b72, 0xe3b341];
  const WINDOWS = [0.5, 1, 2, 5, 10, 30, 60];

  const S = {
    ws: null, shown: false, name: null, id: 0, info: null, state: null,
    paused: false, hidden: new Set(), slice: [], generation: null,
    pending: null, drawing: false, shownFrame: null, plot: new C.Plot(), img: null, px: null, retry: null, resizeTimer: null, bannerTimer: null,
    geometry: null, /* the last draw's layout, for the cursor */
  };

  const canvas = () => C.$('plot');
  const dpr = () => window.devicePixelRatio || 1;

  function status(text, error) {
    const p = C.$('stream-status');
    p.textContent = text;
    p.className = 'status' + (error ? ' error' : '');
  }

  function banner(text) {
    const b = C.$('stream-banner');
    b.textContent = text;
    b.hidden = false;
    clearTimeout(S.bannerTimer);
    S.bannerTimer = setTimeout(() => { b.hidden = true; }, 6000);
  }

  function send(msg) {
    if (S.ws && S.ws.readyState === WebSocket.OPEN) S.ws.send(JSON.stringify(msg));
  }

  /* Pixel columns of the plot area: the canvas' device pixels right of the labels. */
  function plotColumns() {
    const c = canvas();
    return Math.max(1, Math.min(4096, c.width - Math.round(LABEL_W * dpr())));
  }

  function subscribe() {
    if (!S.name) return;
    S.id += 1;
    const msg = {type: 'subscribe', id: S.id, stream: S.name, columns: plotColumns(),
                 window: Number(C.$('window-select').value), fps: 60};
    if (S.slice.length) msg.slice = S.slice.slice();
    send(msg);
  }

  function connect() {
    if (S.ws) return;
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/api/v1/console';
    let ws;
    try { ws = new WebSocket(url, 'ezshm-console.v1'); } catch (e) { status('no WebSocket: ' + e.message, true); return; }
    ws.binaryType = 'arraybuffer';
    S.ws = ws;
    ws.onopen = () => { status('connected'); subscribe(); };
    ws.onmessage = (ev) => {
      if (typeof ev.data === 'string') onText(ev.data);
      else onFrame(ev.data, true);
    };
    ws.onclose = () => {
      S.ws = null;
      if (S.shown) {
        status('connection lost; retrying', true);
        S.retry = setTimeout(connect, 1000);
      }
    };
  }

  function onText(text) {
    let m;
    try { m = JSON.parse(text); } catch (e) { return; }
    if (m.type === 'stream') C.stream.setInfo(m);
    else if (m.type === 'state') {
      S.state = m.state;
      status(m.state + (m.message ? ': ' + m.message : ''), m.state === 'error');
    } else if (m.type === 'error') status((m.code || 'error') + ': ' + (m.message || ''), true);
  }

  /* Every frame goes into the plot at once (a delta frame needs the ones before it); the
     newest plot is drawn at the next animation frame. */
  function onFrame(buf, live) {
    let f;
    try { f = S.plot.apply(C.decodeFrame(buf)); } catch (e) { status(e.message, true); return; }
    schedule(f, live);
  }

  function schedule(f, live) {
    S.shownFrame = f;
    S.pending = {frame: f, live: live || (S.pending !== null && S.pending.live)};
    if (!S.drawing) {
      S.drawing = true;
      requestAnimationFrame(drawPending);
    }
  }

  function drawPending() {
    S.drawing = false;
    const p = S.pending;
    S.pending = null;
    if (!p) return;
    draw(p.frame);
    if (p.live) send({type: 'drawn', id: p.frame.subscription, sequence: p.frame.sequence});
  }

  function label(abs) {
    const labels = S.info && Array.isArray(S.info.labels) ? S.info.labels : null;
    return labels && labels[abs] !== undefined && labels[abs] !== null ? String(labels[abs]) : 'ch ' + abs;
  }

  /* Tick step: 1, 2 or 5 × 10^k seconds, about every 100 CSS px. */
  function tickStep(span, width) {
    const raw = span / Math.max(1, width / (100 * dpr()));
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
    return 10 * p;
  }

  function timeText(t) {
    if (!Number.isFinite(t)) return '–';
    if (t > 1e9) return new Date(t * 1000).toISOString().slice(11, 23);
    return t.toFixed(3) + ' s';
  }

  /* The range a channel is drawn over: the fixed ±scale, or its own min..max in the window. */
  function range(f, n) {
    if (C.$('scale-mode').value === 'fixed') {
      const v = Math.abs(Number(C.$('scale-value').value)) || 1;
      return [-v, v];
    }
    let lo = Infinity, hi = -Infinity;
    const base = n * f.columns;
    for (let k = 0; k < f.columns; k++) {
      const a = f.min[base + k], b = f.max[base + k];
      if (a < lo) lo = a;
      if (b > hi) hi = b;
    }
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [-1, 1];
    if (hi === lo) return [lo - 1, hi + 1];
    const pad = (hi - lo) * 0.05;
    return [lo - pad, hi + pad];
  }

  function draw(f) {
    const t0 = performance.now();
    const c = canvas(), ctx = c.getContext('2d');
    const r = dpr(), W = c.width, H = c.height;
    const lx = Math.round(LABEL_W * r), ah = Math.round(AXIS_H * r);
    const pw = Math.max(1, W - lx), ph = Math.max(1, H - ah);
    ctx.fillStyle = '#0b0e11';
    ctx.fillRect(0, 0, lx, H);
    ctx.fillRect(lx, ph, W - lx, H - ph);
    if (S.generation !== null && f.generation !== S.generation) {
      banner('ring rebuilt: generation ' + f.generation + (S.info && S.info.shape ? ', shape [' + S.info.shape.join(', ') + ']' : ''));
    }
    S.generation = f.generation;
    const visible = [];
    for (let n = 0; n < f.channels; n++) if (!S.hidden.has(f.channelFirst + n)) visible.push(n);
    const lane = visible.length ? ph / visible.length : ph;
    /* One ImageData per plot size, cleared in place: a new 4 MB buffer per frame cost more
       than drawing the traces. */
    if (!S.img || S.img.width !== pw || S.img.height !== ph) {
      S.img = ctx.createImageData(pw, ph);
      S.px = new Uint32Array(S.img.data.buffer);
    }
    const img = S.img, px = S.px;
    px.fill(0xff110e0b); /* the background #0b0e11, ABGR */
    const cols = Math.min(f.columns, pw);
    const ranges = [];
    visible.forEach((n, i) => {
      const [lo, hi] = range(f, n);
      ranges.push([lo, hi]);
      const top = Math.floor(i * lane), bottom = Math.max(top, Math.floor((i + 1) * lane) - 1);
      const scale = (bottom - top) / (hi - lo);
      const rgb = COLORS[(f.channelFirst + n) % COLORS.length];
      const color = 0xff000000 | ((rgb & 0xff) << 16) | (rgb & 0xff00) | (rgb >> 16); /* ABGR */
      const base = n * f.columns;
      let prevTop = -1, prevBottom = -1;
      for (let k = 0; k < cols; k++) {
        const a = f.min[base + k], b = f.max[base + k];
        if (f.gap(k) || Number.isNaN(a) || Number.isNaN(b)) { prevTop = -1; continue; }
        let yTop = Math.round(bottom - (b - lo) * scale), yBottom = Math.round(bottom - (a - lo) * scale);
        if (prevTop >= 0) {
          if (yTop > prevBottom) yTop = prevBottom;
          if (yBottom < prevTop) yBottom = prevTop;
        }
        prevTop = yTop;
        prevBottom = yBottom;
        const y0 = Math.max(top, Math.min(bottom, yTop)), y1 = Math.max(top, Math.min(bottom, yBottom));
        for (let y = y0; y <= y1; y++) px[y * pw + k] = color;
      }
    });
    for (let k = 0; k < cols; k++) {
      if (f.lostAt(k)) for (let y = ph - 3; y < ph; y++) px[y * pw + k] = 0xff4951f8;
    }
    ctx.putImageData(img, lx, 0);

    ctx.font = Math.round(11 * r) + 'px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    ctx.fillStyle = '#8a96a3';
    ctx.strokeStyle = '#2a333c';
    const unit = S.info && S.info.unit ? ' ' + S.info.unit : '';
    if (lane >= 9 * r) {
      visible.forEach((n, i) => {
        const y = (i + 0.5) * lane;
        ctx.fillText(label(f.channelFirst + n), 4 * r, y, lx - 8 * r);
        if (i) { ctx.beginPath(); ctx.moveTo(lx, Math.floor(i * lane) + 0.5); ctx.lineTo(W, Math.floor(i * lane) + 0.5); ctx.stroke(); }
      });
    }
    const span = f.t1 - f.t0;
    if (Number.isFinite(span) && span > 0) {
      const step = tickStep(span, pw);
      const newest = timeText(f.tNewest) + (f.clock ? '' : ' (frame count)');
      const free = W - ctx.measureText(newest).width - 12 * r; /* tick labels stop short of it */
      ctx.textBaseline = 'top';
      for (let t = Math.ceil(f.t0 / step) * step; t <= f.t1; t += step) {
        const x = Math.round(lx + (t - f.t0) / span * Math.min(f.columns, pw));
        const text = (t - f.t1).toFixed(step < 1 ? 2 : 0) + ' s';
        ctx.fillRect(x, ph, 1, 4 * r);
        if (x + 2 * r + ctx.measureText(text).width < free) ctx.fillText(text, x + 2 * r, ph + 5 * r);
      }
      ctx.textAlign = 'right';
      ctx.fillText(newest, W - 4 * r, ph + 5 * r);
      ctx.textAlign = 'left';
    }
    S.geometry = {f: f, lx: lx, pw: pw, ph: ph, lane: lane, visible: visible, ranges: ranges};
    const ms = performance.now() - t0;
    C.lastFrame = Object.assign({}, f, {
      labels: visible.map((n) => label(f.channelFirst + n)),
      visible: visible.map((n) => f.channelFirst + n),
      ranges: ranges, unit: unit.trim(),
    });
    C.lastDraw = {ms: ms, at: performance.now(), sequence: f.sequence, generation: f.generation};
    c.dataset.sequence = String(f.sequence);
    c.dataset.generation = String(f.generation);
    c.dataset.columns = String(f.columns);
    c.dataset.channels = String(visible.length);
    if (S.state !== 'error') {
      status((S.paused ? 'paused · ' : '') + 'generation ' + f.generation + ' · ' + f.channels + ' of ' +
        f.channelsTotal + ' channels · ' + f.frames + ' frames' + (f.lost ? ' · ' + f.lost + ' lost' : ''));
    }
  }

  function readout(ev) {
    const g = S.geometry;
    if (!g) return;
    const rect = canvas().getBoundingClientRect(), r = dpr();
    const x = (ev.clientX - rect.left) * r - g.lx, y = (ev.clientY - rect.top) * r;
    const f = g.f;
    if (x < 0 || x >= Math.min(f.columns, g.pw) || y >= g.ph || !g.visible.length) { C.$('readout').textContent = '\u00a0'; return; }
    const k = Math.floor(x), i = Math.min(g.visible.length - 1, Math.floor(y / g.lane)), n = g.visible[i];
    const t = f.t0 + (k + 0.5) * (f.t1 - f.t0) / f.columns;
    const unit = S.info && S.info.unit ? ' ' + S.info.unit : '';
    const a = f.min[n * f.columns + k], b = f.max[n * f.columns + k];
    C.$('readout').textContent = 't ' + timeText(t) + ' (' + (t - f.t1).toFixed(3) + ' s)  ' + label(f.channelFirst + n) + ': ' +
      (f.gap(k) ? 'no data' : a.toPrecision(6) + ' … ' + b.toPrecision(6) + unit) + (f.lostAt(k) ? '  (frames lost)' : '');
  }

  function fit() {
    const c = canvas(), r = dpr();
    const w = Math.round(c.clientWidth * r), h = Math.round(c.clientHeight * r);
    if (w === c.width && h === c.height) return;
    const wider = w !== c.width;
    c.width = w;
    c.height = h;
    /* Only the width is the server's business (the columns); a new height is a redraw. */
    if (wider) {
      clearTimeout(S.resizeTimer);
      S.resizeTimer = setTimeout(subscribe, 200);
    }
  }

  function channelList() {
    const box = C.$('channel-list');
    box.textContent = '';
    const total = S.info ? S.info.channels_total || 0 : 0;
    for (let ch = 0; ch < total; ch++) {
      const l = C.el('label');
      const cb = C.el('input', {type: 'checkbox', 'data-channel': String(ch)});
      cb.checked = !S.hidden.has(ch);
      cb.addEventListener('change', () => {
        if (cb.checked) S.hidden.delete(ch); else S.hidden.add(ch);
        if (C.lastFrame) redraw();
      });
      l.appendChild(cb);
      l.appendChild(document.createTextNode(' ' + label(ch)));
      box.appendChild(l);
    }
  }

  function sliceControls() {
    const box = C.$('slice-controls');
    box.textContent = '';
    const dims = S.info && Array.isArray(S.info.slice_dims) ? S.info.slice_dims : [];
    S.slice = dims.map((_, j) => (S.info.slice && S.info.slice[j]) || 0);
    dims.forEach((size, j) => {
      const l = C.el('label', {}, 'dim ' + (j + 2) + ' ');
      const inp = C.el('input', {type: 'number', min: '0', max: String(Math.max(0, size - 1)), step: '1', 'data-slice': String(j)});
      inp.value = String(S.slice[j]);
      inp.addEventListener('change', () => { S.slice[j] = Math.max(0, Math.min(size - 1, Math.floor(Number(inp.value) || 0))); subscribe(); });
      l.appendChild(inp);
      box.appendChild(l);
    });
  }

  function redraw() {
    if (S.shownFrame) schedule(S.shownFrame, false);
  }

  function setPaused(p) {
    S.paused = p;
    send({type: p ? 'pause' : 'resume'});
    const b = C.$('pause-button');
    b.textContent = p ? 'Resume' : 'Pause';
    b.classList.toggle('active', p);
  }

  function streamSelect() {
    const sel = C.$('stream-select');
    sel.textContent = '';
    for (const s of C.streams) {
      const o = C.el('option', {value: s.stream}, s.stream);
      if (s.stream === S.name) o.selected = true;
      sel.appendChild(o);
    }
  }

  function stepWindow(dir) {
    const sel = C.$('window-select');
    const i = WINDOWS.indexOf(Number(sel.value));
    const j = Math.max(0, Math.min(WINDOWS.length - 1, i + dir));
    sel.value = String(WINDOWS[j]);
    subscribe();
  }

  C.stream = {
    /* The stream message (docs/console.md §3): labels, unit, slice dims. */
    setInfo(m) {
      const rebuilt = S.info && S.info.generation !== m.generation;
      S.info = m;
      channelList();
      sliceControls();
      if (rebuilt) banner('ring rebuilt: generation ' + m.generation + ', shape [' + (m.shape || []).join(', ') + ']');
    },
    /* A columns frame from anywhere (tests feed synthetic ones): drawn like a live one. */
    injectFrame(buf) { onFrame(buf, false); },
    name: () => S.name,
  };

  C.pages.stream = {
    show(arg) {
      S.shown = true;
      const name = arg || C.defaultStream();
      streamSelect();
      fit();
      if (name !== S.name) {
        S.name = name;
        S.info = null;
        S.generation = null;
        S.hidden.clear();
        if (name) C.rememberStream(name);
        subscribe();
      }
      if (!name) status('no stream to show');
      connect();
    },
    hide() {
      S.shown = false;
      clearTimeout(S.retry);
      if (S.ws) { send({type: 'unsubscribe'}); S.ws.close(); }
    },
    key(ev) {
      switch (ev.key) {
      case ' ': setPaused(!S.paused); return true;
      case '[': stepWindow(-1); return true;
      case ']': stepWindow(1); return true;
      case 'a': {
        const m = C.$('scale-mode');
        m.value = m.value === 'auto' ? 'fixed' : 'auto';
        m.dispatchEvent(new Event('change'));
        return true;
      }
      case '+': case '-': {
        const v = C.$('scale-value');
        v.value = String((Number(v.value) || 1) * (ev.key === '+' ? 0.5 : 2));
        redraw();
        return true;
      }
      case 'c': C.$('channels-button').click(); return true;
      case 'n': case 'p': {
        const i = C.streams.findIndex((s) => s.stream === S.name);
        const next = C.streams[(i + (ev.key === 'n' ? 1 : C.streams.length - 1)) % Math.max(1, C.streams.length)];
        if (next) C.go('stream', next.stream);
        return true;
      }
      default: return false;
      }
    },
  };

  document.addEventListener('DOMContentLoaded', () => {
    C.$('stream-select').addEventListener('change', (ev) => C.go('stream', ev.target.value));
    C.$('window-select').addEventListener('change', subscribe);
    C.$('scale-mode').addEventListener('change', () => {
      C.$('scale-value').disabled = C.$('scale-mode').value !== 'fixed';
      redraw();
    });
    C.$('scale-value').addEventListener('change', redraw);
    C.$('pause-button').addEventListener('click', () => setPaused(!S.paused));
    C.$('channels-button').addEventListener('click', () => {
      const box = C.$('channel-list');
      box.hidden = !box.hidden;
      C.$('channels-button').classList.toggle('active', !box.hidden);
    });
    canvas().addEventListener('mousemove', readout);
    canvas().addEventListener('mouseleave', () => { C.$('readout').textContent = '\u00a0'; });
    new ResizeObserver(() => { if (S.shown) { fit(); redraw(); } }).observe(C.$('plot'));
  });
})();
