// The work after the review (issue 7), end to end in headless Chromium against the real
// stopline-backoffice binary: the reviewer sees the registry beside the plate crop; the
// technician mails the citations, records a contact and a payment, and the case leaves
// the overdue list; the summons-service report lists exactly the unpaid overdue cases;
// a supervisor sees the rubber-stamp flag on a decision made faster than the minimum.
// One browser, three contexts (reviewer, technician, supervisor).
//
// usage: node casework_test.mjs BACKOFFICE_BIN KEYGEN_BIN SEED_BIN ARTIFACT_DIR
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { launchBrowser, runTest, startServer, step } from './harness.mjs';

const [bin, keygen, seed, artifactRoot] = process.argv.slice(2);
const artifacts = join(artifactRoot, 'casework');
mkdirSync(artifacts, { recursive: true });
const dir = mkdtempSync(join(tmpdir(), 'stopline-casework-'));
const data = join(dir, 'data');
const run = (file, args) => execFileSync(file, args, { encoding: 'utf8', env: { ...process.env, STOPLINE_PASSWORD: 'tech-pw' } });
const MIN_REVIEW_S = 5;

let browser;

async function login(base, user, password) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
  const page = await context.newPage();
  page.errors = [];
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
  page.on('pageerror', (e) => page.errors.push(String(e)));
  await page.goto(base + '/');
  await page.fill('#username', user);
  await page.fill('#password', password);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#who:not(:empty)', { timeout: 30000 });
  return page;
}

/* Claims case `id` afresh, waits `waitMs`, approves it: the server times the decision
 * from this claim. Runs in the reviewer's page with its session and CSRF token. */
const approveViaApi = (page, id, waitMs) => page.evaluate(async ([id, waitMs]) => {
  const csrf = (await (await fetch('/api/v1/session')).json()).csrf;
  const post = (p, b) => fetch(p, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }, body: JSON.stringify(b || {}) });
  const before = await (await fetch('/api/v1/cases/' + id)).json();
  if (before.mine) await post('/api/v1/cases/' + id + '/release'); /* the page claimed it */
  const claim = await post('/api/v1/cases/' + id + '/claim');
  if (!claim.ok) throw new Error('claim ' + id + ': ' + (await claim.text()));
  const c = await (await fetch('/api/v1/cases/' + id)).json();
  if (waitMs) await new Promise((r) => setTimeout(r, waitMs));
  const checklist = Object.fromEntries(c.checklist.map((i) => [i.key, true]));
  const d = await post('/api/v1/cases/' + id + '/decision', { version: c.version, decision: 'approve', checklist });
  const body = await d.json();
  if (!d.ok) throw new Error('decision ' + id + ': ' + JSON.stringify(body));
  return { id, plate: c.vehicle.plate, ms: body.time_on_case_ms };
}, [id, waitMs]);

const rowsOf = (page, sel) => page.$$eval(sel + ' tbody tr', (trs) => trs.map((tr) => Number(tr.dataset.case)));
const isoDaysAgo = (n) => { const d = new Date(Date.now() - n * 86400000); return d.getFullYear() + '-' + String(d.getMonth() + 1).padStart(2, '0') + '-' + String(d.getDate()).padStart(2, '0'); };

