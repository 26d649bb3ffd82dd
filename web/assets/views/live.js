// Live: the streams in flight and the last finished ones, kept current by
// the daemon's Server-Sent Events (/api/v1/events) on top of a snapshot of
// /api/v1/streams. Events only mark the model dirty; rendering happens at
// most 4 times a second in an animation frame, draws at most MAX_ROWS rows
// and reuses each stream's row, so a thousand concurrent streams stay
// smooth. When chunk events come faster than a page should parse them,
// the view follows the other events only and takes chunk counts from the
// snapshots it fetches anyway.

import {getJSON, isAbort, query} from '../api.js';
import {activateRows, h, message, setText, table} from '../dom.js';
import * as fmt from '../format.js';
import {go, href} from '../router.js';
import {SlidingWindow} from '../sliding-window.js';
import {storeEnabled} from '../store.js';

const MAX_ROWS = 200;
const RECENT_KEEP = 50; // finished streams kept on screen
const RECENT_LIMIT = 200; // finished streams a snapshot asks for: the tiles' first minute
const ACTIVE_LIMIT = 1000; // streams a full snapshot asks for
const RENDER_MS = 250;
const REFRESH_MS = 2000; // the snapshot that brings TTFT and tokens/s of streams in flight
const CHUNK_EVENTS_MAX = 200; // a second, above which chunk events are not followed
const HOUR_REFRESH_MS = 60000; // the last hour's figures from the store
const WINDOW_MS = 60000;
const RETRY_MS = 5000;
const ALERTS_KEEP = 20;
const EVENT_TYPES = ['stream_start', 'chunk', 'stream_end', 'stream_error', 'backpressure',
  'guardrail_check', 'guardrail_modify', 'guardrail_block', 'buffer_full', 'events_lost'];
const COLUMNS = [['model', 'Model'], ['provider', 'Provider'], ['process', 'Process'],
  ['container', 'Container'], ['age', 'Age', 'num'], ['ttft', 'TTFT', 'num'],
  ['tps', 'Tokens/s', 'num'], ['chunks', 'Chunks', 'num'], ['status', 'Status']];
const TILES = [['active', 'Active streams'], ['rps', 'Requests/s'], ['error_rate', 'Error rate'],
  ['tokens_per_sec', 'Output tokens/s'], ['cost_per_hour', 'Cost per hour']];

// What a row shows of a stream, as strings (compared before any DOM write).
function cellTexts(rec, now) {
  const s = rec.s;
  return {
    model: fmt.text(s.model),
    provider: fmt.text(s.provider),
    process: fmt.processName(s),
    container: fmt.shortId(s.container_id),
    age: fmt.duration(now - rec.started),
    ttft: fmt.ms(s.ttft_ms),
    tps: fmt.num(s.tokens_per_second),
    chunks: fmt.int(s.chunks),
    status: s.status || 'streaming',
  };
}

function makeRow(id) {
  const tr = h('tr', {'data-stream-id': id, tabindex: 0});
  const cells = {};
  for (const [col, , cls] of COLUMNS) {
    cells[col] = h('td', {'data-col': col, class: cls || null});
    tr.append(cells[col]);
  }
  const badge = h('span', {class: 'badge'});
  cells.status.append(badge);
  return {tr, cells, badge, shown: {}};
}

function updateRow(row, rec, now) {
  const texts = cellTexts(rec, now);
  for (const [col] of COLUMNS) {
    if (row.shown[col] === texts[col]) continue;
    row.shown[col] = texts[col];
    if (col === 'status') {
      row.badge.className = `badge status-${texts.status}`;
      setText(row.badge, texts.status);
    } else {
      setText(row.cells[col], texts[col]);
    }
  }
  const error = rec.s.error || '';
  if (row.badge.title !== error) row.badge.title = error;
}

function alertText(type, d) {
  if (type.startsWith('guardrail_')) {
    const enforced = d.enforced === undefined ? '' : d.enforced ? ', connection cut' : ', not enforced';
    return `${d.rule} (${d.action}, ${d.where}, ${d.severity}${enforced}) · ${d.comm || ''} ${d.model || ''}`;
  }
  if (type === 'backpressure') {
    return `read lag ${fmt.ms(d.read_lag_ms)} (threshold ${fmt.ms(d.threshold_ms)}), ` +
      `${fmt.bytes(d.unread_bytes)} unread · ${d.comm || ''}`;
  }
  if (type === 'buffer_full') {
    return `the ring buffer rejected ${fmt.int(d.dropped_events)} events (${fmt.bytes(d.dropped_bytes)})`;
  }
  return `this page missed ${fmt.int(d.lost)} events: reloaded the streams`;
}

