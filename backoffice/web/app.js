/* stopline reviewer UI: plain JavaScript, no build step, no network but this server.
 * Keyboard-first: every action of the case page has a key (see the legend, "?"). */
'use strict';

const state = { user: null, csrf: '', reasons: [], current: null, history: [], historyPos: -1,
                openedAt: 0, rejectOpen: false, reason: '', clipTimer: null, leaseTimer: null };

const $ = (sel) => document.querySelector(sel);

/* h('div', {class: 'x', onclick: f}, child, 'text', ...) */
function h(tag, attrs, ...children) {
  const svg = ['svg', 'rect', 'line', 'text', 'polyline', 'circle', 'g', 'title'].includes(tag);
  const el = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function say(text, kind) {
  const s = $('#status');
  s.textContent = text || '';
  s.className = 'status' + (kind ? ' ' + kind : '');
}

async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: 'same-origin' };
  if (method !== 'GET') {
    opts.headers['X-CSRF-Token'] = state.csrf;
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body || {});
  }
  const res = await fetch(path, opts);
  let data = null;
  try { data = await res.json(); } catch (e) { data = {}; }
  if (res.status === 401 && path !== '/api/v1/login') {
    state.user = null;
    showLogin('Your session ended: log in again.');
    throw new Error('not logged in');
  }
  if (!res.ok) throw new Error(data.error || ('HTTP ' + res.status));
  return data;
}

/* ---------- time and number formatting ---------- */
const fmtS = (us) => (us / 1e6).toFixed(2) + ' s';
const fmtAge = (s) => s < 90 ? s + ' s' : s < 5400 ? Math.round(s / 60) + ' min' : s < 172800 ? (s / 3600).toFixed(1) + ' h' : Math.round(s / 86400) + ' d';
const fmtBytes = (b) => b >= 1e9 ? (b / 1e9).toFixed(1) + ' GB' : b >= 1e6 ? (b / 1e6).toFixed(1) + ' MB' : b >= 1e3 ? (b / 1e3).toFixed(0) + ' kB' : b + ' B';
const shortUtc = (iso) => iso ? iso.slice(0, 10) + ' ' + iso.slice(11, 19) + 'Z' : '';
const localTime = (iso) => iso ? new Date(iso).toLocaleString(undefined, { hour12: false }) + ' (' + iso.slice(11, 23) + ' UTC)' : '';

/* ---------- login ---------- */
function showLogin(message) {
  $('#top').hidden = true;
  const main = $('#main');
  main.replaceChildren();
  const err = h('p', { class: 'status error', id: 'login-error', role: 'alert' }, message || '');
  const form = h('form', { class: 'login panel', onsubmit: async (e) => {
    e.preventDefault();
    try {
      const d = await api('POST', '/api/v1/login', { username: form.username.value, password: form.password.value });
      state.user = d.user; state.csrf = d.csrf;
      say('');
      await loadSession();
      location.hash = '#/queue';
      route();
    } catch (ex) { err.textContent = ex.message; form.password.select(); }
  } },
  h('h1', {}, 'stopline — review'),
  h('label', { for: 'username' }, 'User name'),
  h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true }),
  h('label', { for: 'password' }, 'Password'),
  h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
  h('button', { type: 'submit', class: 'primary', id: 'login-submit' }, 'Log in'), err);
  main.append(form);
  form.username.focus();
}

async function loadSession() {
  const d = await api('GET', '/api/v1/session');
  state.user = d.user; state.csrf = d.csrf; state.reasons = d.reasons;
  $('#top').hidden = false;
  $('#who').textContent = d.user.display_name + ' · ' + d.user.role + (d.user.may_review ? '' : (d.user.role === 'reviewer' || d.user.role === 'supervisor') ? ' (not cleared to decide: no authorization or signature on file)' : '');
  const r = d.user.role;
  $('#nav-queue').hidden = !(r === 'reviewer' || r === 'supervisor');
  $('#nav-audit').hidden = !(r === 'supervisor' || r === 'admin');
  $('#nav-devices').hidden = !(r === 'technician' || r === 'supervisor' || r === 'admin');
  workNav(r);
}

/* ---------- queue overview ---------- */
async function showQueue() {
  const q = await api('GET', '/api/v1/queue');
  const main = $('#main');
  main.replaceChildren();
  const canReview = state.user.may_review;
  main.append(h('h1', {}, 'Review queue'),
    h('div', { class: 'stats' },
      h('div', { class: 'stat' }, h('b', { id: 'queued-count' }, q.queued), h('span', {}, 'waiting')),
      h('div', { class: 'stat' }, h('b', {}, q.leased), h('span', {}, 'being reviewed')),
      h('div', { class: 'stat' }, h('b', {}, q.oldest_age_s ? fmtAge(q.oldest_age_s) : '—'), h('span', {}, 'oldest waiting')),
      h('div', { class: 'stat' }, h('b', {}, q.approved), h('span', {}, 'approved')),
      h('div', { class: 'stat' }, h('b', {}, q.rejected), h('span', {}, 'rejected'))),
    h('p', {}, canReview
      ? h('button', { class: 'primary', id: 'start', onclick: nextCase }, 'Open next case ', h('kbd', {}, 'N'))
      : h('span', { class: 'muted' }, 'You can see the queue but not decide: an administrator must authorize you and put your signature on file.')));
  const byType = h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Type'), h('th', {}, 'Site'), h('th', { class: 'num' }, 'Waiting'), h('th', { class: 'num' }, 'Oldest'))),
    h('tbody', {}, q.by_type_and_site.map((c) => h('tr', {}, h('td', {}, c.type.replace(/_/g, ' ')), h('td', {}, c.site), h('td', { class: 'num' }, c.queued), h('td', { class: 'num' }, fmtAge(c.oldest_age_s))))));
  main.append(h('section', { class: 'panel', 'aria-labelledby': 'h-bytype' }, h('h2', { id: 'h-bytype' }, 'By type and site'), q.by_type_and_site.length ? byType : h('p', { class: 'muted' }, 'Nothing waiting.')));
  main.append(alarmPanel(q.alarms, false));
  main.append(healthPanel(q.devices));
}

