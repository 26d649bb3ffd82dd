// A call's timeline in SVG, from the API's `timeline` (ms after the first
// request byte): milestones, a tick per chunk, and the gaps between
// chunks as a strip shaded by length, so the stalls stand out.

import {niceTicks} from './charts.js';
import {h, svg} from './dom.js';
import * as fmt from './format.js';

const W = 800;
const L = 10, R = 10; // side margins
const LABEL_ROWS = 3;
const Y = {labels: 14, chunksTop: 56, chunksBottom: 80, gapTop: 84, gapBottom: 98, axis: 104};
const HEIGHT = 126;
// Shades of a gap by how many times the median gap it lasts: a steady
// stream stays pale whatever its pace, a stall stands out.
const SHADE_ABOVE = [1.25, 2, 4, 8]; // gap-0 up to 1.25x the median .. gap-4 above 8x

function shadeOf(gap, median) {
  const n = SHADE_ABOVE.findIndex((k) => gap <= k * median);
  return n < 0 ? SHADE_ABOVE.length : n;
}

function milestones(t) {
  return [
    ['request written', t.request_last_ms, 'm-request'],
    ['headers', t.headers_ms, 'm-headers'],
    ['first token', t.first_token_ms, 'm-first'],
    ['end', t.end_ms, 'm-end'],
  ].filter(([, at]) => at !== null && at !== undefined);
}

// Labels go on the first of a few rows where they do not overlap the
// previous label (milestones a few ms apart would print over each other).
function placeLabels(marks, x) {
  const rowEnd = new Array(LABEL_ROWS).fill(-Infinity);
  return marks.map(([label, at, cls]) => {
    const text = `${label} ${fmt.ms(at)}`;
    const width = text.length * 6.4;
    const px = x(at);
    const anchorEnd = px + width > W - R;
    const from = anchorEnd ? px - width : px;
    let row = rowEnd.findIndex((end) => end < from - 6);
    if (row < 0) row = LABEL_ROWS - 1;
    rowEnd[row] = from + width;
    return {text, px, cls, anchorEnd, y: Y.labels + row * 14};
  });
}

export function timelineChart(t) {
  const chunks = [...(t.chunks_ms || [])].sort((a, b) => a - b);
  const marks = milestones(t);
  const end = Math.max(1, ...marks.map(([, at]) => at), ...chunks);
  const x = (ms) => L + (Math.min(Math.max(ms, 0), end) / end) * (W - L - R);
  const el = svg('svg', {
    'data-role': 'timeline', 'data-chunks': String(chunks.length), viewBox: `0 0 ${W} ${HEIGHT}`,
    class: 'timeline', role: 'img', 'aria-label': 'timeline of the stream',
  });

  if (t.request_last_ms > 0) {
    el.append(svg('rect', {class: 'request-span', x: x(0), y: Y.chunksTop, width: x(t.request_last_ms) - x(0),
      height: Y.gapBottom - Y.chunksTop}, svg('title', null, `request written over ${fmt.ms(t.request_last_ms)}`)));
  }

  const gaps = chunks.slice(1).map((c, i) => c - chunks[i]);
  const longest = Math.max(0, ...gaps);
  const median = [...gaps].sort((a, b) => a - b)[gaps.length >> 1] || 0;
  gaps.forEach((gap, i) => {
    if (!(gap > 0)) return;
    const shade = shadeOf(gap, median);
    el.append(svg('rect', {
      class: `gap gap-${shade}${gap === longest ? ' gap-max' : ''}`, x: x(chunks[i]), y: Y.gapTop,
      width: Math.max(0.5, x(chunks[i + 1]) - x(chunks[i])), height: Y.gapBottom - Y.gapTop,
    }, svg('title', null, `gap of ${fmt.ms(gap)} after chunk ${i + 1} (at ${fmt.ms(chunks[i])})`)));
  });
  chunks.forEach((c, i) => el.append(svg('line', {
    'data-role': 'chunk', class: 'chunk', x1: x(c), x2: x(c), y1: Y.chunksTop, y2: Y.chunksBottom,
  }, svg('title', null, `chunk ${i + 1} at ${fmt.ms(c)}`))));

  el.append(svg('line', {class: 'axis', x1: L, x2: W - R, y1: Y.axis, y2: Y.axis}));
  for (const v of niceTicks(end, 6, true).filter((v) => v <= end)) {
    el.append(svg('line', {class: 'axis', x1: x(v), x2: x(v), y1: Y.axis, y2: Y.axis + 4}),
      svg('text', {class: 'tick', x: x(v), y: Y.axis + 16, 'text-anchor': 'middle'}, fmt.ms(v)));
  }
  for (const m of placeLabels(marks, x)) {
    el.append(svg('g', {class: `milestone ${m.cls}`},
      svg('line', {x1: m.px, x2: m.px, y1: m.y + 3, y2: Y.gapBottom}),
      svg('text', {x: m.px + (m.anchorEnd ? -3 : 3), y: m.y, 'text-anchor': m.anchorEnd ? 'end' : 'start'}, m.text)));
  }

  const notes = [`${chunks.length} chunks drawn`];
  if (gaps.length) {
    notes.push(`median gap ${fmt.ms(median)}`, `longest ${fmt.ms(longest)}, outlined`,
      'warmer gaps: longer against the median');
  }
  if (t.chunks_not_listed > 0) notes.push(`+${fmt.int(t.chunks_not_listed)} chunks not drawn`);
  return h('div', {class: 'timeline-box'}, el, h('p', {class: 'chart-note'}, notes.join(' · ')));
}
