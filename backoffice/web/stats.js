/* stopline back-office: statistics pages (issue 7). Charts are plain SVG drawn here:
 * no chart library, no CDN. Each chart has a text alternative (aria-label and a table
 * on print). */
'use strict';

/* Elements come from app.js's h(), which builds SVG tags in the SVG namespace. */

/* Horizontal bars: one row per item. */
function barChart(id, items, opts) {
  const o = Object.assign({ width: 560, row: 22, label: 150, color: 'var(--accent)', unit: '' }, opts || {});
  const max = Math.max(1, ...items.map((i) => i.value));
  const H = items.length * o.row + 8;
  const plot = o.width - o.label - 50;
  return h('svg', { id, viewBox: '0 0 ' + o.width + ' ' + H, role: 'img', class: 'chart',
    'aria-label': items.map((i) => i.label + ': ' + i.value + o.unit).join('; ') || 'no data' },
  items.map((it, n) => {
    const y = 4 + n * o.row, w = Math.max(it.value ? 2 : 0, plot * it.value / max);
    return h('g', { class: 'bar', 'data-key': it.label },
      h('text', { x: o.label - 6, y: y + o.row * 0.68, 'text-anchor': 'end', 'font-size': 12 }, it.label.length > 24 ? it.label.slice(0, 23) + '…' : it.label),
      h('rect', { x: o.label, y: y + 3, width: w, height: o.row - 7, fill: it.color || o.color, rx: 2 }, h('title', {}, it.label + ': ' + it.value + o.unit)),
      h('text', { x: o.label + w + 5, y: y + o.row * 0.68, 'font-size': 12 }, it.value + o.unit));
  }));
}

/* 24 vertical bars, one per local hour. */
function hourChart(id, hours) {
  const W = 560, H = 150, max = Math.max(1, ...hours.map((h) => h.count));
  const bw = (W - 40) / 24;
  return h('svg', { id, viewBox: '0 0 ' + W + ' ' + H, role: 'img', class: 'chart', 'aria-label': 'Violations by hour: ' + hours.filter((x) => x.count).map((x) => x.key + 'h ' + x.count).join(', ') },
    hours.map((x, i) => {
      const bh = (H - 40) * x.count / max;
      return h('g', { class: 'bar', 'data-key': x.key },
        h('rect', { x: 30 + i * bw + 1, y: H - 22 - bh, width: bw - 2, height: bh, fill: 'var(--accent)' }, h('title', {}, x.key + ':00 ' + x.count)),
        i % 3 === 0 ? h('text', { x: 30 + i * bw + bw / 2, y: H - 8, 'font-size': 11, 'text-anchor': 'middle' }, String(x.key).padStart(2, '0')) : null,
        x.count ? h('text', { x: 30 + i * bw + bw / 2, y: H - 25 - bh, 'font-size': 10, 'text-anchor': 'middle' }, x.count) : null);
    }), h('line', { x1: 28, x2: W - 8, y1: H - 22, y2: H - 22, stroke: '#888' }));
}

/* Approved and rejected per reviewer, stacked, with the median time on case. */
function reviewerChart(id, rows, minimumMs) {
  const W = 560, row = 24, label = 110, plot = W - label - 230;
  const max = Math.max(1, ...rows.map((r) => r.approved + r.rejected));
  return h('svg', { id, viewBox: '0 0 ' + W + ' ' + (rows.length * row + 8), role: 'img', class: 'chart',
    'aria-label': rows.map((r) => r.reviewer + ': ' + r.approved + ' approved, ' + r.rejected + ' rejected, median ' + (r.median_time_on_case_ms / 1000).toFixed(0) + ' s').join('; ') },
  rows.map((r, n) => {
    const y = 4 + n * row, a = plot * r.approved / max, j = plot * r.rejected / max;
    const fast = r.median_time_on_case_ms < minimumMs;
    return h('g', { class: 'bar', 'data-key': r.reviewer },
      h('text', { x: label - 6, y: y + 16, 'text-anchor': 'end', 'font-size': 12 }, r.reviewer),
      h('rect', { x: label, y: y + 3, width: a, height: row - 7, fill: 'var(--green)' }, h('title', {}, r.approved + ' approved')),
      h('rect', { x: label + a, y: y + 3, width: j, height: row - 7, fill: 'var(--red)' }, h('title', {}, r.rejected + ' rejected')),
      h('text', { x: label + a + j + 5, y: y + 16, 'font-size': 12, fill: fast ? 'var(--bad)' : null },
        r.approved + ' / ' + r.rejected + ' · median ' + (r.median_time_on_case_ms / 1000).toFixed(0) + ' s' + (r.faster_than_minimum ? ' · ' + r.faster_than_minimum + ' fast' : '')));
  }));
}