function alarmPanel(alarms, canResolve) {
  return h('section', { class: 'panel', 'aria-labelledby': 'h-alarms' }, h('h2', { id: 'h-alarms' }, 'Device alarms (' + alarms.length + ' open)'),
    alarms.length ? h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Alarm'), h('th', {}, 'Device'), h('th', {}, 'Detail'), h('th', {}, 'Raised'), canResolve ? h('th', {}, '') : null)),
      h('tbody', {}, alarms.map((a) => h('tr', { class: 'alarm' }, h('td', {}, a.kind), h('td', {}, a.device_id), h('td', {}, a.detail), h('td', {}, localTime(a.raised_utc)),
        canResolve ? h('td', {}, h('button', { onclick: async () => { await api('POST', '/api/v1/alarms/' + a.id + '/resolve'); say('Alarm ' + a.id + ' acknowledged', 'ok'); showDevices(); } }, 'Acknowledge')) : null))))
      : h('p', { class: 'muted' }, 'No open alarms.'));
}

function healthPanel(devices) {
  const yes = (b, good, bad) => b === undefined ? '—' : h('span', { class: 'badge ' + (b ? 'ok' : 'bad') }, b ? good : bad);
  return h('section', { class: 'panel', 'aria-labelledby': 'h-health' }, h('h2', { id: 'h-health' }, 'Device health (last heartbeat)'),
    devices.length ? h('table', {}, h('thead', {}, h('tr', {}, ['Device', 'Age', 'Signal sensing', 'Radar', 'Camera', 'Spool', 'Disk free', 'Clock', 'Enforcement'].map((t) => h('th', {}, t)))),
      h('tbody', {}, devices.map((d) => {
        const b = d.heartbeat || {};
        const sig = b.signal_sensing || {}, radar = b.radar || {}, cam = b.camera || {}, spool = b.spool || {}, clock = b.clock || {}, enf = b.enforcement || {};
        return h('tr', {}, h('td', {}, d.device_id), h('td', {}, fmtAge(d.age_s)),
          h('td', {}, yes(sig.ok, 'ok', 'fault'), sig.detail || ''),
          h('td', {}, yes(radar.ok, 'self-check ok', 'self-check failed'), radar.detail || ''),
          h('td', {}, yes(cam.ok, 'ok', 'stalled'), cam.fps !== undefined ? ' ' + Number(cam.fps).toFixed(1) + ' fps' : ''),
          h('td', {}, spool.depth !== undefined ? spool.depth + ' records' : '—'),
          h('td', {}, b.disk_free_bytes !== undefined ? fmtBytes(b.disk_free_bytes) : '—'),
          h('td', {}, yes(clock.synchronized, 'synchronized', 'NOT synchronized'), clock.maximum_error_us !== undefined ? ' ±' + (clock.maximum_error_us / 1000).toFixed(1) + ' ms' : ''),
          h('td', {}, enf.suspended === undefined ? '—' : enf.suspended ? h('span', { class: 'badge bad' }, 'suspended: ' + (enf.reason || '?')) : h('span', { class: 'badge ok' }, 'enforcing')));
      }))) : h('p', { class: 'muted' }, 'No heartbeat received yet.'));
}

/* ---------- case page ---------- */
async function nextCase() {
  try {
    const d = await api('POST', '/api/v1/queue/next');
    if (!d.case) { say('The queue is empty.', 'ok'); location.hash = '#/queue'; return; }
    location.hash = '#/case/' + d.case.id;
  } catch (e) { say(e.message, 'error'); }
}

function previousCase() {
  const cur = state.current ? state.current.id : null;
  const i = state.history.lastIndexOf(cur);
  const prev = i > 0 ? state.history[i - 1] : state.history[state.history.length - 1];
  if (prev && prev !== cur) location.hash = '#/case/' + prev;
  else say('No previous case in this session.');
}

const media = (f) => f ? '/api/v1/media/' + f.sha256 : '';

function verificationBadges(codes) {
  return codes.map((c) => {
    const name = c.split(' ')[0];
    const kind = c === 'ok' ? 'ok' : (name === 'clock.unsynchronized' || name === 'chain.duplicate') ? 'warn' : 'bad';
    return h('span', { class: 'badge ' + kind, title: c }, c);
  });
}

/* Only what applies to the case's type and what the record knows: a speed record made
 * before camera calibration has no lane (0; newer ones carry the lane the camera found
 * the vehicle in) and a red-light record no posted limit (its speed is the loops' at the
 * line). */
