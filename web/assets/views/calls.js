// Calls: the history (/api/v1/calls), newest first, 100 a page, with
// filters and full-text search; the filters live in the URL. One request
// and one DocumentFragment per page keep the first render fast however
// many calls are stored.

import {getJSON, isAbort, query} from '../api.js';
import {statusBadge} from '../badge.js';
import {activateRows, h, message, table} from '../dom.js';
import * as fmt from '../format.js';
import {go, href} from '../router.js';

const PAGE = 100;
const TYPING_MS = 300;
const FILTERS = ['q', 'provider', 'model', 'status', 'comm', 'since'];
const STATUSES = ['streaming', 'completed', 'error', 'truncated', 'aborted', 'blocked'];
const SINCE = [['', 'any time'], ['15m', 'last 15 min'], ['1h', 'last hour'], ['24h', 'last 24 h'], ['7d', 'last 7 days']];
const COLUMNS = [['Time'], ['Model'], ['Provider'], ['Process'], ['Status'], ['TTFT', 'num'],
  ['Duration', 'num'], ['Tokens in / out', 'num'], ['Cost', 'num']];

function filtersOf(params) {
  return Object.fromEntries(FILTERS.map((k) => [k, params.get(k) || '']));
}

const sameFilters = (a, b) => FILTERS.every((k) => a[k] === b[k]);

// The snippet marks matched words with [ ]: those become <mark> elements,
// the rest stays text.
function snippet(text) {
  const frag = document.createDocumentFragment();
  let last = 0;
  for (const m of text.matchAll(/\[([^[\]]+)\]/g)) {
    frag.append(text.slice(last, m.index), h('mark', null, m[1]));
    last = m.index + m[0].length;
  }
  frag.append(text.slice(last));
  return frag;
}

function tokens(u) {
  return u ? `${fmt.int(u.input_tokens)} / ${fmt.int(u.output_tokens)}` : '—';
}

function row(c, withSnippet) {
  return h('tr', {'data-call-id': c.id, tabindex: 0},
    h('td', {'data-col': 'time', title: c.started_at},
      h('a', {href: href('call', {}, c.id), tabindex: -1}, fmt.clock(c.started_at))),
    h('td', {'data-col': 'model'}, fmt.text(c.model)),
    h('td', {'data-col': 'provider'}, fmt.text(c.provider)),
    h('td', {'data-col': 'process'}, fmt.processName(c)),
    h('td', {'data-col': 'status'}, statusBadge(c.status, c.error)),
    h('td', {'data-col': 'ttft', class: 'num'}, fmt.ms(c.ttft_ms)),
    h('td', {'data-col': 'duration', class: 'num'}, fmt.ms(c.duration_ms)),
    h('td', {'data-col': 'tokens', class: 'num'}, tokens(c.usage)),
    h('td', {'data-col': 'cost', class: 'num'}, fmt.usd(c.cost_usd)),
    withSnippet ? h('td', {'data-col': 'snippet', class: 'snippet'}, snippet(c.snippet || '')) : null);
}

function select(name, label, options) {
  return h('label', {class: 'field'}, label,
    h('select', {name}, options.map(([value, text]) => h('option', {value}, text))));
}

// Keeps a select's options to "any" plus the known values (and the one
// selected, so a shared link shows its filter even when it matches nothing).
function fillOptions(sel, values) {
  const want = ['', ...[...new Set([...values, sel.value])].filter(Boolean).sort()];
  const have = [...sel.options].map((o) => o.value);
  if (want.join('\n') === have.join('\n')) return;
  const keep = sel.value;
  sel.replaceChildren(...want.map((v) => h('option', {value: v}, v || 'any')));
  sel.value = keep;
}

