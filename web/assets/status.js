// The header's daemon state: /healthz's verdict and a few self-metrics
// from /api/v1/stats, polled while the page is visible.

import {getJSON, getText} from './api.js';
import {h, setText} from './dom.js';
import {int} from './format.js';

const POLL_MS = 5000;

function stat(label, value, title, warn = false) {
  return h('span', {class: warn ? 'stat warn' : 'stat', title}, `${label} `, h('b', null, int(value)));
}

async function poll(el) {
  let health;
  try {
    health = await getText('/healthz');
  } catch (err) {
    el.className = 'daemon-state bad';
    el.replaceChildren(h('span', {class: 'dot'}), err.message);
    return;
  }
  const parts = [h('span', {class: 'dot'}), h('span', {class: 'health', title: '/healthz'}, health.text)];
  try {
    const s = await getJSON('/api/v1/stats');
    const p = s.pipeline || {}, c = s.capture || {}, st = s.store || {};
    parts.push(
      stat('active', p.streams_active, 'streams in flight'),
      stat('calls', p.calls_total, 'LLM calls seen since start'),
      stat('stored', st.stored, 'calls written to the history store since start'),
      stat('events', c.events, 'capture events read from the ring buffer'),
      stat('dropped', c.dropped_events, 'capture events the ring buffer rejected', c.dropped_events > 0));
  } catch (err) {
    parts.push(h('span', {class: 'stat warn'}, err.message));
  }
  el.className = `daemon-state ${health.status === 200 ? 'ok' : 'bad'}`;
  el.replaceChildren(...parts);
}

export function startStatus(el) {
  const tick = () => {
    if (!document.hidden) poll(el);
  };
  setText(el, 'connecting…');
  tick();
  setInterval(tick, POLL_MS);
  document.addEventListener('visibilitychange', tick);
}
