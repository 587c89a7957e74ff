/* stopline back-office: the work after the review (issue 7). Technician: tasks, case
 * files, mailing, payments, contacts, overdue list, summons-service report, search.
 * Supervisor: second reviews. Uses h(), api(), say(), $ from app.js. Keyboard: "/"
 * search, W work, M mailing, O overdue, S summons, T statistics; on a case file P
 * payment, C contact. */
'use strict';

const daysAgo = (n) => { const d = new Date(Date.now() - n * 86400000); return d.getFullYear() + '-' + String(d.getMonth() + 1).padStart(2, '0') + '-' + String(d.getDate()).padStart(2, '0'); };
const today = () => daysAgo(0);
const typeName = (t) => (t || '').replace(/_/g, ' ');
const caseLink = (id) => h('a', { href: '#/file/' + id }, 'Case ' + id);
const table = (id, heads, rows, attrs) => h('table', Object.assign({ class: 'panel', id }, attrs || {}),
  h('thead', {}, h('tr', {}, heads.map((t) => h('th', { class: /^(Amount|Balance|Paid|Days|#)/.test(t) ? 'num' : null }, t)))),
  h('tbody', {}, rows));
const field = (label, input) => h('label', { class: 'field' }, h('span', {}, label), input);

/* A small form: fields by name, submit sends JSON; `after` gets the answer. */
function form(id, title, fields, submitLabel, send, after) {
  const inputs = {};
  const els = fields.map((f) => {
    let input;
    if (f.options) input = h('select', { id: id + '-' + f.name, name: f.name }, f.options.map((o) => h('option', { value: o[0] }, o[1])));
    else if (f.area) input = h('textarea', { id: id + '-' + f.name, name: f.name, rows: 2 });
    else input = h('input', { id: id + '-' + f.name, name: f.name, type: f.type || 'text', placeholder: f.placeholder || '', required: f.required || null, autocomplete: 'off' });
    if (f.value !== undefined) input.value = f.value;
    inputs[f.name] = input;
    return field(f.label, input);
  });
  const status = h('span', { class: 'formstatus', role: 'status' });
  const el = h('form', { class: 'panel workform', id, onsubmit: async (e) => {
    e.preventDefault();
    const body = {};
    for (const f of fields) {
      const v = inputs[f.name].value;
      if (f.type === 'checkbox') body[f.name] = inputs[f.name].checked;
      else if (f.bool) { if (v !== '') body[f.name] = v === 'yes'; }
      else if (v !== '') body[f.name] = v;
    }
    try { const out = await send(body); status.textContent = ''; if (after) await after(out); }
    catch (ex) { status.textContent = ex.message; status.className = 'formstatus error'; say(ex.message, 'error'); }
  } }, h('h2', {}, title), h('div', { class: 'fields' }, els), h('div', { class: 'decide' }, h('button', { type: 'submit', class: 'primary', id: id + '-submit' }, submitLabel), status));
  el.inputs = inputs;
  return el;
}

/* ---------- search ---------- */
async function showSearch() {
  const q = new URLSearchParams(location.hash.split('?')[1] || '').get('q') || '';
  $('#search').value = q;
  const d = await api('GET', '/api/v1/search?q=' + encodeURIComponent(q));
  const main = $('#main');
  main.replaceChildren(h('h1', {}, 'Search: ' + q));
  if (!d.results.length) { main.append(h('p', { class: 'muted' }, 'Nothing found for “' + q + '”. Try a plate, an owner\'s name, a citation number or a case id.')); return; }
  if (d.results.length === 1 && /^\s*(case\s*)?#?\d+\s*$/i.test(q)) { location.replace('#/file/' + d.results[0].case_id); return; }
  main.append(table('search-table', ['Case', 'Plate', 'Party', 'Type / site', 'Stage', 'Citation', 'Balance'],
    d.results.map((r) => h('tr', { 'data-case': r.case_id, class: 'rowlink', onclick: () => { location.hash = '#/file/' + r.case_id; } },
      h('td', {}, caseLink(r.case_id)), h('td', { class: 'mono' }, (r.plate || '') + ' ' + (r.state || '')), h('td', {}, r.party || ''),
      h('td', {}, typeName(r.type) + ' · ' + r.site), h('td', {}, r.stage ? typeName(r.stage) : r.status),
      h('td', {}, r.citation ? r.citation.number + ' (' + r.citation.status + ')' : '—'),
      h('td', { class: 'num' }, r.citation && r.citation.payable ? r.citation.balance : '')))));
  const first = main.querySelector('#search-table a'); if (first) first.focus();
}

/* ---------- tasks ---------- */
async function showWork() {
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  const role = params.get('role') ?? (state.user.role === 'technician' ? 'technician' : state.user.role === 'reviewer' ? 'reviewing_officer' : '');
  const d = await api('GET', '/api/v1/tasks?role=' + encodeURIComponent(role));
  const main = $('#main');
  const pick = h('select', { id: 'task-role', 'aria-label': 'Owning role', onchange: () => { location.hash = '#/work?role=' + pick.value; } },
    h('option', { value: '' }, 'All roles'), d.roles.map((r) => h('option', { value: r.key }, r.label)));
  pick.value = role;
  const overdue = d.tasks.filter((t) => t.overdue).length;
  main.replaceChildren(h('h1', {}, 'Work'),
    h('div', { class: 'stats' },
      h('div', { class: 'stat' }, h('b', { id: 'task-count' }, d.tasks.length), h('span', {}, 'open tasks')),
      h('div', { class: 'stat' + (overdue ? ' late' : '') }, h('b', {}, overdue), h('span', {}, 'past due'))),
    h('p', { class: 'noprint' }, field('Owning role ', pick), ' ', h('button', { onclick: () => window.print() }, 'Print')));
  if (d.unrouted.length)
    main.append(h('section', { class: 'panel' }, h('h2', {}, 'Approved, not routed (' + d.unrouted.length + ')'),
      h('p', { class: 'muted' }, 'The rule table could not be applied yet (see the audit log of the case). Check the plate and route again.'),
      h('ul', {}, d.unrouted.map((u) => h('li', {}, caseLink(u.case_id), ' · ' + typeName(u.type) + ' · ' + u.site)))));
  main.append(d.tasks.length ? table('work-table', ['Due', 'Owner', 'Task', 'Case', 'Plate', 'Detail', ''],
    d.tasks.map((t) => h('tr', { 'data-task': t.id, class: t.overdue ? 'late' : null },
      h('td', { class: 'nowrap' }, t.due_date, t.overdue ? h('span', { class: 'badge bad' }, 'past due') : null),
      h('td', {}, t.role_label), h('td', {}, t.title), h('td', {}, caseLink(t.case_id)), h('td', { class: 'mono' }, (t.plate || '') + ' ' + (t.state || '')),
      h('td', { class: 'detail' }, t.detail, t.closes_by ? h('span', { class: 'muted block' }, 'Closes when you ' + t.closes_by) : null),
      h('td', { class: 'noprint' }, t.closes_by ? '' : h('button', { onclick: async () => {
        const note = prompt('What was done? (kept in the audit log)');
        if (!note) return;
        try { await api('POST', '/api/v1/tasks/' + t.id + '/done', { note }); say('Task done.', 'ok'); showWork(); } catch (e) { say(e.message, 'error'); }
      } }, 'Done…')))))
    : h('p', { class: 'muted panel' }, 'No open tasks for this role.'));
}

/* ---------- case file ---------- */
const fileActions = {
  route: (c) => form('route-form', 'Route through the rule table', c.vehicle.needs_lights ? [{ name: 'emergency_lights', label: 'Emergency lights activated', options: [['', '—'], ['yes', 'yes'], ['no', 'no']], bool: true }] : [],
    'Route', (b) => api('POST', '/api/v1/cases/' + c.case.id + '/route', { facts: b.emergency_lights === undefined ? {} : { emergency_lights: b.emergency_lights } }), (o) => { say('Routed: ' + o.then, 'ok'); showFile(c.case.id); }),
  set_vehicle: (c) => form('vehicle-form', 'Plate and state', [{ name: 'plate', label: 'Plate', value: c.vehicle.plate }, { name: 'state', label: 'State', value: c.vehicle.state }],
    'Save and look up', (b) => api('POST', '/api/v1/cases/' + c.case.id + '/vehicle', b), () => showFile(c.case.id)),
  declaration: (c) => form('declaration-form', 'Registered owner\'s declaration', [
    { name: 'driver_name', label: 'Driver named (empty: swears not the driver, names nobody)' }, { name: 'driver_address', label: 'Driver\'s address' },
    { name: 'driver_phone', label: 'Driver\'s phone' }, { name: 'received_date', label: 'Received', type: 'date', value: today() }, { name: 'note', label: 'Note', area: true }],
  'Record declaration', (b) => api('POST', '/api/v1/cases/' + c.case.id + '/declaration', b), (o) => { say(o.then, 'ok'); showFile(c.case.id); }),
  rental_answer: (c) => form('rental-form', 'Rental business names the renter' + (c.rental_window_ends ? ' (window ends ' + c.rental_window_ends + ')' : ''), [
    { name: 'renter_name', label: 'Renter', required: true }, { name: 'renter_address', label: 'Known mailing address', required: true },
    { name: 'renter_phone', label: 'Phone' }, { name: 'received_date', label: 'Answer received', type: 'date', value: today() }],
  'Record answer', (b) => api('POST', '/api/v1/cases/' + c.case.id + '/rental-answer', b), (o) => { say(o.then, 'ok'); showFile(c.case.id); }),
  rental_lapse: (c) => h('section', { class: 'panel' }, h('h2', {}, 'No answer from the rental business'),
    h('p', {}, c.rental_window_open ? 'The window is open until the end of ' + c.rental_window_ends + '.' : 'The window ended on ' + c.rental_window_ends + '.'),
    h('button', { id: 'rental-lapse', disabled: c.rental_window_open || null, onclick: async () => { try { const o = await api('POST', '/api/v1/cases/' + c.case.id + '/rental-lapse'); say(o.then, 'ok'); showFile(c.case.id); } catch (e) { say(e.message, 'error'); } } }, 'Issue the citation to the rental business')),
  department: (c) => form('department-form', 'Department identified by the Fleet Manager', [{ name: 'department', label: 'Department', required: true, value: (c.vehicle.registry || {}).department || '' },
    { name: 'contact', label: 'Department contact', required: true }, { name: 'date', label: 'Date', type: 'date', value: today() }, { name: 'note', label: 'Note', area: true }],
  'Record department', (b) => api('POST', '/api/v1/cases/' + c.case.id + '/department', b), (o) => { say(o.then, 'ok'); showFile(c.case.id); }),
  referral: (c) => form('referral-form', 'Record of referral (Traffic Lieutenant)', [{ name: 'referred_date', label: 'Date of referral', type: 'date', value: today() },
    { name: 'person_contacted', label: 'Person contacted', required: true, value: (c.vehicle.registry || {}).agency_contact || '' },
    { name: 'organization', label: 'Agency / department', required: true, value: (c.vehicle.registry || {}).agency || (c.vehicle.registry || {}).department || '' },
    { name: 'disposition', label: 'Disposition', required: true, placeholder: 'e.g. referred to Lieutenant Smith of the KCSO' }],
  'Record referral', (b) => api('POST', '/api/v1/cases/' + c.case.id + '/referral', b), () => { say('Referral recorded.', 'ok'); showFile(c.case.id); }),
  ops_finding: (c) => form('ops-form', 'Office of Professional Standards finding', [
    { name: 'justified', label: 'Justified', options: [['', '—'], ['yes', 'yes: cancel / pre-empt'], ['no', 'no']], bool: true },
    { name: 'employee', label: 'Employee (id)' }, { name: 'reimburse', label: 'Employee elects to reimburse', options: [['no', 'no'], ['yes', 'yes']], bool: true },
    { name: 'rebuttal', label: 'Rebuttal of the on-duty presumption', area: true }, { name: 'note', label: 'Note', area: true }],
  'Record finding', (b) => api('POST', '/api/v1/cases/' + c.case.id + '/ops-finding', b), (o) => { say(o.then + (o.task.detail ? ' — ' + o.task.detail : ''), 'ok'); showFile(c.case.id); }),
};

function photo(sha, label, id) {
  return sha ? h('figure', {}, h('img', { id, src: '/api/v1/media/' + sha, alt: label, onclick: () => zoom('/api/v1/media/' + sha, label) }), h('figcaption', {}, label)) : h('p', { class: 'muted' }, label + ': none');
}

function vehicleSummary(v) {
  const r = v.registry;
  return h('dl', { class: 'databar', id: 'registry' },
    [['Plate', v.plate + ' ' + v.state], ['Source', v.source],
      ['Registered owner', r ? r.owner_name : 'not in the registry', !r], ['Class', r ? r.ownership_label : '—'],
      ['Vehicle', r ? r.year + ' ' + r.make + ' ' + r.model : '—'], ['Colour', r ? r.colour : '—'],
      r && r.agency ? ['Agency', r.agency + ' · ' + r.agency_contact] : null, r && r.department ? ['Department', r.department] : null]
      .filter(Boolean).map(([k, val, bad]) => h('div', {}, h('dt', {}, k), h('dd', { class: bad ? 'bad' : null }, val))));
}

async function showFile(id) {
  const c = await api('GET', '/api/v1/files/' + id);
  state.file = c;
  const k = c.case, f = c.file;
  const main = $('#main');
  const payable = c.citations.filter((x) => x.payable && x.status === 'issued');
  const balance = payable.length ? payable[payable.length - 1].balance.replace('$', '') : '';
  main.replaceChildren(
    h('div', { class: 'casehead' }, h('h1', { id: 'file-title' }, 'Case ' + k.id + ' · ' + typeName(k.type) + ' · ' + k.site),
      h('span', { class: 'badge ' + (k.status === 'approved' ? 'ok' : k.status === 'rejected' ? 'bad' : 'warn') }, k.status),
      f ? h('span', { class: 'badge', id: 'file-stage' }, typeName(f.stage)) : null, f ? h('span', { class: 'badge' }, typeName(f.outcome)) : null,
      h('span', { class: 'noprint spacer' }), h('a', { class: 'noprint', href: '/api/v1/cases/' + k.id + '/court-packet', id: 'court-packet' }, 'Court packet (ZIP)'),
      h('button', { class: 'noprint', onclick: () => window.print() }, 'Print')),
    /* The lane only when the record knows it (speed records have none: 0). */
    h('dl', { class: 'databar panel' }, [['Violation', k.event_local], ['Location', k.location], k.lane > 0 ? ['Lane', k.lane] : null, ['Code', k.statute],
      ['Decision', k.decision ? k.decision + (k.reason ? ' (' + typeName(k.reason) + ')' : '') + ' by ' + k.decided_by : 'not decided'],
      ['Record', k.device_id + ' #' + k.seq]].filter(Boolean).map(([a, b]) => h('div', {}, h('dt', {}, a), h('dd', {}, b)))));
  const left = h('div', {});
  const right = h('div', {});
  main.append(h('div', { class: 'caselayout' }, left, right));
  left.append(h('section', { class: 'panel', 'aria-label': 'Photos' }, h('div', { class: 'shots' }, photo(k.frames.a, 'Photo 1', 'file-a'), photo(k.frames.b, 'Photo 2', 'file-b')),
    h('div', { class: 'platerow' }, photo(k.frames.plate, 'Plate', 'file-plate'), vehicleSummary(c.vehicle))));
  /* Documents and money. */
  left.append(h('section', { class: 'panel' }, h('h2', {}, 'Documents'), c.citations.length ? table('documents-table', ['Number', 'Kind', 'To', 'Status', 'Mailed', 'Due', 'Amount', 'Balance', ''],
    c.citations.map((x) => h('tr', { 'data-citation': x.id }, h('td', { class: 'mono' }, x.number), h('td', {}, typeName(x.kind)), h('td', {}, x.recipient_name, h('span', { class: 'muted block' }, x.recipient_address)),
      h('td', {}, x.status), h('td', {}, x.mailed_date), h('td', {}, x.due_date), h('td', { class: 'num' }, x.payable ? x.amount : ''), h('td', { class: 'num' }, x.payable ? x.balance : ''),
      h('td', {}, x.kind === 'reimbursement' ? '' : h('a', { href: '/api/v1/citations/' + x.id + '/pdf', target: '_blank' }, x.has_pdf ? 'PDF' : 'preview')))), { class: 'plain' })
    : h('p', { class: 'muted' }, 'No documents.')));
  left.append(h('section', { class: 'panel' }, h('h2', {}, 'Payments'), c.payments.length ? table('payments-table', ['Date', 'Amount', 'Method', 'Reference', 'Citation', 'By'],
    c.payments.map((p) => h('tr', {}, h('td', {}, p.paid_date), h('td', { class: 'num' }, p.amount), h('td', {}, p.method), h('td', {}, p.reference), h('td', { class: 'mono' }, p.citation), h('td', {}, p.recorded_by))), { class: 'plain' })
    : h('p', { class: 'muted' }, 'No payments.')));
  left.append(h('section', { class: 'panel' }, h('h2', {}, 'Contact log'), c.contacts.length ? table('contacts-table', ['When', 'Channel', 'Person', 'Outcome', 'Notes', 'By'],
    c.contacts.map((x) => h('tr', {}, h('td', { class: 'nowrap' }, x.at), h('td', {}, x.channel), h('td', {}, x.person), h('td', {}, x.outcome), h('td', {}, x.notes), h('td', {}, x.recorded_by))), { class: 'plain' })
    : h('p', { class: 'muted' }, 'No contacts yet.')));
  left.append(h('section', { class: 'panel' }, h('h2', {}, 'Tasks'), c.tasks.length ? h('ol', { class: 'tasks' }, c.tasks.map((t) => h('li', { class: t.status === 'open' ? (t.overdue ? 'late' : 'open') : 'done' },
    h('b', {}, t.title), ' — ' + t.role_label + ', due ' + t.due_date + (t.status === 'open' ? '' : ' · done: ' + (t.outcome || '')), t.detail ? h('span', { class: 'muted block' }, t.detail) : null)))
    : h('p', { class: 'muted' }, 'No tasks.')));
  if (c.referrals.length)
    left.append(h('section', { class: 'panel' }, h('h2', {}, 'Referrals'), table('referrals-table', ['Date', 'Person contacted', 'Organization', 'Disposition', 'By'],
      c.referrals.map((r) => h('tr', {}, h('td', {}, r.referred_date), h('td', {}, r.person_contacted), h('td', {}, r.organization), h('td', {}, r.disposition), h('td', {}, r.recorded_by))), { class: 'plain' })));
  if (c.reports.length)
    left.append(h('section', { class: 'panel' }, h('h2', {}, 'Employee reports'), h('ul', {}, c.reports.map((r) => h('li', {}, typeName(r.kind) + ': ' + r.employee + (r.supervisor ? ' (supervisor ' + r.supervisor + ')' : '') + ', ' + (r.justified ? 'justified' : 'not justified') + ' — ' + r.narrative)))));
  /* Forms on the right: contact information, then what the stage allows. */
  if (f) {
    right.append(form('contactinfo-form', 'Current contact information', [{ name: 'name', label: 'Name', value: f.contact.name }, { name: 'address', label: 'Address', value: f.contact.address },
      { name: 'phone', label: 'Phone', value: f.contact.phone }], 'Save', (b) => api('POST', '/api/v1/cases/' + k.id + '/contact-info', b), () => { say('Contact information saved.', 'ok'); showFile(k.id); }));
  }
  if (c.actions.includes('payment'))
    right.append(form('pay', 'Record a payment (P)', [{ name: 'amount', label: 'Amount ($)', value: balance, required: true },
      { name: 'method', label: 'Method', options: [['card', 'card'], ['check', 'check'], ['cash', 'cash'], ['online', 'online'], ['money_order', 'money order'], ['other', 'other']] },
      { name: 'reference', label: 'Reference' }, { name: 'paid_date', label: 'Paid on', type: 'date', value: today() }],
    'Record payment', (b) => api('POST', '/api/v1/cases/' + k.id + '/payments', b), (o) => { say('Payment recorded on ' + o.citation + '; balance ' + o.balance + (o.paid_in_full ? ' (paid in full)' : ''), 'ok'); showFile(k.id); }));
  if (c.actions.includes('contact'))
    right.append(form('contact', 'Log a contact (C)', [{ name: 'channel', label: 'Channel', options: [['phone', 'phone'], ['mail', 'mail'], ['email', 'email'], ['in_person', 'in person'], ['other', 'other']] },
      { name: 'person', label: 'Person', value: f ? f.contact.name : '' },
      { name: 'outcome', label: 'Outcome', options: [['reached', 'reached'], ['promised to pay', 'promised to pay'], ['left voicemail', 'left voicemail'], ['no answer', 'no answer'], ['wrong number', 'wrong number'], ['disputes the citation', 'disputes the citation'], ['hearing requested', 'hearing requested'], ['other', 'other']] },
      { name: 'notes', label: 'Notes', area: true }, { name: 'date', label: 'Date', type: 'date', value: today() }],
    'Log contact', (b) => api('POST', '/api/v1/cases/' + k.id + '/contacts', b), () => { say('Contact logged.', 'ok'); showFile(k.id); }));
  for (const a of c.actions) if (fileActions[a] && !(a === 'ops_finding' && !state.user.role.startsWith('supervisor'))) right.append(fileActions[a](c));
  if (c.second_review) right.append(h('section', { class: 'panel' }, h('h2', {}, 'Second review'),
    h('p', {}, (c.second_review.reason === 'rubber_stamp' ? 'Flagged: decided in ' + (c.second_review.time_on_case_ms / 1000).toFixed(1) + ' s (minimum ' + (c.second_review.minimum_ms / 1000) + ' s)' : 'Random sample') +
      (c.second_review.verdict ? ' · ' + c.second_review.verdict + ' by ' + c.second_review.reviewer : ' · pending'))));
  main.focus();
}

/* ---------- mailing ---------- */
async function showMailing() {
  const d = await api('GET', '/api/v1/mailing');
  const main = $('#main');
  const boxes = [];
  const date = h('input', { type: 'date', id: 'mail-date', value: today(), max: today() });
  const ids = () => boxes.filter((b) => b.checked).map((b) => Number(b.value));
  const print = h('a', { id: 'mail-print', href: '#', target: '_blank', onclick: (e) => { const sel = ids(); if (!sel.length) { e.preventDefault(); say('Select documents first.', 'error'); return; } print.href = '/api/v1/mailing/batch.pdf?ids=' + sel.join(','); } }, 'Print selected (one PDF)');
  main.replaceChildren(h('h1', {}, 'Mailing'), h('p', {}, d.pending.length + ' documents waiting' + (d.held ? '; ' + d.held + ' held while an inquiry runs' : '') + '.'));
  if (!d.pending.length) { main.append(h('p', { class: 'muted panel' }, 'Nothing to mail.')); return; }
  main.append(table('mailing-table', ['', 'Number', 'Kind', 'To', 'Case', 'Amount'], d.pending.map((x) => {
    const b = h('input', { type: 'checkbox', value: x.id, 'aria-label': 'Select ' + x.number });
    b.checked = true; boxes.push(b);
    return h('tr', { 'data-citation': x.id, 'data-case': x.case_id }, h('td', {}, b), h('td', { class: 'mono' }, x.number), h('td', {}, typeName(x.kind)),
      h('td', {}, x.recipient_name, h('span', { class: 'muted block' }, x.recipient_address)), h('td', {}, caseLink(x.case_id)), h('td', { class: 'num' }, x.payable ? x.amount : ''));
  })), h('div', { class: 'panel decide' }, print, field('Mailed on ', date),
    h('button', { class: 'primary', id: 'mark-mailed', onclick: async () => {
      const sel = ids(); if (!sel.length) { say('Select documents first.', 'error'); return; }
      try { const o = await api('POST', '/api/v1/mailing/mailed', { ids: sel, mailed_date: date.value }); say(o.mailed.length + ' documents marked mailed on ' + o.mailed_date + '.', 'ok'); showMailing(); } catch (e) { say(e.message, 'error'); }
    } }, 'Mark selected mailed')));
}

/* ---------- overdue and summons ---------- */
async function showOverdue() {
  const d = await api('GET', '/api/v1/overdue');
  const main = $('#main');
  main.replaceChildren(h('h1', {}, 'Overdue: unpaid past the due date'),
    h('p', {}, h('b', { id: 'overdue-count' }, d.count), ' cases, ' + d.total_balance + ' outstanding, as of ' + d.as_of + '. ',
      h('a', { class: 'noprint', href: '#/summons' }, 'Summons-service report'), ' ', h('button', { class: 'noprint', onclick: () => window.print() }, 'Print')));
  main.append(d.overdue.length ? table('overdue-table', ['Case', 'Citation', 'Name', 'Phone', 'Address', 'Balance', 'Due', 'Days', 'Last contact'],
    d.overdue.map((o) => h('tr', { 'data-case': o.case_id, class: 'rowlink', tabindex: 0, onclick: () => { location.hash = '#/file/' + o.case_id; }, onkeydown: (e) => { if (e.key === 'Enter') location.hash = '#/file/' + o.case_id; } },
      h('td', {}, caseLink(o.case_id)), h('td', { class: 'mono' }, o.number, o.kind === 'reimbursement' ? h('span', { class: 'muted block' }, 'reimbursement') : null), h('td', {}, o.name), h('td', { class: 'nowrap' }, o.phone),
      h('td', {}, o.address), h('td', { class: 'num' }, o.balance), h('td', { class: 'nowrap' }, o.due_date), h('td', { class: 'num' }, o.days_overdue),
      h('td', {}, o.last_contact ? o.last_contact + ' ' + o.last_outcome : '—')))) : h('p', { class: 'muted panel' }, 'Nothing overdue.'));
  const first = main.querySelector('#overdue-table tbody tr'); if (first) first.focus();
}

/* RFC 4180, enough for our own report. */
function parseCsv(text) {
  const rows = []; let row = [], cell = '', q = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (q) { if (ch === '"') { if (text[i + 1] === '"') { cell += '"'; i++; } else q = false; } else cell += ch; continue; }
    if (ch === '"') q = true; else if (ch === ',') { row.push(cell); cell = ''; } else if (ch === '\n') { row.push(cell); rows.push(row); row = []; cell = ''; } else if (ch !== '\r') cell += ch;
  }
  if (cell || row.length) { row.push(cell); rows.push(row); }
  return rows;
}

async function showSummons() {
  const res = await fetch('/api/v1/summons.csv', { credentials: 'same-origin' });
  if (!res.ok) throw new Error('summons report: HTTP ' + res.status);
  const rows = parseCsv(await res.text());
  const head = rows.shift() || [];
  const col = (name) => head.indexOf(name);
  const main = $('#main');
  main.replaceChildren(h('h1', {}, 'Summons service: unpaid past the deadline'),
    h('p', {}, h('b', { id: 'summons-count' }, rows.length), ' citations to serve, with current contact information. ',
      h('a', { class: 'noprint', href: '/api/v1/summons.pdf', target: '_blank', id: 'summons-pdf' }, 'PDF'), ' · ',
      h('a', { class: 'noprint', href: '/api/v1/summons.csv', id: 'summons-csv' }, 'CSV'), ' ', h('button', { class: 'noprint', onclick: () => window.print() }, 'Print')),
    rows.length ? table('summons-table', ['Case', 'Citation', 'Name', 'Current address', 'Phone', 'Plate', 'Violation', 'Due', 'Days', 'Balance', 'Last contact'],
      rows.map((r) => h('tr', { 'data-case': r[col('case_id')] }, h('td', {}, state.user.role === 'technician' || state.user.role === 'supervisor' ? caseLink(r[col('case_id')]) : r[col('case_id')]),
        h('td', { class: 'mono' }, r[col('citation')]), h('td', {}, r[col('name')]), h('td', {}, r[col('current_address')]), h('td', { class: 'nowrap' }, r[col('phone')]),
        h('td', { class: 'mono' }, r[col('plate')] + ' ' + r[col('state')]), h('td', {}, r[col('violation_date')] + ' ' + typeName(r[col('violation')]) + ', ' + r[col('location')]),
        h('td', { class: 'nowrap' }, r[col('due_date')]), h('td', { class: 'num' }, r[col('days_overdue')]), h('td', { class: 'num' }, r[col('balance')]),
        h('td', {}, (r[col('last_contact')] + ' ' + r[col('last_outcome')]).trim() || '—'))))
      : h('p', { class: 'muted panel' }, 'No unpaid citations past their deadline.'));
}

/* ---------- quality (supervisors) ---------- */
async function showQuality() {
  const d = await api('GET', '/api/v1/quality');
  const main = $('#main');
  const secs = (ms) => (ms / 1000).toFixed(1) + ' s';
  main.replaceChildren(h('h1', {}, 'Quality: second reviews'),
    h('p', {}, 'Decisions faster than ' + secs(d.minimum_ms) + ' are flagged; ' + d.sample_percent + ' % of the others are sampled at random. A second review is done by another supervisor.'));
  main.append(h('h2', {}, 'Waiting (' + d.pending.length + ')'), d.pending.length ? table('quality-table', ['Case', 'Why', 'Decision', 'By', 'Time on case', ''],
    d.pending.map((p) => h('tr', { 'data-case': p.case_id },
      h('td', {}, h('a', { href: '#/case/' + p.case_id }, 'Case ' + p.case_id), h('span', { class: 'muted block' }, typeName(p.type) + ' · ' + p.site)),
      h('td', {}, p.rubber_stamp ? h('span', { class: 'badge bad flag', title: 'decided in ' + secs(p.time_on_case_ms) + ', minimum ' + secs(p.minimum_ms) }, 'rubber stamp') : h('span', { class: 'badge' }, 'random sample')),
      h('td', {}, p.decision + (p.reject_reason ? ' (' + typeName(p.reject_reason) + ')' : '')), h('td', {}, p.decided_by),
      h('td', { class: 'num' + (p.rubber_stamp ? ' bad' : '') }, secs(p.time_on_case_ms)),
      h('td', { class: 'nowrap' }, p.decided_by === state.user.username ? h('span', { class: 'muted' }, 'your decision') : [
        h('button', { onclick: () => review(p.case_id, 'agree') }, 'Agree'), ' ',
        h('button', { onclick: () => review(p.case_id, 'disagree') }, 'Disagree…')]))))
    : h('p', { class: 'muted panel' }, 'Nothing waiting.'));
  main.append(h('h2', {}, 'Reviewers (last 30 days)'), table('reviewer-table', ['Reviewer', 'Approved', 'Rejected', 'Median time on case', 'Faster than the minimum'],
    d.reviewers.map((r) => h('tr', {}, h('td', {}, r.reviewer), h('td', { class: 'num' }, r.approved), h('td', { class: 'num' }, r.rejected), h('td', { class: 'num' }, secs(r.median_time_on_case_ms)),
      h('td', { class: 'num' + (r.faster_than_minimum ? ' bad' : '') }, r.faster_than_minimum)))));
  if (d.done.length) main.append(h('h2', {}, 'Done'), table('quality-done', ['Case', 'Why', 'Verdict', 'By', 'Note'], d.done.map((p) => h('tr', {},
    h('td', {}, 'Case ' + p.case_id), h('td', {}, p.reason.replace('_', ' ')), h('td', {}, p.verdict), h('td', {}, p.reviewer), h('td', {}, p.note)))));
}

async function review(id, verdict) {
  const note = verdict === 'disagree' ? prompt('Why do you disagree? (kept with the case)') : '';
  if (verdict === 'disagree' && !note) return;
  try { await api('POST', '/api/v1/cases/' + id + '/second-review', { verdict, note }); say('Second review of case ' + id + ': ' + verdict, 'ok'); showQuality(); } catch (e) { say(e.message, 'error'); }
}

/* ---------- routing and keys (called from app.js) ---------- */
async function workRoute(hash) {
  let m;
  const mark = (id) => { const a = $(id); if (a) a.setAttribute('aria-current', 'page'); };
  if ((m = hash.match(/^#\/file\/(\d+)/))) { await showFile(Number(m[1])); return true; }
  if (hash.startsWith('#/search')) { await showSearch(); return true; }
  if (hash.startsWith('#/work')) { mark('#nav-work'); await showWork(); return true; }
  if (hash.startsWith('#/mailing')) { mark('#nav-mailing'); await showMailing(); return true; }
  if (hash.startsWith('#/overdue')) { mark('#nav-overdue'); await showOverdue(); return true; }
  if (hash.startsWith('#/summons')) { mark('#nav-summons'); await showSummons(); return true; }
  if (hash.startsWith('#/quality')) { mark('#nav-quality'); await showQuality(); return true; }
  if (hash.startsWith('#/stats')) { mark('#nav-stats'); await showStats(); return true; }
  return false;
}

function workNav(role) {
  const show = (id, roles) => { const a = $(id); if (a) a.hidden = !roles.includes(role); };
  show('#nav-work', ['technician', 'supervisor', 'reviewer']);
  show('#nav-mailing', ['technician', 'supervisor']);
  show('#nav-overdue', ['technician', 'supervisor']);
  show('#nav-summons', ['technician', 'supervisor', 'reviewer']);
  show('#nav-quality', ['supervisor']);
  show('#nav-stats', ['technician', 'supervisor', 'admin']);
  $('#search-form').hidden = !['technician', 'supervisor', 'reviewer'].includes(role);
}

/* Keys outside the reviewer's case page; true when handled. */
function workKey(e, k) {
  const hash = location.hash;
  if (k === '/') { const s = $('#search'); if (s && !$('#search-form').hidden) { s.focus(); s.select(); e.preventDefault(); return true; } }
  const go = { w: '#/work', m: '#/mailing', o: '#/overdue', s: '#/summons', t: '#/stats' }[k];
  if (go && !hash.startsWith('#/case/')) { const nav = $('#nav-' + go.slice(2)); if (nav && !nav.hidden) { location.hash = go; e.preventDefault(); return true; } }
  if (hash.startsWith('#/file/')) {
    const target = k === 'p' ? '#pay-amount' : k === 'c' ? '#contact-channel' : null;
    if (target && $(target)) { $(target).focus(); if ($(target).select) $(target).select(); e.preventDefault(); return true; }
  }
  return false;
}

/* The reviewer's vehicle panel beside the plate crop (app.js showCase). */
function vehiclePanel(c) {
  const v = c.vehicle;
  if (!v) return null;
  const r = v.registry;
  const editable = c.mine && !c.decision;
  const el = h('section', { class: 'vehicle', id: 'vehicle', 'aria-label': 'Registration' },
    h('h2', {}, 'Registration ', h('span', { class: 'mono' }, v.plate + ' ' + v.state)),
    r ? h('dl', { class: 'reg' },
      h('dt', {}, 'Make / model'), h('dd', { id: 'reg-vehicle' }, r.make + ' ' + r.model), h('dt', {}, 'Year'), h('dd', { id: 'reg-year' }, r.year),
      h('dt', {}, 'Colour'), h('dd', {}, r.colour), h('dt', {}, 'Owner class'), h('dd', {}, r.ownership_label))
      : h('p', { class: 'bad', id: 'reg-missing' }, 'Not in the registry: the technician will research the owner after approval.'),
    h('p', { class: 'muted' }, 'Plate from ' + v.source + '.'));
  if (v.needs_lights && editable) {
    const pick = (val) => h('label', {}, h('input', { type: 'radio', name: 'lights', value: val, onchange: () => { state.lights = val === 'yes'; } }), ' ' + val);
    el.append(h('fieldset', { class: 'lights', id: 'lights' }, h('legend', {}, 'Police vehicle: emergency lights activated? ', h('kbd', {}, 'L')), pick('yes'), ' ', pick('no')));
  }
  if (editable) {
    const plate = h('input', { id: 'fix-plate', value: v.plate, size: 9, 'aria-label': 'Plate' });
    const st = h('input', { id: 'fix-state', value: v.state, size: 3, maxlength: 2, 'aria-label': 'State' });
    el.append(h('form', { class: 'fixplate', onsubmit: async (e) => {
      e.preventDefault();
      try { await api('POST', '/api/v1/cases/' + c.id + '/vehicle', { plate: plate.value, state: st.value }); say('Plate set to ' + plate.value + ' ' + st.value, 'ok'); showCase(c.id); } catch (ex) { say(ex.message, 'error'); }
    } }, plate, ' ', st, ' ', h('button', { type: 'submit' }, 'Correct plate')));
  }
  return el;
}

/* Cycles the emergency-lights answer with L on the case page. */
function toggleLights() {
  const boxes = document.querySelectorAll('#lights input');
  if (!boxes.length) return;
  state.lights = state.lights === undefined || state.lights === null ? true : state.lights ? false : true;
  boxes.forEach((b) => { b.checked = (b.value === 'yes') === state.lights; });
}
