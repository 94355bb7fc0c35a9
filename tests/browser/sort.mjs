// sort.mjs: ctest browser.sort, on the 100-thread dashboard. A click on a column header of
// table#rankings reorders the rows; the order is compared with summary.json's threads sorted
// here, independently of the page: numbers by value (unknown figures last), both directions,
// and names. The filter input narrows the rows to the threads whose name, tid or role holds
// the text.
import { run, openDashboard, showTab, summaryOf, check, checkEq } from './lib.mjs';

async function rowTids(page) {
  return page.$$eval('table#rankings tbody tr[data-tid]', (rs) => rs.map((r) => Number(r.getAttribute('data-tid'))));
}

async function ariaSort(page, key) {
  return page.getAttribute(`table#rankings th[data-key="${key}"]`, 'aria-sort');
}

// The values of `key` in the order of `tids` (what the page's order amounts to), and the same
// values sorted as the ranking should have them: dir -1 descending, 1 ascending, null last.
function orderCheck(threads, tids, key, dir) {
  const byTid = new Map(threads.map((t) => [t.tid, t]));
  const shown = tids.map((tid) => (byTid.has(tid) ? byTid.get(tid)[key] ?? null : 'missing'));
  const known = threads.map((t) => t[key] ?? null).filter((v) => v !== null);
  const nulls = threads.length - known.length;
  const sorted = typeof known[0] === 'string'
    ? known.sort((a, b) => dir * a.localeCompare(b))
    : known.sort((a, b) => dir * (a - b));
  return { shown, expected: sorted.concat(Array(nulls).fill(null)) };
}

await run(async (browser) => {
  const summary = summaryOf('threads_100');
  const threads = summary.threads;
  const { context, page, seen } = await openDashboard(browser, 'threads_100');
  await showTab(page, 'rankings');

  const initial = await rowTids(page);
  checkEq(initial.length, threads.length, 'the ranking lists every thread');
  checkEq([...initial].sort((a, b) => a - b), threads.map((t) => t.tid).sort((a, b) => a - b), 'the ranking\'s rows are the summary\'s threads');

  // allocations: a numeric column; first click descending, second ascending.
  await page.click('table#rankings th[data-key="allocations"]');
  const desc = await rowTids(page);
  checkEq(await ariaSort(page, 'allocations'), 'descending', 'allocations: aria-sort after one click');
  let c = orderCheck(threads, desc, 'allocations', -1);
  checkEq(c.shown, c.expected, 'allocations: rows in descending order of the summary\'s figures');
  check(JSON.stringify(desc) !== JSON.stringify(initial), 'the click reordered the rows');
  await page.click('table#rankings th[data-key="allocations"]');
  const asc = await rowTids(page);
  checkEq(await ariaSort(page, 'allocations'), 'ascending', 'allocations: aria-sort after two clicks');
  c = orderCheck(threads, asc, 'allocations', 1);
  checkEq(c.shown, c.expected, 'allocations: rows in ascending order');

  // peak live bytes and allocated bytes: other figures, other orders.
  for (const key of ['allocated_bytes', 'peak_live_bytes', 'cpu_time_s']) {
    await page.click(`table#rankings th[data-key="${key}"]`);
    c = orderCheck(threads, await rowTids(page), key, -1);
    checkEq(c.shown, c.expected, `${key}: rows in descending order (unknown last)`);
  }

  // tid: unique values, so the exact order of tids is known.
  await page.click('table#rankings th[data-key="tid"]');
  const byTidDesc = threads.map((t) => t.tid).sort((a, b) => b - a);
  checkEq(await rowTids(page), byTidDesc, 'tid: rows in descending tid order');

  // name: a text column, ascending at the first click.
  await page.click('table#rankings th[data-key="name"]');
  c = orderCheck(threads, await rowTids(page), 'name', 1);
  checkEq(c.shown, c.expected, 'name: rows in ascending name order');

  // The filter, with the tid of the last thread (all threads here share the program's name):
  // the rows are the threads whose name, tid or role holds that text.
  const q = String(threads[threads.length - 1].tid);
  await page.fill('input#thread-filter', q);
  const filtered = await rowTids(page);
  const expect = threads.filter((t) => String(t.name || '').toLowerCase().includes(q) ||
    String(t.tid).includes(q) || String(t.role || '').toLowerCase().includes(q)).map((t) => t.tid);
  checkEq([...filtered].sort(), [...expect].sort(), `filter "${q}": the threads whose name, tid or role holds it (${expect.length})`);
  check(filtered.length > 0 && filtered.length < threads.length, 'the filter narrows the list', `${filtered.length} rows`);
  await page.fill('input#thread-filter', '');
  checkEq((await rowTids(page)).length, threads.length, 'an empty filter lists every thread again');

  checkEq(seen.pageErrors, [], 'no page error');
  checkEq(seen.console, [], 'no console error or warning');
  await context.close();
});