function dataBar(c) {
  const s = c.signal, sp = c.speed, z = c.school_zone, sc = c.self_check;
  const red = c.type === 'red_light', speedCase = c.type === 'school_zone_speed';
  const lane = c.location.lane > 0 ? 'lane ' + c.location.lane : '';
  const items = [
    ['Time', localTime(c.time_utc)],
    ['Location', c.location.code + ' — ' + c.location.description],
    lane ? ['Approach / lane', (c.location.direction || '—') + ' / ' + lane] : ['Approach', c.location.direction || '—'],
    ['Code', c.statute.code + ' ' + c.statute.description],
  ];
  if (red) {
    const within = s.time_into_red_uncertainty_us > 0 ? ' ± ' + Math.round(s.time_into_red_uncertainty_us / 1000) + ' ms' : '';
    const dated = s.crossing_method ? ' (crossing dated by ' + (s.crossing_method === 'camera' ? 'the camera' : 'the loops, ' + s.crossing_method) + ')' : '';
    items.push(['Time into red (A / B)', fmtS(s.time_into_red_a_us) + within + dated + ' / ' + fmtS(s.time_into_red_b_us)]);
    items.push(['Measured yellow', fmtS(s.measured_yellow_us) + ' (min ' + fmtS(s.minimum_yellow_us) + ')', s.measured_yellow_us < s.minimum_yellow_us]);
    items.push(['Grace', fmtS(s.grace_us)]);
  }
  if (red && sp.loop_speed > 0) items.push(['Speed at the line', sp.loop_speed.toFixed(1) + ' ' + (sp.unit || 'mph')]);
  if (speedCase && sp.unit) items.push(['Speed / limit', sp.corrected.toFixed(1) + ' ' + sp.unit + ' / ' + (sp.limit > 0 ? sp.limit + ' ' + sp.unit : 'none in record'), !(sp.limit > 0)]);
  if (speedCase) items.push(['Beacon', z.beacon_flashing ? 'flashing' : 'NOT flashing', !z.beacon_flashing]);
  if (speedCase) items.push(['School in session', z.school_in_session ? 'yes ' + z.calendar_entry : 'NO', !z.school_in_session]);
  items.push(['Radar self-check', sc.present ? (sc.passed ? 'passed ' : 'FAILED ') + (sc.at_utc || '').slice(0, 16) : 'none in record', sc.present && !sc.passed]);
  items.push(['Clock', c.clock.synchronized ? 'synchronized ±' + (c.clock.maximum_error_us / 1000).toFixed(0) + ' ms' : 'NOT synchronized', !c.clock.synchronized]);
  items.push(['Device / record', c.device_id + ' #' + c.seq]);
  return h('dl', { class: 'databar panel', 'aria-label': 'Record data' }, items.map(([k, v, bad]) => h('div', {}, h('dt', {}, k), h('dd', { class: bad ? 'bad' : null }, v))));
}

/* Signal timeline: one bar per signal head, built only from that head's own phase
 * changes. The enforced head (signal.head) gets the main bar; each conflicting head in
 * the record gets its own smaller, labelled row under it, so a cross street's green can
 * never be read as the enforced head's. The A and B markers stand at the frames'
 * capture times and cross the enforced bar. Times on the axis are seconds from the
 * enforced head's red onset. Segments carry data-head, data-phase, data-from-ns and
 * data-to-ns; markers data-marker and data-t-ns. */
const phaseColor = { green: 'var(--green)', yellow: 'var(--yellow)', red: 'var(--red)', dark: '#2b2b2b',
  flashing_red: 'var(--red)', flashing_yellow: 'var(--yellow)', conflict: '#7b2cbf' };
const phaseLabel = (p) => (p || 'unknown').replace(/_/g, ' ');

