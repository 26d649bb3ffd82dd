// Keyboard shortcuts: "g l/t/c/p" or 1-4 switch views, "/" goes to the
// search box. Keys typed into a field are the field's.

import {go, href} from './router.js';

const BY_LETTER = {l: 'live', t: 'trends', c: 'calls', p: 'probes'};
const BY_DIGIT = {1: 'live', 2: 'trends', 3: 'calls', 4: 'probes'};
const CHORD_MS = 1000;

function typing(target) {
  return target.closest('input, select, textarea, [contenteditable="true"]');
}

function focusSearch() {
  const q = document.getElementById('q');
  if (q) {
    q.focus();
    q.select();
    return;
  }
  // the search box appears once the calls view has mounted
  go(href('calls'));
  const started = Date.now();
  const wait = () => {
    const box = document.getElementById('q');
    if (box) box.focus();
    else if (Date.now() - started < 2000) requestAnimationFrame(wait);
  };
  requestAnimationFrame(wait);
}

export function initKeys() {
  let chordAt = 0;
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && typing(e.target)) {
      e.target.blur();
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented || typing(e.target)) return;
    const chord = Date.now() - chordAt < CHORD_MS;
    chordAt = 0;
    let view = null;
    if (chord && BY_LETTER[e.key]) view = BY_LETTER[e.key];
    else if (BY_DIGIT[e.key]) view = BY_DIGIT[e.key];
    else if (e.key === 'g') chordAt = Date.now();
    else if (e.key === '/') {
      e.preventDefault();
      focusSearch();
    }
    if (view) {
      e.preventDefault();
      go(href(view));
    }
  });
}
