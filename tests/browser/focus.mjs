// focus.mjs: ctest browser.focus, on the selective_50 dashboard. A click on a thread card
// enters focus mode: the card's computed transform is a scale of 1.15, every other card's
// computed opacity is 0.3, the background dims, and every tab shows that thread only, checked
// tab by tab against figures computed here from summary.json; a click on the background, or
// Esc, leaves it. Screenshots of focus mode go to the artifacts.
import { run, openDashboard, showTab, summaryOf, check, checkEq, checkNear, artifact } from './lib.mjs';

// The scale of a computed transform "matrix(a, b, c, d, e, f)": the length of (a, b).
function scaleOf(transform) {
  const m = /^matrix\(([^)]*)\)$/.exec(transform || '');
  if (!m) return transform === 'none' ? 1 : NaN;
  const [a, b] = m[1].split(',').map(Number);
  return Math.hypot(a, b);
}

async function cardStyles(page) {
  return page.$$eval('[data-panel="threads"] .thread-card[data-tid]', (cs) => cs.map((c) => {
    const s = getComputedStyle(c);
    return { tid: Number(c.getAttribute('data-tid')), transform: s.transform, opacity: Number(s.opacity),
      focused: c.classList.contains('focused') };
  }));
}

// Focus mode as the page shows it, once the background's colour transition (0.15 s in
// dashboard.css) has settled: two reads 50 ms apart agree.
async function focusState(page) {
  let bg = null;
  for (let i = 0; i < 40; i++) {
    const now = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    if (now === bg) break;
    bg = now;
    await page.waitForTimeout(50);
  }
  return page.evaluate((b) => ({ mode: document.body.classList.contains('focus-mode'),
    tid: document.body.getAttribute('data-focus-tid'), bg: b }), bg);
}

// Numbers in a formatted figure ("1,480"): digits only.
function num(s) {
  return Number(String(s).replace(/[^0-9.]/g, ''));
}

