// Trends: the store's windows (/api/v1/metrics) over a chosen range, as
// charts. Four requests per refresh: every call together per step, per
// model per step, and cost per provider and per model over the range.

import {ApiError, getJSON, isAbort, query} from '../api.js';
import {barChart, emptyChart, lineChart} from '../charts.js';
import {h, message} from '../dom.js';
import * as fmt from '../format.js';
import {go, href} from '../router.js';
import {storeEnabled} from '../store.js';

// Steps are whole minutes or hours (the API's rule), ≤ ~300 points.
const RANGES = {'15m': '1m', '1h': '1m', '6h': '5m', '24h': '10m', '7d': '1h'};
const REFRESH_MS = 10000;
const MAX_MODELS = 8; // more lines than this is noise

function rangeOf(params) {
  const r = params.get('range');
  return RANGES[r] ? r : '1h';
}

// Every step's start from from_ms to to_ms, so empty steps can count as 0.
function steps(m) {
  const out = [];
  for (let t = m.from_ms; t < m.to_ms; t += m.step_ms) out.push(t);
  return out;
}

function byStart(windows) {
  return new Map(windows.map((w) => [w.window_start_ms, w]));
}

// A count per step: a step without a window had none.
function counts(m, pick) {
  const at = byStart(m.windows);
  return steps(m).map((t) => [t, at.has(t) ? pick(at.get(t)) ?? 0 : 0]);
}

// A measure per step: a step without a window measured nothing.
function measures(m, windows, pick) {
  const at = byStart(windows);
  return steps(m).map((t) => [t, at.has(t) ? pick(at.get(t)) ?? null : null]);
}

function topModels(m) {
  const total = new Map();
  for (const w of m.windows) total.set(w.model, (total.get(w.model) || 0) + w.requests);
  return [...total.keys()].sort((a, b) => total.get(b) - total.get(a));
}

function perModel(m, metric) {
  const models = topModels(m);
  const series = models.slice(0, MAX_MODELS).flatMap((model, i) => {
    const ws = m.windows.filter((w) => w.model === model);
    const name = model ?? '(no model)';
    return [
      {label: `${name} p95`, color: i, values: measures(m, ws, (w) => w[`p95_${metric}_ms`])},
      {label: `${name} p50`, color: i, dashed: true, values: measures(m, ws, (w) => w[`p50_${metric}_ms`])},
    ];
  });
  return {series, hidden: Math.max(0, models.length - MAX_MODELS)};
}

function costBars(m, key) {
  return m.windows
    .map((w) => ({
      label: w[key] ?? `(no ${key})`,
      value: w.estimated_cost_usd ?? 0,
      note: w.unpriced_requests ? `${w.unpriced_requests} of ${w.requests} calls unpriced` : '',
    }))
    .sort((a, b) => b.value - a.value);
}

const recorded = (m, field) => m.windows.some((w) => w[field] !== undefined);

// Matches per rule: {"rule-id": n} in guardrail_matches_by_rule, or in
// guardrail_matches when that is an object rather than the total.
function ruleCounts(w) {
  if (w.guardrail_matches_by_rule) return w.guardrail_matches_by_rule;
  if (w.guardrail_matches && typeof w.guardrail_matches === 'object') return w.guardrail_matches;
  return w.guardrail_matches ? {'(all rules)': w.guardrail_matches} : {};
}

function guardrailChart(m) {
  if (!recorded(m, 'guardrail_matches') && !recorded(m, 'guardrail_matches_by_rule')) {
    return emptyChart('guardrail', 'not recorded by this daemon');
  }
  const sums = new Map();
  for (const w of m.windows) {
    for (const [rule, n] of Object.entries(ruleCounts(w))) sums.set(rule, (sums.get(rule) || 0) + n);
  }
  const bars = [...sums].filter(([, n]) => n > 0)
    .map(([label, value]) => ({label: label === '*' ? '(other rules)' : label, value}))
    .sort((a, b) => b.value - a.value);
  return bars.length ? barChart({name: 'guardrail', bars, format: fmt.int, label: 'guardrail matches by rule'})
    : emptyChart('guardrail', 'no guardrail matches in this range');
}

function backpressureChart(m) {
  if (!recorded(m, 'backpressure')) return [emptyChart('backpressure', 'not recorded by this daemon')];
  const bp = (w) => w.backpressure || {};
  const sum = (k) => m.windows.reduce((n, w) => n + (bp(w)[k] || 0), 0);
  // windows carry either the largest unread byte count or its p95
  const maxKey = m.windows.some((w) => bp(w).max_unread_bytes !== undefined) ? 'max_unread_bytes' : 'unread_bytes_p95';
  const unread = Math.max(0, ...m.windows.map((w) => bp(w)[maxKey] || 0));
  return [
    lineChart({
      name: 'backpressure', from: m.from_ms, to: m.to_ms, format: fmt.ms, durations: true, label: 'read lag',
      series: [
        {label: 'read lag p95', color: 0, values: measures(m, m.windows, (w) => bp(w).read_lag_ms_p95)},
        {label: 'read lag p50', color: 0, dashed: true, values: measures(m, m.windows, (w) => bp(w).read_lag_ms_p50)},
      ],
    }),
    h('p', {class: 'chart-note'},
      `${maxKey === 'max_unread_bytes' ? 'unread at most' : 'unread p95 up to'} ${fmt.bytes(unread)}` +
      ` · HTTP/2 window stalls ${fmt.int(sum('h2_window_stalls'))}` +
      ` · zero-window events ${fmt.int(sum('zero_window_events'))}`),
  ];
}

