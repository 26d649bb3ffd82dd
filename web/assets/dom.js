// Element builders. Captured text (prompts, completions, model names,
// process names) is untrusted: it only ever reaches the page as text nodes
// or attribute values, never as markup, so nothing here parses HTML.

const SVG_NS = 'http://www.w3.org/2000/svg';

// A link may only point inside the dashboard: a value from the API must
// not become a javascript: or external URL.
function safeHref(value) {
  const s = String(value);
  return s.startsWith('#') || (s.startsWith('/') && !s.startsWith('//')) ? s : '#';
}

function build(node, props, children) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') node.setAttribute('class', value);
    else if (key === 'text') node.textContent = String(value);
    else if (key.startsWith('on')) {
      if (typeof value !== 'function') throw new TypeError(`${key} must be a function`);
      node.addEventListener(key.slice(2), value);
    } else if (key === 'href') node.setAttribute('href', safeHref(value));
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

// Appends strings (as text), nodes and (nested) arrays; skips null/false.
function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// h('td', {class: 'num', 'data-col': 'model'}, text, ...)
export function h(tag, props, ...children) {
  return build(document.createElement(tag), props, children);
}

export function svg(tag, props, ...children) {
  return build(document.createElementNS(SVG_NS, tag), props, children);
}

// Sets a node's text only when it changed: cheap updates of reused rows.
export function setText(node, value) {
  const s = value === null || value === undefined ? '' : String(value);
  if (node.textContent !== s) node.textContent = s;
}

export function message(kind, text) {
  return h('p', {class: `msg msg-${kind}`, role: kind === 'error' ? 'alert' : null}, text);
}

// A table inside a horizontally scrolling box (narrow windows).
export function table(headers, props = {}) {
  const tbody = h('tbody');
  const el = h('table', props,
    h('thead', null, h('tr', null, headers.map(([label, cls]) =>
      h('th', {scope: 'col', class: cls || null}, label)))),
    tbody);
  return {wrap: h('div', {class: 'table-wrap'}, el), table: el, tbody};
}

// Definition list of [label, value, field] rows; value may be a node.
export function facts(rows, cls = 'facts') {
  return h('dl', {class: cls}, rows.map(([label, value, field]) => [
    h('dt', null, label),
    h('dd', {'data-field': field || null}, value === null || value === undefined ? '—' : value),
  ]));
}

// Rows open something on click and on Enter; links inside them keep
// their own behaviour, and selecting text does not open anything.
export function activateRows(tbody, open) {
  tbody.addEventListener('click', (e) => {
    if (e.target.closest('a') || String(window.getSelection())) return;
    const tr = e.target.closest('tr[tabindex]');
    if (tr) open(tr);
  });
  tbody.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter' || e.target.tagName !== 'TR') return;
    e.preventDefault();
    open(e.target);
  });
}
