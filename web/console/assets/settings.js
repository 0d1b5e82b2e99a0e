/* settings.js — a stream's settings as a form: GET /api/v1/settings?stream=NAME fills it,
   Apply sends the changed fields with PUT (only when ezshm-web allows control: the form is
   read-only otherwise) and shows the reply or the error code as the control protocol gives
   it (docs/control-protocol.md). */
'use strict';

(function () {
  const C = window.ezshmConsole;
  let current = null; /* {stream, daemon, settings} */

  function query(stream, daemon) {
    const q = new URLSearchParams();
    if (stream) q.set('stream', stream);
    if (daemon) q.set('daemon', daemon);
    const s = q.toString();
    return '/api/v1/settings' + (s ? '?' + s : '');
  }

  function input(key, value, readonly) {
    let e;
    if (typeof value === 'boolean') {
      e = C.el('input', {type: 'checkbox', id: 'set-' + key, name: key});
      e.checked = value;
    } else if (typeof value === 'number') {
      e = C.el('input', {type: 'number', step: 'any', id: 'set-' + key, name: key});
      e.value = String(value);
    } else if (value !== null && typeof value === 'object') {
      e = C.el('textarea', {id: 'set-' + key, name: key, rows: '2'});
      e.value = JSON.stringify(value);
    } else {
      e = C.el('input', {type: 'text', id: 'set-' + key, name: key, placeholder: value === null ? 'null' : ''});
      e.value = value === null ? '' : String(value);
    }
    e.disabled = readonly;
    e.dataset.key = key;
    return e;
  }

  /* The form's value of key, typed as the setting in force is; undefined when unreadable. */
  function read(key, old) {
    const e = C.$('set-' + key);
    if (typeof old === 'boolean') return e.checked;
    if (typeof old === 'number') return e.value.trim() === '' ? undefined : Number(e.value);
    if (old !== null && typeof old === 'object') {
      try { return JSON.parse(e.value); } catch (x) { return undefined; }
    }
    return e.value === '' && old === null ? null : e.value;
  }

  function showReply(status, body) {
    const pre = C.$('settings-reply');
    pre.hidden = false;
    const ok = body && body.ok === true;
    pre.className = 'reply' + (ok ? '' : ' error');
    if (ok) {
      pre.textContent = 'ok (HTTP ' + status + ')' + (Array.isArray(body.applied) ? '\napplied: ' + (body.applied.length ? body.applied.join(', ') : 'nothing changed') : '');
    } else if (body && body.error) {
      pre.textContent = body.error.code + ' (HTTP ' + status + ')\n' + (body.error.message || '');
    } else {
      pre.textContent = 'HTTP ' + status;
    }
    pre.dataset.code = ok ? 'ok' : (body && body.error ? body.error.code : String(status));
  }

  async function load(stream) {
    const entry = C.streams.find((s) => s.stream === stream);
    const daemon = entry ? entry.daemon : null;
    const fields = C.$('settings-fields');
    fields.textContent = '';
    C.$('settings-stream').textContent = stream ? '— ' + stream : '';
    const readonly = !C.config.allow_control;
    const mode = C.$('settings-mode');
    mode.textContent = readonly ? 'read-only: ezshm-web does not allow control (--allow-control)' : 'changes are sent to ezshmd when applied';
    C.$('settings-apply').disabled = readonly;
    C.$('settings-form').dataset.readonly = readonly ? '1' : '0';
    const r = await C.api(query(stream, daemon));
    if (r.status !== 200 || !r.body || !r.body.settings) {
      showReply(r.status, r.body);
      current = null;
      return;
    }
    C.$('settings-reply').hidden = true;
    current = {stream: stream, daemon: daemon, settings: r.body.settings};
    for (const [key, value] of Object.entries(r.body.settings)) {
      if (key === 'streams') continue;
      fields.appendChild(C.el('label', {for: 'set-' + key}, key));
      fields.appendChild(input(key, value, readonly));
    }
  }

  async function apply(ev) {
    ev.preventDefault();
    if (!current || !C.config.allow_control) return;
    const change = {};
    for (const [key, old] of Object.entries(current.settings)) {
      if (key === 'streams') continue;
      const v = read(key, old);
      if (v !== undefined && JSON.stringify(v) !== JSON.stringify(old)) change[key] = v;
    }
    if (!Object.keys(change).length) {
      showReply(200, {ok: true, applied: []});
      return;
    }
    const r = await C.api(query(current.stream, current.daemon), {
      method: 'PUT', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(change),
    });
    showReply(r.status, r.body);
    if (r.body && r.body.ok) {
      const renamed = typeof change.shmem_name === 'string' ? change.shmem_name : current.stream;
      await C.refreshStreams();
      await load(renamed);
      showReply(r.status, r.body);
    }
  }

  C.pages.settings = {
    show(arg) {
      const name = arg || C.defaultStream();
      if (name) C.rememberStream(name);
      load(name);
    },
    hide() {},
  };

  document.addEventListener('DOMContentLoaded', () => {
    C.$('settings-form').addEventListener('submit', apply);
  });
})();
