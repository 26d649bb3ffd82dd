// Probes: which TLS libraries and executables are probed and how often
// each probe fires (/api/v1/probes), and the blind spots: processes whose
// TLS no probe reads (/api/v1/blind). Both are 503 while the daemon
// replays a recording: there are no probes then.

import {getJSON, isAbort} from '../api.js';
import {h, message, table} from '../dom.js';
import * as fmt from '../format.js';

const REFRESH_MS = 5000;
const PIDS_SHOWN = 4;

function unavailable(err) {
  return err.status === 503
    ? message('info', `Not available: the daemon is replaying a recording, or still starting (${err.message}).`)
    : message('error', err.message);
}

function pids(list) {
  const all = list || [];
  const text = all.slice(0, PIDS_SHOWN).join(', ') + (all.length > PIDS_SHOWN ? ` +${all.length - PIDS_SHOWN}` : '');
  const el = h('span', null, text || '—');
  el.title = all.join(', ');
  return el;
}

function probeList(probes) {
  return h('ul', {class: 'probe-list'}, (probes || []).map((p) => {
    const li = h('li', null, h('code', null, p.function), ` ${p.type} `, h('b', null, fmt.int(p.hits)));
    li.title = `at ${p.offset}`;
    return li;
  }));
}

function filesSection(d) {
  const t = table([['Path'], ['Kind'], ['Stack'], ['Version'], ['Origin'], ['Attached'], ['PIDs'],
    ['Probes: function, type, hits'], ['Hits', 'num']], {class: 'data'});
  for (const f of d.files) {
    t.tbody.append(h('tr', {'data-probe-path': f.path},
      h('td', {class: 'path'}, f.path), h('td', null, fmt.text(f.kind)), h('td', null, fmt.text(f.stack)),
      h('td', null, fmt.text(f.version)), h('td', null, fmt.text(f.origin)),
      h('td', {title: f.attached_at}, fmt.clock(f.attached_at)), h('td', null, pids(f.pids)),
      h('td', null, probeList(f.probes)), h('td', {class: 'num'}, fmt.int(f.hits))));
  }
  const refused = table([['Path'], ['Stack'], ['Reason'], ['At']], {class: 'data'});
  for (const f of d.files_refused || []) {
    refused.tbody.append(h('tr', {'data-refused-path': f.path}, h('td', {class: 'path'}, f.path),
      h('td', null, fmt.text(f.stack)), h('td', null, fmt.text(f.reason)), h('td', {title: f.at}, fmt.clock(f.at))));
  }
  return [
    h('section', {class: 'card'}, h('h2', null, `Probed files (${d.files.length})`),
      d.files.length ? t.wrap : message('info', 'No file is probed yet.'),
      h('p', {class: 'chart-note'}, `${fmt.int(d.files_dismissed)} files looked at and dismissed · ` +
        `${fmt.int(d.attach_errors)} attach errors`)),
    h('section', {class: 'card'}, h('h2', null, 'Files refused'),
      (d.files_refused || []).length ? refused.wrap : message('info', 'None: every recognised TLS stack was probed.')),
  ];
}

function blindSection(d) {
  const t = table([['PID', 'num'], ['Process'], ['Executable'], ['Stack'], ['Reason'], ['Peers'],
    ['Connections', 'num'], ['First seen'], ['Last seen']], {class: 'data'});
  for (const p of d.processes) {
    const reason = h('td', null, fmt.text(p.reason));
    reason.title = p.reason_code || '';
    t.tbody.append(h('tr', {'data-blind-pid': p.pid},
      h('td', {class: 'num'}, p.pid), h('td', null, fmt.text(p.comm)), h('td', {class: 'path'}, fmt.text(p.exe)),
      h('td', null, fmt.text(p.stack)), reason, h('td', null, (p.peers || []).join(', ') || '—'),
      h('td', {class: 'num'}, fmt.int(p.connections)), h('td', {title: p.first_seen}, fmt.clock(p.first_seen)),
      h('td', {title: p.last_seen}, fmt.clock(p.last_seen))));
  }
  return h('section', {class: 'card'}, h('h2', null, `Blind spots (${d.processes.length})`),
    d.processes.length ? t.wrap : message('info', 'None: every TLS connection seen was readable.'),
    h('p', {class: 'chart-note'},
      `${fmt.int(d.evicted)} evicted · ${fmt.int(d.waiting)} connections still within their window`));
}

export function mount(root, route, ctx) {
  const controller = new AbortController();
  const filesBox = h('div');
  const blindBox = h('div');
  root.append(h('div', {class: 'toolbar'}, h('h1', null, 'Probes'),
    h('span', {class: 'muted'}, 'refreshed every 5 s')), filesBox, blindBox);

  async function part(path, box, build) {
    try {
      box.replaceChildren(...[].concat(build(await getJSON(path, {signal: controller.signal}))));
    } catch (err) {
      if (!isAbort(err)) box.replaceChildren(unavailable(err));
    }
  }

  async function load() {
    await Promise.all([part('/api/v1/probes', filesBox, filesSection), part('/api/v1/blind', blindBox, blindSection)]);
    ctx.ready();
  }

  load();
  const timer = setInterval(() => {
    if (!document.hidden) load();
  }, REFRESH_MS);
  return {
    unmount() {
      clearInterval(timer);
      controller.abort();
    },
  };
}