function timelineChart(c) {
  const s = c.signal;
  const all = s.changes.filter((x) => x.at.monotonic_ns).slice().sort((p, q) => p.at.monotonic_ns - q.at.monotonic_ns);
  /* A change without a head name (older records) is taken as the enforced head's. */
  const own = all.filter((ch) => !ch.head || ch.head === s.head);
  const others = [];
  for (const ch of all) if (ch.head && ch.head !== s.head && !others.includes(ch.head)) others.push(ch.head);
  const aT = c.frames.a ? c.frames.a.captured_monotonic_ns : 0, bT = c.frames.b ? c.frames.b.captured_monotonic_ns : 0;
  const redOnset = s.red_onset.monotonic_ns || 0;
  if (!own.length && !redOnset) return h('p', { class: 'muted' }, 'No signal timeline in this record.');
  const times = own.map((x) => x.at.monotonic_ns).concat([aT, bT, redOnset].filter(Boolean));
  /* From shortly before the yellow that preceded this red: a long green would squeeze
   * what matters. */
  const yellows = own.filter((ch) => ch.phase === 'yellow' && (!redOnset || ch.at.monotonic_ns <= redOnset));
  const yellow = yellows[yellows.length - 1];
  const t0 = Math.max(Math.min(...times), yellow ? yellow.at.monotonic_ns - 3e9 : -Infinity);
  const t1 = Math.max(...times, t0 + 1e9) + 1e9;
  const ref = redOnset || t0;
  const rel = (t) => { const v = (t - ref) / 1e9; return (v > 0.0005 ? '+' : v < -0.0005 ? '−' : '') + Math.abs(v).toFixed(2) + ' s'; };

  const W = 600, L = 58, R = W - 12;
  const x = (t) => L + (R - L) * (t - t0) / (t1 - t0);
  const barY = 24, barH = 26, rowH = 10, rowGap = 7;
  const rowsTop = barY + barH + 8;
  const rowsBottom = others.length ? rowsTop + others.length * (rowH + rowGap) - rowGap : barY + barH;
  const axisY = rowsBottom + 6;
  const H = axisY + 50;

  /* [from, to) spans of one head's phases inside [t0, t1]. */
  const segmentsOf = (list) => list.map((ch, i) => {
    const from = ch.at.monotonic_ns, to = i + 1 < list.length ? list[i + 1].at.monotonic_ns : t1;
    return { phase: ch.phase, from: Math.max(from, t0), to: Math.min(to, t1), open: i + 1 === list.length, started: from };
  }).filter((sg) => sg.to > sg.from);
  const phaseAt = (list, t) => { let p = null; for (const ch of list) if (ch.at.monotonic_ns <= t) p = ch.phase; return p; };

  const row = (head, list, y, height, role) => h('g', { class: 'head-row ' + role, 'data-head': head, 'data-role': role },
    h('text', { class: 'head-label', x: L - 6, y: y + height / 2 + (role === 'enforced' ? 5 : 3.5), 'text-anchor': 'end',
      'font-size': role === 'enforced' ? 14 : 10, 'font-weight': role === 'enforced' ? 700 : 400, fill: role === 'enforced' ? 'var(--ink)' : 'var(--muted)' }, head || '?'),
    h('rect', { class: 'track', x: L, y, width: R - L, height, fill: '#eceef1' }),
    segmentsOf(list).map((sg) => h('rect', { class: 'phase', x: x(sg.from), y, width: Math.max(1, x(sg.to) - x(sg.from)), height,
      fill: phaseColor[sg.phase] || '#999', 'fill-opacity': sg.phase.startsWith('flashing') ? 0.5 : role === 'enforced' ? 1 : 0.8,
      'data-head': head, 'data-phase': sg.phase, 'data-from-ns': sg.from, 'data-to-ns': sg.to, 'data-open-end': sg.open ? 'true' : null },
    h('title', {}, (head || 'head') + ': ' + phaseLabel(sg.phase) + ' from ' + rel(sg.started) + (sg.open ? '' : ' to ' + rel(sg.to))))));

  const ticks = [];
  const span = (t1 - t0) / 1e9, step = span > 16 ? 4 : span > 8 ? 2 : 1;
  for (let k = Math.ceil((t0 - ref) / 1e9 / step) * step; ref + k * 1e9 <= t1; k += step) {
    const t = ref + k * 1e9;
    ticks.push(h('line', { x1: x(t), x2: x(t), y1: axisY, y2: axisY + 4, stroke: '#777' }),
      h('text', { x: x(t), y: axisY + 14, 'font-size': 10, 'text-anchor': 'middle', fill: 'var(--muted)' }, k === 0 ? '0' : (k > 0 ? '+' : '−') + Math.abs(k)));
  }
  /* The label beside the foot of its line, on the side with room. */
  const mark = (key, t, label, n) => t ? h('g', { class: 'marker', 'data-marker': key, 'data-t-ns': t },
    h('line', { x1: x(t), x2: x(t), y1: barY - 6, y2: axisY + 22 + 15 * n, stroke: '#000', 'stroke-width': 2 }),
    h('text', { x: x(t) > W / 2 ? x(t) - 5 : x(t) + 5, y: axisY + 31 + 15 * n, 'font-size': 12, 'font-weight': 600,
      'text-anchor': x(t) > W / 2 ? 'end' : 'start' }, label)) : null;

  const headName = s.head || 'enforced head';
  const atMark = (t) => { const p = phaseAt(own, t); return p ? headName + ' ' + phaseLabel(p) : 'no phase known'; };
  const describe = (list) => segmentsOf(list).map((sg) => phaseLabel(sg.phase) + ' from ' + rel(sg.started)).join(', ');
  const aria = 'Signal timeline, seconds from the red onset. Enforced head ' + headName + ': ' + (describe(own) || 'no changes') +
    (s.measured_yellow_us ? '; measured yellow ' + fmtS(s.measured_yellow_us) : '') +
    (aT ? '. A-shot ' + fmtS(s.time_into_red_a_us) + ' into red (' + atMark(aT) + ')' : '') +
    (bT ? ', B-shot ' + fmtS(s.time_into_red_b_us) + ' into red (' + atMark(bT) + ')' : '') +
    (others.length ? '. Conflicting ' + (others.length > 1 ? 'heads' : 'head') + ' shown separately: ' +
      others.map((o) => o + ' ' + (describe(all.filter((ch) => ch.head === o)) || 'no changes in view')).join('; ') : '') + '.';

  return h('svg', { id: 'signal-timeline', viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': aria, 'data-t0-ns': t0, 'data-t1-ns': t1 },
    h('text', { x: L, y: 13, 'font-size': 11, fill: '#555' }, 'signal head ' + headName + ' (enforced): measured yellow ' + fmtS(s.measured_yellow_us) +
      (s.measured_all_red_us ? ', all-red ' + fmtS(s.measured_all_red_us) : '') + (others.length ? ' · under it: the conflicting ' + (others.length > 1 ? 'heads' : 'head') : '')),
    row(s.head, own, barY, barH, 'enforced'),
    others.map((o, i) => row(o, all.filter((ch) => ch.head === o), rowsTop + i * (rowH + rowGap), rowH, 'conflicting')),
    h('line', { x1: L, x2: R, y1: axisY, y2: axisY, stroke: '#777' }), ticks,
    h('text', { x: L, y: axisY + 27, 'font-size': 10, fill: 'var(--muted)' }, redOnset ? 'seconds from ' + headName + "'s red onset" : 'seconds'),
    mark('a', aT, 'A ' + fmtS(s.time_into_red_a_us) + ' into red', 0), mark('b', bT, 'B ' + fmtS(s.time_into_red_b_us) + ' into red', 1));
}

function speedChart(c) {
  const sp = c.speed;
  const pts = sp.samples.filter((x) => x.at.monotonic_ns);
  if (!pts.length) return h('p', { class: 'muted' }, 'No radar samples in this record.');
  const W = 600, H = 120;
  const t0 = Math.min(...pts.map((p) => p.at.monotonic_ns)), t1 = Math.max(...pts.map((p) => p.at.monotonic_ns)) + 1;
  /* A limit line only where there is a limit: a red-light record's radar samples are
   * its stop check, with no posted limit in the record. */
  const limit = c.type === 'school_zone_speed' && sp.limit > 0 ? sp.limit : 0;
  const vmax = Math.max(limit + (limit ? sp.threshold_over : 0), ...pts.map((p) => Math.abs(p.speed))) * 1.15 || 1;
  const x = (t) => 30 + (W - 40) * (t - t0) / (t1 - t0), y = (v) => H - 15 - (H - 30) * Math.abs(v) / vmax;
  /* A scale, so a chart without a limit line still reads. */
  const step = vmax > 60 ? 20 : vmax > 25 ? 10 : 5, grid = [];
  for (let v = 0; v <= vmax; v += step)
    grid.push(h('line', { x1: 30, x2: W - 10, y1: y(v), y2: y(v), stroke: v ? '#e3e6eb' : '#999' }),
      h('text', { x: 26, y: y(v) + 4, 'font-size': 10, 'text-anchor': 'end', fill: 'var(--muted)' }, v));
  return h('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'Radar speed samples' + (limit ? ', limit ' + limit + ' ' + sp.unit : c.type === 'red_light' ? ' (stop check)' : '') }, grid,
    limit ? h('line', { x1: 30, x2: W - 10, y1: y(limit), y2: y(limit), stroke: 'var(--red)', 'stroke-dasharray': '6 4' }) : null,
    limit ? h('text', { x: 32, y: y(limit) - 3, 'font-size': 11, fill: 'var(--red)' }, 'limit ' + limit + ' ' + sp.unit) : null,
    h('polyline', { fill: 'none', stroke: 'var(--accent)', 'stroke-width': 2, points: pts.map((p) => x(p.at.monotonic_ns) + ',' + y(p.speed)).join(' ') }),
    pts.map((p) => h('circle', { cx: x(p.at.monotonic_ns), cy: y(p.speed), r: 2.5, fill: 'var(--accent)' })),
    h('text', { x: 2, y: 12, 'font-size': 11, fill: '#555' }, sp.unit));
}

/* ---------- vehicle identity: how the photos were tied to the measured vehicle ---------- */
/* Metres along the approach from the stop line: − before it, + past it. */
const fmtAlong = (m) => (m >= 0.05 ? '+' : m <= -0.05 ? '−' : '') + Math.abs(m).toFixed(1) + ' m';
const fmtNum = (m) => (m <= -0.05 ? '−' : '') + Math.abs(m).toFixed(1);
const hasRegion = (r) => !!r && r.width > 0 && r.height > 0;

/* The plate search region outlined over a photo: an SVG in the frame's own pixel
 * coordinates laid over the image, so it scales with whatever size the image is shown
 * at. `fr` is the frame (its width and height are the region's coordinate space). */
function regionOverlay(fr, region, key) {
  const W = fr.width, H = fr.height;
  const svg = h('svg', { class: 'overlay', 'data-region': key, viewBox: W && H ? '0 0 ' + W + ' ' + H : null, preserveAspectRatio: 'none', 'aria-hidden': 'true' },
    h('rect', { class: 'search-region-halo', x: region.x, y: region.y, width: region.width, height: region.height }),
    h('rect', { class: 'search-region', 'data-region': key, x: region.x, y: region.y, width: region.width, height: region.height }));
  return svg;
}

function identityPanel(c) {
  const id = c.identity;
  const panel = (...children) => h('section', { class: 'panel identity', id: 'identity', 'aria-labelledby': 'h-identity' },
    h('h2', { id: 'h-identity' }, 'Vehicle identity'), ...children);
  if (!id) return panel(h('p', { class: 'muted', id: 'identity-none' }, 'No identity check (record made before camera calibration).'));
  const lines = [];
  const method = id.method === 'radar+image' ? 'the vehicle the radar measured, found and followed in the photographs'
    : id.method === 'loops+image' ? 'the vehicle the loops measured, found in the photographs from the crossing on'
    : 'the vehicle the sensors measured, found in the photographs';
  lines.push(h('p', { class: 'identity-method' }, 'Method ', h('span', { class: 'badge' }, (id.method || 'unknown').replace('+', ' + ')), ' ' + method + '.'));
  const inZone = (m) => m >= id.zone_from_m && m <= id.zone_to_m;
  const zone = '[' + fmtNum(id.zone_from_m) + ', ' + fmtNum(id.zone_to_m) + '] m';
  const outside = ['a', 'b'].filter((k) => !inZone(id[k + '_rear_along_m'])).map((k) => k.toUpperCase());
  lines.push(h('p', { class: 'identity-position' + (outside.length ? ' bad' : ''), id: 'identity-position' },
    'Photographed in lane ' + (id.lane || '?') + ': rear at ' + fmtAlong(id.a_rear_along_m) + ' (A) and ' + fmtAlong(id.b_rear_along_m) +
    ' (B) from the stop line, ' + (outside.length ? 'the ' + outside.join(' and ') + ' position OUTSIDE' : 'inside') + ' the photo zone ' + zone + '.',
    h('span', { class: 'hint' }, ' (−\u00a0before the line, +\u00a0past it)')));
  if (c.location.lane > 0 && id.lane && c.location.lane !== id.lane)
    lines.push(h('p', { class: 'bad' }, 'The record\'s lane (' + c.location.lane + ') is not the lane the vehicle was photographed in (' + id.lane + ').'));
  if (id.photo_speed_mph !== null && id.photo_speed_mph !== undefined) {
    const diff = Math.abs(id.photo_speed_mph - id.radar_speed_mph);
    const agrees = diff <= id.photo_speed_tolerance_mph;
    lines.push(h('p', { class: 'identity-speed' + (agrees ? '' : ' bad'), id: 'identity-speed', 'data-agrees': String(agrees) },
      'Photo speed ' + id.photo_speed_mph.toFixed(1) + ' mph from the two shots, radar ' + id.radar_speed_mph.toFixed(1) +
      ' mph (must agree within ' + id.photo_speed_tolerance_mph.toFixed(1) + ' mph) ',
      h('span', { class: 'badge ' + (agrees ? 'ok' : 'bad') }, agrees ? 'agree, ' + diff.toFixed(1) + ' mph apart' : 'DISAGREE: ' + diff.toFixed(1) + ' mph apart')));
  }
  const from = id.searched_from || {}, to = id.searched_to || {};
  if (from.utc_ns && to.utc_ns) {
    const t = (ns) => new Date(ns / 1e6).toISOString().slice(11, 23);
    lines.push(h('p', { class: 'identity-search' }, 'Searched ' + ((to.utc_ns - from.utc_ns) / 1e9).toFixed(2) + ' s of frames (' + t(from.utc_ns) + '–' + t(to.utc_ns) + ' UTC); ' +
      id.vehicles_in_zone + (id.vehicles_in_zone === 1 ? ' vehicle' : ' vehicles') + ' followed through the photo zone.'));
  }
  if (id.explanation) lines.push(h('p', { class: 'identity-explanation', id: 'identity-explanation' }, h('span', { class: 'hint' }, 'Device\'s finding: '), id.explanation));
  const outlined = hasRegion(id.a_plate_region) || hasRegion(id.b_plate_region);
  lines.push(h('p', { class: 'hint' }, outlined ? [h('span', { class: 'swatch', 'aria-hidden': 'true' }), ' Outlined on the photos: where the plate was searched.'] : 'No plate search region in the record.'));
  if (id.calibration) lines.push(h('p', { class: 'hint calibration' }, 'Camera calibration: ' + id.calibration));
  return panel(...lines);
}

function clipPlayer(c) {
  const frames = c.frames.clip;
  if (!frames.length) return h('p', { class: 'muted' }, 'No clip in this record.');
  const img = h('img', { id: 'clip-frame', src: media(frames[0]), alt: 'Clip frame 1 of ' + frames.length });
  const counter = h('span', { class: 'muted', id: 'clip-counter' }, '1 / ' + frames.length);
  let i = 0;
  const btn = h('button', { id: 'clip-play', onclick: () => toggleClip() }, 'Play ', h('kbd', {}, 'V'));
  frames.forEach((f) => { const pre = new Image(); pre.src = media(f); });
  state.toggleClip = async () => {
    if (state.clipTimer) { clearInterval(state.clipTimer); state.clipTimer = null; btn.firstChild.textContent = 'Play '; return; }
    btn.firstChild.textContent = 'Pause ';
    if (!state.clipViewed) { state.clipViewed = true; api('POST', '/api/v1/cases/' + c.id + '/clip-viewed').catch(() => {}); }
    state.clipTimer = setInterval(() => {
      i = (i + 1) % frames.length;
      img.src = media(frames[i]);
      img.alt = 'Clip frame ' + (i + 1) + ' of ' + frames.length;
      counter.textContent = (i + 1) + ' / ' + frames.length;
    }, 200);
  };
  return h('figure', { class: 'clip' }, img, h('div', { class: 'controls' }, btn, counter));
}
function toggleClip() { if (state.toggleClip) state.toggleClip(); }

function zoom(src, alt, region) {
  closeZoom();
  const overlay = h('div', { class: 'zoom', id: 'zoom', role: 'dialog', 'aria-label': alt, onclick: closeZoom }, h('div', { class: 'shotwrap' }, h('img', { src, alt }), region || null));
  document.body.append(overlay);
}
function closeZoom() { const z = $('#zoom'); if (z) z.remove(); }

function checklistPanel(c, editable) {
  const decided = c.decision ? c.decision.checklist || {} : {};
  const list = h('ol', {}, c.checklist.map((it, n) => {
    const id = 'check-' + it.key;
    const contradicted = it.proven === false;
    const box = h('input', { type: 'checkbox', id, 'data-key': it.key, disabled: !editable || contradicted });
    box.checked = c.decision ? !!decided[it.key] : it.proven === true;
    return h('li', { class: contradicted ? 'contradicted' : null },
      h('kbd', {}, n < 9 ? String(n + 1) : ''), box,
      h('label', { for: id }, it.label, it.proven === true ? h('span', { class: 'proven' }, ' ✓ record proves') : null,
        contradicted ? h('span', { class: 'badge bad' }, 'record contradicts') : null,
        h('span', { class: 'evidence' }, it.evidence)));
  }));
  return h('section', { class: 'panel checklist', 'aria-labelledby': 'h-check' }, h('h2', { id: 'h-check' }, 'Checklist'), list);
}

function decisionPanel(c) {
  if (c.decision) {
    const d = c.decision;
    return h('section', { class: 'panel decided ' + d.decision, id: 'decision' },
      h('h2', {}, d.decision === 'approved' ? 'Approved' : 'Rejected: ' + d.reason.replace(/_/g, ' ')),
      h('p', {}, 'by ' + d.by + ', ' + localTime(d.at_utc)),
      h('p', { class: 'muted' }, 'time on case ' + (d.time_on_case_ms / 1000).toFixed(0) + ' s; clip ' + (d.clip_viewed ? 'viewed' : 'not viewed')),
      d.note ? h('p', {}, d.note) : null);
  }
  if (!c.mine) return h('section', { class: 'panel' }, h('p', {}, c.lease.owner ? 'Leased to ' + c.lease.owner + '.' : 'Not claimed.'),
    state.user.may_review ? h('button', { onclick: async () => { try { await api('POST', '/api/v1/cases/' + c.id + '/claim'); showCase(c.id); } catch (e) { say(e.message, 'error'); } } }, 'Claim this case') : null);
  const reasons = h('div', { class: 'reasons', id: 'reasons', hidden: true },
    h('h2', {}, 'Reject: reason'),
    h('ol', {}, state.reasons.map((r, n) => h('li', {}, h('button', { 'data-reason': r.code, 'aria-pressed': 'false', onclick: () => pickReason(r.code) },
      h('kbd', {}, n < 9 ? String(n + 1) : n === 9 ? '0' : '-'), ' ', r.label)))),
    h('label', { for: 'note' }, 'Note'), h('textarea', { id: 'note', rows: 2 }),
    h('div', { class: 'decide' }, h('button', { class: 'danger', id: 'reject-confirm', onclick: () => decide('reject') }, 'Reject ', h('kbd', {}, 'Enter')),
      h('button', { onclick: () => closeReject() }, 'Cancel ', h('kbd', {}, 'Esc'))));
  return h('section', { class: 'panel', id: 'decision' },
    h('div', { class: 'decide' },
      h('button', { class: 'primary', id: 'approve', onclick: () => decide('approve') }, 'Approve ', h('kbd', {}, 'A')),
      h('button', { class: 'danger', id: 'reject', onclick: openReject }, 'Reject… ', h('kbd', {}, 'R')),
      h('button', { onclick: nextCase }, 'Next ', h('kbd', {}, 'N'))),
    reasons);
}

function openReject() { const r = $('#reasons'); if (!r) return; r.hidden = false; state.rejectOpen = true; const first = r.querySelector('button'); if (first) first.focus(); }
function closeReject() { const r = $('#reasons'); if (r) r.hidden = true; state.rejectOpen = false; state.reason = ''; }
function pickReason(code) {
  state.reason = code;
  document.querySelectorAll('#reasons [data-reason]').forEach((b) => b.setAttribute('aria-pressed', String(b.dataset.reason === code)));
  if (code === 'other') $('#note').focus();
}

async function decide(kind) {
  const c = state.current;
  if (!c || !c.mine) return;
  const checklist = {};
  document.querySelectorAll('.checklist input[data-key]').forEach((b) => { checklist[b.dataset.key] = b.checked; });
  if (kind === 'approve') {
    const missing = c.checklist.filter((it) => !checklist[it.key]);
    if (missing.length) { say('Confirm every checklist item before approving: ' + missing.map((m) => m.label).join('; '), 'error'); return; }
    if (c.vehicle && c.vehicle.needs_lights && (state.lights === null || state.lights === undefined)) { say('A police vehicle: say whether its emergency lights were activated (L).', 'error'); return; }
  } else if (!state.reason) { say('Pick a rejection reason (1–9, 0, -).', 'error'); return; }
  const facts = c.vehicle && c.vehicle.needs_lights && kind === 'approve' ? { emergency_lights: state.lights } : {};
  try {
    await api('POST', '/api/v1/cases/' + c.id + '/decision', { version: c.version, decision: kind, reason: state.reason, note: ($('#note') || {}).value || '', checklist, facts });
    say((kind === 'approve' ? 'Approved' : 'Rejected') + ' case ' + c.id + '. Opening the next one…', 'ok');
    state.rejectOpen = false; state.reason = '';
    await nextCase();
  } catch (e) { say(e.message, 'error'); }
}

async function showCase(id) {
  if (state.clipTimer) { clearInterval(state.clipTimer); state.clipTimer = null; }
  if (state.leaseTimer) { clearInterval(state.leaseTimer); state.leaseTimer = null; }
  state.toggleClip = null; state.clipViewed = false; state.rejectOpen = false; state.reason = ''; state.lights = null;
  const c = await api('GET', '/api/v1/cases/' + id);
  state.current = c;
  state.openedAt = Date.now();
  if (state.history[state.history.length - 1] !== c.id) state.history.push(c.id);
  const main = $('#main');
  main.replaceChildren();
  const f = c.frames;
  /* Each shot with the region its plate was searched in (vehicle identity) outlined. */
  const shot = (fr, label, id, key) => {
    if (!fr) return h('p', { class: 'muted' }, label + ': not in record');
    const region = c.identity && hasRegion(c.identity[key + '_plate_region']) && fr.width && fr.height ? c.identity[key + '_plate_region'] : null;
    return h('figure', {}, h('div', { class: 'shotwrap' },
      h('img', { id, src: media(fr), alt: label, width: fr.width || null, height: fr.height || null, onclick: () => zoom(media(fr), label, region ? regionOverlay(fr, region, key) : null) }),
      region ? regionOverlay(fr, region, key) : null),
    h('figcaption', {}, label + ' · ' + (fr.captured_utc_ns ? new Date(fr.captured_utc_ns / 1e6).toISOString().slice(11, 23) + ' UTC' : '') +
      (region ? ' · outlined: plate search region' : '')));
  };
  const plate = f.plate ? h('figure', { class: 'plate' }, h('img', { id: 'plate-crop', src: media(f.plate), alt: 'Licence plate, enlarged', onclick: () => zoom(media(f.plate), 'Licence plate') }),
    h('figcaption', {}, h('span', { class: 'read' }, f.plate.read || '—'), ' plate crop (', h('kbd', {}, 'Z'), ' zoom)')) : h('p', { class: 'muted' }, 'No plate crop.');
  const lease = h('span', { class: 'lease', id: 'lease' });
  if (c.mine && c.lease.expires_ns) {
    const tick = () => { const left = Math.round((c.lease.expires_ns / 1e6 - Date.now()) / 1000); lease.textContent = left > 0 ? 'lease ' + Math.floor(left / 60) + ':' + String(left % 60).padStart(2, '0') : 'lease EXPIRED: claim again'; };
    tick(); state.leaseTimer = setInterval(tick, 1000);
  }
  main.append(
    h('div', { class: 'casehead' }, h('h1', { id: 'case-title' }, 'Case ' + c.id + ' · ' + c.type.replace(/_/g, ' ') + ' · ' + c.site),
      h('span', {}, verificationBadges(c.verification)), lease),
    dataBar(c),
    h('div', { class: 'caselayout' },
      h('div', {},
        h('section', { class: 'panel', 'aria-label': 'Photos' },
          h('div', { class: 'shots' }, shot(f.a, c.type === 'red_light' ? 'A-shot (at the stop line)' : 'A-shot (entering the photo zone)', 'a-shot', 'a'),
            shot(f.b, c.type === 'red_light' ? 'B-shot (in the intersection)' : 'B-shot (further along the photo zone)', 'b-shot', 'b')),
          h('div', { class: 'platerow' }, h('div', {}, plate, vehiclePanel(c)), clipPlayer(c))),
        identityPanel(c),
        h('section', { class: 'panel charts', 'aria-label': 'Charts' }, h('h2', {}, 'Signal timeline'), timelineChart(c),
          h('h2', {}, c.type === 'red_light' ? 'Radar (stop check)' : 'Speed'), speedChart(c))),
      h('div', {}, checklistPanel(c, c.mine && !c.decision), decisionPanel(c),
        h('p', { class: 'keyhint' }, 'Record ', c.record_id, ' · hash ', c.record_hash.slice(0, 16), '… · key ', c.key_id))));
  main.focus();
}

/* ---------- audit and devices ---------- */
async function showAudit() {
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  const target = params.get('target') || '';
  const d = await api('GET', '/api/v1/audit' + (target ? '?target=' + encodeURIComponent(target) : ''));
  const main = $('#main');
  main.replaceChildren();
  const result = h('span', { id: 'audit-verify-result' });
  const filter = h('input', { id: 'audit-target', value: target, placeholder: 'case:12, user:alice, …', 'aria-label': 'Filter by target' });
  main.append(h('h1', {}, 'Audit log'),
    h('div', { class: 'panel' }, h('form', { onsubmit: (e) => { e.preventDefault(); location.hash = '#/audit' + (filter.value ? '?target=' + encodeURIComponent(filter.value) : ''); } }, filter, ' ', h('button', { type: 'submit' }, 'Filter')),
      h('p', {}, h('button', { id: 'audit-verify', onclick: async () => { const v = await api('GET', '/api/v1/audit/verify'); result.textContent = v.ok ? ' hash chain intact (' + v.entries + ' entries)' : ' BROKEN at entry ' + v.first_bad_seq + ': ' + v.problem; result.className = v.ok ? 'badge ok' : 'badge bad'; } }, 'Verify hash chain'), result)),
    h('table', { class: 'panel', id: 'audit-table' }, h('thead', {}, h('tr', {}, ['#', 'When', 'Who', 'Action', 'What', 'Detail', 'From'].map((t) => h('th', {}, t)))),
      h('tbody', {}, d.entries.map((a) => h('tr', {}, h('td', { class: 'num' }, a.seq), h('td', { class: 'nowrap', title: localTime(a.at_utc) }, shortUtc(a.at_utc)), h('td', {}, a.actor), h('td', {}, a.action),
        h('td', {}, a.target.startsWith('case:') ? h('a', { href: '#/case/' + a.target.slice(5) }, a.target) : a.target), h('td', {}, a.detail), h('td', {}, a.ip))))));
}

async function showDevices() {
  const [d, a] = await Promise.all([api('GET', '/api/v1/devices'), api('GET', '/api/v1/alarms')]);
  const main = $('#main');
  main.replaceChildren();
  main.append(h('h1', {}, 'Devices'),
    h('table', { class: 'panel' }, h('thead', {}, h('tr', {}, ['Device', 'Site', 'Records', 'Highest seq', 'Last record'].map((t) => h('th', {}, t)))),
      h('tbody', {}, d.devices.map((x) => h('tr', {}, h('td', {}, x.device_id), h('td', {}, x.site), h('td', { class: 'num' }, x.records), h('td', { class: 'num' }, x.highest_seq), h('td', {}, localTime(x.last_received_utc)))))),
    alarmPanel(a.alarms, state.user.role !== 'admin'),
    healthPanel(d.devices.filter((x) => x.heartbeat).map((x) => ({ device_id: x.device_id, age_s: Math.round((Date.now() - Date.parse(x.heartbeat.received_utc)) / 1000), heartbeat: x.heartbeat.body }))));
}

/* ---------- routing and keys ---------- */
async function route() {
  if (!state.user) {
    try { await loadSession(); } catch (e) { return; }
  }
  const hash = location.hash || '#/queue';
  document.querySelectorAll('.top nav a').forEach((a) => a.removeAttribute('aria-current'));
  try {
    let m;
    if ((m = hash.match(/^#\/case\/(\d+)/))) await showCase(Number(m[1]));
    else if (hash.startsWith('#/audit')) { $('#nav-audit').setAttribute('aria-current', 'page'); await showAudit(); }
    else if (hash.startsWith('#/devices')) { $('#nav-devices').setAttribute('aria-current', 'page'); await showDevices(); }
    else if (await workRoute(hash)) { /* issue 7 pages (work.js) */ }
    else {
      const r = state.user.role;
      if (r === 'technician' || r === 'admin') { location.hash = r === 'admin' ? '#/audit' : '#/work'; return; }
      $('#nav-queue').setAttribute('aria-current', 'page'); await showQueue();
    }
  } catch (e) { if (state.user) say(e.message, 'error'); }
}

function toggleLegend(force) {
  const l = $('#legend');
  l.hidden = force === undefined ? !l.hidden : !force;
  $('#legend-button').setAttribute('aria-expanded', String(!l.hidden));
}

document.addEventListener('keydown', (e) => {
  if (!state.user || e.ctrlKey || e.metaKey || e.altKey) return;
  const typing = ['INPUT', 'TEXTAREA', 'SELECT'].includes(document.activeElement.tagName);
  if (e.key === 'Escape') { closeZoom(); closeReject(); toggleLegend(false); if (typing) document.activeElement.blur(); return; }
  if (typing) return;
  const k = e.key.toLowerCase();
  const onCase = !!state.current && location.hash.startsWith('#/case/');
  if (k === '?') { toggleLegend(); e.preventDefault(); return; }
  if (k === 'q') { location.hash = '#/queue'; return; }
  if (k === 'n' && state.user.may_review) { e.preventDefault(); nextCase(); return; }
  if (workKey(e, k)) return;
  if (!onCase) return;
  if (k === 'l') { toggleLights(); return; }
  if (k === 'p') { previousCase(); return; }
  if (k === 'z') { const f = state.current.frames.plate; if ($('#zoom')) closeZoom(); else if (f) zoom(media(f), 'Licence plate'); return; }
  if (k === 'v') { toggleClip(); return; }
  if (state.rejectOpen) {
    const idx = k === '0' ? 9 : k === '-' ? 10 : /^[1-9]$/.test(k) ? Number(k) - 1 : -1;
    if (idx >= 0 && state.reasons[idx]) { pickReason(state.reasons[idx].code); e.preventDefault(); return; }
    if (e.key === 'Enter') { decide('reject'); e.preventDefault(); return; }
    return;
  }
  if (k === 'a') { decide('approve'); e.preventDefault(); return; }
  if (k === 'r') { openReject(); e.preventDefault(); return; }
  if (/^[1-9]$/.test(k)) {
    const boxes = document.querySelectorAll('.checklist input[data-key]');
    const b = boxes[Number(k) - 1];
    if (b && !b.disabled) b.checked = !b.checked;
  }
});

window.addEventListener('hashchange', route);
window.addEventListener('DOMContentLoaded', () => {
  $('#logout').addEventListener('click', async () => { try { await api('POST', '/api/v1/logout'); } catch (e) { /* already out */ } state.user = null; state.history = []; say(''); showLogin('Logged out.'); });
  $('#legend-button').addEventListener('click', () => toggleLegend());
  $('#search-form').addEventListener('submit', (e) => { e.preventDefault(); const q = $('#search').value.trim(); if (q) location.hash = '#/search?q=' + encodeURIComponent(q); });
  route();
});
