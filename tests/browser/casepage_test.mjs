// The case page tells the truth (issue 12), in headless Chromium against the real
// stopline-backoffice binary and records sealed by the project's own code:
//  - the signal timeline of a red-light case draws the enforced head (NB-1) on its own
//    bar from its own phase changes; the conflicting head (EB-1, green after the
//    all-red, before the A-shot) is a separate, labelled row; the A and B markers,
//    measured on the rendered SVG, stand on the enforced bar's red;
//  - fields that do not apply are not shown: no "lane 0" on a speed case, no "limit 0"
//    on a red-light case, on the reviewer's case page, the technician's case file and
//    the citation PDF (pdftotext, poppler-utils).
// Screenshots of both case pages are kept in ARTIFACT_DIR/casepage.
//
// usage: node casepage_test.mjs BACKOFFICE_BIN KEYGEN_BIN SEED_BIN ARTIFACT_DIR
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { launchBrowser, runTest, startServer, step } from './harness.mjs';

const [bin, keygen, seed, artifactRoot] = process.argv.slice(2);
const artifacts = join(artifactRoot, 'casepage');
mkdirSync(artifacts, { recursive: true });
const dir = mkdtempSync(join(tmpdir(), 'stopline-casepage-'));
const data = join(dir, 'data');
const run = (file, args) => execFileSync(file, args, { encoding: 'utf8', env: { ...process.env, STOPLINE_PASSWORD: 'tech-pw' } });
/* The seed tool: cases 1, 2 and 4 are red light (plates ABC001, ABC002, ABC004), case 3
 * school-zone speed (SZN003), made as before camera calibration (--before-calibration):
 * a speed record without a lane, the record "lane 0" was shown for. */
const RED = 1, SPEED = 3;

let browser;

async function login(base, user, password) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
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

const openCase = async (page, id) => {
  await page.evaluate((id) => { location.hash = '#/case/' + id; }, id);
  await page.waitForFunction((id) => (document.querySelector('#case-title')?.textContent || '').startsWith('Case ' + id + ' '), id, { timeout: 30000 });
};