export function mount(root, route, ctx) {
  const streams = new Map(); // id -> {s, started, ended, final, row}
  const window60 = new SlidingWindow(WINDOW_MS);
  const alerts = [];
  let alertsDirty = false;
  let source = null;
  let opened = false;
  let retryTimer = null;
  let refreshing = false;
  let scheduled = false;
  let lastRender = 0;
  let hourly = null; // the last hour from the store's windows, when there is one
  let firstDataShown = false;
  let activeCount = 0;
  let withChunks = true;
  let chunkEvents = 0; // in the current second
  let chunksPerStream = 0; // a second, measured when chunk events were given up
  let seeded = false;
  let renderTimer = null;
  let frame = null;
  const controller = new AbortController();

  const conn = h('span', {class: 'conn', 'aria-live': 'polite'}, 'connecting…');
  const tiles = {};
  const tileRow = h('div', {class: 'tiles'}, TILES.map(([key, label]) => {
    tiles[key] = {value: h('div', {class: 'tile-value', 'data-tile': key}, '—'), sub: h('div', {class: 'tile-sub'})};
    return h('div', {class: 'tile'}, h('div', {class: 'tile-label'}, label), tiles[key].value, tiles[key].sub);
  }));
  const t = table(COLUMNS.map(([, label, cls]) => [label, cls]), {class: 'data live'});
  const moreLine = h('p', {class: 'more-line', hidden: true});
  const empty = message('info', 'No LLM calls seen yet: streams appear here as they start.');
  const note = h('div');
  const alertList = h('ol', {class: 'alerts'});
  const alertBox = h('section', {class: 'card', hidden: true}, h('h2', null, 'Recent alerts'), alertList);
  activateRows(t.tbody, (tr) => go(href('call', {}, tr.dataset.streamId)));
  root.append(h('div', {class: 'toolbar'}, h('h1', null, 'Live'), conn), note, tileRow,
    h('section', {class: 'card'}, t.wrap, moreLine, empty), alertBox);

  function record(id, startedAt) {
    let rec = streams.get(id);
    if (!rec) {
      rec = {s: {id}, started: startedAt, ended: null, final: false, row: null};
      streams.set(id, rec);
    }
    return rec;
  }

  // Fields an event or snapshot knows overwrite; its nulls do not erase
  // what a fuller object said.
  function merge(rec, obj) {
    for (const [k, v] of Object.entries(obj)) {
      if (k !== 'type' && (v !== null || !(k in rec.s))) rec.s[k] = v;
    }
  }

  function applySnapshot(list, now) {
    for (const s of list) {
      const started = now - (s.age_ms || 0);
      const rec = record(s.id, started);
      if (rec.final) continue; // its end event already said the last word
      merge(rec, s);
      rec.started = started;
      if (s.status !== 'streaming') {
        rec.final = true;
        rec.ended = started + (s.duration_ms || 0);
      }
    }
  }

  async function snapshot(params) {
    return (await getJSON(`/api/v1/streams${query(params)}`, {signal: controller.signal})).streams;
  }

  // The whole picture again: at start, after a reconnect, after lost
  // events. A stream we think in flight that is in neither list ended
  // while we were not listening.
  async function resync() {
    const asked = Date.now();
    try {
      const [active, recent] = await Promise.all([
        snapshot({state: 'active', limit: ACTIVE_LIMIT}), snapshot({state: 'recent', limit: RECENT_LIMIT})]);
      const now = Date.now();
      const seen = new Set([...active, ...recent].map((s) => s.id));
      for (const [id, rec] of streams) {
        if (!rec.final && !seen.has(id) && rec.started < asked && active.length < ACTIVE_LIMIT) streams.delete(id);
      }
      applySnapshot(recent, now);
      applySnapshot(active, now);
      if (!seeded) seedWindow(recent, now);
      note.replaceChildren();
    } catch (err) {
      if (isAbort(err)) return;
      note.replaceChildren(message('error', err.message));
    }
    firstDataShown = true;
    invalidate();
  }

  // The minute before this page connected, from the first snapshot: the
  // recent list reaches back to its oldest call when it is full.
  function seedWindow(recent, now) {
    seeded = true;
    const oldest = Math.min(now, ...recent.map((s) => now - (s.age_ms || 0)));
    const since = recent.length >= RECENT_LIMIT ? Math.max(now - WINDOW_MS, oldest) : now - WINDOW_MS;
    window60.seed([...streams.values()], since);
  }

  async function refresh() {
    if (refreshing || document.hidden || !firstDataShown) return;
    refreshing = true;
    try {
      applySnapshot(await snapshot({state: 'active', limit: MAX_ROWS}), Date.now());
      invalidate();
    } catch (err) {
      if (!isAbort(err)) note.replaceChildren(message('error', err.message));
    }
    refreshing = false;
  }

  async function loadHour() {
    if (document.hidden) return;
    try {
      const {signal} = controller;
      const m = (await storeEnabled({signal})) ? await getJSON('/api/v1/metrics?from=1h&step=all', {signal}) : null;
      hourly = m && (m.windows[0] || {requests: 0, errors: 0, tokens: {output: 0}, estimated_cost_usd: 0});
    } catch {
      hourly = null; // store off, or not reachable: the tiles go without
    }
    invalidate();
  }

  function addAlert(type, d) {
    alerts.unshift({at: new Date().toISOString(), type, id: d.id, text: alertText(type, d)});
    alerts.length = Math.min(alerts.length, ALERTS_KEEP);
    alertsDirty = true;
  }

  function onEvent(type, data) {
    let d;
    try {
      d = JSON.parse(data);
    } catch {
      return; // not ours to show
    }
    const now = Date.now();
    if (type === 'stream_start') {
      merge(record(d.id, now), {...d, status: 'streaming'});
      window60.start(now, d.id);
    } else if (type === 'chunk') {
      chunkEvents++;
      const rec = record(d.id, now);
      if (!rec.final) merge(rec, d);
    } else if (type === 'stream_end' || type === 'stream_error') {
      const rec = record(d.id, now - (d.age_ms || 0));
      merge(rec, d);
      rec.started = now - (d.age_ms || 0);
      rec.ended = now;
      rec.final = true;
      window60.end(now, d);
    } else {
      addAlert(type, d);
      if (type === 'events_lost') resync();
    }
    invalidate();
  }

  function setConn(text, cls) {
    conn.textContent = text;
    conn.className = `conn ${cls}`;
  }

  function connect() {
    const types = withChunks ? EVENT_TYPES : EVENT_TYPES.filter((type) => type !== 'chunk');
    const es = new EventSource(`/api/v1/events${withChunks ? '' : query({types: types.join(',')})}`);
    source = es;
    es.addEventListener('open', () => {
      setConn(withChunks ? 'live' : `live · busy: chunk counts every ${REFRESH_MS / 1000} s`, 'ok');
      if (opened) resync(); // events were missed while away
      opened = true;
    });
    es.addEventListener('error', () => {
      if (es.readyState === EventSource.CLOSED) {
        // refused (e.g. too many followers): EventSource gives up, we do not
        setConn('live events unavailable, retrying…', 'bad');
        retryTimer = setTimeout(connect, RETRY_MS);
      } else {
        setConn('reconnecting…', 'bad');
      }
    });
    for (const type of types) es.addEventListener(type, (e) => onEvent(type, e.data));
  }

  // Once a second: give chunk events up when there are too many, take
  // them again when the streams in flight would send few enough.
  function adaptChunks() {
    const giveUp = withChunks && chunkEvents > CHUNK_EVENTS_MAX;
    if (giveUp) chunksPerStream = chunkEvents / Math.max(1, activeCount);
    chunkEvents = 0;
    if (giveUp || (!withChunks && activeCount * chunksPerStream < CHUNK_EVENTS_MAX / 2)) {
      withChunks = !withChunks;
      source.close();
      clearTimeout(retryTimer);
      connect();
    }
  }

  function invalidate() {
    if (scheduled) return;
    scheduled = true;
    const wait = Math.max(0, lastRender + RENDER_MS - performance.now());
    renderTimer = setTimeout(() => {
      frame = requestAnimationFrame(render);
    }, wait);
  }

  function ordered() {
    const active = [];
    const done = [];
    for (const rec of streams.values()) (rec.final ? done : active).push(rec);
    active.sort((a, b) => b.started - a.started);
    done.sort((a, b) => b.ended - a.ended);
    for (const rec of done.slice(RECENT_KEEP)) streams.delete(rec.s.id);
    return {active, list: active.concat(done.slice(0, RECENT_KEEP))};
  }

  function renderRows(list, now) {
    const shown = list.slice(0, MAX_ROWS);
    const keep = new Set(shown);
    let cursor = t.tbody.firstChild;
    for (const rec of shown) {
      if (!rec.row) rec.row = makeRow(rec.s.id);
      updateRow(rec.row, rec, now);
      if (rec.row.tr === cursor) cursor = cursor.nextSibling;
      else t.tbody.insertBefore(rec.row.tr, cursor);
    }
    while (cursor) {
      const next = cursor.nextSibling;
      cursor.remove();
      cursor = next;
    }
    for (const rec of streams.values()) if (rec.row && !keep.has(rec)) rec.row = null; // not drawn: its row can go
    moreLine.hidden = list.length <= MAX_ROWS;
    if (!moreLine.hidden) setText(moreLine, `+${fmt.int(list.length - MAX_ROWS)} more streams not shown`);
    empty.hidden = list.length > 0;
  }

  function setTile(key, value, text, sub) {
    setText(tiles[key].value, text);
    tiles[key].value.dataset.value = value === null ? '' : String(value);
    setText(tiles[key].sub, sub);
  }

  function renderTiles(active, now) {
    const r = window60.rates(now);
    const over = r.covered_ms < WINDOW_MS ? `last ${Math.round(r.covered_ms / 1000)} s` : 'last 60 s';
    const hour = hourly;
    const perHour = (v, f) => (hour ? `${over} · last hour ${f(v)}` : over);
    setTile('active', active, fmt.int(active), hour ? `last hour ${fmt.int(hour.requests)} calls` : 'in flight now');
    setTile('rps', r.rps, `${fmt.num(r.rps)}/s`, perHour(hour && hour.requests / 3600, (v) => `${fmt.num(v)}/s`));
    setTile('error_rate', r.error_rate, fmt.pct(r.error_rate),
      perHour(hour && hour.requests ? hour.errors / hour.requests : null, fmt.pct));
    setTile('tokens_per_sec', r.tokens_per_sec, `${fmt.num(r.tokens_per_sec)}/s`,
      perHour(hour && hour.tokens && hour.tokens.output / 3600, (v) => `${fmt.num(v)}/s`));
    setTile('cost_per_hour', r.cost_per_hour, `${fmt.usd(r.cost_per_hour)}/h`,
      perHour(hour && hour.estimated_cost_usd, fmt.usd));
  }

  function renderAlerts() {
    if (!alertsDirty) return;
    alertsDirty = false;
    alertBox.hidden = !alerts.length;
    alertList.replaceChildren(...alerts.map((a) => h('li', null,
      h('time', {datetime: a.at}, fmt.clock(a.at)), ' ',
      h('span', {class: `badge ev-${a.type}`}, a.type.replace('_', ' ')), ' ',
      a.id ? h('a', {href: href('call', {}, a.id)}, `#${a.id}`) : null, ' ', a.text)));
  }

  function render() {
    scheduled = false;
    lastRender = performance.now();
    const now = Date.now();
    const {active, list} = ordered();
    activeCount = active.length;
    renderRows(list, now);
    renderTiles(active.length, now);
    renderAlerts();
    if (firstDataShown) ctx.ready();
  }

  connect();
  resync();
  loadHour();
  const intervals = [
    setInterval(() => {
      adaptChunks();
      invalidate(); // ages tick
    }, 1000),
    setInterval(refresh, REFRESH_MS),
    setInterval(loadHour, HOUR_REFRESH_MS),
  ];
  return {
    unmount() {
      if (source) source.close();
      clearTimeout(retryTimer);
      intervals.forEach(clearInterval);
      clearTimeout(renderTimer);
      cancelAnimationFrame(frame);
      controller.abort();
    },
  };
}
