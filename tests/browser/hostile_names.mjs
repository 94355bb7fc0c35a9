// hostile_names.mjs: ctest browser.hostile_names. The dashboard of ms_b_hostile.cpp, whose
// names are markup: a thread named "<svg onload=1>", a leaked block of the
// MEMSCOPE_TRACK_VAR_AS type "<img src=x onerror=alert(1)>", and a leak from the template
// function whose demangled name is "std::pair<int, char>* make<std::pair<int, char> >(std::pair<int, char>&)"
// (the C++ ABI's demangling of make<std::pair<int, char>>, written here, not read from the
// page). Every tab is drawn, the thread focused, the stacks expanded and the function zoomed in
// the flame graph; then: no dialog ever opened, no element or attribute came from the names
// (no svg[onload], no img, no on* attribute anywhere), and each name is visible as text.
import { run, openDashboard, showTab, summaryOf, check, checkEq, checkClean, artifact } from './lib.mjs';

const THREAD = '<svg onload=1>';
const TYPE = '<img src=x onerror=alert(1)>';
const FUNCTION = 'std::pair<int, char>* make<std::pair<int, char> >(std::pair<int, char>&)';

// Elements whose own text is exactly `text` and that are laid out and not hidden.
async function visibleWithText(page, selector, text) {
  return page.$$eval(selector, (els, t) => els.filter((e) => {
    if (e.textContent !== t) return false;
    const r = e.getBoundingClientRect();
    const s = getComputedStyle(e);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none' && Number(s.opacity) > 0;
  }).length, text);
}

// Markup that only the names could have made, anywhere in the document.
async function injected(page) {
  return page.evaluate(() => {
    const out = [];
    for (const e of document.querySelectorAll('*')) {
      for (const a of e.attributes) if (/^on/i.test(a.name)) out.push(`<${e.localName} ${a.name}>`);
    }
    for (const e of document.querySelectorAll('img, iframe, object, embed')) out.push(`<${e.localName}>`);
    if (document.querySelectorAll('script').length !== 2) out.push(`${document.querySelectorAll('script').length} script elements (the page has 2)`);
    return out;
  });
}

await run(async (browser) => {
  const summary = summaryOf('hostile');
  // The names reached the summary as the program gave them (else the page is not tested).
  const thread = summary.threads.find((t) => t.name === THREAD);
  check(thread, `summary.json: a thread named ${THREAD}`);
  check(summary.leaks.some((l) => l.type_name === TYPE), `summary.json: a leak of type ${TYPE}`);
  check(summary.leaks.some((l) => l.stack.some((f) => f.function === FUNCTION)), `summary.json: a leak from ${FUNCTION}`);

  const { context, page, seen } = await openDashboard(browser, 'hostile');
  const tabs = await page.$$eval('button[data-tab]', (bs) => bs.map((b) => b.dataset.tab));
  for (const t of tabs) await showTab(page, t);

  // The thread's name: its card, its ranking row, and the focus banner and overview.
  await showTab(page, 'threads');
  check(await visibleWithText(page, `.thread-card[data-tid="${thread.tid}"] .name`, THREAD) === 1,
    'the thread\'s card shows its name as text');
  await showTab(page, 'rankings');
  check(await visibleWithText(page, `table#rankings tr[data-tid="${thread.tid}"] td`, THREAD) === 1,
    'the ranking shows the thread\'s name as text');

  // The type: its cell in the leak table. The function: in the expanded stack.
  await showTab(page, 'leaks');
  check(await visibleWithText(page, 'table#leaks td', TYPE) === 1, 'the leak table shows the type as text');
  for (const s of await page.$$('table#leaks details.stack > summary')) await s.click();
  const frameLines = await page.$$eval('table#leaks details.stack[open] li', (lis) => lis.filter((li) => {
    const r = li.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  }).map((li) => li.firstChild && li.firstChild.nodeType === 3 ? li.firstChild.textContent : ''));
  check(frameLines.includes(FUNCTION), 'the expanded stack shows the function\'s demangled name as text',
    JSON.stringify(frameLines.filter((l) => l.includes('make'))));
  await page.screenshot({ path: artifact('hostile-leaks.png'), fullPage: true });

  // The function in the flame graph: by allocations its box is a quarter of the width; zoomed,
  // its label is the whole name.
  await showTab(page, 'flamegraph');
  await page.click('[data-flame-metric="count"]');
  await page.click(`[data-flamegraph] rect.frame[data-frame="${FUNCTION.replace(/"/g, '\\"')}"]`);
  check(await visibleWithText(page, '[data-flamegraph] text', FUNCTION) === 1,
    'the flame graph, zoomed on the function, labels it with its name as text');
  const tips = await page.$$eval('[data-flamegraph] rect.frame > title', (ts) => ts.map((t) => t.textContent));
  check(tips.some((t) => t.startsWith(FUNCTION + ' (') || t.startsWith(FUNCTION + '\n')), 'the function\'s tooltip names it');
  await page.screenshot({ path: artifact('hostile-flamegraph.png') });

  // Focus on the thread: the banner and the overview repeat its name.
  await showTab(page, 'threads');
  await page.click(`.thread-card[data-tid="${thread.tid}"]`);
  check((await page.textContent('#focus-text')).includes(`${THREAD} (tid ${thread.tid})`), 'the focus banner names the thread as text');
  await showTab(page, 'overview');
  check(await visibleWithText(page, '[data-panel="overview"] .thread-summary .name', THREAD) === 1,
    'the focused overview shows the name as text');
  await page.screenshot({ path: artifact('hostile-focus.png'), fullPage: true });

  // An <img src=x onerror> would have fired by now; give a late handler a moment all the same.
  await page.waitForTimeout(200);
  checkEq(await injected(page), [], 'no element or event-handler attribute made from a name');
  checkEq(await page.$$eval('svg[onload], img[src="x"]', (es) => es.length), 0, 'no svg[onload], no img[src=x]');
  checkClean(seen, 'hostile');
  await context.close();

  // The detectors can fail: the same names put into a page as markup (what the dashboard must
  // never do) open a dialog and leave an svg[onload] and an img behind.
  const ctl = await browser.newContext();
  const bad = await ctl.newPage();
  const dialogs = [];
  bad.on('dialog', (d) => {
    dialogs.push(d.message());
    d.dismiss().catch(() => {});
  });
  await bad.setContent('<!DOCTYPE html><body><script>1</script><script>2</script><div id=x></div></body>');
  await bad.evaluate(([a, b]) => { document.getElementById('x').innerHTML = a + b; }, [THREAD, TYPE]);
  await bad.waitForTimeout(200);
  checkEq(dialogs, ['1'], 'control: the type as markup opens alert(1)');
  checkEq(await injected(bad), ['<svg onload>', '<img onerror>', '<img>'], 'control: the names as markup are found');
  await ctl.close();
});
