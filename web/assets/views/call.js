// Call: one call (/api/v1/calls/{id}) in full: facts, timeline, prompt,
// completion with guardrail hits marked in place, usage and cost, tool
// calls. A call still streaming is fetched again until it ends.

import {getJSON, isAbort} from '../api.js';
import {statusBadge} from '../badge.js';
import {facts, h, message, table} from '../dom.js';
import * as fmt from '../format.js';
import {href} from '../router.js';
import {timelineChart} from '../timeline.js';

const STREAMING_REFRESH_MS = 2000;
const NOT_KEPT = 'not kept (--content off / store off)';

// Guardrail offsets count bytes of the UTF-8 text; JS strings count UTF-16
// units. Returns byte offset -> string index (rounded up to a character).
function byteIndexer(text) {
  const bytePos = [];
  const unitPos = [];
  let b = 0;
  let u = 0;
  for (const ch of text) {
    bytePos.push(b);
    unitPos.push(u);
    const c = ch.codePointAt(0);
    b += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    u += ch.length;
  }
  bytePos.push(b);
  unitPos.push(u);
  return (byte) => {
    let lo = 0;
    let hi = bytePos.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (bytePos[mid] < byte) lo = mid + 1;
      else hi = mid;
    }
    return unitPos[lo];
  };
}

// The completion as text nodes, with each response hit in a <mark>;
// offsets past the text (a hit in text not kept) are clamped away.
function markedText(text, hits) {
  const index = byteIndexer(text);
  const frag = document.createDocumentFragment();
  let done = 0;
  const spans = hits
    .filter((g) => g.where === 'response' && g.length > 0)
    .sort((a, b) => a.offset - b.offset);
  for (const g of spans) {
    const start = Math.max(index(Math.max(0, g.offset)), done);
    const end = index(Math.max(0, g.offset + g.length));
    if (end <= start) continue;
    frag.append(text.slice(done, start));
    const mark = h('mark', {'data-rule': g.rule, class: `sev-${g.severity}`}, text.slice(start, end));
    mark.title = `${g.rule}: ${g.action}, ${g.severity}`;
    frag.append(mark);
    done = end;
  }
  frag.append(text.slice(done));
  return frag;
}

function textBlock(role, text, hits) {
  if (text === null || text === undefined) {
    return h('pre', {'data-role': role, class: 'text empty'}, NOT_KEPT);
  }
  return h('pre', {'data-role': role, class: 'text'}, hits ? markedText(text, hits) : text);
}

function section(title, ...body) {
  return h('section', {class: 'card'}, h('h2', null, title), ...body);
}

function headerFacts(c) {
  return facts([
    ['Model', fmt.text(c.model), 'model'],
    ['Provider', fmt.text(c.provider), 'provider'],
    ['Endpoint', fmt.text(c.endpoint), 'endpoint'],
    ['Host', fmt.text(c.host), 'host'],
    ['Process', fmt.processName(c), 'process'],
    ['PID', fmt.text(c.pid), 'pid'],
    ['Thread', c.thread ? `${c.thread} (${c.tid})` : fmt.text(c.tid), 'thread'],
    ['Container', fmt.shortId(c.container_id), 'container'],
    ['Status', statusBadge(c.status), 'status'],
    ['HTTP status', fmt.text(c.http_status), 'http_status'],
    ['Finish reason', fmt.text(c.finish_reason), 'finish_reason'],
    ['Error', fmt.text(c.error), 'error'],
    ['Started', fmt.clock(c.started_at), 'started_at'],
    ['TTFT', fmt.ms(c.ttft_ms), 'ttft'],
    ['Duration', fmt.ms(c.duration_ms), 'duration'],
    ['Tokens/s', fmt.num(c.tokens_per_second), 'tokens_per_second'],
    ['Chunks', fmt.int(c.chunks), 'chunks'],
    ['Bytes', fmt.bytes(c.bytes), 'bytes'],
    ['Dropped bytes', fmt.bytes(c.dropped_bytes), 'dropped_bytes'],
    ['Source', fmt.text(c.source), 'source'],
    ...(c.source === 'ingest' ? [
      ['Request id', fmt.text(c.request_id), 'request_id'],
      ['Tenant', fmt.text(c.tenant_id), 'tenant_id'],
    ] : []),
  ], 'facts grid');
}

