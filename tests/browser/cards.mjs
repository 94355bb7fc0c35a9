// cards.mjs: ctest browser.cards. The selective_50 dashboard's Threads tab shows one card per
// thread of the trace, and 25 tracked worker cards: the scenario starts 50 workers named
// sel-worker-NN and switches tracking on in the even ones (scenarios/selective_50.c), so the
// expected set is written here from that rule, and checked against summary.json too. The main
// thread (tid = the run's pid) is tracked as well and has its own card: 26 tracked cards in
// all, 25 of them workers. Each card's data-role is the summary's role.
import { run, openDashboard, showTab, summaryOf, check, checkEq } from './lib.mjs';

const WORKERS = 50;

await run(async (browser) => {
  const summary = summaryOf('selective_50');
  const pid = summary.run.pid;
  // The scenario's rule: sel-worker-00, -02, ... -48 are tracked; the odd ones are not.
  const expectedTracked = [];
  for (let i = 0; i < WORKERS; i += 2) expectedTracked.push(`sel-worker-${String(i).padStart(2, '0')}`);
  checkEq(expectedTracked.length, 25, 'the scenario tracks 25 workers');

  // The summary agrees with the rule (so the page is compared with the right data).
  const workers = summary.threads.filter((t) => t.tid !== pid);
  const sumTracked = workers.filter((t) => t.tracked === true).map((t) => t.name).sort();
  checkEq(sumTracked, expectedTracked, 'summary.json: tracked workers are the even sel-worker threads');

  const { context, page, seen } = await openDashboard(browser, 'selective_50');
  await showTab(page, 'threads');
  const cards = await page.$$eval('[data-panel="threads"] .thread-card[data-tid]', (cs) => cs.map((c) => ({
    tid: Number(c.getAttribute('data-tid')),
    tracked: c.getAttribute('data-tracked'),
    role: c.getAttribute('data-role'),
    name: (c.querySelector('.name') || c).textContent,
    visible: c.getBoundingClientRect().width > 0 && c.getBoundingClientRect().height > 0,
  })));

  // One card per thread of the trace, no more.
  checkEq(cards.map((c) => c.tid).sort((a, b) => a - b), summary.threads.map((t) => t.tid).sort((a, b) => a - b),
    `one card per thread of summary.json (${summary.threads.length})`);
  check(cards.every((c) => c.visible), 'every card is laid out (non-zero size)');

  const trackedCards = cards.filter((c) => c.tracked === 'true');
  const trackedWorkerCards = trackedCards.filter((c) => c.tid !== pid);
  checkEq(trackedWorkerCards.length, 25, 'tracked worker cards ([data-tracked="true"], not the main thread)');
  checkEq(trackedWorkerCards.map((c) => c.name).sort(), expectedTracked, 'the tracked worker cards are the even sel-worker threads');
  checkEq(trackedCards.length, summary.threads.filter((t) => t.tracked === true).length,
    'tracked cards = threads with tracked:true in summary.json (the 25 workers and the main thread)');
  const mainCard = cards.find((c) => c.tid === pid);
  check(mainCard && mainCard.tracked === 'true', 'the main thread has a tracked card of its own', JSON.stringify(mainCard));
  checkEq(cards.filter((c) => c.tracked === 'false').length, WORKERS - 25, 'untracked cards: the 25 odd workers');

  // data-role: the summary's role, card by card.
  const byTid = new Map(summary.threads.map((t) => [t.tid, t]));
  const wrong = cards.filter((c) => c.role !== String(byTid.get(c.tid).role ?? ''));
  checkEq(wrong.map((c) => `${c.tid}:${c.role}`), [], 'every card\'s data-role is its summary role');
  check(summary.threads.some((t) => t.role === 'memory_intensive') &&
    cards.some((c) => c.role === 'memory_intensive'), 'memory-intensive cards are shown (the 16 and 8 KiB workers)');

  await context.close();
  checkEq(seen.pageErrors, [], 'no page error');
});
