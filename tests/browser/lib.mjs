// lib.mjs: what every browser test shares: Debian's Chromium launched through playwright-core,
// a dashboard opened with every console message, page error, request and dialog recorded,
// typed checks that print what was expected and what was found, and the paths from ctest.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

function env(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`browser test: ${name} is not set (run it through ctest: tests/browser/CMakeLists.txt)`);
    process.exit(2);
  }
  return v;
}

// Where browser.pages (make_pages.sh) wrote the dashboards, and where CI collects artifacts.
export const PAGES = env('PAGES');
export const ARTIFACTS = env('ARTIFACTS');

export function pagePath(name) {
  return path.join(PAGES, name, 'report.html');
}

export function summaryOf(name) {
  return JSON.parse(fs.readFileSync(path.join(PAGES, name, 'summary.json'), 'utf8'));
}

// ---- checks: each failure is printed with what was expected and what was found; the test
// goes on to its end and exits 1 when any failed.
const testName = path.basename(process.argv[1] || 'browser', '.mjs');
let passed = 0;
let failed = 0;

export function check(cond, what, detail = '') {
  if (cond) {
    passed++;
    console.log(`  ok   ${what}`);
  } else {
    failed++;
    console.log(`  FAIL ${what}${detail ? `: ${detail}` : ''}`);
  }
  return !!cond;
}

export function checkEq(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  return check(a === e, what, `expected ${e}, got ${a}`);
}

export function checkNear(actual, expected, tolerance, what) {
  const ok = typeof actual === 'number' && Math.abs(actual - expected) <= tolerance;
  return check(ok, what, `expected ${expected} +- ${tolerance}, got ${actual}`);
}

// ---- the browser
// --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
// --disable-dev-shm-usage: a container's /dev/shm (64 MB under docker) is too small for
// full-page screenshots; Chromium then uses /tmp.
export const LAUNCH = {
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage'],
};

export async function launch() {
  return chromium.launch(LAUNCH);
}

// A page URL scheme that stays on this machine: the dashboard is one file:// page; data: URLs
// are inline. Any other request (http, https, ws, blob of another origin...) leaves the file.
export function onMachine(url) {
  return url.startsWith('file:') || url.startsWith('data:') || url === 'about:blank';
}

// Opens pagePath(name) in a new context of `browser` (viewport 1400x900), recording into the
// returned `seen`: console messages of type error or warning, uncaught page errors, every
// request's URL, every dialog (dismissed). Requests that would leave the machine are aborted
// as well as recorded, so a failing page cannot reach the network. Waits for the page's ready
// marker (waitReady). Returns {context, page, seen}.
export async function openDashboard(browser, name, { viewport = { width: 1400, height: 900 } } = {}) {
  const context = await browser.newContext({ viewport });
  const seen = { console: [], pageErrors: [], requests: [], dialogs: [] };
  await context.route((url) => !onMachine(url.href), (route) => route.abort());
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') seen.console.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => seen.pageErrors.push(String(e)));
  page.on('request', (r) => seen.requests.push(r.url()));
  page.on('dialog', (d) => {
    seen.dialogs.push(`${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  await page.goto(pathToFileURL(pagePath(name)).href, { waitUntil: 'load' });
  await waitReady(page);
  return { context, page, seen };
}

// The dashboard sets <html data-ready="1"> once it has drawn (plots/dashboard/dashboard.js).
export async function waitReady(page, timeout = 15000) {
  await page.waitForFunction(() => document.documentElement.dataset.ready === '1', null, { timeout });
}

// The checks of a clean load: no console error or warning, no page error, no request off the
// machine, no dialog.
export function checkClean(seen, label) {
  checkEq(seen.console, [], `${label}: no console error or warning`);
  checkEq(seen.pageErrors, [], `${label}: no page error`);
  const off = seen.requests.filter((u) => !onMachine(u));
  checkEq(off, [], `${label}: no request off the machine (${seen.requests.length} requests, all file: or data:)`);
  checkEq(seen.dialogs, [], `${label}: no dialog`);
}

export async function showTab(page, tab) {
  await page.click(`button[data-tab="${tab}"]`);
  await page.waitForFunction((t) => {
    const p = document.querySelector(`[data-panel="${t}"]`);
    return p && !p.hidden;
  }, tab);
}

export function artifact(file) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, file);
}

// Runs body(browser), closes the browser, prints the tally and exits 0 (all passed) or 1.
// An exception is a failure with its stack printed.
export async function run(body) {
  const browser = await launch();
  try {
    await body(browser);
  } catch (e) {
    failed++;
    console.log(`  FAIL ${testName}: ${e && e.stack ? e.stack : e}`);
  } finally {
    await browser.close().catch(() => {});
  }
  console.log(`${testName}: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