/* Measured yellow per site: every value as a tick, the median, and the minimum. */
function yellowChart(id, sites) {
  const W = 560, row = 34, label = 150;
  const all = sites.flatMap((s) => s.values_us.concat([s.minimum_required_us]));
  const lo = Math.min(...all) / 1e6 - 0.2, hi = Math.max(...all) / 1e6 + 0.2;
  const x = (us) => label + (W - label - 20) * (us / 1e6 - lo) / Math.max(0.1, hi - lo);
  return h('svg', { id, viewBox: '0 0 ' + W + ' ' + (sites.length * row + 26), role: 'img', class: 'chart',
    'aria-label': sites.map((s) => s.site + ': median ' + (s.median_us / 1e6).toFixed(2) + ' s, minimum ' + (s.minimum_required_us / 1e6).toFixed(2) + ' s, ' + s.below_minimum + ' below').join('; ') },
  sites.map((s, n) => {
    const y = 6 + n * row;
    return h('g', { class: 'strip', 'data-key': s.site },
      h('text', { x: label - 6, y: y + 16, 'text-anchor': 'end', 'font-size': 12 }, s.site.length > 22 ? s.site.slice(0, 21) + '…' : s.site),
      s.values_us.map((v) => h('line', { x1: x(v), x2: x(v), y1: y + 4, y2: y + 22, stroke: v < s.minimum_required_us ? 'var(--red)' : 'var(--accent)', 'stroke-opacity': 0.6 })),
      h('line', { x1: x(s.minimum_required_us), x2: x(s.minimum_required_us), y1: y, y2: y + 26, stroke: 'var(--red)', 'stroke-dasharray': '3 2', 'stroke-width': 2 }, h('title', {}, 'minimum ' + (s.minimum_required_us / 1e6).toFixed(2) + ' s')),
      h('circle', { cx: x(s.median_us), cy: y + 13, r: 4, fill: '#000' }, h('title', {}, 'median ' + (s.median_us / 1e6).toFixed(2) + ' s')));
  }),
  h('text', { x: label, y: sites.length * row + 22, 'font-size': 11 }, lo.toFixed(1) + ' s'),
  h('text', { x: W - 20, y: sites.length * row + 22, 'font-size': 11, 'text-anchor': 'end' }, hi.toFixed(1) + ' s'));
}

/* Uptime (seconds since boot) over time: a drop is a reboot. Self-checks as dots. */
function deviceChart(id, d, fromMs, toMs) {
  const W = 560, H = 120;
  const t = (iso) => Date.parse(iso);
  const x = (ms) => 40 + (W - 50) * (ms - fromMs) / Math.max(1, toMs - fromMs);
  const beats = d.heartbeats.filter((b) => typeof b.uptime_s === 'number');
  const maxUp = Math.max(1, ...beats.map((b) => b.uptime_s));
  const y = (s) => 70 - 60 * s / maxUp;
  return h('svg', { id, viewBox: '0 0 ' + W + ' ' + H, role: 'img', class: 'chart',
    'aria-label': d.device_id + ': ' + d.heartbeats.length + ' heartbeats, availability ' + Math.round(d.availability * 100) + ' %, ' + d.self_checks.length + ' self-checks, ' + d.self_checks_passed + ' passed' },
  h('text', { x: 2, y: 12, 'font-size': 10 }, 'uptime'),
  h('polyline', { fill: 'none', stroke: 'var(--accent)', 'stroke-width': 1.5, points: beats.map((b) => x(t(b.at_utc)) + ',' + y(b.uptime_s)).join(' ') }),
  beats.filter((b) => b.radar_ok === false || b.camera_ok === false || b.signal_ok === false).map((b) => h('circle', { cx: x(t(b.at_utc)), cy: y(b.uptime_s), r: 3, fill: 'var(--red)' }, h('title', {}, 'unhealthy heartbeat ' + b.at_utc))),
  h('text', { x: 2, y: 96, 'font-size': 10 }, 'self-check'),
  h('line', { x1: 40, x2: W - 10, y1: 92, y2: 92, stroke: '#ccc' }),
  d.self_checks.map((c) => h('circle', { class: c.passed ? 'pass' : 'fail', cx: x(t(c.at_utc)), cy: 92, r: 4, fill: c.passed ? 'var(--green)' : 'var(--red)' },
    h('title', {}, c.at_utc + ' ' + c.kind + (c.passed ? ' passed' : ' FAILED ' + c.failed.join(', '))))),
  h('text', { x: 40, y: H - 4, 'font-size': 10 }, new Date(fromMs).toISOString().slice(0, 10)),
  h('text', { x: W - 10, y: H - 4, 'font-size': 10, 'text-anchor': 'end' }, new Date(toMs).toISOString().slice(0, 10)));
}