await run(async (browser) => {
  const summary = summaryOf('selective_50');
  const pid = summary.run.pid;
  // The focused thread: the tracked worker with the most allocations (sel-worker-48).
  const thread = summary.threads.filter((t) => t.tracked === true && t.tid !== pid)
    .sort((a, b) => b.allocations - a.allocations)[0];
  const tid = thread.tid;
  const label = `${thread.name} (tid ${tid})`;

  const { context, page, seen } = await openDashboard(browser, 'selective_50');
  await showTab(page, 'threads');
  const before = await focusState(page);
  checkEq(before.mode, false, 'no focus mode at load');

  await page.click(`[data-panel="threads"] .thread-card[data-tid="${tid}"]`);
  const inFocus = await focusState(page);
  checkEq([inFocus.mode, inFocus.tid], [true, String(tid)], `a click on ${label}'s card enters focus mode on it`);
  check(inFocus.bg !== before.bg, 'the background dims', `body background ${before.bg} -> ${inFocus.bg}`);
  const styles = await cardStyles(page);
  const mine = styles.find((s) => s.tid === tid);
  checkNear(scaleOf(mine.transform), 1.15, 0.001, `the focused card's computed scale (${mine.transform})`);
  checkNear(mine.opacity, 1, 0.001, 'the focused card is opaque');
  const others = styles.filter((s) => s.tid !== tid);
  checkEq(others.length, summary.threads.length - 1, 'the other cards');
  const notFaded = others.filter((s) => Math.abs(s.opacity - 0.3) > 0.001 || scaleOf(s.transform) !== 1);
  checkEq(notFaded.map((s) => `${s.tid}: opacity ${s.opacity}, ${s.transform}`), [],
    'every other card: computed opacity 0.3, not scaled');
  await page.screenshot({ path: artifact('selective_50-focus.png'), fullPage: false });
  await page.screenshot({ path: artifact('selective_50-focus-full.png'), fullPage: true });

  // ---- every tab, filtered to the thread
  await showTab(page, 'overview');
  // The focused overview repeats the thread's card as .thread-summary (outside the fading);
  // its tid is read from the card's text ("tid N"), or from data-tid where a card has one.
  const ov = await page.$$eval('[data-panel="overview"] .thread-summary, [data-panel="overview"] .thread-card[data-tid]',
    (cs) => cs.map((c) => Number(c.getAttribute('data-tid') ||
      ((c.querySelector('.tid') || {}).textContent || '').replace(/^tid /, ''))));
  checkEq(ov, [tid], 'overview: the focused thread\'s card only');
  check((await page.textContent('[data-panel="overview"] h2')).includes(label), 'overview: headed by the thread');

  await showTab(page, 'rankings');
  const rows = await page.$$eval('table#rankings tbody tr[data-tid]', (rs) => rs.map((r) => Number(r.getAttribute('data-tid'))));
  checkEq(rows, [tid], 'rankings: only the focused thread\'s row');

  await showTab(page, 'timeline');
  const tlText = await page.textContent('[data-panel="timeline"]');
  check(tlText.includes(`Live heap of thread ${label} only`), 'timeline: the live heap is the thread\'s',
    tlText.slice(0, 300));
  check(thread.timeline && thread.timeline.t_ns.length > 0, 'the thread has its own timeline in summary.json');
  const series = await page.$$eval('[data-panel="timeline"] svg', (ss) => ss.map((s) => s.getAttribute('aria-label') || ''));
  check(series.some((s) => s.includes('this thread')), 'timeline: a chart of this thread\'s live heap', JSON.stringify(series));

  await showTab(page, 'correlation');
  const pts = await page.$$eval('[data-panel="correlation"] circle[data-point-tid]', (cs) => cs.map((c) => ({
    tid: Number(c.getAttribute('data-point-tid')), opacity: Number(c.getAttribute('fill-opacity')), r: Number(c.getAttribute('r')) })));
  const inPoints = (summary.correlation && Array.isArray(summary.correlation.points) ? summary.correlation.points : [])
    .some((p) => p.tid === tid);
  if (inPoints) {
    const hi = pts.filter((p) => p.tid === tid);
    checkEq(hi.length, 1, 'correlation: the thread\'s point');
    check(hi.length === 1 && hi[0].r > Math.max(...pts.filter((p) => p.tid !== tid).map((p) => p.r)),
      'correlation: the thread\'s point is highlighted (larger)');
    checkEq(pts.filter((p) => p.tid !== tid && p.opacity > 0.2 + 1e-9).map((p) => p.tid), [],
      'correlation: every other point faded (fill-opacity 0.2)');
  } else {
    const t = await page.textContent('[data-panel="correlation"]');
    check(t.includes('unavailable'), 'correlation: the thread has no point, and the page says so', t.slice(0, 300));
  }

  // Leaks: groups whose stack this thread allocated through (the flame graph's per-thread split).
  await showTab(page, 'leaks');
  const fgStacks = new Map((summary.flamegraph.stacks || []).map((s) => [s.stack_id, s.threads || []]));
  const expLeaks = (summary.leaks || []).filter((l) => (fgStacks.get(l.stack_id) || []).some((x) => x.tid === tid)).length;
  const leakRows = await page.$$eval('[data-panel="leaks"] table#leaks tbody tr', (rs) => rs.length);
  checkEq(leakRows, expLeaks, `leaks: the thread's leak groups (${(summary.leaks || []).length} in the run)`);
  check((await page.textContent('[data-panel="leaks"]')).includes(label), 'leaks: says which thread');

  // Flame graph: the root is the thread's allocations through the listed stacks.
  await showTab(page, 'flamegraph');
  let expCount = 0;
  for (const st of summary.flamegraph.stacks) for (const x of st.threads || []) if (x.tid === tid) expCount += x.allocations;
  checkEq(expCount, thread.allocations, 'summary.json: the flame graph\'s split holds all the thread\'s allocations');
  const rootTitle = await page.textContent('[data-flamegraph] rect.frame[data-depth="0"] title');
  const m = / in ([0-9,]+) allocations/.exec(rootTitle || '');
  checkEq(m ? num(m[1]) : null, expCount, 'flame graph: the root counts the thread\'s allocations only');

  // Histograms: the bars are the thread's size histogram.
  await showTab(page, 'histograms');
  const bars = await page.$$eval('[data-panel="histograms"] svg', (ss) => ss.map((s) =>
    Array.from(s.querySelectorAll('rect > title')).map((t) => t.textContent)));
  const sizeBars = bars[0] || [];
  const barSum = sizeBars.reduce((a, t) => a + num(t.slice(t.lastIndexOf(':') + 1)), 0);
  const histSum = thread.size_histogram.reduce((a, b) => a + b.count, 0);
  checkEq(histSum, thread.allocations, 'summary.json: the thread\'s size histogram counts its allocations');
  checkEq(barSum, histSum, 'histograms: the size bars add up to the thread\'s allocations');
  const wholeSum = summary.size_histogram.reduce((a, b) => a + b.count, 0);
  check(barSum !== wholeSum, 'histograms: not the whole run\'s', `${barSum} vs the run's ${wholeSum}`);

  // ---- leaving: a click on the background, then Esc
  await showTab(page, 'threads');
  await page.mouse.click(6, 400); // the body's left padding, beside the card grid
  let st = await focusState(page);
  checkEq([st.mode, st.tid], [false, null], 'a click on the background leaves focus mode');
  let after = await cardStyles(page);
  checkEq(after.filter((s) => s.focused || Math.abs(s.opacity - 1) > 0.001 || scaleOf(s.transform) !== 1).map((s) => s.tid), [],
    'after leaving: every card opaque and unscaled');
  checkEq(st.bg, before.bg, 'after leaving: the background is back');

  await page.click(`[data-panel="threads"] .thread-card[data-tid="${tid}"]`);
  st = await focusState(page);
  checkEq(st.mode, true, 'a second click enters focus mode again');
  await page.keyboard.press('Escape');
  st = await focusState(page);
  checkEq([st.mode, st.tid], [false, null], 'Esc leaves focus mode');
  after = await cardStyles(page);
  checkEq(after.filter((s) => s.focused || Math.abs(s.opacity - 1) > 0.001).map((s) => s.tid), [],
    'after Esc: every card opaque');
  await showTab(page, 'rankings');
  checkEq(await page.$$eval('table#rankings tbody tr[data-tid]', (rs) => rs.length), summary.threads.length,
    'after leaving: the rankings list every thread again');

  checkEq(seen.pageErrors, [], 'no page error');
  checkEq(seen.console, [], 'no console error or warning');
  await context.close();
});
