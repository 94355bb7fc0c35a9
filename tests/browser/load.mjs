// load.mjs: ctest browser.load. Both dashboards (selective_50, and the 100-thread run) load in
// Chromium with no console error or warning, no page error, no dialog and no request off the
// machine, through every tab; full-page screenshots of the first tab and of the thread cards
// go to the artifacts.
import { run, openDashboard, checkClean, check, showTab, artifact } from './lib.mjs';

await run(async (browser) => {
  for (const name of ['selective_50', 'threads_100']) {
    const { context, page, seen } = await openDashboard(browser, name);
    const tabs = await page.$$eval('button[data-tab]', (bs) => bs.map((b) => b.dataset.tab));
    check(tabs.length >= 2, `${name}: the page has tabs`, `data-tab buttons: ${JSON.stringify(tabs)}`);
    // Every tab drawn once, so that an error in any section's code shows up here. Full-page
    // screenshots of the overview and the thread cards (the other tabs' are taken by the tests
    // of those tabs: a full-page shot of a long table costs seconds).
    for (const t of tabs) {
      await showTab(page, t);
      if (t === 'threads') await page.screenshot({ path: artifact(`${name}-threads.png`), fullPage: true });
    }
    await showTab(page, tabs[0]);
    await page.screenshot({ path: artifact(`${name}-full.png`), fullPage: true });
    checkClean(seen, name);
    await context.close();
  }
});