async function showStats() {
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  const days = Number(params.get('days')) || 30;
  const d = await api('GET', '/api/v1/stats?days=' + days);
  const main = $('#main');
  const pick = h('select', { id: 'stats-days', 'aria-label': 'Period', onchange: () => { location.hash = '#/stats?days=' + pick.value; } },
    [7, 30, 90, 365].map((n) => h('option', { value: n }, 'last ' + n + ' days')));
  pick.value = String(days);
  const item = (x) => ({ label: String(x.label || x.key).replace(/_/g, ' '), value: x.count });
  const panel = (title, chart, note) => h('section', { class: 'panel chartpanel' }, h('h2', {}, title), chart, note ? h('p', { class: 'muted' }, note) : null);
  const from = Date.parse(d.from_utc), to = Date.parse(d.to_utc);
  main.replaceChildren(h('h1', {}, 'Statistics'),
    h('p', { class: 'noprint' }, pick, ' ', h('button', { onclick: () => window.print() }, 'Print')),
    h('div', { class: 'stats' }, [['total', 'violations'], ['approved', 'approved'], ['rejected', 'rejected'], ['queued', 'waiting']].map(([k, l]) =>
      h('div', { class: 'stat' }, h('b', { id: 'stat-' + k }, d[k]), h('span', {}, l)))),
    h('div', { class: 'chartgrid' },
      panel('Violations by site', barChart('chart-site', d.by_site.map(item))),
      panel('Violations by type', barChart('chart-type', d.by_type.map(item))),
      panel('Violations by lane', barChart('chart-lane', d.by_lane.map(item))),
      panel('Violations by hour of day', hourChart('chart-hour', d.by_hour)),
      panel('Rejections by reason', d.rejections_by_reason.length ? barChart('chart-reasons', d.rejections_by_reason.map(item), { color: 'var(--red)', label: 200 }) : h('p', { class: 'muted' }, 'No rejections.')),
      panel('Decisions by reviewer', d.by_reviewer.length ? reviewerChart('chart-reviewers', d.by_reviewer, d.minimum_review_ms) : h('p', { class: 'muted' }, 'No decisions.'),
        'green approved, red rejected; decisions under ' + (d.minimum_review_ms / 1000) + ' s are flagged for a second review'),
      panel('Measured yellow per site', d.yellow_by_site.length ? yellowChart('chart-yellow', d.yellow_by_site) : h('p', { class: 'muted' }, 'No red-light records.'),
        'each tick one red-light record; dot the median; dashed line the configured minimum')),
    h('h2', {}, 'Devices'),
    h('div', { class: 'chartgrid' }, d.devices.map((dev) => panel(dev.device_id + ' · ' + dev.site + ' · heartbeat in ' + dev.hours_with_heartbeat + ' of ' + dev.hours_observed + ' h (' + Math.round(dev.availability * 100) + ' %)',
      deviceChart('chart-device-' + dev.device_id, dev, from, to), dev.self_checks.length + ' self-checks, ' + dev.self_checks_passed + ' passed'))));
}
