/* flame.js: the allocation flame graph (icicle: outermost frame on top) drawn from the summary's
 * `flamegraph` (docs/dashboard-data.md §3): every stack's allocations and bytes, or one thread's
 * share of them. Frame boxes sum the stacks that pass through them; nothing else is derived.
 * Loaded after charts.js and before dashboard.js. */
/* exported MSFlame */
/* global MSCharts */
'use strict';

const MSFlame = (function () {
  const C = MSCharts;
  const ROW = 18, W = 1000, MIN_W = 0.5, MAX_DEPTH = 80;

  function baseName(path) {
    const s = String(path || '');
    const i = s.lastIndexOf('/');
    return i >= 0 ? s.slice(i + 1) : s;
  }

  function frameName(fr) {
    if (fr.function) return String(fr.function);
    if (fr.module) return '[' + baseName(fr.module) + ']';
    if (fr.address) return String(fr.address);
    return '[unknown]';
  }

  /* A stack's per-thread split as [{tid, allocations, allocated_bytes}]: the page's data holds
   * it flat ("thread_split": [tid, allocations, bytes, ...], ms_html.c); a summary's own
   * "threads" list is read as well. */
  function splitOf(st) {
    if (Array.isArray(st.thread_split)) {
      const out = [];
      for (let i = 0; i + 2 < st.thread_split.length; i += 3) {
        out.push({ tid: st.thread_split[i], allocations: st.thread_split[i + 1], allocated_bytes: st.thread_split[i + 2] });
      }
      return out;
    }
    return Array.isArray(st.threads) ? st.threads : [];
  }

  /* The tree of stacks (root first), with each node's allocations and bytes; tid: only that
   * thread's share (stacks[].threads), or null for all. */
  function buildTree(fg, tid) {
    const frames = Array.isArray(fg.frames) ? fg.frames : [];
    const root = { name: 'all', frame: null, bytes: 0, count: 0, children: new Map(), parent: null, depth: 0 };
    let cut = 0;
    for (const st of Array.isArray(fg.stacks) ? fg.stacks : []) {
      let bytes = st.allocated_bytes, count = st.allocations;
      if (tid !== null) {
        const split = splitOf(st);
        const e = split.find((t) => t.tid === tid);
        if (!e) {
          // The split may list fewer threads than allocated from the stack: the analysis's
          // cap (threads_total) or the page's (threads_cut).
          if (st.threads_cut || (C.isNum(st.threads_total) && st.threads_total > split.length)) cut++;
          continue;
        }
        bytes = e.allocated_bytes;
        count = e.allocations;
      }
      if (!C.isNum(bytes)) bytes = 0;
      if (!C.isNum(count)) count = 0;
      root.bytes += bytes;
      root.count += count;
      let node = root;
      let path = Array.isArray(st.frames) ? st.frames : [];
      // Allocations without a stack get a box of their own under the root, so that the
      // children's widths add up to the root's.
      if (!path.length) path = [st.stack_known === false ? 'unknown' : 'none'];
      for (const fi of path) {
        let ch = node.children.get(fi);
        if (!ch) {
          const fr = fi === 'unknown' ? { function: '[stack id not defined in the trace]' }
            : fi === 'none' ? { function: '[no stack recorded]' } : frames[fi] || {};
          ch = { name: frameName(fr), frame: fr, bytes: 0, count: 0, children: new Map(), parent: node,
            depth: node.depth + 1 };
          node.children.set(fi, ch);
        }
        ch.bytes += bytes;
        ch.count += count;
        node = ch;
      }
    }
    return { root, cut };
  }

  /* A warm colour from the name, so one function keeps one colour across zooms. */
  function colour(name) {
    let h = 0;
    for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
    return 'hsl(' + (h % 50) + ',' + (70 + (h >> 8) % 20) + '%,' + (62 + (h >> 16) % 14) + '%)';
  }

  function describe(node, metric, all) {
    const v = node[metric];
    const pct = all > 0 ? (100 * v / all).toFixed(1) + ' %' : 'n/a';
    let loc = '';
    if (node.frame && node.frame.file) loc = ' (' + node.frame.file + ':' + node.frame.line + ')';
    else if (node.frame && node.frame.module) loc = ' [' + node.frame.module + ']';
    if (node.frame && node.frame.inlined === true) loc += ' (inlined)';
    return node.name + loc + '\n' + C.fmtBytes(node.bytes) + ' in ' + C.fmtNum(node.count) +
      ' allocations; ' + pct + ' of the ' + (metric === 'bytes' ? 'bytes' : 'allocations') + ' shown';
  }

  /* Draws into host (the [data-flamegraph] element). view: {metric: 'bytes'|'count', zoom: node
   * or null, search: string, onZoom(node)}. Returns the number of drawn frames matching the search. */
  function render(host, root, view) {
    const metric = view.metric === 'count' ? 'count' : 'bytes';
    const zoom = view.zoom || root;
    const q = (view.search || '').toLowerCase();
    const chain = [];
    for (let n = zoom.parent; n; n = n.parent) chain.unshift(n);
    const items = [];
    chain.forEach((n, i) => items.push({ node: n, x: 0, w: W, row: i, ancestor: true }));
    const total = zoom[metric];
    let maxRow = chain.length;
    const walk = (node, x, row) => {
      const w = total > 0 ? W * node[metric] / total : 0;
      if (w < MIN_W || row - chain.length > MAX_DEPTH) return;
      items.push({ node, x, w, row, ancestor: false });
      if (row > maxRow) maxRow = row;
      const kids = Array.from(node.children.values()).sort((a, b) => b[metric] - a[metric]);
      let cx = x;
      for (const k of kids) {
        walk(k, cx, row + 1);
        cx += total > 0 ? W * k[metric] / total : 0;
      }
    };
    walk(zoom, 0, chain.length);
    const H = (maxRow + 1) * ROW + 2;
    const s = C.svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'allocation flame graph' });
    let matches = 0;
    for (const it of items) {
      const g = C.svg('g', { class: 'frame-g' });
      const isMatch = q !== '' && (it.node.name.toLowerCase().includes(q) ||
        (it.node.frame && String(it.node.frame.file || '').toLowerCase().includes(q)));
      if (isMatch) matches++;
      const cls = 'frame' + (isMatch ? ' match' : '') + (it.ancestor ? ' ancestor' : '');
      const r = C.svg('rect', { x: it.x.toFixed(2), y: it.row * ROW, width: Math.max(0.5, it.w - 0.5).toFixed(2),
        height: ROW - 1, fill: it.node === root ? '#d0d7de' : colour(it.node.name), class: cls });
      r.setAttribute('data-frame', it.node.name);
      r.setAttribute('data-depth', String(it.node.depth));
      r.appendChild(C.svg('title', null, describe(it.node, metric, root[metric])));
      g.appendChild(r);
      const chars = Math.floor((it.w - 6) / 7);
      if (chars >= 3) {
        const label = it.node.name.length > chars ? it.node.name.slice(0, chars - 1) + '…' : it.node.name;
        g.appendChild(C.svg('text', { x: (it.x + 3).toFixed(2), y: it.row * ROW + 13 }, label));
      }
      g.addEventListener('click', (ev) => {
        ev.stopPropagation();
        view.onZoom(it.node === root ? null : it.node);
      });
      s.appendChild(g);
    }
    host.replaceChildren(s);
    host.setAttribute('data-metric', metric);
    host.setAttribute('data-zoom-depth', String(zoom.depth));
    host.setAttribute('data-zoom', zoom === root ? '' : zoom.name);
    return matches;
  }

  return { buildTree, render, splitOf };
})();
