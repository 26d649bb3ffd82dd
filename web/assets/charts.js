// Hand-drawn SVG charts: time series lines and horizontal bars. Colours
// come from CSS classes (c0..c7), so both themes apply and no inline
// style is needed (the page's CSP forbids it). Every chart's <svg> says how
// many points or bars it drew in data-points.

import {h, svg} from './dom.js';

const W = 640;
const H = 220;
const M = {l: 56, r: 14, t: 12, b: 26}; // margins around the plot area
const COLORS = 8;
const DOTS_UP_TO = 40; // series this short also get a dot per point

const TIME_STEPS = [60e3, 120e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3, 10800e3,
  21600e3, 43200e3, 86400e3, 172800e3];
const hhmm = new Intl.DateTimeFormat(undefined, {hour: '2-digit', minute: '2-digit', hour12: false});
const dayFmt = new Intl.DateTimeFormat(undefined, {month: 'short', day: 'numeric'});
const dayHhmm = new Intl.DateTimeFormat(undefined,
  {month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false});

const colorClass = (i) => `c${i % COLORS}`;

// Steps that read well as durations (ms): seconds, minutes, hours.
const DURATION_STEPS = [1e3, 2e3, 5e3, 10e3, 15e3, 30e3, 60e3, 120e3, 300e3, 600e3, 900e3,
  1800e3, 3600e3, 7200e3, 10800e3, 21600e3, 43200e3, 86400e3];

// Round tick values: 1, 2 or 5 times a power of ten, or, for durations
// of a second and more, whole seconds, minutes or hours.
export function niceTicks(max, count = 4, durations = false) {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = (durations && raw > 500 && DURATION_STEPS.find((s) => s >= raw)) ||
    [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const ticks = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) ticks.push(v);
  if (ticks[ticks.length - 1] < max) ticks.push(ticks[ticks.length - 1] + step);
  return ticks;
}

// Ticks on round local times (minutes, hours, days) over [from, to].
function timeTicks(from, to) {
  const step = TIME_STEPS.find((s) => (to - from) / s <= 6) || TIME_STEPS[TIME_STEPS.length - 1];
  const offset = -new Date(from).getTimezoneOffset() * 60e3;
  const fmt = step >= 86400e3 ? dayFmt : to - from > 86400e3 ? dayHhmm : hhmm;
  const ticks = [];
  for (let t = Math.ceil((from + offset) / step) * step - offset; t <= to; t += step) {
    ticks.push({t, label: fmt.format(new Date(t))});
  }
  return ticks;
}

function frame(name, height) {
  return svg('svg', {
    'data-chart': name, viewBox: `0 0 ${W} ${height}`, class: 'chart-svg',
    role: 'img', preserveAspectRatio: 'xMidYMid meet',
  });
}

// A chart with nothing to draw: its frame and why.
export function emptyChart(name, why) {
  const el = frame(name, 120);
  el.setAttribute('data-points', '0');
  el.setAttribute('aria-label', why);
  el.append(
    svg('rect', {class: 'empty-frame', x: 1, y: 1, width: W - 2, height: 118, rx: 6}),
    svg('text', {class: 'empty-text', x: W / 2, y: 64, 'text-anchor': 'middle'}, why));
  return h('div', null, el);
}

function legend(items) {
  return h('ul', {class: 'legend'}, items.map((s) =>
    h('li', {class: colorClass(s.color)},
      h('span', {class: s.dashed ? 'swatch dashed' : 'swatch'}), s.label)));
}

