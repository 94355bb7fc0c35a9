/* dashboard.js: memscope's report.html: reads the run's data from the JSON element
 * #memscope-data and draws every section (docs/dashboard.md). It lays out the figures of the
 * summary and resources.json; it measures, estimates and randomizes nothing. A figure the data
 * lacks shows as "unavailable" with the reason the data gives (or the field that is missing).
 *
 * Safety: every string of the data (thread, function, file, variable, type names, command
 * lines) is inserted with textContent, createTextNode or setAttribute; never as markup.
 *
 * Stable hooks (the browser tests, tests/browser/, and outside checks rely on them):
 *   - thread cards: .thread-card[data-tid][data-role][data-alert][data-tracked] in the Threads
 *     tab (data-tracked "true" | "false" | "null"; data-role "" when the summary has none);
 *   - focus mode: clicking a card sets <body class="focus-mode"> and the card's class "focused"
 *     (transform: scale(1.15)), the other cards get opacity 0.3 (no transition: the computed
 *     values hold at once); body[data-focus-tid] names the thread; a click on the background
 *     (anything but a card, a control, a table, a chart or a stack) or Esc leaves;
 *   - tabs: button[data-tab="overview|threads|rankings|timeline|correlation|leaks|flamegraph|
 *     histograms"], aria-selected; panels section[data-panel=...] (drawn when first shown);
 *   - rankings: table#rankings, sortable th[data-key] with aria-sort, rows tr[data-tid];
 *     filter input#thread-filter;
 *   - flame graph: [data-flamegraph] root (data-metric, data-zoom-depth), rect.frame[data-frame],
 *     input#flame-search, button#flame-reset, buttons [data-flame-metric="bytes"|"count"],
 *     #flame-matches;
 *   - correlation: #correlation-r, circles [data-point-tid], line[data-trend];
 *   - leaks: table#leaks, rows with <details class="stack">;
 *   - assertions: table#assertions, rows tr[data-passed="true"|"false"];
 *   - the page sets <html data-ready="1"> (and <body data-ready="1">) once the first tab is
 *     drawn. */
/* global MSCharts, MSFlame */
'use strict';

