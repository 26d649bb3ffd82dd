// The dashboard's shell: header, routing between views, shortcuts. A view
// module exports mount(root, route, ctx) and returns {unmount, update?};
// update(route) takes a new route of the same view (filters changed), so
// its controls keep their focus.

import {initKeys} from './keys.js';
import {onRoute} from './router.js';
import {startStatus} from './status.js';
import {initTheme} from './theme.js';
import * as live from './views/live.js';
import * as trends from './views/trends.js';
import * as calls from './views/calls.js';
import * as call from './views/call.js';
import * as probes from './views/probes.js';

const views = {live, trends, calls, call, probes};
const root = document.getElementById('view');
let current = null; // {name, id, handle, ctx}

// data-ready tells tests and scripts when a view's data is on screen; a
// context stops speaking once its view is gone, so a late answer for an
// old view cannot mark the new one ready.
function context() {
  const ctx = {
    alive: true,
    loading() {
      if (ctx.alive) root.dataset.ready = '0';
    },
    ready() {
      if (ctx.alive) root.dataset.ready = '1';
    },
  };
  return ctx;
}

function markNav(name) {
  const tab = name === 'call' ? 'calls' : name;
  for (const a of document.querySelectorAll('a[data-nav]')) {
    if (a.dataset.nav === tab) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function route(r) {
  if (current && current.name === r.view && current.id === r.id && current.handle.update) {
    current.handle.update(r);
    return;
  }
  if (current) {
    current.ctx.alive = false;
    current.handle.unmount();
  }
  root.replaceChildren();
  root.dataset.view = r.view;
  root.dataset.ready = '0';
  markNav(r.view);
  document.title = `llmobs · ${r.view === 'call' ? `call ${r.id}` : r.view}`;
  const ctx = context();
  current = {name: r.view, id: r.id, ctx, handle: views[r.view].mount(root, r, ctx)};
}

// Last line of defence: a bug shows as a message, not only in the console.
function showFatal(message) {
  const box = document.getElementById('fatal');
  box.textContent = `Dashboard error: ${message}`;
  box.hidden = false;
}
window.addEventListener('unhandledrejection', (e) => {
  e.preventDefault();
  showFatal(e.reason && e.reason.message ? e.reason.message : String(e.reason));
});
window.addEventListener('error', (e) => showFatal(e.message));

initTheme(document.getElementById('theme-toggle'));
startStatus(document.getElementById('daemon-state'));
initKeys();
onRoute(route);
