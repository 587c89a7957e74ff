// Scaffolding shared by the browser tests (review_test.mjs, casework_test.mjs): named
// steps with a tally, the real stopline-backoffice on a free port, Debian's Chromium
// headless, and the clean-up that reports the tally and sets the exit code.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { chromium } from 'playwright-core';

const tally = { passed: 0, failed: 0 };
let server, browser;

export async function step(name, fn) {
  try { await fn(); tally.passed++; console.log('ok   ' + name); }
  catch (e) { tally.failed++; console.log('FAIL ' + name + ': ' + (e.stack || e)); throw e; }
}

/* `bin serve --data DATA` on 127.0.0.1:0 with two threads and `extra` options; resolves
 * with the base URL once the server prints where it serves. */
export function startServer(bin, data, extra = []) {
  server = spawn(bin, ['serve', '--data', data, '--listen', '127.0.0.1:0', '--threads', '2', ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('server did not start: ' + out)), 60000);
    server.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/serving (http:\/\/[^\s]+)/);
      if (m) { clearTimeout(timer); resolve(m[1].replace(/\/$/, '')); }
    });
    server.on('exit', (code) => reject(new Error('server exited ' + code + ': ' + out)));
  });
}

/* Playwright's launch() always gives Chromium a fresh temporary --user-data-dir. */
export async function launchBrowser() {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run'],
  });
  return browser;
}

/* Runs the test body: an error outside a step counts as a failed setup; the browser and
 * server stop and the scratch folder `dir` goes whatever happened. */
export async function runTest(dir, body) {
  try {
    await body();
  } catch (e) {
    if (!tally.failed) { tally.failed++; console.log('FAIL setup: ' + (e.stack || e)); }
  } finally {
    if (browser) await browser.close().catch(() => {});
    if (server) server.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
    console.log(`${tally.passed} passed, ${tally.failed} failed`);
    process.exitCode = tally.failed ? 1 : 0;
  }
}