(function () {
  const C = MSCharts;
  const isNum = C.isNum;
  const ROLES = ['memory_intensive', 'cpu_intensive', 'io_intensive', 'balanced', 'light'];
  const ROLE_LABEL = { memory_intensive: 'memory-intensive', cpu_intensive: 'CPU-intensive',
    io_intensive: 'I/O-intensive', balanced: 'balanced', light: 'light' };
  const ROLE_COLOUR = { memory_intensive: '#d32f2f', cpu_intensive: '#ef6c00', io_intensive: '#1565c0',
    balanced: '#2e7d32', light: '#8c959f' };

  /* ---- DOM helpers: text only ---- */

  /* el('td', {class: 'num', 'data-x': v}, child...) where a child is a node or a string (a text
   * node). Attributes go through setAttribute. */
  function el(tag, attrs) {
    const e = document.createElement(tag);
    if (attrs) {
      for (const k of Object.keys(attrs)) {
        const v = attrs[k];
        if (v === null || v === undefined || v === false) continue;
        e.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (let i = 2; i < arguments.length; i++) append(e, arguments[i]);
    return e;
  }

  function append(parent, c) {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) {
      for (const x of c) append(parent, x);
    } else if (typeof c === 'object' && c.nodeType) {
      parent.appendChild(c);
    } else {
      parent.appendChild(document.createTextNode(String(c)));
    }
  }

  function unavailable(what, reason) {
    return el('p', { class: 'unavailable' }, what + ': unavailable (' + reason + ')');
  }

  function note(text) {
    return el('p', { class: 'note' }, text);
  }

  function fmtPct(v) {
    return isNum(v) ? v.toFixed(1) + ' %' : 'n/a';
  }

  function fmtCell(key, v) {
    if (v === null || v === undefined) return 'n/a';
    if (typeof v === 'boolean') return v ? 'yes' : 'no';
    if (!isNum(v)) return String(v);
    if (/bytes$|avg_size/.test(key)) return C.fmtBytes(v);
    if (/percent/.test(key)) return fmtPct(v);
    if (/per_s$/.test(key)) return C.fmtNum(v, 1);
    if (/_s$/.test(key)) return C.fmtSeconds(v);
    return C.fmtNum(v);
  }

  function baseName(p) {
    const s = String(p || '');
    const i = s.lastIndexOf('/');
    return i >= 0 ? s.slice(i + 1) : s;
  }

  /* ---- data ---- */

  let DATA = null, loadError = null;
  try {
    DATA = JSON.parse(document.getElementById('memscope-data').textContent);
  } catch (e) {
    loadError = e;
  }
  const S = (DATA && DATA.summary) || {};
  const RES = (DATA && DATA.resources) || null;
  const THREADS = Array.isArray(S.threads) ? S.threads : [];
  const BY_TID = new Map(THREADS.map((t) => [t.tid, t]));
  const FG = S.flamegraph && typeof S.flamegraph === 'object' ? S.flamegraph : null;

  /* stack_id -> [{tid, allocations, allocated_bytes}] from the flame graph's per-thread split:
   * how the leak table and hot stacks filter to a focused thread. */
  const STACK_THREADS = new Map();
  if (FG && Array.isArray(FG.stacks)) {
    for (const st of FG.stacks) STACK_THREADS.set(st.stack_id, MSFlame.splitOf(st));
  }

  /* stack_id -> full stack (innermost first) from the hot stacks and leaks: the bottleneck
   * lists name a stack by its id and top frame only. */
  const FULL_STACKS = new Map();
  for (const list of [S.hot_stacks && S.hot_stacks.by_bytes, S.hot_stacks && S.hot_stacks.by_count, S.leaks]) {
    if (!Array.isArray(list)) continue;
    for (const s of list) if (Array.isArray(s.stack) && !FULL_STACKS.has(s.stack_id)) FULL_STACKS.set(s.stack_id, s.stack);
  }

  function threadLabel(t) {
    return (t.name ? t.name : '(no name)') + ' (tid ' + t.tid + ')';
  }

  /* ---- state: current tab, focused thread, which panels are drawn ---- */

  const state = { tab: 'overview', focus: null, drawn: new Set(), flame: { metric: 'bytes', zoom: null, search: '' } };

  function panel(name) {
    return document.querySelector('section[data-panel="' + name + '"]');
  }

  function showTab(name) {
    if (!panel(name)) return;
    state.tab = name;
    for (const b of document.querySelectorAll('button[data-tab]')) {
      b.setAttribute('aria-selected', b.getAttribute('data-tab') === name ? 'true' : 'false');
    }
    for (const p of document.querySelectorAll('section[data-panel]')) p.hidden = p.getAttribute('data-panel') !== name;
    draw(name);
  }

  /* Draws a panel the first time it is shown, and again after the focus changed (the Threads
   * tab only re-marks its cards, so a card stays the same element across focus changes). */
  function draw(name) {
    if (state.drawn.has(name)) return;
    const p = panel(name);
    p.replaceChildren();
    try {
      DRAW[name](p);
    } catch (e) {
      p.appendChild(el('p', { class: 'fail' }, 'This section could not be drawn: ' + e.message));
    }
    state.drawn.add(name);
  }

  function setFocus(tid) {
    const t = tid === null ? null : BY_TID.get(tid);
    state.focus = t ? tid : null;
    document.body.classList.toggle('focus-mode', state.focus !== null);
    if (state.focus !== null) document.body.setAttribute('data-focus-tid', String(state.focus));
    else document.body.removeAttribute('data-focus-tid');
    for (const c of document.querySelectorAll('.thread-card')) {
      const on = state.focus !== null && c.getAttribute('data-tid') === String(state.focus);
      c.classList.toggle('focused', on);
      c.setAttribute('aria-pressed', on ? 'true' : 'false');
    }
    const banner = document.getElementById('focus-banner');
    banner.hidden = state.focus === null;
    document.getElementById('focus-text').textContent = t
      ? 'Focused on thread ' + threadLabel(t) + ': every tab shows this thread only.' : '';
    state.flame.zoom = null;
    for (const name of Array.from(state.drawn)) if (name !== 'threads') state.drawn.delete(name);
    draw(state.tab);
  }

  function focusedThread() {
    return state.focus === null ? null : BY_TID.get(state.focus);
  }

  /* A short line atop each filtered view. */
  function focusNote(p, what) {
    const t = focusedThread();
    if (t) p.appendChild(note(what + ' of thread ' + threadLabel(t) + ' only (focus mode).'));
  }

  /* ---- Overview ---- */

  function card(label, value, sub) {
    return el('div', { class: 'card' }, el('div', { class: 'v' }, value), el('div', { class: 'l' }, label),
      sub ? el('div', { class: 's' }, sub) : null);
  }

  function drawOverview(p) {
    const t = focusedThread();
    const tot = S.totals || {};
    if (t) {
      p.appendChild(el('h2', null, 'Thread ' + threadLabel(t)));
      p.appendChild(threadCards([t], false));
      p.appendChild(threadFigures(t));
    } else {
      p.appendChild(el('h2', null, 'Overview'));
      const cards = el('div', { class: 'cards' });
      const peakAt = isNum(tot.peak_time_ns) && isNum(tot.first_ts_ns)
        ? 'at ' + C.fmtDurationNs(tot.peak_time_ns - tot.first_ts_ns) + ' after the first event' : null;
      cards.appendChild(card('allocations', C.fmtNum(tot.allocations), isNum(tot.reallocs) ? C.fmtNum(tot.reallocs) + ' reallocs' : null));
      cards.appendChild(card('frees', C.fmtNum(tot.frees)));
      cards.appendChild(card('allocated', C.fmtBytes(tot.allocated_bytes)));
      cards.appendChild(card('peak live heap', C.fmtBytes(tot.peak_live_bytes), peakAt));
      cards.appendChild(card('leaked at exit', C.fmtBytes(tot.leaked_bytes),
        isNum(tot.leaked_blocks) ? C.fmtNum(tot.leaked_blocks) + ' blocks' : null));
      cards.appendChild(card('temporary allocations', C.fmtNum(tot.temporary_allocations)));
      const tracked = THREADS.filter((x) => x.tracked === true).length;
      cards.appendChild(card('tracked threads', tracked + ' of ' + THREADS.length,
        THREADS.length - tracked > 0 ? (THREADS.length - tracked) + ' untracked or unsampled' : null));
      cards.appendChild(card('events', C.fmtNum(tot.events), isNum(tot.duration_ns) ? 'over ' + C.fmtDurationNs(tot.duration_ns) : null));
      // Wall and CPU time of the program as the harness measured them (a report rebuilt from
      // a trace has the CPU time from resources.json only, and no wall time).
      const h = S.harness || {};
      const rs = S.resources;
      if (isNum(h.wall_s)) cards.appendChild(card('wall time', C.fmtSeconds(h.wall_s)));
      const cpuOf = [h, rs || {}].find((o) => isNum(o.cpu_user_s) && isNum(o.cpu_sys_s));
      if (cpuOf) {
        cards.appendChild(card('CPU time', C.fmtSeconds(cpuOf.cpu_user_s + cpuOf.cpu_sys_s),
          'user ' + C.fmtSeconds(cpuOf.cpu_user_s) + ', system ' + C.fmtSeconds(cpuOf.cpu_sys_s)));
      }
      if (rs && isNum(rs.peak_rss_bytes)) cards.appendChild(card('peak RSS', C.fmtBytes(rs.peak_rss_bytes)));
      const ov = S.overhead && S.overhead.cpu;
      if (ov && isNum(ov.ratio_of_medians)) cards.appendChild(card('CPU overhead', '×' + ov.ratio_of_medians.toFixed(2), 'tracked / untracked, medians'));
      const gpu = (RES && RES.gpu) || (rs && rs.gpu);
      cards.appendChild(card('GPU', gpu ? String(gpu) : 'unavailable', RES && RES.gpu_reason ? String(RES.gpu_reason) : null));
      p.appendChild(cards);
      drawRunFacts(p);
    }
    drawAssertions(p);
    drawLimits(p);
  }

  function drawRunFacts(p) {
    const run = S.run || {};
    const mode = S.mode || {};
    const facts = [];
    if (mode.estimated) facts.push('Sampled run (' + mode.sample + '): totals, threads, leaks and the timeline are estimates; see summary.json "mode" for their error.');
    const comp = run.completeness;
    if (comp && comp.complete === false) facts.push('Incomplete run: ' + (comp.reason || 'events are missing') + '; the figures cover what was readable.');
    if (isNum(run.events_lost) && run.events_lost > 0) facts.push('Events lost by the tracker: ' + run.events_lost + '.');
    if (Array.isArray(run.symbol_warnings)) for (const w of run.symbol_warnings) facts.push('Symbols: ' + w);
    if (Array.isArray(run.damage)) for (const d of run.damage) facts.push('Damaged file ' + d.file + ' at ' + d.offset + ': ' + d.reason);
    const ul = el('ul', { class: 'note' });
    if (run.exe) ul.appendChild(el('li', null, 'program: ' + run.exe + (isNum(run.pid) ? ' (pid ' + run.pid + ')' : '')));
    for (const f of facts) ul.appendChild(el('li', null, f));
    if (ul.childNodes.length) p.appendChild(ul);
  }

  function drawAssertions(p) {
    p.appendChild(el('h2', null, 'Assertions'));
    const list = Array.isArray(S.assertions) ? S.assertions : [];
    if (!list.length) {
      p.appendChild(note('No assertion was checked for this run (assertions are set by the harness: limits and scenario checks).'));
      return;
    }
    if (focusedThread()) p.appendChild(note('Assertions concern the whole run.'));
    const passed = list.filter((a) => a.passed === true).length;
    p.appendChild(el('p', null, el('span', { class: passed === list.length ? 'pass' : 'fail' },
      passed + ' of ' + list.length + ' passed')));
    const tb = el('tbody');
    for (const a of list) {
      const ok = a.passed === true;
      tb.appendChild(el('tr', { 'data-passed': ok ? 'true' : 'false' },
        el('td', { class: 's ' + (ok ? 'pass' : 'fail') }, ok ? 'pass' : 'FAIL'),
        el('td', { class: 's' }, String(a.name || '')),
        el('td', { class: 's' }, a.message ? String(a.message) : 'value ' + a.value + ', limit ' + a.limit)));
    }
    p.appendChild(el('div', { class: 'table-wrap' }, el('table', { id: 'assertions' },
      el('thead', null, el('tr', null, el('th', { class: 's' }, 'result'), el('th', { class: 's' }, 'assertion'),
        el('th', { class: 's' }, 'detail'))), tb)));
  }

  function drawLimits(p) {
    const lim = DATA && Array.isArray(DATA.limits) ? DATA.limits : [];
    if (!lim.length) return;
    const ul = el('ul');
    for (const l of lim) ul.appendChild(el('li', null, l.what + ': ' + l.shown + ' of ' + l.total + ' embedded (' + l.why + ')'));
    p.appendChild(el('div', { class: 'limits' }, el('strong', null, 'Left out of this page: '), ul));
  }

  /* ---- Threads: cards ---- */

  function threadFigures(t) {
    const r = t.resources && typeof t.resources === 'object' ? t.resources : null;
    const rows = [
      ['allocations', C.fmtNum(t.allocations)], ['frees', C.fmtNum(t.frees)],
      ['allocated', C.fmtBytes(t.allocated_bytes)], ['peak live', C.fmtBytes(t.peak_live_bytes)],
      ['live at end', C.fmtBytes(t.live_bytes)], ['temporary allocations', C.fmtNum(t.temporary_allocations)],
      ['average size', C.fmtBytes(t.avg_size)], ['allocations/s', C.fmtNum(t.alloc_rate_per_s, 1)],
      ['CPU', fmtPct(t.cpu_percent)], ['CPU time', C.fmtSeconds(t.cpu_time_s)], ['I/O operations', C.fmtNum(t.io_ops)]];
    if (r) {
      rows.push(['resources measured by', String(r.source || 'n/a')]);
      rows.push(['context switches (vol./invol.)', C.fmtNum(r.voluntary_ctxt_switches) + ' / ' + C.fmtNum(r.involuntary_ctxt_switches)]);
      rows.push(['I/O bytes read / written', C.fmtBytes(r.io_read_bytes) + ' / ' + C.fmtBytes(r.io_write_bytes)]);
    }
    if (t.resources_reason) rows.push(['why CPU/I/O are n/a', String(t.resources_reason)]);
    if (r && r.cpu_percent_reason) rows.push(['why CPU % is n/a', String(r.cpu_percent_reason)]);
    if (t.memory_reason) rows.push(['why memory figures are n/a', String(t.memory_reason)]);
    if (t.role_basis) rows.push(['role rests on', String(t.role_basis)]);
    if (t.role_reason) rows.push(['role', String(t.role_reason)]);
    if (t.alert_reason) rows.push(['alert', String(t.alert_reason)]);
    const tb = el('tbody');
    for (const [k, v] of rows) tb.appendChild(el('tr', null, el('td', { class: 's' }, k), el('td', { class: 'num' }, v)));
    return el('table', { class: 'thread-figures' }, tb);
  }

  function threadCard(t, interactive) {
    const role = typeof t.role === 'string' ? t.role : '';
    const alert = typeof t.alert === 'string' ? t.alert : 'normal';
    const tracked = t.tracked === true ? 'true' : t.tracked === false ? 'false' : 'null';
    // Only the Threads tab's cards are .thread-card[data-tid] (the hooks); the copy atop a
    // focused Overview is .thread-summary and stays out of focus mode's fading.
    const cls = [interactive ? 'thread-card' : 'thread-summary'];
    if (ROLES.includes(role)) cls.push('role-' + role);
    if (alert === 'high' || alert === 'medium') cls.push('alert-' + alert);
    if (t.tracked === false) cls.push('untracked');
    const c = el('div', interactive ? { class: cls.join(' '), 'data-tid': t.tid, 'data-role': role, 'data-alert': alert,
      'data-tracked': tracked, tabindex: 0, role: 'button', 'aria-pressed': 'false' } : { class: cls.join(' ') });
    c.appendChild(el('div', { class: 'name' }, t.name ? String(t.name) : '(no name)'));
    c.appendChild(el('div', { class: 'tid' }, 'tid ' + t.tid));
    const badges = el('div');
    badges.appendChild(el('span', { class: 'badge' }, role ? (ROLE_LABEL[role] || role) : 'no role'));
    if (alert !== 'normal') badges.appendChild(el('span', { class: 'badge' }, 'alert: ' + alert));
    if (t.tracked === false) badges.appendChild(el('span', { class: 'badge' }, 'untracked'));
    if (t.tracked === null) badges.appendChild(el('span', { class: 'badge' }, 'unsampled'));
    c.appendChild(badges);
    const dl = el('dl');
    const add = (k, v) => {
      dl.appendChild(el('dt', null, k));
      dl.appendChild(el('dd', null, v));
    };
    add('peak live', C.fmtBytes(t.peak_live_bytes));
    add('allocations', C.fmtNum(t.allocations));
    add('CPU', fmtPct(t.cpu_percent));
    add('I/O ops', C.fmtNum(t.io_ops));
    c.appendChild(dl);
    const why = [t.role_reason, t.alert_reason].filter((x) => typeof x === 'string' && x);
    if (why.length) c.setAttribute('title', why.join('\n'));
    if (interactive) {
      c.addEventListener('click', () => setFocus(state.focus === t.tid ? null : t.tid));
      c.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter' || ev.key === ' ') {
          ev.preventDefault();
          setFocus(state.focus === t.tid ? null : t.tid);
        }
      });
    }
    return c;
  }

  function threadCards(list, interactive) {
    const grid = el('div', { class: 'thread-grid' });
    const frag = document.createDocumentFragment();
    for (const t of list) frag.appendChild(threadCard(t, interactive));
    grid.appendChild(frag);
    return grid;
  }

  function roleLegend() {
    const roles = S.roles && typeof S.roles === 'object' ? S.roles : null;
    const counts = roles && roles.counts ? roles.counts : null;
    const lg = el('div', { class: 'legend' });
    for (const r of ROLES) {
      const n = counts && isNum(counts[r]) ? ' (' + counts[r] + ')' : '';
      lg.appendChild(el('span', null, el('span', { class: 'sw', style: 'background:' + ROLE_COLOUR[r] }), ROLE_LABEL[r] + n));
    }
    lg.appendChild(el('span', null, 'border: red pulsing = alert high, orange = medium; dashed = untracked'));
    return lg;
  }

  function drawThreads(p) {
    p.appendChild(el('h2', null, 'Threads'));
    if (!THREADS.length) {
      p.appendChild(unavailable('Threads', 'the summary lists no thread'));
      return;
    }
    p.appendChild(roleLegend());
    const roles = S.roles;
    if (roles && roles.thresholds) {
      const parts = Object.keys(roles.thresholds).map((k) => k + ' ' + roles.thresholds[k]);
      p.appendChild(note('Role thresholds (' + (roles.thresholds_source || 'defaults') + '): ' + parts.join(', ') + '.'));
    } else if (!THREADS.some((t) => t.role)) {
      p.appendChild(note('Roles: unavailable (the summary gives no thread a role).'));
    }
    p.appendChild(note('Click a card to focus on its thread (Esc or a click on the background leaves). Sorted by peak live bytes; untracked threads last.'));
    const list = THREADS.slice().sort((a, b) => {
      const ta = a.tracked === false ? 1 : 0, tb = b.tracked === false ? 1 : 0;
      if (ta !== tb) return ta - tb;
      return (isNum(b.peak_live_bytes) ? b.peak_live_bytes : -1) - (isNum(a.peak_live_bytes) ? a.peak_live_bytes : -1);
    });
    p.appendChild(threadCards(list, true));
    // Re-apply the focus marks (a focus set from another tab before the cards existed).
    if (state.focus !== null) {
      for (const c of p.querySelectorAll('.thread-card')) {
        const on = c.getAttribute('data-tid') === String(state.focus);
        c.classList.toggle('focused', on);
        c.setAttribute('aria-pressed', on ? 'true' : 'false');
      }
    }
  }

  /* ---- Rankings: sortable, filterable table; bottlenecks ---- */

  const RANK_COLUMNS = [
    ['tid', 'tid', false], ['name', 'name', true], ['tracked', 'tracked', true], ['role', 'role', true],
    ['alert', 'alert', true], ['allocations', 'allocations', false], ['frees', 'frees', false],
    ['allocated_bytes', 'allocated', false], ['peak_live_bytes', 'peak live', false],
    ['live_bytes', 'live at end', false], ['temporary_allocations', 'temporary', false],
    ['avg_size', 'avg size', false], ['alloc_rate_per_s', 'allocs/s', false],
    ['cpu_percent', 'CPU %', false], ['cpu_time_s', 'CPU time', false], ['io_ops', 'I/O ops', false]];

  const rankState = { key: 'peak_live_bytes', dir: -1, filter: '' };

  function compareBy(key, dir) {
    return (a, b) => {
      const x = a[key], y = b[key];
      const nx = x === null || x === undefined, ny = y === null || y === undefined;
      if (nx || ny) return nx === ny ? 0 : nx ? 1 : -1; // unknown figures last either way
      if (typeof x === 'number' && typeof y === 'number') return dir * (x - y);
      return dir * String(x).localeCompare(String(y));
    };
  }

  function fillRankings(tbody) {
    const q = rankState.filter.toLowerCase();
    const focus = state.focus;
    const rows = THREADS.filter((t) => {
      if (focus !== null) return t.tid === focus;
      if (!q) return true;
      return String(t.name || '').toLowerCase().includes(q) || String(t.tid).includes(q) ||
        String(t.role || '').toLowerCase().includes(q);
    }).sort(compareBy(rankState.key, rankState.dir));
    const frag = document.createDocumentFragment();
    for (const t of rows) {
      const tr = el('tr', { 'data-tid': t.tid });
      for (const [key, , text] of RANK_COLUMNS) {
        tr.appendChild(el('td', { class: text ? 's' : 'num' }, key === 'tid' ? String(t.tid) : fmtCell(key, t[key])));
      }
      frag.appendChild(tr);
    }
    tbody.replaceChildren(frag);
    const count = document.getElementById('rankings-count');
    if (count) count.textContent = rows.length + ' of ' + THREADS.length + ' threads shown';
  }

  function drawRankings(p) {
    p.appendChild(el('h2', null, 'Thread rankings'));
    focusNote(p, 'The ranking');
    const input = el('input', { type: 'search', id: 'thread-filter', placeholder: 'filter by name, tid or role',
      'aria-label': 'filter threads' });
    input.value = rankState.filter;
    p.appendChild(el('div', { class: 'controls' }, input, el('span', { id: 'rankings-count', class: 'muted' })));
    const headRow = el('tr');
    const tbody = el('tbody');
    for (const [key, label, text] of RANK_COLUMNS) {
      const th = el('th', { 'data-key': key, class: text ? 's' : null, scope: 'col', tabindex: 0,
        'aria-sort': key === rankState.key ? (rankState.dir > 0 ? 'ascending' : 'descending') : 'none' }, label);
      const sort = () => {
        if (rankState.key === key) rankState.dir = -rankState.dir;
        else {
          rankState.key = key;
          rankState.dir = text ? 1 : -1;
        }
        for (const h of headRow.querySelectorAll('th')) h.setAttribute('aria-sort', 'none');
        th.setAttribute('aria-sort', rankState.dir > 0 ? 'ascending' : 'descending');
        fillRankings(tbody);
      };
      th.addEventListener('click', sort);
      th.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter' || ev.key === ' ') {
          ev.preventDefault();
          sort();
        }
      });
      headRow.appendChild(th);
    }
    input.addEventListener('input', () => {
      rankState.filter = input.value;
      fillRankings(tbody);
    });
    tbody.addEventListener('click', (ev) => {
      const tr = ev.target.closest('tr[data-tid]');
      if (tr && state.focus === null) setFocus(Number(tr.getAttribute('data-tid')));
    });
    p.appendChild(el('div', { class: 'table-wrap' }, el('table', { id: 'rankings' }, el('thead', null, headRow), tbody)));
    p.appendChild(note('Click a header to sort (n/a last); click a row to focus on its thread. CPU and I/O: ' +
      'measured per thread (tracker or /proc samples); n/a where not measured.'));
    fillRankings(tbody);
    drawBottlenecks(p);
  }

  /* ---- stacks (leaks, hot stacks) ---- */

  function frameText(fr) {
    let s = fr.function ? String(fr.function) : String(fr.address || '??');
    if (fr.inlined) s += ' [inlined ' + fr.inlined + ']';
    return s;
  }

  function frameLoc(fr) {
    if (fr.file) return String(fr.file) + ':' + fr.line;
    if (fr.module) return baseName(fr.module) + (fr.address ? ' ' + fr.address : '');
    return '';
  }

  /* <details>: the innermost named frame with file:line as summary, every frame when open. */
  function stackDetails(stack) {
    const frames = Array.isArray(stack) ? stack : [];
    if (!frames.length) return el('span', { class: 'muted' }, 'no stack recorded');
    const first = frames[0];
    const d = el('details', { class: 'stack' },
      el('summary', null, frameText(first), ' ', el('span', { class: 'frame-loc' }, frameLoc(first)),
        frames.length > 1 ? ' (+' + (frames.length - 1) + ' frames)' : ''));
    const ol = el('ol');
    for (const fr of frames) {
      ol.appendChild(el('li', null, frameText(fr), ' ', el('span', { class: 'frame-loc' }, frameLoc(fr)),
        fr.module ? el('span', { class: 'frame-loc' }, ' [' + baseName(fr.module) + ']') : null));
    }
    d.appendChild(ol);
    return d;
  }

  /* The stack's share of the focused thread, or null: no split known. */
  function threadShare(stackId, tid) {
    const list = STACK_THREADS.get(stackId);
    if (!list) return null;
    return list.find((e) => e.tid === tid) || false;
  }

  function stackTable(list, cols) {
    const tb = el('tbody');
    for (const s of list) {
      const tr = el('tr');
      for (const [key] of cols) tr.appendChild(el('td', { class: 'num' }, fmtCell(key, s[key])));
      const stack = Array.isArray(s.stack) ? s.stack : FULL_STACKS.get(s.stack_id) || (s.top_frame ? [s.top_frame] : []);
      tr.appendChild(el('td', { class: 's' }, stackDetails(stack)));
      tb.appendChild(tr);
    }
    const hr = el('tr');
    for (const [, label] of cols) hr.appendChild(el('th', null, label));
    hr.appendChild(el('th', { class: 's' }, 'stack (innermost first; click to expand)'));
    return el('div', { class: 'table-wrap' }, el('table', null, el('thead', null, hr), tb));
  }

  /* Hot stacks, filtered to the focused thread through the flame graph's per-thread split. */
  function focusStacks(list) {
    const tid = state.focus;
    if (tid === null) return { list, reason: null };
    if (!FG) return { list: [], reason: 'the summary does not split stacks by thread (no flamegraph)' };
    const out = [];
    for (const s of list) {
      const sh = threadShare(s.stack_id, tid);
      if (sh) out.push(Object.assign({}, s, { allocations: sh.allocations, allocated_bytes: sh.allocated_bytes }));
    }
    return { list: out, reason: null };
  }

  function drawBottlenecks(p) {
    p.appendChild(el('h2', null, 'Bottlenecks'));
    const bn = S.bottlenecks && typeof S.bottlenecks === 'object' ? S.bottlenecks : null;
    const hot = S.hot_stacks || {};
    const sets = [
      ['Hottest stacks by allocated bytes', bn && bn.hot_stacks_by_bytes ? bn.hot_stacks_by_bytes : hot.by_bytes],
      ['Hottest stacks by allocation count', bn && bn.hot_stacks_by_count ? bn.hot_stacks_by_count : hot.by_count]];
    for (const [title, list0] of sets) {
      p.appendChild(el('h3', null, title));
      if (!Array.isArray(list0)) {
        p.appendChild(unavailable(title, 'the summary has no hot stacks'));
        continue;
      }
      const f = focusStacks(list0);
      if (f.reason) p.appendChild(unavailable(title + ' of this thread', f.reason));
      else if (!f.list.length) p.appendChild(note('No stack.'));
      else p.appendChild(stackTable(f.list.slice(0, 20), [['allocated_bytes', 'bytes'], ['allocations', 'allocations']]));
    }
    p.appendChild(el('h3', null, 'Highest-churn threads'));
    if (!bn || !Array.isArray(bn.churn_threads)) {
      p.appendChild(unavailable('Churn', 'the summary has no bottlenecks.churn_threads'));
    } else {
      const rows = bn.churn_threads.filter((c) => state.focus === null || c.tid === state.focus);
      const tb = el('tbody');
      for (const c of rows) {
        tb.appendChild(el('tr', { 'data-tid': c.tid }, el('td', null, String(c.tid)), el('td', { class: 's' }, String(c.name || '')),
          el('td', { class: 'num' }, C.fmtNum(c.allocations)), el('td', { class: 'num' }, C.fmtNum(c.frees)),
          el('td', { class: 'num' }, C.fmtNum(c.churn_per_s, 1))));
      }
      p.appendChild(el('table', null, el('thead', null, el('tr', null, el('th', null, 'tid'), el('th', { class: 's' }, 'name'),
        el('th', null, 'allocations'), el('th', null, 'frees'), el('th', null, 'churn/s'))), tb));
    }
  }

  /* ---- Leaks ---- */

  function drawLeaks(p) {
    p.appendChild(el('h2', null, 'Leaks'));
    const leaks = Array.isArray(S.leaks) ? S.leaks : null;
    if (!leaks) {
      p.appendChild(unavailable('Leaks', 'the summary has no leak list'));
      return;
    }
    const tot = S.totals || {};
    p.appendChild(note(C.fmtBytes(tot.leaked_bytes) + ' in ' + C.fmtNum(tot.leaked_blocks) + ' blocks live at the end' +
      (isNum(S.leak_groups) ? ', ' + S.leak_groups + ' groups by stack (' + leaks.length + ' listed)' : '') +
      (isNum(tot.suppressed_leaked_bytes) && tot.suppressed_leaked_bytes > 0
        ? '; suppressed: ' + C.fmtBytes(tot.suppressed_leaked_bytes) : '') + '.'));
    let list = leaks;
    if (state.focus !== null) {
      focusNote(p, 'Leaks allocated by a stack');
      if (!FG) {
        p.appendChild(unavailable('Leaks of this thread', 'the summary does not split stacks by thread (no flamegraph), so a leak cannot be tied to a thread'));
        return;
      }
      list = leaks.filter((l) => threadShare(l.stack_id, state.focus));
      p.appendChild(note('A leak group is listed when this thread allocated through its stack; its bytes are the whole group\'s.'));
    }
    if (!list.length) {
      p.appendChild(note('No leak group' + (state.focus !== null ? ' for this thread.' : ': no block was live at the end of the run.')));
      return;
    }
    const tb = el('tbody');
    for (const l of list) {
      tb.appendChild(el('tr', null, el('td', { class: 'num' }, C.fmtBytes(l.bytes)), el('td', { class: 'num' }, C.fmtNum(l.blocks)),
        el('td', { class: 's' }, l.var_name ? String(l.var_name) : ''), el('td', { class: 's' }, l.type_name ? String(l.type_name) : ''),
        el('td', { class: 's' }, l.suppressed ? 'suppressed' : ''), el('td', { class: 's' }, stackDetails(l.stack))));
    }
    p.appendChild(el('div', { class: 'table-wrap' }, el('table', { id: 'leaks' }, el('thead', null, el('tr', null,
      el('th', null, 'bytes'), el('th', null, 'blocks'), el('th', { class: 's' }, 'variable'), el('th', { class: 's' }, 'type'),
      el('th', { class: 's' }, ''), el('th', { class: 's' }, 'allocation stack (innermost first; click to expand)'))), tb)));
  }

  /* ---- Timeline ---- */

  function seriesMax(arr) {
    let m = 0;
    for (const v of arr) if (isNum(v) && v > m) m = v;
    return m;
  }

  function drawTimeline(p) {
    p.appendChild(el('h2', null, 'Resource timeline'));
    const t = focusedThread();
    const tl = S.timeline && Array.isArray(S.timeline.t_ns) ? S.timeline : null;
    const rs = RES && RES.series && Array.isArray(RES.series.t_s) ? RES.series : null;
    // Heap times are from the first event; resource times from the program's start. With the
    // fork on the trace's clock (resources t0_monotonic_s) both share one axis.
    const t0 = RES && isNum(RES.t0_monotonic_s) ? RES.t0_monotonic_s : undefined;
    const first = S.totals && isNum(S.totals.first_ts_ns) ? S.totals.first_ts_ns : null;
    const heapOffset = isNum(t0) && first !== null ? first / 1e9 - t0 : 0;
    let xmax = 0;
    if (rs) xmax = Math.max(xmax, seriesMax(rs.t_s));
    if (tl) xmax = Math.max(xmax, heapOffset + seriesMax(tl.t_ns) / 1e9);
    if (t && t.timeline && Array.isArray(t.timeline.t_ns)) xmax = Math.max(xmax, heapOffset + seriesMax(t.timeline.t_ns) / 1e9);
    let shade = null;
    if (t && RES && Array.isArray(RES.threads)) {
      const seen = RES.threads.find((x) => x.tid === t.tid);
      if (seen && isNum(seen.first_seen_s) && isNum(seen.last_seen_s)) shade = [seen.first_seen_s, seen.last_seen_s];
    }
    if (isNum(t0) && first !== null) p.appendChild(note('One time axis: seconds since the program started (the sampler\'s clock and the trace\'s are the same).'));
    else if (rs && tl) p.appendChild(note('CPU and RSS: seconds since the program started; live heap: seconds since its first allocator event (the offset between the two is not recorded, a few ms at most).'));
    if (t) {
      focusNote(p, 'Live heap');
      if (shade) p.appendChild(note('Shaded: when the sampler saw the thread. CPU per core and RSS are the process\'s.'));
      else p.appendChild(note('CPU per core and RSS are the process\'s.'));
    }
    // CPU
    if (!rs) {
      p.appendChild(unavailable('CPU per core and RSS', RES ? (RES.timeline_reason ? String(RES.timeline_reason) : 'resources.json has no samples') :
        'no resource samples: memscope-harness samples /proc during scenario and run; a bare LD_PRELOAD run or a report from a trace alone has none'));
    } else {
      const series = [];
      const cores = Array.isArray(rs.cpu_per_core_percent) ? rs.cpu_per_core_percent : [];
      const hues = ['#0969da', '#bf3989', '#1a7f37', '#9a6700', '#8250df', '#0550ae', '#cf222e', '#57606a'];
      // All cores first, dashed, so that the cores' lines stay visible where they meet it.
      if (Array.isArray(rs.cpu_total_percent)) series.push({ xs: rs.t_s, ys: rs.cpu_total_percent, color: '#000', label: 'all cores', width: 2, dash: '6 4' });
      cores.forEach((col, i) => series.push({ xs: rs.t_s, ys: col, color: hues[i % hues.length], label: 'core ' + i, width: 1.5 }));
      // The process's own CPU (% of one core: up to ncpu x 100), as resources.json has it.
      const proc = Array.isArray(rs.cpu_process_percent) && rs.cpu_process_percent.some(isNum) ? rs.cpu_process_percent : null;
      if (proc) series.push({ xs: rs.t_s, ys: proc, color: '#6e1423', label: 'the process (% of one core)', width: 2.5 });
      const n = rs.t_s.length;
      const nulls = (rs.cpu_total_percent || []).filter((v) => v === null).length;
      const win = isNum(RES.cpu_window_min_s) ? ', each over ≥ ' + Math.round(RES.cpu_window_min_s * 1000) + ' ms' : '';
      let title = (proc ? 'CPU of the process and per core (%' : 'CPU per core (%') + win + ') — ' + n + ' samples' + (RES.hz ? ' at ' + RES.hz + ' Hz' : '');
      let ymax = proc ? Math.max(100, seriesMax(proc)) : 100;
      if (t) {
        // Focus: the thread's own CPU over each sampling interval, over the cores faded.
        const own = rs.thread_cpu_percent && rs.thread_cpu_percent[String(t.tid)];
        for (const x of series) x.faded = true;
        if (Array.isArray(own)) {
          series.push({ xs: rs.t_s, ys: own, color: '#cf222e', label: 'thread ' + threadLabel(t), width: 2.5 });
          ymax = Math.max(ymax, seriesMax(own));
          title = 'CPU of thread ' + threadLabel(t) + ' (red, % of one core over each sampling interval); the process\'s cores faded';
        } else {
          p.appendChild(unavailable('CPU timeline of this thread', rs.thread_cpu_percent
            ? 'the sampler did not see this thread, or its timeline was left out of the page (see the Overview)'
            : 'resources.json has no per-thread CPU in its samples'));
        }
      }
      p.appendChild(C.lineChart({ title, series, xmax, ymax, yfmt: (v) => v + ' %', shade }));
      const lg = el('div', { class: 'legend' });
      for (const x of series) lg.appendChild(el('span', null, el('span', { class: 'sw', style: 'background:' + x.color }), x.label));
      p.appendChild(lg);
      if (nulls) {
        const why = (rs.cpu_null_reason || []).find((x) => typeof x === 'string');
        p.appendChild(note(nulls + ' sample(s) without a CPU figure (gaps): ' + (why || 'no reason given')));
      }
      if (Array.isArray(rs.rss_bytes)) {
        p.appendChild(C.lineChart({ title: 'RSS of the process', series: [{ xs: rs.t_s, ys: rs.rss_bytes, color: '#9a6700', label: 'RSS', width: 2 }],
          xmax, ymax: seriesMax(rs.rss_bytes), ybytes: true, shade }));
      }
    }
    // Live heap
    const marks = Array.isArray(S.marks) ? S.marks.filter((m) => isNum(m.t_rel_ns)).map((m) => ({ x: heapOffset + m.t_rel_ns / 1e9, label: m.kind + ' ' + m.name })) : [];
    if (!tl) {
      p.appendChild(unavailable('Live heap', 'the summary has no timeline'));
      return;
    }
    const heapX = tl.t_ns.map((v) => (isNum(v) ? heapOffset + v / 1e9 : null));
    if (t) {
      const ttl = t.timeline && Array.isArray(t.timeline.t_ns) ? t.timeline : null;
      if (!ttl) {
        p.appendChild(unavailable('Live heap of this thread', t.detail_omitted ? String(t.detail_omitted) : 'the summary has no per-thread timeline (threads[].timeline)'));
        p.appendChild(C.lineChart({ title: 'Live heap of the process (context)', series: [{ xs: heapX, ys: tl.live_bytes, color: '#8c959f', label: 'process', step: true }],
          xmax, ymax: seriesMax(tl.live_bytes), ybytes: true, marks, shade }));
      } else {
        const tx = ttl.t_ns.map((v) => (isNum(v) ? heapOffset + v / 1e9 : null));
        p.appendChild(C.lineChart({ title: 'Live heap: bytes allocated by this thread and not yet freed', series: [
          { xs: tx, ys: ttl.live_bytes, color: '#cf222e', label: threadLabel(t), step: true, width: 2 }],
        xmax, ymax: seriesMax(ttl.live_bytes), ybytes: true, marks, shade }));
      }
      return;
    }
    p.appendChild(C.lineChart({ title: 'Live heap of the process' + (S.mode && S.mode.estimated ? ' (estimated: sampled run)' : ''),
      series: [{ xs: heapX, ys: tl.live_bytes, color: '#0969da', label: 'live heap', step: true, width: 2 }],
      xmax, ymax: seriesMax(tl.live_bytes), ybytes: true, marks }));
    if (marks.length) p.appendChild(note('Dotted lines: marks and snapshots (hover for the name).'));
  }

  /* ---- Correlation ---- */

  function drawCorrelation(p) {
    p.appendChild(el('h2', null, 'CPU against allocation rate'));
    const cr = S.correlation && typeof S.correlation === 'object' ? S.correlation : null;
    if (!cr) {
      p.appendChild(unavailable('Correlation', 'the summary has no correlation (Pearson r of CPU against allocation rate across threads)'));
      return;
    }
    const rText = isNum(cr.r) ? 'Pearson r = ' + cr.r.toFixed(3) : 'Pearson r: unavailable (' + (cr.reason || 'no reason given') + ')';
    p.appendChild(el('p', null, el('strong', { id: 'correlation-r' }, rText), ', n = ' + (isNum(cr.n) ? cr.n : 'n/a') + ' threads with both figures' +
      (isNum(cr.slope) && isNum(cr.intercept) ? '; fitted line: ' + axisName(cr.y) + ' = ' + (cr.intercept < 0 ? '−' : '') +
        axisValue(cr.y, Math.abs(cr.intercept)) + (cr.slope < 0 ? ' − ' : ' + ') + axisValue(cr.y, Math.abs(cr.slope)) + ' for each ' +
        axisValue(cr.x, 1) : '') + '.'));
    if (cr.reason && isNum(cr.r)) p.appendChild(note(String(cr.reason)));
    if (cr.method) p.appendChild(note(String(cr.method)));
    if (cr.excluded && typeof cr.excluded === 'object') {
      const parts = Object.keys(cr.excluded).map((k) => cr.excluded[k] + ' ' + k.replace(/_/g, ' '));
      p.appendChild(note('Threads left out: ' + parts.join(', ') + '.'));
    }
    const pts = Array.isArray(cr.points) ? cr.points : [];
    if (!pts.length) {
      p.appendChild(unavailable('Scatter', 'the correlation lists no point'));
      return;
    }
    const focus = state.focus;
    focusNote(p, 'Highlighted: the point');
    const points = pts.map((q) => {
      const th = BY_TID.get(q.tid);
      return { x: q.x, y: q.y, tid: q.tid, highlight: focus !== null && q.tid === focus, faded: focus !== null && q.tid !== focus,
        label: (th ? threadLabel(th) : 'tid ' + q.tid) + ': ' + cr.x + ' ' + C.fmtNum(q.x, 2) + ', ' + cr.y + ' ' + C.fmtNum(q.y, 1) };
    });
    if (focus !== null && !pts.some((q) => q.tid === focus)) {
      p.appendChild(unavailable('This thread\'s point', 'the thread lacks one of the two figures'));
    }
    const unit = (k, u) => (AXIS[k] ? '' : u ? ' (' + u + ')' : '');
    p.appendChild(C.scatter(points, { title: axisName(cr.y) + ' against ' + axisName(cr.x),
      xlabel: axisName(cr.x) + unit(cr.x, cr.x_unit), ylabel: axisName(cr.y) + unit(cr.y, cr.y_unit),
      xfmt: (v) => axisValue(cr.x, v), yfmt: (v) => axisValue(cr.y, v),
      ybytes: cr.y === 'allocated_bytes_per_s', yunit: '/s',
      slope: cr.slope, intercept: cr.intercept, lineLabel: 'least-squares fit from the summary' }));
  }

  /* Readable names and units of the summary's figures on the correlation's axes (the keys
   * themselves, e.g. allocated_bytes_per_s, are a program's names, not a reader's). */
  const AXIS = {
    cpu_percent: { name: 'CPU use (% of one core)', fmt: (v) => C.fmtNum(v, 2) + ' %' },
    allocated_bytes_per_s: { name: 'allocation rate', fmt: (v) => C.fmtBytes(v) + '/s' },
    alloc_rate_per_s: { name: 'allocations per second', fmt: (v) => C.fmtNum(v, 1) + '/s' },
  };
  function axisName(k) {
    return AXIS[k] ? AXIS[k].name : String(k);
  }
  function axisValue(k, v) {
    return AXIS[k] ? AXIS[k].fmt(v) : C.fmtNum(v, 3);
  }

  /* ---- Flame graph ---- */

  function drawFlame(p) {
    p.appendChild(el('h2', null, 'Allocation flame graph'));
    if (!FG || !Array.isArray(FG.stacks)) {
      p.appendChild(unavailable('Flame graph', 'the summary has no flamegraph; the hottest stacks are under Rankings'));
      const root = el('div', { 'data-flamegraph': 'unavailable' });
      p.appendChild(root);
      return;
    }
    focusNote(p, 'Allocations');
    const built = MSFlame.buildTree(FG, state.focus);
    const ns = FG.not_shown && typeof FG.not_shown === 'object' ? FG.not_shown : null;
    const info = [FG.basis ? String(FG.basis) : null,
      isNum(FG.stacks_total) ? FG.stacks_shown + ' of ' + FG.stacks_total + ' stacks in the summary' : null,
      ns && isNum(ns.stacks) && ns.stacks > 0 ? 'the ' + C.fmtNum(ns.stacks) + ' smallest left out hold ' + C.fmtBytes(ns.allocated_bytes) +
        ' in ' + C.fmtNum(ns.allocations) + ' allocations (not drawn)' : null,
      FG.estimated === true ? 'estimates (sampled run)' : null];
    p.appendChild(note(info.filter(Boolean).join('; ') + '. Outermost frame on top; click a frame to zoom, the top bar to go back.'));
    if (built.cut) p.appendChild(note(built.cut + ' stack(s) have their per-thread split cut in this page; this thread may be missing from them.'));
    const host = el('div', { 'data-flamegraph': '' });
    const search = el('input', { type: 'search', id: 'flame-search', placeholder: 'highlight functions or files', 'aria-label': 'search frames' });
    search.value = state.flame.search;
    const matches = el('span', { id: 'flame-matches', class: 'muted' });
    const mBytes = el('button', { type: 'button', 'data-flame-metric': 'bytes' }, 'bytes');
    const mCount = el('button', { type: 'button', 'data-flame-metric': 'count' }, 'allocations');
    const reset = el('button', { type: 'button', id: 'flame-reset' }, 'reset zoom');
    const redraw = () => {
      mBytes.setAttribute('aria-pressed', state.flame.metric === 'bytes' ? 'true' : 'false');
      mCount.setAttribute('aria-pressed', state.flame.metric === 'count' ? 'true' : 'false');
      if (built.root[state.flame.metric === 'count' ? 'count' : 'bytes'] <= 0) {
        host.replaceChildren(unavailable('Flame graph', state.focus !== null ? 'this thread made no allocation through the stacks listed' : 'no allocation recorded'));
        matches.textContent = '';
        return;
      }
      const n = MSFlame.render(host, built.root, { metric: state.flame.metric, zoom: state.flame.zoom, search: state.flame.search,
        onZoom: (node) => {
          state.flame.zoom = node;
          redraw();
        } });
      matches.textContent = state.flame.search ? n + ' frame(s) match' : '';
    };
    mBytes.addEventListener('click', () => { state.flame.metric = 'bytes'; redraw(); });
    mCount.addEventListener('click', () => { state.flame.metric = 'count'; redraw(); });
    reset.addEventListener('click', () => { state.flame.zoom = null; redraw(); });
    search.addEventListener('input', () => { state.flame.search = search.value; redraw(); });
    p.appendChild(el('div', { class: 'controls' }, el('span', null, 'size by: '), mBytes, mCount, reset, search, matches));
    p.appendChild(host);
    redraw();
  }

  /* ---- Histograms ---- */

  /* A bucket's label: its lower bound on the axis (short), the range in the tooltip. */
  function sizeLabel(b, short) {
    if (short || b.min === b.max) return C.fmtBytes(b.min);
    return C.fmtBytes(b.min) + '–' + C.fmtBytes(b.max);
  }

  function lifetimeLabel(b, short) {
    if (short) return C.fmtDurationNs(b.min);
    return C.fmtDurationNs(b.min) + '–' + C.fmtDurationNs(b.max);
  }

  function histogram(p, title, buckets, labelOf, xlabel, colour) {
    if (!Array.isArray(buckets) || !buckets.length) {
      p.appendChild(unavailable(title, 'no bucket'));
      return;
    }
    // Leading empty buckets say nothing: drawn from the first non-empty one.
    let from = buckets.findIndex((b) => isNum(b.count) && b.count > 0);
    if (from < 0) from = 0;
    const bars = buckets.slice(from).map((b) => ({ label: labelOf(b, true), value: b.count,
      title: labelOf(b, false) + ': ' + C.fmtNum(b.count) }));
    p.appendChild(C.barChart(bars, { title, xlabel, color: colour }));
  }

  function drawHistograms(p) {
    const t = focusedThread();
    p.appendChild(el('h2', null, 'Allocation sizes'));
    focusNote(p, 'Histograms');
    const sizeB = t ? t.size_histogram : S.size_histogram;
    if (t && !Array.isArray(sizeB)) {
      p.appendChild(unavailable('Size histogram of this thread', t.detail_omitted ? String(t.detail_omitted) : 'the summary has no per-thread size histogram (threads[].size_histogram)'));
    } else if (!Array.isArray(sizeB)) {
      p.appendChild(unavailable('Size histogram', 'the summary has no size_histogram'));
    } else {
      histogram(p, 'Allocation calls by requested size', sizeB, sizeLabel, 'requested size: each bar from its label to the next (power-of-two buckets)', '#0969da');
    }
    p.appendChild(el('h2', null, 'Block lifetimes'));
    const lt = S.lifetimes || {};
    if (!t && isNum(lt.count)) {
      p.appendChild(note(C.fmtNum(lt.count) + ' blocks freed; lifetime min ' + C.fmtDurationNs(lt.min_ns) + ', median ' + C.fmtDurationNs(lt.median_ns) +
        ', mean ' + C.fmtDurationNs(lt.mean_ns) + ', max ' + C.fmtDurationNs(lt.max_ns) + '.'));
    }
    const lifeB = t ? t.lifetime_histogram_log2_ns : lt.histogram_log2_ns;
    if (t && !Array.isArray(lifeB)) {
      p.appendChild(unavailable('Lifetime histogram of this thread', t.detail_omitted ? String(t.detail_omitted) : 'the summary has no per-thread lifetime histogram (threads[].lifetime_histogram_log2_ns)'));
    } else if (!Array.isArray(lifeB)) {
      p.appendChild(unavailable('Lifetime histogram', 'the summary has no lifetimes.histogram_log2_ns'));
    } else {
      histogram(p, 'Blocks by lifetime (allocation to free)', lifeB, lifetimeLabel, 'lifetime: each bar from its label to the next (power-of-two buckets)', '#8250df');
    }
  }

  const DRAW = { overview: drawOverview, threads: drawThreads, rankings: drawRankings, timeline: drawTimeline,
    correlation: drawCorrelation, leaks: drawLeaks, flamegraph: drawFlame, histograms: drawHistograms };

  /* ---- start ---- */

  function markReady() {
    document.documentElement.dataset.ready = '1';
    document.body.dataset.ready = '1';
  }

  function start() {
    if (!DATA) {
      panel('overview').appendChild(el('p', { class: 'fail' }, 'The report\'s data could not be read: ' + (loadError ? loadError.message : 'missing')));
      markReady();
      return;
    }
    const name = DATA.name ? String(DATA.name) : 'run';
    document.title = 'memscope: ' + name;
    document.getElementById('title').textContent = 'memscope: ' + name;
    const run = S.run || {};
    document.getElementById('subtitle').textContent = run.cmdline ? String(run.cmdline) : (run.exe ? String(run.exe) : '');
    for (const b of document.querySelectorAll('button[data-tab]')) {
      b.addEventListener('click', (ev) => {
        ev.stopPropagation();
        showTab(b.getAttribute('data-tab'));
      });
    }
    document.getElementById('focus-leave').addEventListener('click', (ev) => {
      ev.stopPropagation();
      setFocus(null);
    });
    document.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && state.focus !== null) setFocus(null);
    });
    // A click on the background leaves focus mode: anything that is not a card, a control,
    // a table, a chart or a stack counts as background.
    document.addEventListener('click', (ev) => {
      if (state.focus === null) return;
      const t = ev.target;
      if (t && t.closest && t.closest('.thread-card, button, a, input, select, label, summary, details, table, svg, [data-flamegraph]')) return;
      setFocus(null);
    });
    showTab('overview');
    markReady();
  }

  start();
})();
