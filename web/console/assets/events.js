/* events.js — ezshmd's events (buffer reset, rebuilds, renames, ...) as a live log, from the
   Server-Sent Events of GET /api/v1/events. The log runs from the first visit on, so events
   that happen while another page is shown are there when you come back. */
'use strict';

(function () {
  const C = window.ezshmConsole;
  const MAX = 500;
  let source = null;

  function add(ev) {
    const log = C.$('events-log');
    const li = C.el('li', {'data-event': ev.event || '', 'data-stream': ev.stream || ''});
    li.appendChild(C.el('span', {class: 'time'}, new Date().toLocaleTimeString()));
    li.appendChild(C.el('span', {class: 'kind'}, ev.event || '?'));
    const rest = [];
    if (ev.stream !== undefined) rest.push(ev.stream);
    if (ev.generation !== undefined) rest.push('generation ' + ev.generation);
    if (ev.daemon) rest.push(ev.daemon);
    li.appendChild(document.createTextNode(rest.join(' · ')));
    log.insertBefore(li, log.firstChild);
    while (log.childNodes.length > MAX) log.removeChild(log.lastChild);
  }

  function start() {
    if (source) return;
    source = new EventSource('/api/v1/events', {withCredentials: true});
    const line = C.$('events-status');
    source.onopen = () => { line.textContent = 'live'; line.className = 'status'; };
    source.onerror = () => { line.textContent = 'reconnecting…'; line.className = 'status error'; };
    source.onmessage = (m) => {
      let ev;
      try { ev = JSON.parse(m.data); } catch (e) { return; }
      add(ev);
    };
  }

  C.pages.events = {show: start, hide() {}};

  document.addEventListener('DOMContentLoaded', () => {
    C.$('events-clear').addEventListener('click', () => { C.$('events-log').textContent = ''; });
  });
})();