function card(title, ...body) {
  return h('section', {class: 'card'}, h('h2', null, title), ...body);
}

function render(grid, all, models, byProvider, byModel) {
  const span = {from: all.from_ms, to: all.to_ms};
  const stepS = all.step_ms / 1000;
  const latency = perModel(models, 'latency');
  const ttft = perModel(models, 'ttft');
  const hiddenNote = (n) => n ? h('p', {class: 'chart-note'}, `+${n} less used models not drawn`) : null;
  grid.replaceChildren(
    card('Requests and errors', lineChart({
      ...span, name: 'requests', format: fmt.num, label: 'requests and errors per step',
      series: [
        {label: 'requests', color: 0, values: counts(all, (w) => w.requests)},
        {label: 'errors', color: 3, values: counts(all, (w) => w.errors)},
      ],
    })),
    card('Latency p50 / p95 per model', lineChart({
      ...span, name: 'latency', format: fmt.ms, durations: true, label: 'latency per model', series: latency.series,
    }), hiddenNote(latency.hidden)),
    card('Time to first token p50 / p95 per model', lineChart({
      ...span, name: 'ttft', format: fmt.ms, durations: true, label: 'TTFT per model', series: ttft.series,
    }), hiddenNote(ttft.hidden)),
    card('Output tokens per second', lineChart({
      ...span, name: 'tokens', format: fmt.num, label: 'output tokens per second',
      series: [{label: 'output tokens/s', color: 1, values: counts(all, (w) => w.tokens && w.tokens.output / stepS)}],
    })),
    card('Cost by provider', barChart({
      name: 'cost_provider', bars: costBars(byProvider, 'provider'), format: fmt.usd, label: 'cost by provider',
    })),
    card('Cost by model', barChart({
      name: 'cost_model', bars: costBars(byModel, 'model'), format: fmt.usd, label: 'cost by model',
    })),
    card('Cache hit ratio', lineChart({
      ...span, name: 'cache', format: fmt.pct, label: 'cached input tokens over input tokens',
      series: [{label: 'cached / input tokens', color: 2, values: measures(all, all.windows, (w) => w.cache_hit_ratio)}],
    })),
    card('Guardrail matches by rule', guardrailChart(all)),
    card('Backpressure', ...backpressureChart(all)));
}

export function mount(root, route, ctx) {
  let range = rangeOf(route.params);
  let auto = route.params.get('auto') !== '0';
  let controller = null;
  let timer = null;

  const select = h('select', {id: 'range', name: 'range', 'aria-label': 'Time range'},
    Object.keys(RANGES).map((r) => h('option', {value: r}, `last ${r}`)));
  const toggle = h('input', {type: 'checkbox', id: 'auto-refresh'});
  const status = h('span', {class: 'muted', 'aria-live': 'polite'});
  const grid = h('div', {class: 'chart-grid'});
  const note = h('div');
  const params = () => ({range, auto: auto ? null : '0'});
  select.addEventListener('change', () => go(href('trends', {...params(), range: select.value})));
  toggle.addEventListener('change', () =>
    go(href('trends', {...params(), auto: toggle.checked ? null : '0'}), {replace: true}));
  root.append(
    h('div', {class: 'toolbar'}, h('h1', null, 'Trends'), select,
      h('label', {class: 'check'}, toggle, ' auto-refresh every 10 s'), status),
    note, grid);

  async function load(showLoading) {
    if (controller) controller.abort();
    controller = new AbortController();
    const {signal} = controller;
    if (showLoading) {
      ctx.loading();
      status.textContent = 'loading…';
    }
    const step = RANGES[range];
    const get = (p) => getJSON(`/api/v1/metrics${query({from: range, ...p})}`, {signal});
    try {
      if (!(await storeEnabled({signal}))) throw new ApiError(503, 'the store is off');
      const data = await Promise.all([
        get({step}), get({step, group_by: 'model'}),
        get({step: 'all', group_by: 'provider'}), get({step: 'all', group_by: 'model'}),
      ]);
      note.replaceChildren();
      render(grid, ...data);
      status.textContent = `updated ${fmt.clock(new Date().toISOString())}`;
    } catch (err) {
      if (isAbort(err)) return;
      grid.replaceChildren();
      status.textContent = '';
      note.replaceChildren(err.status === 503
        ? message('info', 'The history store is off (llmobsd --store off), so there are no windows to chart. ' +
          'Start the daemon with a store to see trends; the Live view works without one.')
        : message('error', err.message));
    }
    ctx.ready();
  }

  function schedule() {
    clearInterval(timer);
    timer = auto ? setInterval(() => {
      if (!document.hidden) load(false);
    }, REFRESH_MS) : null;
  }

  function apply(r) {
    const nextRange = rangeOf(r.params);
    auto = r.params.get('auto') !== '0';
    select.value = nextRange;
    toggle.checked = auto;
    schedule();
    if (nextRange !== range || !grid.childElementCount) {
      range = nextRange;
      load(true);
    }
  }

  select.value = range;
  toggle.checked = auto;
  schedule();
  load(true);
  return {
    update: apply,
    unmount() {
      clearInterval(timer);
      if (controller) controller.abort();
    },
  };
}