export function mount(root, route, ctx) {
  let filters = filtersOf(route.params);
  let cursor = null;
  let shown = 0;
  let controller = null;
  let typingTimer = null;
  let optionsAsked = false;
  const known = {provider: new Set(), model: new Set()};

  const q = h('input', {id: 'q', name: 'q', type: 'search', placeholder: 'Search prompts and completions  ( / )',
    autocomplete: 'off', 'aria-label': 'Search prompts and completions'});
  const comm = h('input', {name: 'comm', type: 'text', placeholder: 'process name', autocomplete: 'off'});
  const form = h('form', {class: 'filters', role: 'search'},
    h('label', {class: 'field grow'}, 'Search', q),
    select('provider', 'Provider', [['', 'any']]),
    select('model', 'Model', [['', 'any']]),
    select('status', 'Status', [['', 'any'], ...STATUSES.map((s) => [s, s])]),
    h('label', {class: 'field'}, 'Process', comm),
    select('since', 'Since', SINCE));
  const controls = form.elements;
  const count = h('span', {id: 'calls-count', 'aria-live': 'polite'});
  const note = h('div');
  const more = h('button', {id: 'more', type: 'button', hidden: true}, 'More');
  const body = h('div');
  root.append(h('div', {class: 'toolbar'}, h('h1', null, 'Calls'), count), form, note, body,
    h('div', {class: 'more-row'}, more));

  const current = () => Object.fromEntries(FILTERS.map((k) => [k, controls[k].value.trim()]));
  const navigate = (replace) => {
    clearTimeout(typingTimer);
    const target = href('calls', current());
    if (target === location.hash) ctx.ready(); // typed and erased: nothing changes
    else go(target, {replace});
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    navigate(false);
  });
  form.addEventListener('change', (e) => {
    if (e.target.tagName === 'SELECT') navigate(false);
  });
  form.addEventListener('input', (e) => {
    if (e.target.tagName !== 'INPUT') return;
    ctx.loading(); // at once: a reader waiting for data-ready must not see the old rows as the answer
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => navigate(true), TYPING_MS);
  });

  function setControls() {
    for (const k of FILTERS) {
      const el = controls[k];
      if (k === 'provider' || k === 'model') fillOptions(el, [...known[k], filters[k]]);
      else if (el.tagName === 'SELECT' && ![...el.options].some((o) => o.value === filters[k])) {
        el.append(h('option', {value: filters[k]}, filters[k])); // a value typed into the URL
      }
      if (el !== document.activeElement) el.value = filters[k];
    }
  }

  function remember(calls) {
    for (const c of calls) {
      if (c.provider) known.provider.add(c.provider);
      if (c.model) known.model.add(c.model);
    }
    for (const k of ['provider', 'model']) fillOptions(controls[k], known[k]);
  }

  function showCount() {
    count.textContent = `${shown} calls shown${cursor ? ', more available' : ''}`;
    count.dataset.count = String(shown);
    more.hidden = !cursor;
  }

  async function fetchPage(after) {
    if (controller) controller.abort();
    controller = new AbortController();
    return getJSON(`/api/v1/calls${query({...filters, limit: PAGE, cursor: after})}`, {signal: controller.signal});
  }

  async function load() {
    ctx.loading();
    note.replaceChildren();
    try {
      const page = await fetchPage(null);
      const withSnippet = Boolean(filters.q);
      const t = table(withSnippet ? [...COLUMNS, ['Matched text']] : COLUMNS, {class: 'data'});
      activateRows(t.tbody, (tr) => go(href('call', {}, tr.dataset.callId)));
      const frag = document.createDocumentFragment();
      for (const c of page.calls) frag.append(row(c, withSnippet));
      t.tbody.append(frag);
      body.replaceChildren(page.calls.length ? t.wrap : message('info',
        FILTERS.some((k) => filters[k]) ? 'No call matches these filters.' : 'No calls yet.'));
      if (!page.store) {
        note.append(message('info',
          'The history store is off: only the calls in memory are listed, and search finds nothing.'));
      }
      shown = page.calls.length;
      cursor = page.next_cursor;
      showCount();
      remember(page.calls);
      if (page.store && !optionsAsked) loadOptions();
    } catch (err) {
      if (isAbort(err)) return;
      body.replaceChildren(message('error', err.message));
      shown = 0;
      cursor = null;
      showCount();
    }
    ctx.ready();
  }

  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      const page = await fetchPage(cursor);
      const tbody = body.querySelector('tbody');
      const frag = document.createDocumentFragment();
      for (const c of page.calls) frag.append(row(c, Boolean(filters.q)));
      tbody.append(frag);
      shown += page.calls.length;
      cursor = page.next_cursor;
      showCount();
      remember(page.calls);
    } catch (err) {
      if (!isAbort(err)) note.replaceChildren(message('error', err.message));
    }
    more.disabled = false;
  });

  // Values for the provider and model lists beyond the page shown: the
  // week's windows, when there is a store to keep them.
  function loadOptions() {
    optionsAsked = true;
    getJSON('/api/v1/metrics?from=7d&step=all&group_by=provider,model').then((m) => {
      for (const w of m.windows) {
        if (w.provider) known.provider.add(w.provider);
        if (w.model) known.model.add(w.model);
      }
      for (const k of ['provider', 'model']) fillOptions(controls[k], known[k]);
    }, () => {}); // the lists keep the values the pages showed
  }

  setControls();
  load();
  return {
    update(r) {
      const next = filtersOf(r.params);
      if (sameFilters(next, filters)) {
        ctx.ready();
        return;
      }
      filters = next;
      setControls();
      load();
    },
    unmount() {
      clearTimeout(typingTimer);
      if (controller) controller.abort();
    },
  };
}