// series: [{label, color, dashed, values: [[t_ms, v|null], ...]}]; a null
// breaks the line (nothing measured), it is not drawn as 0. durations:
// values are ms, ticked on whole seconds, minutes or hours.
export function lineChart({name, from, to, series, format, label, durations = false}) {
  const points = series.reduce((n, s) => n + s.values.filter(([, v]) => v !== null).length, 0);
  if (!points) return emptyChart(name, 'no data in this range');
  const max = Math.max(...series.flatMap((s) => s.values.map(([, v]) => v ?? 0)));
  const yTicks = niceTicks(max, 4, durations);
  const yMax = yTicks[yTicks.length - 1];
  const x = (t) => M.l + ((t - from) / Math.max(1, to - from)) * (W - M.l - M.r);
  const y = (v) => H - M.b - (v / yMax) * (H - M.t - M.b);

  const el = frame(name, H);
  el.setAttribute('data-points', String(points));
  el.setAttribute('aria-label', label);
  for (const v of yTicks) {
    el.append(
      svg('line', {class: 'grid', x1: M.l, x2: W - M.r, y1: y(v), y2: y(v)}),
      svg('text', {class: 'tick', x: M.l - 6, y: y(v) + 4, 'text-anchor': 'end'}, format(v)));
  }
  for (const {t, label: text} of timeTicks(from, to)) {
    el.append(svg('text', {class: 'tick', x: x(t), y: H - 8, 'text-anchor': 'middle'}, text));
  }
  el.append(svg('line', {class: 'axis', x1: M.l, x2: W - M.r, y1: H - M.b, y2: H - M.b}));
  for (const s of series) {
    let d = '';
    let pen = false;
    const g = svg('g', {class: colorClass(s.color)});
    s.values.forEach(([t, v], i) => {
      if (v === null) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${x(t).toFixed(1)} ${y(v).toFixed(1)}`;
      pen = true;
      const lonely = (i === 0 || s.values[i - 1][1] === null) &&
        (i === s.values.length - 1 || s.values[i + 1][1] === null);
      if (lonely || s.values.length <= DOTS_UP_TO) {
        g.append(svg('circle', {class: 'dot', cx: x(t).toFixed(1), cy: y(v).toFixed(1), r: 2.5}));
      }
    });
    g.prepend(svg('path', {class: s.dashed ? 'line dashed' : 'line', d}));
    el.append(g);
  }
  const tip = h('div', {class: 'tip', hidden: true});
  hover(el, tip, series, x, from, to, format);
  return h('div', null, h('div', {class: 'chart-box'}, el, tip), legend(series));
}

// A guide line and a box with every series' value at the nearest time.
function hover(el, tip, series, x, from, to, format) {
  const times = [...new Set(series.flatMap((s) => s.values.map(([t]) => t)))].sort((a, b) => a - b);
  const guide = svg('line', {class: 'guide', y1: M.t, y2: H - M.b, visibility: 'hidden'});
  const area = svg('rect', {class: 'hover-area', x: M.l, y: M.t, width: W - M.l - M.r, height: H - M.t - M.b});
  el.append(guide, area);
  const fmt = to - from > 86400e3 ? dayHhmm : hhmm;
  area.addEventListener('pointermove', (e) => {
    const box = el.getBoundingClientRect();
    const vx = ((e.clientX - box.left) / box.width) * W;
    const t = times.reduce((best, c) => (Math.abs(x(c) - vx) < Math.abs(x(best) - vx) ? c : best), times[0]);
    guide.setAttribute('x1', x(t));
    guide.setAttribute('x2', x(t));
    guide.setAttribute('visibility', 'visible');
    const rows = series.flatMap((s) => {
      const hit = s.values.find(([vt]) => vt === t);
      return hit && hit[1] !== null ? [h('div', {class: colorClass(s.color)},
        h('span', {class: s.dashed ? 'swatch dashed' : 'swatch'}), `${s.label}: `, h('b', null, format(hit[1])))] : [];
    });
    tip.replaceChildren(h('div', {class: 'tip-time'}, fmt.format(new Date(t))), ...rows);
    tip.hidden = false;
    const px = (x(t) / W) * box.width;
    tip.style.left = `${Math.min(px + 12, box.width - tip.offsetWidth - 4)}px`;
  });
  area.addEventListener('pointerleave', () => {
    guide.setAttribute('visibility', 'hidden');
    tip.hidden = true;
  });
}

// bars: [{label, value, note}] drawn in the order given.
export function barChart({name, bars, format, label}) {
  if (!bars.length) return emptyChart(name, 'no data in this range');
  const row = 24;
  const height = M.t + bars.length * row + 8;
  const left = 170;
  const max = Math.max(...bars.map((b) => b.value), 0) || 1;
  const el = frame(name, height);
  el.setAttribute('data-points', String(bars.length));
  el.setAttribute('aria-label', label);
  bars.forEach((b, i) => {
    const top = M.t + i * row;
    const width = Math.max(1, (b.value / max) * (W - left - 110));
    const short = b.label.length > 24 ? `${b.label.slice(0, 23)}…` : b.label;
    el.append(svg('g', {class: colorClass(i)},
      svg('title', null, `${b.label}: ${format(b.value)}${b.note ? ` (${b.note})` : ''}`),
      svg('text', {class: 'bar-label', x: left - 8, y: top + 15, 'text-anchor': 'end'}, short),
      svg('rect', {class: 'bar', x: left, y: top + 3, width: width.toFixed(1), height: row - 8, rx: 3}),
      svg('text', {class: 'bar-value', x: left + width + 6, y: top + 15}, format(b.value))));
  });
  return h('div', null, el);
}
