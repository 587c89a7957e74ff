// Reviewer UI end to end: the real stopline-backoffice binary, cases sealed by the
// project's own code with rendered JPEG frames, Debian's Chromium driven headless by
// Playwright. Log in as a reviewer, open the next case, check that both frames and the
// plate crop render (screenshot kept), approve with the keyboard, see the case leave
// the queue, and find the decision in the supervisor's audit view.
//
// usage: node review_test.mjs BACKOFFICE_BIN KEYGEN_BIN SEED_BIN ARTIFACT_DIR
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { launchBrowser, runTest, startServer, step } from './harness.mjs';

const [bin, keygen, seed, artifacts] = process.argv.slice(2);
mkdirSync(artifacts, { recursive: true });
const dir = mkdtempSync(join(tmpdir(), 'stopline-browser-'));
const data = join(dir, 'data');
const run = (file, args) => execFileSync(file, args, { encoding: 'utf8', env: { ...process.env, STOPLINE_PASSWORD: 'admin-pw' } });

await runTest(dir, async () => {
  run(bin, ['init', '--data', data]);
  run(bin, ['demo-users', '--data', data]);
  run(bin, ['add-user', '--data', data, '--username', 'nosig', '--role', 'reviewer']);
  run(keygen, ['-d', 'cam-7', '-o', dir]);
  const enrolled = run(bin, ['enroll-device', '--data', data, '--pub', join(dir, 'cam-7.pub'), '--site', 'NE 8th St']);
  const token = enrolled.match(/token ([0-9a-f]{64})/)[1];
  const base = await startServer(bin, data);
  const port = new URL(base).port;
  console.log(run(seed, ['--key', join(dir, 'cam-7.key'), '--device', 'cam-7', '--count', '4', '--port', port, '--token', token]).trim());

  const browser = await launchBrowser();
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  const queueCount = async () => (await page.evaluate(async () => (await (await fetch('/api/v1/queue')).json()).queued));

  let queuedBefore;
  await step('reviewer logs in and sees the queue', async () => {
    await page.goto(base + '/');
    await page.fill('#username', 'demo');
    await page.fill('#password', 'demo-password');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#queued-count', { timeout: 30000 });
    queuedBefore = Number(await page.textContent('#queued-count'));
    assert.equal(queuedBefore, 4, 'four seeded cases waiting');
    assert.match(await page.textContent('#main'), /red light/);
    assert.match(await page.textContent('#main'), /school zone speed/);
    assert.match(await page.textContent('#main'), /cam-7/); /* health from the heartbeat */
    await page.screenshot({ path: join(artifacts, 'queue.png'), fullPage: true });
  });

  await step('N opens the next case; both frames and the plate crop render', async () => {
    await page.keyboard.press('n');
    await page.waitForSelector('#case-title', { timeout: 30000 });
    await page.waitForFunction(() => ['#a-shot', '#b-shot', '#plate-crop'].every((s) => {
      const i = document.querySelector(s); return i && i.complete && i.naturalWidth > 0;
    }), null, { timeout: 30000 });
    const sizes = await page.evaluate(() => ['#a-shot', '#b-shot', '#plate-crop'].map((s) => {
      const i = document.querySelector(s); return [i.naturalWidth, i.naturalHeight];
    }));
    assert.deepEqual(sizes[0], [640, 360]);
    assert.deepEqual(sizes[1], [640, 360]);
    assert.ok(sizes[2][0] >= 300, 'plate crop enlarged: ' + sizes[2]);
    /* The decoded A-shot has the scene's content: its pixels are not uniform. */
    const varied = await page.evaluate(() => {
      const img = document.querySelector('#a-shot'); const c = document.createElement('canvas');
      c.width = img.naturalWidth; c.height = img.naturalHeight; const g = c.getContext('2d'); g.drawImage(img, 0, 0);
      const d = g.getImageData(0, 0, c.width, c.height).data; const seen = new Set();
      for (let i = 0; i < d.length; i += 4 * 97) seen.add(d[i] >> 4 << 8 | d[i + 1] >> 4 << 4 | d[i + 2] >> 4);
      return seen.size;
    });
    assert.ok(varied > 5, 'A-shot shows a scene (' + varied + ' colours)');
    assert.match(await page.textContent('.databar'), /Time into red|Speed/);
    assert.match(await page.textContent('.casehead'), /ok/); /* verification status */
    await page.screenshot({ path: join(artifacts, 'case.png'), fullPage: true });
  });

  let caseId;
  await step('approve with the keyboard; the case leaves the queue', async () => {
    caseId = Number((await page.textContent('#case-title')).match(/Case (\d+)/)[1]);
    await page.keyboard.press('v'); /* play the clip */
    await page.waitForFunction(() => document.querySelector('#clip-counter').textContent !== '1 / 8', null, { timeout: 15000 });
    await page.keyboard.press('v');
    const items = await page.$$eval('.checklist input[data-key]', (bs) => bs.map((b) => ({ checked: b.checked, disabled: b.disabled })));
    assert.ok(items.length >= 5, 'checklist has the policy items');
    assert.ok(items.some((i) => i.checked), 'items the record proves are pre-checked');
    /* Approving with unconfirmed items is refused in the page. */
    await page.keyboard.press('a');
    assert.match(await page.textContent('#status'), /Confirm every checklist item/);
    for (let n = 0; n < items.length; n++) if (!items[n].checked) await page.keyboard.press(String(n + 1));
    await page.keyboard.press('a');
    await page.waitForFunction((id) => !/Case (\d+)/.test(document.querySelector('#case-title')?.textContent || '') ||
      Number(document.querySelector('#case-title').textContent.match(/Case (\d+)/)[1]) !== id, caseId, { timeout: 30000 });
    assert.match(await page.textContent('#status'), new RegExp('Approved case ' + caseId));
    assert.equal(await queueCount(), queuedBefore - 1);
    const decided = await page.evaluate(async (id) => (await (await fetch('/api/v1/cases/' + id)).json()), caseId);
    assert.equal(decided.status, 'approved');
    assert.equal(decided.decision.clip_viewed, true);
    await page.screenshot({ path: join(artifacts, 'after-approve.png'), fullPage: true });
  });

  await step('P goes back to the decided case, read-only', async () => {
    await page.keyboard.press('p');
    await page.waitForSelector('#decision.decided', { timeout: 30000 });
    assert.match(await page.textContent('#decision'), /Approved/);
  });

  await step('a reviewer without a signature on file cannot claim', async () => {
    const ctx2 = await browser.newContext();
    const p2 = await ctx2.newPage();
    await p2.goto(base + '/');
    await p2.fill('#username', 'nosig');
    await p2.fill('#password', 'admin-pw');
    await p2.keyboard.press('Enter');
    await p2.waitForSelector('#queued-count', { timeout: 30000 });
    assert.equal(await p2.$('#start'), null);
    assert.match(await p2.textContent('#main'), /not decide/);
    await ctx2.close();
  });

  await step('the supervisor sees the decision in the audit view', async () => {
    await page.click('#logout');
    await page.waitForSelector('#username');
    await page.fill('#username', 'supervisor');
    await page.fill('#password', 'demo-password');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#queued-count', { timeout: 30000 });
    await page.click('#nav-audit');
    await page.waitForSelector('#audit-table', { timeout: 30000 });
    const rows = await page.$$eval('#audit-table tbody tr', (trs) => trs.map((tr) => tr.textContent));
    const decision = rows.find((r) => r.includes('decide') && r.includes('case:' + caseId));
    assert.ok(decision, 'audit has the decision: ' + rows.slice(0, 5).join(' | '));
    assert.match(decision, /approved/);
    assert.match(decision, /demo/);
    assert.match(decision, /127\.0\.0\.1/);
    await page.click('#audit-verify');
    await page.waitForFunction(() => /intact/.test(document.querySelector('#audit-verify-result').textContent), null, { timeout: 15000 });
    await page.screenshot({ path: join(artifacts, 'audit.png'), fullPage: true });
  });

  await step('no script errors in the page', async () => {
    assert.deepEqual(consoleErrors.filter((e) => !/401|Unauthorized/.test(e)), []);
  });
});