await runTest(dir, async () => {
  run(bin, ['init', '--data', data]);
  run(bin, ['demo-users', '--data', data]);
  run(keygen, ['-d', 'cam-5', '-o', dir]);
  const enrolled = run(bin, ['enroll-device', '--data', data, '--pub', join(dir, 'cam-5.pub'), '--site', 'NE 8th St']);
  const token = enrolled.match(/token ([0-9a-f]{64})/)[1];
  const csv = join(dir, 'registry.csv');
  writeFileSync(csv, [
    'plate,state,owner_name,owner_address,owner_phone,make,model,year,colour,ownership',
    'ABC001,WA,Jane Roe,"12 Main St, Bellevue WA 98004",425-555-0101,Toyota,Camry,2019,silver,private',
    'SZN003,WA,John Poe,"7 Oak Ave, Redmond WA 98052",425-555-0102,Honda,Civic,2021,blue,private', ''].join('\n'));
  console.log(run(bin, ['import-registry', '--data', data, '--csv', csv]).trim());
  const base = await startServer(bin, data, ['--second-review-percent', '0']);
  const port = new URL(base).port;
  console.log(run(seed, ['--key', join(dir, 'cam-5.key'), '--device', 'cam-5', '--count', '4', '--port', port, '--token', token,
    '--before-calibration', String(SPEED)]).trim());

  browser = await launchBrowser();
  const reviewer = await login(base, 'demo', 'demo-password');

  await step('the seeded red-light record: EB-1 turns green after the all-red, before the A-shot', async () => {
    /* The scenario itself, from the API: otherwise the geometry below proves nothing. */
    const c = await reviewer.evaluate(async (id) => (await fetch('/api/v1/cases/' + id)).json(), RED);
    assert.equal(c.type, 'red_light');
    assert.equal(c.signal.head, 'NB-1');
    const at = (head, phase) => c.signal.changes.find((x) => x.head === head && x.phase === phase).at.monotonic_ns;
    const aT = c.frames.a.captured_monotonic_ns, bT = c.frames.b.captured_monotonic_ns;
    assert.ok(at('NB-1', 'green') < at('NB-1', 'yellow') && at('NB-1', 'yellow') < at('NB-1', 'red'), 'NB-1 green, yellow, red');
    assert.ok(at('EB-1', 'red') < at('NB-1', 'green') && at('NB-1', 'red') < at('EB-1', 'green') && at('EB-1', 'green') < aT, 'EB-1 green after NB-1 red, before A');
    assert.ok(Math.abs((aT - at('NB-1', 'red')) / 1e9 - 1.5) < 0.05, 'A about 1.5 s into red');
    assert.ok(Math.abs((bT - at('NB-1', 'red')) / 1e9 - 2.5) < 0.05, 'B about 2.5 s into red');
  });

  await step('the timeline: A and B stand on the enforced head\'s red bar, measured on the SVG', async () => {
    await openCase(reviewer, RED);
    await reviewer.waitForSelector('#signal-timeline .marker[data-marker="b"]', { timeout: 30000 });
    const g = await reviewer.evaluate(() => {
      const box = (e) => { const r = e.getBoundingClientRect(); return { left: r.left, right: r.right, top: r.top, bottom: r.bottom }; };
      const svg = document.querySelector('#signal-timeline');
      const rows = [...svg.querySelectorAll('.head-row')].map((row) => ({
        head: row.dataset.head, role: row.dataset.role,
        label: row.querySelector('.head-label')?.textContent || '', labelBox: row.querySelector('.head-label') ? box(row.querySelector('.head-label')) : null,
        segments: [...row.querySelectorAll('rect[data-phase]')].map((r) => ({ head: r.dataset.head, phase: r.dataset.phase, ...box(r) })),
      }));
      const markers = Object.fromEntries([...svg.querySelectorAll('.marker')].map((m) => [m.dataset.marker, box(m.querySelector('line'))]));
      return { rows, markers, aria: svg.getAttribute('aria-label') };
    });
    const enforced = g.rows.filter((r) => r.role === 'enforced');
    assert.equal(enforced.length, 1, 'one enforced bar');
    const bar = enforced[0];
    assert.equal(bar.head, 'NB-1');
    assert.ok(bar.segments.length >= 2, 'the enforced bar has its phases: ' + JSON.stringify(bar.segments));
    assert.deepEqual([...new Set(bar.segments.map((s) => s.head))], ['NB-1'], 'the enforced bar is built from NB-1 alone');
    assert.deepEqual(bar.segments.map((s) => s.phase), ['green', 'yellow', 'red'], 'NB-1: green, yellow, red and nothing after');
    const barTop = Math.min(...bar.segments.map((s) => s.top)), barBottom = Math.max(...bar.segments.map((s) => s.bottom));
    for (const key of ['a', 'b']) {
      const m = g.markers[key];
      assert.ok(m, key + ' marker drawn');
      const mx = (m.left + m.right) / 2;
      const under = bar.segments.filter((s) => s.left <= mx && mx <= s.right);
      assert.ok(under.length && under.every((s) => s.phase === 'red'), key.toUpperCase() + ' at x=' + mx.toFixed(1) + ' lies on ' + JSON.stringify(under.map((s) => s.phase)) + ', not only red');
      assert.ok(m.top <= barTop && m.bottom >= barBottom, key.toUpperCase() + ' marker crosses the enforced bar');
      /* Not on the edge of the red: the seed puts A 1.5 s and B 2.5 s into red. */
      const red = under[0];
      assert.ok(mx - red.left > 10, key.toUpperCase() + ' well inside the red, ' + (mx - red.left).toFixed(1) + ' px after its onset');
    }
    /* EB-1: its own labelled row, under the enforced bar and smaller; its green is under A and B. */
    const eb = g.rows.find((r) => r.head === 'EB-1');
    assert.ok(eb, 'a row for EB-1: ' + JSON.stringify(g.rows.map((r) => r.head)));
    assert.equal(eb.role, 'conflicting');
    assert.equal(eb.label.trim(), 'EB-1', 'the EB-1 row is labelled');
    assert.ok(eb.labelBox.right <= Math.min(...eb.segments.map((s) => s.left)) + 1, 'the label stands left of the row');
    assert.deepEqual(eb.segments.map((s) => s.phase), ['red', 'green']);
    assert.ok(eb.segments.every((s) => s.top >= barBottom), 'the EB-1 row lies below the enforced bar, not on it');
    assert.ok(eb.segments[0].bottom - eb.segments[0].top < barBottom - barTop, 'the conflicting row is smaller');
    const ebGreen = eb.segments.find((s) => s.phase === 'green');
    for (const key of ['a', 'b']) {
      const mx = (g.markers[key].left + g.markers[key].right) / 2;
      assert.ok(ebGreen.left <= mx && mx <= ebGreen.right, 'EB-1 is green at ' + key.toUpperCase() + ' (the case the old single bar got wrong)');
    }
    assert.match(g.aria, /A-shot 1\.5\d s into red \(NB-1 red\)/);
    assert.match(g.aria, /B-shot 2\.5\d s into red \(NB-1 red\)/);
    assert.match(g.aria, /EB-1/);
    await reviewer.screenshot({ path: join(artifacts, 'case-red-light.png'), fullPage: true });
    await (await reviewer.$('.charts')).screenshot({ path: join(artifacts, 'timeline-red-light.png') });
  });

  await step('a red-light case shows no limit, and the speed at the line', async () => {
    const bar = await reviewer.textContent('.databar');
    assert.doesNotMatch(bar, /limit/i, 'no limit in the data bar: ' + bar);
    assert.match(bar, /Speed at the line\s*3\d\.\d mph/);
    assert.match(bar, /northbound \/ lane 2/);
    assert.doesNotMatch(await reviewer.textContent('#main'), /limit 0/);
    assert.doesNotMatch(await reviewer.getAttribute('.charts svg:not(#signal-timeline)', 'aria-label'), /limit/);
  });

  await step('a speed case shows no lane 0 and no signal timeline', async () => {
    await openCase(reviewer, SPEED);
    await reviewer.waitForSelector('.databar');
    const bar = await reviewer.textContent('.databar');
    assert.doesNotMatch(bar, /lane/i, 'no lane in the data bar: ' + bar);
    assert.match(bar, /Approach\s*northbound/);
    assert.match(bar, /Speed \/ limit\s*\d+\.\d mph \/ 20 mph/);
    assert.doesNotMatch(await reviewer.textContent('#main'), /lane 0/);
    assert.equal(await reviewer.$('#signal-timeline'), null);
    assert.match(await reviewer.textContent('.charts'), /No signal timeline in this record/);
    await reviewer.screenshot({ path: join(artifacts, 'case-speed.png'), fullPage: true });
  });

  /* Approve both through the API so each gets a case file and a citation. */
  const approve = (id) => reviewer.evaluate(async (id) => {
    const csrf = (await (await fetch('/api/v1/session')).json()).csrf;
    const post = (p, b) => fetch(p, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }, body: JSON.stringify(b || {}) });
    const claim = await post('/api/v1/cases/' + id + '/claim');
    if (!claim.ok) throw new Error('claim ' + id + ': ' + (await claim.text()));
    const c = await (await fetch('/api/v1/cases/' + id)).json();
    const checklist = Object.fromEntries(c.checklist.map((i) => [i.key, true]));
    const d = await post('/api/v1/cases/' + id + '/decision', { version: c.version, decision: 'approve', checklist });
    if (!d.ok) throw new Error('decision ' + id + ': ' + (await d.text()));
  }, id);

  await step('the technician\'s case file and the citation: a lane only where there is one', async () => {
    await approve(RED);
    await approve(SPEED);
    const tech = await login(base, 'tech', 'demo-password');
    const expect = { [RED]: { lane: 'lane 2' }, [SPEED]: { lane: null } };
    for (const id of [RED, SPEED]) {
      await tech.evaluate((id) => { location.hash = '#/file/' + id; }, id);
      await tech.waitForFunction((id) => (document.querySelector('#file-title')?.textContent || '').startsWith('Case ' + id + ' '), id, { timeout: 30000 });
      const bar = await tech.textContent('.databar');
      if (expect[id].lane) assert.match(bar, /Lane\s*2/, 'case ' + id + ': ' + bar);
      else assert.doesNotMatch(bar, /Lane/, 'case ' + id + ': ' + bar);
      const pdfs = await tech.evaluate(async (id) => {
        const f = await (await fetch('/api/v1/files/' + id)).json();
        const out = [];
        for (const x of f.citations.filter((x) => x.kind !== 'reimbursement')) {
          const r = await fetch('/api/v1/citations/' + x.id + '/pdf');
          const b = new Uint8Array(await r.arrayBuffer());
          out.push(btoa(Array.from(b, (c) => String.fromCharCode(c)).join('')));
        }
        return out;
      }, id);
      assert.ok(pdfs.length >= 1, 'case ' + id + ' has a citation');
      const file = join(dir, 'citation-' + id + '.pdf');
      writeFileSync(file, Buffer.from(pdfs[0], 'base64'));
      const text = execFileSync('pdftotext', ['-layout', file, '-'], { encoding: 'utf8' });
      if (expect[id].lane) assert.match(text, /Approach\s+northbound, lane 2/, 'citation of case ' + id);
      else {
        assert.match(text, /Approach\s+northbound\s*\n/, 'citation of case ' + id + ': the approach without a lane');
        assert.doesNotMatch(text, /\blane\b/i, 'citation of case ' + id);
      }
      assert.doesNotMatch(text, /limit 0|in a 0 zone/, 'citation of case ' + id);
    }
    await tech.screenshot({ path: join(artifacts, 'file-speed.png'), fullPage: true });
    assert.deepEqual(tech.errors.filter((e) => !/401|Unauthorized/.test(e)), [], 'no script errors (technician)');
  });

  await step('no script errors in the reviewer\'s page', async () => {
    assert.deepEqual(reviewer.errors.filter((e) => !/401|Unauthorized/.test(e)), []);
  });
});