await runTest(dir, async () => {
  run(bin, ['init', '--data', data]);
  run(bin, ['demo-users', '--data', data]);
  run(keygen, ['-d', 'cam-9', '-o', dir]);
  const enrolled = run(bin, ['enroll-device', '--data', data, '--pub', join(dir, 'cam-9.pub'), '--site', 'NE 8th St']);
  const token = enrolled.match(/token ([0-9a-f]{64})/)[1];
  /* The seeding tool reads plates ABC001, ABC002, SZN003, ABC004 (cases 1 to 4). */
  const csv = join(dir, 'registry.csv');
  writeFileSync(csv, [
    'plate,state,owner_name,owner_address,owner_phone,make,model,year,colour,ownership',
    'ABC001,WA,Jane Roe,"12 Main St, Bellevue WA 98004",425-555-0101,Toyota,Camry,2019,silver,private',
    'ABC002,WA,Acme Freight LLC,"1 Dock Rd, Kent WA 98032",253-555-0199,Ford,F-150,2020,white,commercial',
    'SZN003,WA,Speedy Rentals Inc,"400 Airport Way, SeaTac WA 98158",206-555-0111,Kia,Rio,2023,red,rental_lease',
    'ABC004,WA,John Poe,"7 Oak Ave, Redmond WA 98052",425-555-0102,Honda,Civic,2021,blue,private', ''].join('\n'));
  console.log(run(bin, ['import-registry', '--data', data, '--csv', csv]).trim());
  const base = await startServer(bin, data, ['--min-review-seconds', String(MIN_REVIEW_S), '--second-review-percent', '0']);
  const port = new URL(base).port;
  /* Violations 50 days ago, so citations mailed 40 days ago are 10 days past due. */
  console.log(run(seed, ['--key', join(dir, 'cam-9.key'), '--device', 'cam-9', '--count', '4', '--port', port, '--token', token, '--days-ago', '50']).trim());

  browser = await launchBrowser();

  const decided = {};
  let reviewer;
  await step('the reviewer sees the registry beside the plate crop and approves', async () => {
    reviewer = await login(base, 'demo', 'demo-password');
    await reviewer.waitForSelector('#queued-count');
    await reviewer.keyboard.press('n');
    await reviewer.waitForSelector('#vehicle', { timeout: 30000 });
    assert.match(await reviewer.textContent('#vehicle'), /ABC001 WA/);
    assert.equal((await reviewer.textContent('#reg-vehicle')).trim(), 'Toyota Camry');
    assert.equal((await reviewer.textContent('#reg-year')).trim(), '2019');
    /* Beside the crop: the panel sits in the same column as the plate figure. */
    const [crop, panel] = await Promise.all(['#plate-crop', '#vehicle'].map((s) => reviewer.$eval(s, (e) => e.getBoundingClientRect().toJSON())));
    assert.ok(Math.abs(crop.left - panel.left) < 40 && panel.top >= crop.bottom - 2 && panel.top - crop.bottom < 120, 'registry right under the crop');
    await reviewer.screenshot({ path: join(artifacts, 'case-registry.png'), fullPage: true });
    const items = await reviewer.$$eval('.checklist input[data-key]', (bs) => bs.map((b) => b.checked));
    for (let n = 0; n < items.length; n++) if (!items[n]) await reviewer.keyboard.press(String(n + 1));
    await reviewer.keyboard.press('a');
    await reviewer.waitForFunction(() => /Approved case 1/.test(document.querySelector('#status').textContent), null, { timeout: 30000 });
    decided[1] = 'ABC001';
  });

  let fast, slow;
  await step('two decisions faster than the minimum and one slower', async () => {
    fast = await approveViaApi(reviewer, 2, 0);
    slow = await approveViaApi(reviewer, 3, (MIN_REVIEW_S + 1) * 1000);
    const fast2 = await approveViaApi(reviewer, 4, 0);
    assert.ok(fast.ms < MIN_REVIEW_S * 1000 && fast2.ms < MIN_REVIEW_S * 1000, 'fast: ' + fast.ms + ', ' + fast2.ms + ' ms');
    assert.ok(slow.ms >= MIN_REVIEW_S * 1000, 'slow: ' + slow.ms + ' ms');
    assert.deepEqual([fast.plate, slow.plate, fast2.plate], ['ABC002', 'SZN003', 'ABC004']);
  });

  let tech;
  await step('the technician mails the citations and the rental notice', async () => {
    tech = await login(base, 'tech', 'demo-password');
    await tech.waitForSelector('#work-table', { timeout: 30000 });
    assert.equal(Number(await tech.textContent('#task-count')), 4, 'four mailing tasks');
    await tech.keyboard.press('m');
    await tech.waitForSelector('#mailing-table', { timeout: 30000 });
    const kinds = await tech.$$eval('#mailing-table tbody tr', (trs) => trs.map((tr) => tr.children[2].textContent));
    assert.deepEqual(kinds, ['citation', 'citation', 'rental notice', 'citation']);
    const batch = await tech.evaluate(async () => { const r = await fetch('/api/v1/mailing/batch.pdf'); return [r.headers.get('content-type'), (await r.text()).slice(0, 5)]; });
    assert.deepEqual(batch, ['application/pdf', '%PDF-']);
    await tech.fill('#mail-date', isoDaysAgo(40));
    await tech.click('#mark-mailed');
    await tech.waitForFunction(() => /4 documents marked mailed/.test(document.querySelector('#status').textContent), null, { timeout: 30000 });
  });

  let overdueBefore;
  await step('a contact and a payment take the case off the overdue list', async () => {
    await tech.keyboard.press('o');
    await tech.waitForSelector('#overdue-table', { timeout: 30000 });
    overdueBefore = await rowsOf(tech, '#overdue-table');
    assert.deepEqual(overdueBefore.sort(), [1, 2, 4], 'the three citations are past due; the rental notice is not a debt');
    await tech.screenshot({ path: join(artifacts, 'overdue-before.png'), fullPage: true });
    await tech.click('#overdue-table tbody tr[data-case="1"]');
    await tech.waitForSelector('#file-title', { timeout: 30000 });
    assert.match(await tech.textContent('#file-title'), /Case 1/);
    await tech.keyboard.press('c');
    assert.equal(await tech.evaluate(() => document.activeElement.id), 'contact-channel');
    await tech.selectOption('#contact-outcome', 'promised to pay');
    await tech.fill('#contact-notes', 'called 425-555-0101, will pay by card today');
    await tech.click('#contact-submit');
    await tech.waitForFunction(() => /Contact logged/.test(document.querySelector('#status').textContent), null, { timeout: 30000 });
    await tech.waitForSelector('#contacts-table');
    assert.match(await tech.textContent('#contacts-table'), /promised to pay/);
    await tech.keyboard.press('p');
    assert.equal(await tech.inputValue('#pay-amount'), '136.00', 'the balance is offered');
    await tech.selectOption('#pay-method', 'card');
    await tech.fill('#pay-reference', 'auth 4471');
    await tech.click('#pay-submit');
    await tech.waitForFunction(() => /paid in full/.test(document.querySelector('#status').textContent), null, { timeout: 30000 });
    await tech.waitForSelector('#payments-table');
    assert.match(await tech.textContent('#payments-table'), /\$136\.00/);
    await tech.screenshot({ path: join(artifacts, 'case-file.png'), fullPage: true });
    await tech.keyboard.press('o');
    await tech.waitForSelector('#overdue-table', { timeout: 30000 });
    assert.deepEqual((await rowsOf(tech, '#overdue-table')).sort(), [2, 4]);
    assert.equal(Number(await tech.textContent('#overdue-count')), 2);
    await tech.screenshot({ path: join(artifacts, 'overdue-after.png'), fullPage: true });
  });

  await step('the summons-service report lists exactly the unpaid overdue cases', async () => {
    /* Independently of the pages: mailed cases minus the one paid. */
    const expected = [2, 4];
    await tech.keyboard.press('s');
    await tech.waitForSelector('#summons-table', { timeout: 30000 });
    assert.deepEqual((await rowsOf(tech, '#summons-table')).sort(), expected);
    assert.match(await tech.textContent('#summons-table'), /Acme Freight LLC[\s\S]*1 Dock Rd, Kent WA 98032[\s\S]*253-555-0199/);
    const csv = await tech.evaluate(async () => (await fetch('/api/v1/summons.csv')).text());
    assert.deepEqual(csv.trim().split(/\r?\n/).slice(1).map((l) => Number(l.split(',')[0].replace(/"/g, ''))).sort(), expected);
    const pdf = await tech.evaluate(async () => { const r = await fetch('/api/v1/summons.pdf'); return [r.headers.get('content-type'), (await r.text()).slice(0, 5)]; });
    assert.deepEqual(pdf, ['application/pdf', '%PDF-']);
    await tech.screenshot({ path: join(artifacts, 'summons.png'), fullPage: true });
  });

  await step('the supervisor sees the rubber-stamp flag on the fast decision', async () => {
    const sup = await login(base, 'supervisor', 'demo-password');
    await sup.keyboard.press('Escape');
    await sup.click('#nav-quality');
    await sup.waitForSelector('#quality-table', { timeout: 30000 });
    const rows = await sup.$$eval('#quality-table tbody tr', (trs) => trs.map((tr) => ({ id: Number(tr.dataset.case), flag: !!tr.querySelector('.flag'), text: tr.textContent })));
    const f = rows.find((r) => r.id === fast.id);
    assert.ok(f && f.flag, 'fast decision flagged: ' + JSON.stringify(rows));
    assert.match(f.text, /rubber stamp/i);
    assert.ok(!rows.some((r) => r.id === slow.id), 'the slow decision is not flagged');
    await sup.screenshot({ path: join(artifacts, 'quality.png'), fullPage: true });
    await sup.evaluate(() => { location.hash = '#/stats?days=90'; }); /* the seeded cases are 50 days old */
    await sup.waitForSelector('#chart-site', { timeout: 30000 });
    assert.equal(await sup.$$eval('#chart-lane .bar', (b) => b.length), 3);
    assert.equal(Number(await sup.textContent('#stat-approved')), 4);
    await sup.screenshot({ path: join(artifacts, 'stats.png'), fullPage: true });
    for (const p of [reviewer, tech, sup]) assert.deepEqual(p.errors.filter((e) => !/401|Unauthorized/.test(e)), [], 'no script errors');
  });
});