function usageSection(c) {
  const u = c.usage || {};
  const price = c.price;
  return section('Usage and cost',
    facts([
      ['Input tokens', fmt.int(u.input_tokens), 'input_tokens'],
      ['Output tokens', fmt.int(u.output_tokens), 'output_tokens'],
      ['Cached input', fmt.int(u.cached_input_tokens), 'cached_input_tokens'],
      ['Cache writes', fmt.int(u.cache_creation_input_tokens), 'cache_creation_input_tokens'],
      ['Reasoning', fmt.int(u.reasoning_tokens), 'reasoning_tokens'],
      ['Cost', c.cost_usd === null && c.unpriced ? `unpriced (${c.unpriced})` : fmt.usd(c.cost_usd), 'cost'],
      ['Price entry', price && `${price.id}${price.user ? ' (--prices)' : ''}${price.long_context ? ', long context' : ''}`,
        'price'],
      ['Price source', price ? `${fmt.text(price.source)} (as of ${fmt.text(price.as_of)})` : null, 'price_source'],
    ], 'facts grid'));
}

function guardrailSection(hits) {
  if (!hits.length) return section('Guardrail hits', message('info', 'No guardrail rule matched.'));
  const t = table([['Rule'], ['Action'], ['Where'], ['Severity'], ['Offset', 'num'], ['Length', 'num']], {class: 'data'});
  for (const g of hits) {
    t.tbody.append(h('tr', null, h('td', null, g.rule), h('td', null, g.action), h('td', null, g.where),
      h('td', null, h('span', {class: `badge sev-${g.severity}`}, g.severity)),
      h('td', {class: 'num'}, fmt.int(g.offset)), h('td', {class: 'num'}, fmt.int(g.length))));
  }
  return section('Guardrail hits', t.wrap,
    h('p', {class: 'chart-note'},
      'Response hits are marked in the completion; request hits are in the request body as sent.'));
}

function prettyJSON(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text; // partial or not JSON: shown as received
  }
}

function toolSection(calls) {
  return section('Tool calls', calls.map((t) => h('div', {class: 'tool'},
    h('h3', null, fmt.text(t.name)),
    h('pre', {class: 'text'}, t.arguments === null ? NOT_KEPT : prettyJSON(String(t.arguments))))));
}

function timelineSection(c) {
  const bp = c.backpressure;
  const side = bp ? facts(Object.entries(bp).map(([k, v]) => [k.replace(/_/g, ' '),
    typeof v === 'number' ? fmt.num(v) : fmt.text(v), `bp_${k}`]), 'facts compact')
    : message('info', 'No backpressure measured (socket unknown, or not recorded).');
  return section('Timeline',
    h('div', {class: 'timeline-row'},
      c.timeline ? timelineChart(c.timeline) : message('info', 'No timeline for this call.'),
      h('aside', {class: 'backpressure'}, h('h3', null, 'Backpressure'), side)));
}

function render(c) {
  const hits = c.guardrail || [];
  return [
    h('div', {class: 'toolbar'}, h('a', {href: href('calls'), class: 'back'}, '← Calls'),
      h('h1', null, `Call ${c.id}`), statusBadge(c.status, c.error),
      c.status === 'streaming' ? h('span', {class: 'muted'}, 'streaming: refreshing every 2 s') : null),
    section('Call', headerFacts(c)),
    timelineSection(c),
    section('Prompt', textBlock('prompt', c.prompt),
      c.prompt_bytes_cut > 0 ? h('p', {class: 'chart-note'},
        `the oldest ${fmt.bytes(c.prompt_bytes_cut)} of the messages were not kept`) : null),
    section('Completion', textBlock('completion', c.text, hits)),
    usageSection(c),
    guardrailSection(hits),
    c.tool_calls && c.tool_calls.length ? toolSection(c.tool_calls) : null,
  ];
}

export function mount(root, route, ctx) {
  const controller = new AbortController();
  let timer = null;

  async function load() {
    try {
      const c = await getJSON(`/api/v1/calls/${encodeURIComponent(route.id)}`, {signal: controller.signal});
      root.replaceChildren(...render(c).filter(Boolean));
      if (c.status === 'streaming') timer = setTimeout(load, STREAMING_REFRESH_MS);
    } catch (err) {
      if (isAbort(err)) return;
      root.replaceChildren(h('div', {class: 'toolbar'}, h('a', {href: href('calls'), class: 'back'}, '← Calls'),
        h('h1', null, `Call ${route.id}`)), message('error', err.message));
    }
    ctx.ready();
  }

  load();
  return {
    unmount() {
      clearTimeout(timer);
      controller.abort();
    },
  };
}
