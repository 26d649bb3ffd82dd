// A call's status as a coloured badge; the error (captured text) is its
// tooltip, set as a property so it stays text.

import {h} from './dom.js';

export function statusBadge(status, error) {
  const el = h('span', {class: `badge status-${status || 'unknown'}`}, status || '—');
  if (error) el.title = error;
  return el;
}
