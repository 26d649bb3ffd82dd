// Numbers, times and money as shown in tables, tiles and charts. A missing
// value (null: not measured) is a dash, never 0.

const DASH = '—';
const intFmt = new Intl.NumberFormat('en-US', {maximumFractionDigits: 0});
const hms = {hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false};
const timeFmt = new Intl.DateTimeFormat(undefined, hms);
const dayTimeFmt = new Intl.DateTimeFormat(undefined, {month: 'short', day: 'numeric', ...hms});

const missing = (v) => v === null || v === undefined || Number.isNaN(v);

export function int(v) {
  return missing(v) ? DASH : intFmt.format(v);
}

// 3 significant digits, compact above 10k: 0.123, 12.3, 1.2k, 3.4M.
export function num(v) {
  if (missing(v)) return DASH;
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${(v / 1e3).toPrecision(3)}k`;
  if (a >= 100 || Number.isInteger(v)) return intFmt.format(v);
  return String(Number(v.toPrecision(3)));
}

export function ms(v) {
  if (missing(v)) return DASH;
  if (v === 0) return '0 ms';
  if (v < 10) return `${v.toFixed(2)} ms`;
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 60000) return `${(v / 1000).toFixed(2)} s`;
  return duration(v);
}

// Coarse elapsed time: 45s, 2m 03s, 1h 05m.
export function duration(v) {
  if (missing(v)) return DASH;
  const s = Math.max(0, Math.floor(v / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`;
}

// Dollars: cents for amounts above a dollar, 3 significant digits below.
export function usd(v) {
  if (missing(v)) return DASH;
  if (v === 0) return '$0';
  if (Math.abs(v) >= 1) return `$${v.toFixed(2)}`;
  return `$${Number(v.toPrecision(3))}`;
}

export function pct(v) {
  if (missing(v)) return DASH;
  return `${(v * 100).toFixed(v < 0.1 ? 1 : 0)}%`;
}

export function bytes(v) {
  if (missing(v)) return DASH;
  if (v < 1024) return `${Math.round(v)} B`;
  if (v < 1048576) return `${(v / 1024).toFixed(1)} KiB`;
  return `${(v / 1048576).toFixed(1)} MiB`;
}

// Local wall time; the day too unless it is today.
export function clock(iso) {
  if (!iso) return DASH;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const today = new Date().toDateString() === d.toDateString();
  return (today ? timeFmt : dayTimeFmt).format(d);
}

export function processName(c) {
  const comm = c.comm || (c.source === 'ingest' ? 'ingested' : DASH);
  return c.pid ? `${comm} (${c.pid})` : comm;
}

export function shortId(id) {
  return id ? String(id).slice(0, 12) : DASH;
}

export function text(v) {
  return missing(v) || v === '' ? DASH : String(v);
}
