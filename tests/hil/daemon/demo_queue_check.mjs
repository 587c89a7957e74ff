// After `make demo`'s summary, while its back-office still serves: the reviewer URL it
// printed works in a real browser (Debian's Chromium, headless, through playwright-core),
// the demo login is accepted, and the demo's cases are in the queue.
// usage: STOPLINE_DEMO_URL=http://... node demo_queue_check.mjs EXPECTED_CASES ARTIFACT_DIR
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const [expected, artifacts] = process.argv.slice(2);
const base = process.env.STOPLINE_DEMO_URL;
assert.ok(base, 'STOPLINE_DEMO_URL is not set');
mkdirSync(artifacts, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
  const page = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage();
  await page.goto(base + '/');
  await page.fill('#username', 'demo');
  await page.fill('#password', 'demo-password');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#queued-count', { timeout: 30000 });
  const queued = Number(await page.textContent('#queued-count'));
  await page.screenshot({ path: join(artifacts, 'demo-queue.png'), fullPage: true });
  assert.equal(queued, Number(expected), `the queue shows ${queued} cases, the demo made ${expected}`);
  const main = await page.textContent('#main');
  assert.match(main, /red light/);
  assert.match(main, /school zone speed/);
  assert.match(main, /demo-unit-1/);
  console.log(`browser: ${base}/ as demo shows ${queued} queued cases (screenshot ${artifacts}/demo-queue.png)`);
} finally {
  await browser.close();
}
