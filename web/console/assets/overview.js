/* overview.js — every stream of every configured ezshmd, live: GET /api/v1/streams once a
   second, and each stream's status (generation, drops by reason, transport delay) from
   GET /api/v1/streams/{name}. Field names: docs/control-protocol.md ("streams", "status"). */
'use strict';

(function () {
  const C = window.ezshmConsole;
  const MAX_STATUS = 32; /* streams whose status is asked per refresh */
  let timer = null;
  const status = new Map(); /* stream name -> its status reply's "status" object */

  function fmt(v, digits) {
    if (v === undefined || v === null || Number.isNaN(v)) return '–';
    return typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(digits === undefined ? 1 : digits)) : String(v);
  }

  function cell(tr, text, cls, title) {
    const td = C.el('td', {class: cls, title: title}, text);
    tr.appendChild(td);
    return td;
  }

  function drops(st) {
    const c = st && st.counters;
    if (!c) return ['–', null];
    const reasons = Object.entries(c.dropped_by_reason || {}).filter(([, n]) => n > 0).map(([r, n]) => r + ': ' + n);
    return [fmt(c.dropped), reasons.length ? reasons.join(', ') : 'no drops'];
  }

  function render() {
    const body = C.$('streams').tBodies[0];
    body.textContent = '';
    for (const s of C.streams) {
      const st = status.get(s.stream);
      const tr = C.el('tr', {class: 'stream-row', tabindex: '0', 'data-stream': s.stream});
      cell(tr, s.stream);
      cell(tr, s.topic === null ? '*' : s.topic);
      cell(tr, Array.isArray(s.shape) ? '[' + s.shape.join(', ') + ']' : '–');
      cell(tr, s.dtype || '–');
      cell(tr, fmt(s.srate), 'num');
      cell(tr, fmt(s.rates && s.rates.frames), 'num');
      cell(tr, fmt(s.rates && s.rates.messages), 'num');
      cell(tr, s.health || '–', 'health-' + (s.health || 'unknown'), s.detail || '');
      const [d, why] = drops(st);
      cell(tr, d, 'num', why);
      const td = st && st.transport_delay;
      cell(tr, td && td.p50_ms !== null && td.p50_ms !== undefined ? fmt(td.p50_ms, 2) + ' / ' + fmt(td.p99_ms, 2) + ' ms' : '–', 'num');
      cell(tr, st && st.stream ? fmt(st.stream.generation) : '–', 'num');
      cell(tr, s.daemon || '');
      tr.addEventListener('click', () => C.go('stream', s.stream));
      tr.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') C.go('stream', s.stream); });
      body.appendChild(tr);
    }
  }

  async function refresh() {
    const r = await C.refreshStreams();
    const line = C.$('overview-status');
    if (r.status !== 200) {
      line.textContent = r.body && r.body.error ? r.body.error.code + ': ' + r.body.error.message : 'the API did not answer';
      line.className = 'status error';
    } else {
      const missing = (r.body.unreachable || []);
      line.textContent = C.streams.length + ' stream' + (C.streams.length === 1 ? '' : 's') +
        (missing.length ? ' — no answer from ' + missing.join(', ') : '');
      line.className = 'status' + (missing.length ? ' error' : '');
      const asks = C.streams.slice(0, MAX_STATUS).map(async (s) => {
        const q = await C.api('/api/v1/streams/' + C.streamPath(s.stream));
        if (q.status === 200 && q.body && q.body.status) status.set(s.stream, q.body.status);
      });
      await Promise.all(asks.map((p) => p.catch(() => null)));
    }
    render();
  }

  async function loop() {
    await refresh();
    if (timer !== null) timer = setTimeout(loop, 1000);
  }

  C.pages.overview = {
    show() { if (timer === null) { timer = 0; loop(); } },
    hide() { clearTimeout(timer); timer = null; },
  };
})();
