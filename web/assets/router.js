// Hash routes: #/live, #/trends?range=6h, #/calls?q=foo&model=x, #/call/42,
// #/probes. The hash is the only state worth sharing, so a link restores
// the view and its filters, and back/forward walk them.

const VIEWS = ['live', 'trends', 'calls', 'call', 'probes'];

function parseHash(hash) {
  const raw = hash.replace(/^#\/?/, '');
  const qAt = raw.indexOf('?');
  const path = qAt < 0 ? raw : raw.slice(0, qAt);
  const params = new URLSearchParams(qAt < 0 ? '' : raw.slice(qAt + 1));
  const [view, id] = path.split('/').map(decodeURIComponent);
  return {view: VIEWS.includes(view) ? view : 'live', id: id || null, params};
}

// '#/calls?q=x' from a view, optional id and params (empty values dropped).
export function href(view, params = {}, id = null) {
  const q = new URLSearchParams();
  const entries = params instanceof URLSearchParams ? params.entries() : Object.entries(params);
  for (const [k, v] of entries) {
    if (v !== null && v !== undefined && v !== '') q.set(k, v);
  }
  const s = q.toString();
  return `#/${view}${id === null ? '' : `/${encodeURIComponent(id)}`}${s ? `?${s}` : ''}`;
}

// Navigates; every change goes through hashchange, so the views have one
// way in whether the user clicked, typed a URL or went back.
export function go(target, {replace = false} = {}) {
  if (target === location.hash) return;
  if (replace) location.replace(target);
  else location.hash = target;
}

export function onRoute(handler) {
  window.addEventListener('hashchange', () => handler(parseHash(location.hash)));
  handler(parseHash(location.hash));
}
