// flamegraph.mjs: ctest browser.flamegraph. The allocation flame graph draws (rect.frame
// elements under [data-flamegraph]) with widths in proportion to the bytes, and to the
// allocation counts, of summary.json's flamegraph.stacks, summed here per outermost frame; a
// click on a frame zooms it to the full width, a click on the top bar zooms back; the search
// marks the frames whose name holds the text. Widths are compared in the SVG's own units
// (viewBox) and, for the zoom, on screen (getBoundingClientRect).
import { run, openDashboard, showTab, summaryOf, check, checkEq, checkNear, artifact } from './lib.mjs';

// {name: share} of the outermost frames (depth 1), by `metric` (allocated_bytes|allocations).
function depth1Shares(fg, metric) {
  const by = new Map();
  let total = 0;
  for (const st of fg.stacks) {
    const v = st[metric];
    total += v;
    if (!st.frames.length) continue;
    const f = fg.frames[st.frames[0]];
    const name = f.function || (f.module ? `[${f.module.split('/').pop()}]` : f.address || '[unknown]');
    by.set(name, (by.get(name) || 0) + v);
  }
  const out = {};
  for (const [k, v] of by) out[k] = v / total;
  return out;
}

async function frames(page) {
  return page.$$eval('[data-flamegraph] rect.frame', (rs) => {
    const svg = rs.length ? rs[0].ownerSVGElement : null;
    const vbW = svg ? svg.viewBox.baseVal.width : 0;
    return rs.map((r) => ({ name: r.getAttribute('data-frame'), depth: Number(r.getAttribute('data-depth')),
      x: Number(r.getAttribute('x')), w: Number(r.getAttribute('width')), vbW,
      ancestor: r.classList.contains('ancestor'), match: r.classList.contains('match'),
      screenW: r.getBoundingClientRect().width, svgScreenW: svg.getBoundingClientRect().width }));
  });
}

// The page's depth-1 widths as shares of the root's width; each box is drawn 0.5 units
// narrower than its share, to leave a gap (flame.js), so 0.5 is added back.
function pageShares(fr) {
  const root = fr.find((f) => f.depth === 0);
  const out = {};
  for (const f of fr.filter((g) => g.depth === 1)) out[f.name] = (out[f.name] || 0) + (f.w + 0.5) / (root.w + 0.5);
  return out;
}

function compareShares(got, want, what) {
  // Frames under 1 % of the width are not compared (the page may leave out boxes under half a
  // unit); the rest must match within 0.2 % of the width.
  const names = Object.keys(want).filter((k) => want[k] >= 0.01);
  check(names.length > 0, `${what}: the summary has outermost frames`);
  for (const n of names) checkNear(got[n], want[n], 0.002, `${what}: width of "${n}"`);
}

