/* charts.js: the dashboard's inline SVG charts (line charts on a shared time axis, bars,
 * scatter with a given line, the flame graph), drawn from figures handed to them. They lay out
 * what they are given and compute no statistic. Every label is set with textContent or
 * setAttribute: a name from the traced program is never parsed as markup.
 * Loaded before dashboard.js in the same script element (docs/dashboard.md). */
/* exported MSCharts */
'use strict';

const MSCharts = (function () {
  // The SVG namespace is an identifier, not an address: the page requests nothing.
  const SVGNS = 'http://www.w3.org/2000/svg';

  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVGNS, tag);
    if (attrs) {
      for (const k of Object.keys(attrs)) {
        if (attrs[k] !== null && attrs[k] !== undefined) e.setAttribute(k, String(attrs[k]));
      }
    }
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function isNum(v) {
    return typeof v === 'number' && Number.isFinite(v);
  }

  /* Tick values from 0 to the first at or above max: 1, 2 or 5 times a power of ten, about
   * `count` of them (the top tick closes the axis above the data). */
  function ticks(max, count) {
    if (!(max > 0)) return [0];
    const raw = max / count;
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    const m = raw / p;
    const step = (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
    const out = [];
    for (let k = 0; ; k++) {
      const v = +(k * step).toPrecision(12);
      out.push(v);
      if (v >= max * 0.9999999) break;
    }
    return out;
  }

  /* Ticks for a byte axis: nice numbers of the binary unit that fits max (0, 16, 32 MiB ...),
   * with their labels. */
  const UNITS = [['B', 1], ['KiB', 1024], ['MiB', 1024 * 1024], ['GiB', 1024 * 1024 * 1024], ['TiB', Math.pow(1024, 4)]];
  function byteTicks(max, count) {
    let u = UNITS[0];
    for (const x of UNITS) if (max >= x[1]) u = x;
    const vals = ticks(max / u[1], count).map((v) => v * u[1]);
    return { vals, fmt: (v) => (v === 0 ? '0' : String(+(v / u[1]).toPrecision(4)) + ' ' + u[0]) };
  }

  function fmtBytes(b) {
    if (!isNum(b)) return 'n/a';
    const a = Math.abs(b);
    if (a >= 1024 * 1024 * 1024) return (b / (1024 * 1024 * 1024)).toFixed(2) + ' GiB';
    if (a >= 1024 * 1024) return (b / (1024 * 1024)).toFixed(2) + ' MiB';
    if (a >= 1024) return (b / 1024).toFixed(1) + ' KiB';
    return Math.round(b) + ' B';
  }

  function fmtNum(v, digits) {
    if (!isNum(v)) return 'n/a';
    if (Number.isInteger(v) && digits === undefined) return v.toLocaleString('en-US');
    return v.toLocaleString('en-US', { maximumFractionDigits: digits === undefined ? 2 : digits });
  }

  function fmtDurationNs(ns) {
    if (!isNum(ns)) return 'n/a';
    if (ns >= 1e9) return (ns / 1e9).toPrecision(3) + ' s';
    if (ns >= 1e6) return (ns / 1e6).toPrecision(3) + ' ms';
    if (ns >= 1e3) return (ns / 1e3).toPrecision(3) + ' µs';
    return Math.round(ns) + ' ns';
  }

  function fmtSeconds(s) {
    if (!isNum(s)) return 'n/a';
    if (s === 0) return '0 s';
    if (s >= 1) return s.toPrecision(3) + ' s';
    if (s >= 1e-3) return (s * 1e3).toPrecision(3) + ' ms';
    return (s * 1e6).toPrecision(3) + ' µs';
  }

  /* A line chart: series [{xs, ys, color, label, dash, step, faded, width}] with x in [0, xmax]
   * and y in [0, ymax]; a null y breaks the line. opts: {xmax, ymax, yfmt, xfmt, title, height,
   * shade: [x0, x1] or null, marks: [{x, label}]}. */
  function lineChart(opts) {
    const W = 1000, H = opts.height || 200, L = 78, R = 36, T = 22, B = 30;
    const pw = W - L - R, ph = H - T - B;
    const xt = ticks(opts.xmax > 0 ? opts.xmax : 1, 8);
    const xmax = xt[xt.length - 1]; // the axis ends on its last tick, at or after the data
    let ymax = opts.ymax;
    if (!(ymax > 0)) ymax = 1;
    let yt = ticks(ymax, 4), yfmt = opts.yfmt || fmtNum;
    if (opts.ybytes) {
      const bt = byteTicks(ymax, 4);
      yt = bt.vals;
      yfmt = bt.fmt;
    }
    ymax = Math.max(ymax, yt[yt.length - 1]);
    const sx = (x) => L + pw * x / xmax;
    const sy = (y) => T + ph - ph * y / ymax;
    const root = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, class: 'chart', role: 'img',
      'aria-label': opts.title || 'chart' });
    if (opts.title) root.appendChild(svg('text', { x: L, y: 14, 'font-weight': 600 }, opts.title));
    if (opts.shade && isNum(opts.shade[0]) && isNum(opts.shade[1])) {
      root.appendChild(svg('rect', { x: sx(opts.shade[0]), y: T, height: ph,
        width: Math.max(1, sx(opts.shade[1]) - sx(opts.shade[0])), fill: '#fff1b8' }));
    }
    for (const v of yt) {
      root.appendChild(svg('line', { x1: L, x2: L + pw, y1: sy(v), y2: sy(v), class: 'grid' }));
      root.appendChild(svg('text', { x: L - 5, y: sy(v) + 4, 'text-anchor': 'end' }, yfmt(v)));
    }
    for (const v of xt) {
      root.appendChild(svg('line', { x1: sx(v), x2: sx(v), y1: T + ph, y2: T + ph + 4, class: 'axis' }));
      root.appendChild(svg('text', { x: sx(v), y: T + ph + 16, 'text-anchor': 'middle' },
        (opts.xfmt || fmtSeconds)(v)));
    }
    root.appendChild(svg('line', { x1: L, x2: L + pw, y1: T + ph, y2: T + ph, class: 'axis' }));
    root.appendChild(svg('line', { x1: L, x2: L, y1: T, y2: T + ph, class: 'axis' }));
    for (const m of opts.marks || []) {
      if (!isNum(m.x)) continue;
      const g = svg('g');
      g.appendChild(svg('line', { x1: sx(m.x), x2: sx(m.x), y1: T, y2: T + ph, stroke: '#8250df',
        'stroke-dasharray': '2 3' }));
      g.appendChild(svg('title', null, m.label));
      root.appendChild(g);
    }
    for (const s of opts.series) {
      const n = Math.min(s.xs.length, s.ys.length);
      let pts = [];
      const flush = () => {
        if (pts.length === 1) pts.push(pts[0]);
        if (pts.length > 1) {
          const line = svg('polyline', { points: pts.join(' '), fill: 'none', stroke: s.color,
            'stroke-width': s.width || 1.5, 'stroke-dasharray': s.dash || null,
            class: s.faded ? 'faded' : null });
          line.appendChild(svg('title', null, s.label));
          root.appendChild(line);
        }
        pts = [];
      };
      let prevY = null;
      // Few points (sparse samples, or ones standing alone between nulls): each gets a dot.
      const dots = !s.step && n <= 300;
      for (let i = 0; i < n; i++) {
        const x = s.xs[i], y = s.ys[i];
        if (!isNum(x) || !isNum(y)) {
          flush();
          prevY = null;
          continue;
        }
        const px = sx(x).toFixed(1), py = sy(y).toFixed(1);
        if (dots) root.appendChild(svg('circle', { cx: px, cy: py, r: 2.5, fill: s.color, class: s.faded ? 'faded' : null }));
        if (s.step && prevY !== null) pts.push(px + ',' + prevY);
        pts.push(px + ',' + py);
        prevY = py;
      }
      flush();
    }
    return root;
  }

  /* Bars of equal width, one per bucket: [{label, value, title}]. */
  function barChart(bars, opts) {
    const W = 1000, H = opts.height || 260, L = 90, R = 16, T = 22, B = 64;
    const pw = W - L - R, ph = H - T - B;
    let ymax = 0;
    for (const b of bars) if (isNum(b.value) && b.value > ymax) ymax = b.value;
    const yt = ticks(ymax > 0 ? ymax : 1, 4);
    ymax = Math.max(ymax, yt[yt.length - 1], 1);
    const sy = (y) => T + ph - ph * y / ymax;
    const root = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, class: 'chart', role: 'img',
      'aria-label': opts.title || 'histogram' });
    if (opts.title) root.appendChild(svg('text', { x: L, y: 14, 'font-weight': 600 }, opts.title));
    for (const v of yt) {
      root.appendChild(svg('line', { x1: L, x2: L + pw, y1: sy(v), y2: sy(v), class: 'grid' }));
      root.appendChild(svg('text', { x: L - 5, y: sy(v) + 4, 'text-anchor': 'end' }, fmtNum(v)));
    }
    const bw = bars.length ? pw / bars.length : pw;
    const every = Math.max(1, Math.ceil(bars.length / 16));
    bars.forEach((b, i) => {
      const x = L + i * bw;
      if (isNum(b.value) && b.value > 0) {
        const r = svg('rect', { x: x + 1, y: sy(b.value), width: Math.max(1, bw - 2),
          height: T + ph - sy(b.value), fill: opts.color || '#0969da' });
        r.appendChild(svg('title', null, b.title || (b.label + ': ' + fmtNum(b.value))));
        root.appendChild(r);
      }
      if (i % every === 0) {
        root.appendChild(svg('text', { x: x + bw / 2, y: T + ph + 14, 'text-anchor': 'end',
          transform: 'rotate(-35 ' + (x + bw / 2) + ' ' + (T + ph + 14) + ')' }, b.label));
      }
    });
    root.appendChild(svg('line', { x1: L, x2: L + pw, y1: T + ph, y2: T + ph, class: 'axis' }));
    if (opts.xlabel) {
      root.appendChild(svg('text', { x: L + pw, y: 14, 'text-anchor': 'end' }, opts.xlabel));
    }
    return root;
  }

  /* Scatter of points [{x, y, label, highlight, faded}] with the line y = slope x + intercept
   * given by the summary (drawn across the x axis when both are numbers). */
  function scatter(points, opts) {
    const W = 1000, H = 420, L = 90, R = 16, T = 22, B = 40;
    const pw = W - L - R, ph = H - T - B;
    let xmax = 0, ymax = 0;
    for (const p of points) {
      if (p.x > xmax) xmax = p.x;
      if (p.y > ymax) ymax = p.y;
    }
    const xt = ticks(xmax > 0 ? xmax : 1, 8);
    let yt = ticks(ymax > 0 ? ymax : 1, 5), yfmt = opts.yfmt || fmtNum;
    if (opts.ybytes) {
      // Round numbers of a binary unit (16 MiB/s, not 16,777,216): opts.yunit is appended.
      const bt = byteTicks(ymax > 0 ? ymax : 1, 5);
      yt = bt.vals;
      yfmt = (v) => bt.fmt(v) + (v === 0 ? '' : opts.yunit || '');
    }
    xmax = Math.max(xmax, xt[xt.length - 1], 1e-9);
    ymax = Math.max(ymax, yt[yt.length - 1], 1e-9);
    const sx = (x) => L + pw * x / xmax;
    const sy = (y) => T + ph - ph * y / ymax;
    const root = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, class: 'chart', role: 'img',
      'aria-label': opts.title || 'scatter' });
    for (const v of yt) {
      root.appendChild(svg('line', { x1: L, x2: L + pw, y1: sy(v), y2: sy(v), class: 'grid' }));
      root.appendChild(svg('text', { x: L - 5, y: sy(v) + 4, 'text-anchor': 'end' }, yfmt(v)));
    }
    for (const v of xt) {
      root.appendChild(svg('text', { x: sx(v), y: T + ph + 16, 'text-anchor': 'middle' }, (opts.xfmt || fmtNum)(v)));
    }
    root.appendChild(svg('line', { x1: L, x2: L + pw, y1: T + ph, y2: T + ph, class: 'axis' }));
    root.appendChild(svg('line', { x1: L, x2: L, y1: T, y2: T + ph, class: 'axis' }));
    if (opts.xlabel) root.appendChild(svg('text', { x: L + pw, y: H - 4, 'text-anchor': 'end' }, opts.xlabel));
    if (opts.ylabel) root.appendChild(svg('text', { x: L, y: T - 8 }, opts.ylabel));
    if (isNum(opts.slope) && isNum(opts.intercept)) {
      // The fitted line of the summary, clipped to the plot area.
      const clip = svg('clipPath', { id: 'scatter-clip' });
      clip.appendChild(svg('rect', { x: L, y: T, width: pw, height: ph }));
      root.appendChild(clip);
      const line = svg('line', { x1: sx(0), y1: sy(opts.intercept), x2: sx(xmax),
        y2: sy(opts.slope * xmax + opts.intercept), stroke: '#cf222e', 'stroke-width': 2,
        'clip-path': 'url(#scatter-clip)', 'data-trend': '1' });
      line.appendChild(svg('title', null, opts.lineLabel || 'fitted line'));
      root.appendChild(line);
    }
    for (const p of points) {
      if (!isNum(p.x) || !isNum(p.y)) continue;
      const c = svg('circle', { cx: sx(p.x), cy: sy(p.y), r: p.highlight ? 7 : 4,
        fill: p.highlight ? '#cf222e' : '#0969da', 'fill-opacity': p.faded ? 0.2 : 0.75,
        stroke: p.highlight ? '#000' : 'none' });
      c.setAttribute('data-point-tid', String(p.tid));
      c.appendChild(svg('title', null, p.label));
      root.appendChild(c);
    }
    return root;
  }

  return { svg, isNum, ticks, byteTicks, fmtBytes, fmtNum, fmtDurationNs, fmtSeconds, lineChart, barChart, scatter };
})();
