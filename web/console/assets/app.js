/* app.js — the console's core: the namespace the pages and tests share, the API client (with
   the access token), the router (#/page/stream), keyboard shortcuts. No third-party code. */
'use strict';

(function () {
  const C = window.ezshmConsole = {
    pages: {},          /* name -> {show(arg), hide()} registered by each page's script */
    streams: [],        /* the newest GET /api/v1/streams list */
    config: {allow_control: false},
    current: null,      /* the page shown */
    lastFrame: null,    /* the newest columns frame drawn (stream.js), for tests */
    lastDraw: null,
    errors: [],         /* errors caught by the page, for tests */
  };

  C.$ = (id) => document.getElementById(id);

  C.el = function (tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null) e.setAttribute(k, v);
    }
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  };

  C.setConn = function (ok, text) {
    const c = C.$('conn');
    c.textContent = text;
    c.className = 'conn ' + (ok ? 'ok' : 'bad');
  };

  /* The token: a cookie the server reads (ezshm_token), set from the login dialog. */
  function askToken() {
    const d = C.$('login');
    if (!d.open) d.showModal();
  }

  /* fetch a JSON API path; resolves {status, body} (body parsed, or null). A 401 asks for the
     token once. */
  C.api = async function (path, options) {
    const res = await fetch(path, Object.assign({credentials: 'same-origin', cache: 'no-store'}, options || {}));
    let body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    if (res.status === 401) askToken();
    return {status: res.status, body: body};
  };

  C.streamPath = (name) => encodeURIComponent(name);

  C.refreshStreams = async function () {
    try {
      const r = await C.api('/api/v1/streams');
      if (r.status === 200 && r.body && Array.isArray(r.body.streams)) {
        C.streams = r.body.streams;
        C.setConn(true, 'connected');
      } else {
        C.setConn(false, 'API ' + r.status);
      }
      return r;
    } catch (e) {
      C.setConn(false, 'no connection');
      return {status: 0, body: null};
    }
  };

  async function loadConfig() {
    try {
      const r = await C.api('/api/v1/console/config');
      if (r.status === 200 && r.body) C.config = r.body;
    } catch (e) { /* read-only by default */ }
  }

  /* #/page or #/page/<stream name, URI-encoded> */
  function route() {
    const m = /^#\/([a-z]*)\/?(.*)$/.exec(location.hash || '#/');
    const page = (m && m[1]) || 'overview';
    const arg = m && m[2] ? decodeURIComponent(m[2]) : null;
    const p = C.pages[page] || C.pages.overview;
    const name = C.pages[page] ? page : 'overview';
    if (C.current && C.current !== name) C.pages[C.current].hide();
    for (const s of document.querySelectorAll('.page')) s.hidden = s.id !== 'page-' + name;
    for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.page === name);
    C.current = name;
    p.show(arg);
  }

  C.go = function (page, stream) {
    location.hash = '#/' + page + (stream ? '/' + C.streamPath(stream) : '');
  };

  /* The stream a page should show when none is named: the last one chosen, or the first. */
  C.defaultStream = function () {
    const last = sessionStorage.getItem('ezshm.stream');
    if (last && C.streams.some((s) => s.stream === last)) return last;
    return C.streams.length ? C.streams[0].stream : null;
  };

  C.rememberStream = (name) => sessionStorage.setItem('ezshm.stream', name);

  function onKey(ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    if (t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA')) return;
    const name = C.defaultStream();
    const pages = {o: 'overview', s: 'stream', t: 'settings', e: 'events'};
    if (pages[ev.key]) {
      C.go(pages[ev.key], ev.key === 's' || ev.key === 't' ? name : null);
    } else if (ev.key === '?') {
      C.$('help').showModal();
    } else if (C.current && C.pages[C.current].key && C.pages[C.current].key(ev)) {
      /* the page took it */
    } else {
      return;
    }
    ev.preventDefault();
  }

  window.addEventListener('error', (ev) => C.errors.push(String(ev.message)));
  window.addEventListener('unhandledrejection', (ev) => C.errors.push(String(ev.reason)));

  document.addEventListener('DOMContentLoaded', async () => {
    C.$('help-button').addEventListener('click', () => C.$('help').showModal());
    C.$('help-close').addEventListener('click', () => C.$('help').close());
    C.$('login-use').addEventListener('click', () => {
      const token = C.$('login-token').value.trim();
      /* A cookie value holds no space, quote, comma, semicolon or backslash: the server
         compares the bytes as they are. */
      if (/^[!#-+\--:<-[\]-~]+$/.test(token)) {
        document.cookie = 'ezshm_token=' + token + '; path=/; SameSite=Strict';
      }
      C.$('login').close();
      route();
    });
    document.addEventListener('keydown', onKey);
    window.addEventListener('hashchange', route);
    await loadConfig();
    await C.refreshStreams();
    route();
    document.body.dataset.ready = '1';
  });
})();