await run(async (browser) => {
  // ---- draws: selective_50, by bytes and by allocations
  {
    const summary = summaryOf('selective_50');
    const fg = summary.flamegraph;
    const { context, page, seen } = await openDashboard(browser, 'selective_50');
    await showTab(page, 'flamegraph');
    let fr = await frames(page);
    check(fr.length >= 2, 'selective_50: the flame graph draws frames', `${fr.length} rect.frame`);
    const root = fr.find((f) => f.depth === 0);
    check(root && root.x === 0 && root.w + 0.5 === root.vbW, 'the root spans the full width', JSON.stringify(root));
    const longest = Math.max(...fg.stacks.filter((s) => s.allocated_bytes / fg.stacks.reduce((a, b) => a + b.allocated_bytes, 0) > 0.01)
      .map((s) => s.frames.length));
    checkEq(Math.max(...fr.map((f) => f.depth)), longest, 'as deep as the longest stack that holds 1 %+ of the bytes');
    compareShares(pageShares(fr), depth1Shares(fg, 'allocated_bytes'), 'by bytes');
    await page.click('[data-flame-metric="count"]');
    checkEq(await page.getAttribute('[data-flamegraph]', 'data-metric'), 'count', 'the allocations button switches the metric');
    fr = await frames(page);
    compareShares(pageShares(fr), depth1Shares(fg, 'allocations'), 'by allocations');
    const rootTitle = await page.textContent('[data-flamegraph] rect.frame[data-depth="0"] title');
    const total = fg.stacks.reduce((a, s) => a + s.allocations, 0);
    check(rootTitle.replace(/,/g, '').includes(` ${total} allocations`), `the root's tooltip counts ${total} allocations`, rootTitle);
    checkEq(seen.pageErrors, [], 'selective_50: no page error');
    await context.close();
  }

  // ---- zooms and searches: the hostile-names program, whose stacks branch at the top
  // (__clone3 for its thread, _start for main) into boxes of comparable size.
  {
    const summary = summaryOf('hostile');
    const fg = summary.flamegraph;
    const { context, page, seen } = await openDashboard(browser, 'hostile');
    await showTab(page, 'flamegraph');
    const shares = depth1Shares(fg, 'allocated_bytes');
    // The narrowest outermost frame with at least 10 % of the bytes.
    const [target, share] = Object.entries(shares).filter(([, v]) => v >= 0.1 && v < 0.9).sort((a, b) => a[1] - b[1])[0] || [];
    check(target, 'the hostile program has an outermost frame of 10-90 % of the bytes', JSON.stringify(shares));
    let fr = await frames(page);
    const before = fr.find((f) => f.depth === 1 && f.name === target);
    checkNear(before.screenW / before.svgScreenW, share, 0.01, `before the zoom, "${target}" is ${(100 * share).toFixed(1)} % of the width on screen`);
    await page.click(`[data-flamegraph] rect.frame[data-depth="1"][data-frame="${target}"]`);
    checkEq([await page.getAttribute('[data-flamegraph]', 'data-zoom-depth'), await page.getAttribute('[data-flamegraph]', 'data-zoom')],
      ['1', target], 'the click zooms on the frame');
    fr = await frames(page);
    const zoomed = fr.find((f) => f.depth === 1 && f.name === target && !f.ancestor);
    check(zoomed && zoomed.screenW / zoomed.svgScreenW >= 0.99, `after the zoom, "${target}" takes the full width`,
      zoomed ? `${zoomed.screenW.toFixed(1)} of ${zoomed.svgScreenW.toFixed(1)} px` : 'not drawn');
    checkEq(fr.filter((f) => f.depth === 1 && f.name !== target && !f.ancestor).map((f) => f.name), [],
      'after the zoom, the other outermost frames are gone');
    await page.screenshot({ path: artifact('hostile-flamegraph-zoom.png') });
    await page.click('[data-flamegraph] rect.frame[data-depth="0"]');
    checkEq(await page.getAttribute('[data-flamegraph]', 'data-zoom-depth'), '0', 'a click on the top bar zooms back out');
    fr = await frames(page);
    const back = fr.find((f) => f.depth === 1 && f.name === target);
    checkNear(back.screenW / back.svgScreenW, share, 0.01, `zoomed out, "${target}" is back to its share`);

    // Search: the frames whose name holds "start" (case-insensitive), counted from the page's
    // own boxes, are the ones marked, and the count is said.
    await page.fill('input#flame-search', 'START');
    fr = await frames(page);
    const want = fr.filter((f) => f.name.toLowerCase().includes('start')).map((f) => `${f.depth}:${f.name}`).sort();
    check(want.length >= 2, 'boxes whose name holds "start" (_start, start_thread...)', JSON.stringify(want));
    checkEq(fr.filter((f) => f.match).map((f) => `${f.depth}:${f.name}`).sort(), want, 'the search marks exactly those boxes');
    checkEq(await page.textContent('#flame-matches'), `${want.length} frame(s) match`, 'the search says how many');
    checkEq(seen.pageErrors, [], 'hostile: no page error');
    await context.close();
  }
});
