#!/usr/bin/env python3
"""plots_check.py PLOTS_DIR SUMMARY.json|- [--resources R.json] [--history H.jsonl] [--baseline B.json]

Checks the gnuplot charts of one report directory (docs/plots.md) against the summary they were
drawn from: every chart's .gp, .dat, .png and .svg exist; the PNG is a PNG of 1200x800, the
SVG parses as XML and is 1200x800; gnuplot.log has no error; and every .dat holds the rows
computed here, independently, from summary.json (resources.json, the history). With "-" for
the summary, only overhead_history (as `gate --plots` draws it). Prints each problem and exits
1 when there is one."""
import bisect
import json
import math
import os
import re
import statistics
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET

CHARTS = ("heap_timeline", "thread_peaks", "size_histogram", "cpu_alloc_scatter", "rss_cpu",
          "overhead_history")
errors = []


def check(cond, msg):
    if not cond:
        errors.append(msg)
    return cond


def num(v):
    """A summary number (the analysis writes 64-bit counts as raw numbers: ints here)."""
    return None if v is None or isinstance(v, bool) else float(v)


def tracked(t):
    return t.get("tracked") is not False


# ---- files ----

def read_dat(path):
    """The blocks of a gnuplot data file (separated by two blank lines): lists of rows, each a
    list of fields; "..." fields unescaped as gnuplot does (\\\\ and \\042)."""
    blocks, rows, blank = [], [], 0
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if line.startswith("#"):
            continue
        if not line.strip():
            blank += 1
            if blank == 2 and rows:
                blocks.append(rows)
                rows = []
            continue
        blank = 0
        fields = []
        for m in re.finditer(r'"((?:[^"\\]|\\.)*)"|(\S+)', line):
            if m.group(1) is not None:
                fields.append(re.sub(r"\\(\\|042)", lambda x: "\\" if x.group(1) == "\\" else '"', m.group(1)))
            else:
                fields.append(m.group(2))
        rows.append(fields)
    if rows:
        blocks.append(rows)
    return blocks


def svg_texts(path):
    root = ET.parse(path).getroot()
    return ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]


def check_files(d, charts=CHARTS):
    for base in charts:
        for ext in ("gp", "dat", "png", "svg"):
            p = os.path.join(d, base + "." + ext)
            check(os.path.isfile(p) and not os.path.islink(p) and os.path.getsize(p) > 0, f"missing or empty {p}")
        png = os.path.join(d, base + ".png")
        if os.path.isfile(png):
            head = open(png, "rb").read(24)
            if check(head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", f"{png}: not a PNG"):
                w, h = struct.unpack(">II", head[16:24])
                check((w, h) == (1200, 800), f"{png}: {w}x{h}, expected 1200x800")
        svg = os.path.join(d, base + ".svg")
        if os.path.isfile(svg):
            r = subprocess.run(["xmllint", "--noout", svg], capture_output=True, text=True)
            check(r.returncode == 0, f"{svg}: xmllint: {r.stderr.strip()[:300]}")
            root = ET.parse(svg).getroot()
            # `set terminal svg dynamic`: no width/height, the viewBox gives the size.
            check(root.get("viewBox") == "0 0 1200 800", f"{svg}: viewBox {root.get('viewBox')}, expected 0 0 1200 800")
    check(not [f for f in os.listdir(d) if ".tmp" in f], f"{d}: temporary files left")
    for log in ("gnuplot.log", "overhead_history.log") if charts == CHARTS else ("overhead_history.log",):
        p = os.path.join(d, log)
        if check(os.path.isfile(p), f"no {p}"):
            for line in open(p, errors="replace"):
                check(not re.search(r"line \d+: (?!warning)|sh: |not found", line), f"{p}: {line.rstrip()}")


def close(a, b, rel=1e-6, abs_=1e-9):
    return a == b or (a is not None and b is not None and abs(a - b) <= max(abs_, rel * max(abs(a), abs(b))))


def floats(row, n):
    return [float(x) for x in row[:n]]


# ---- the charts' rows, from the summary ----

def series(tl):
    return [(float(t), float(v)) for t, v in zip(tl.get("t_ns", []), tl.get("live_bytes", []))
            if t is not None and v is not None]


def thread_series(t):
    """A thread's timeline with its end-of-run live_bytes as a last point at its last time."""
    s = series(t["timeline"])
    if s and t.get("live_bytes") is not None and float(t["live_bytes"]) != s[-1][1]:
        s.append((s[-1][0], float(t["live_bytes"])))
    return s


def value_at(s, times, t):
    """A series read as a step function: its value at its last point at or before t, else 0."""
    i = bisect.bisect_right(times, t)
    return s[i - 1][1] if i else 0.0


def check_heap_timeline(d, summary):
    blocks = read_dat(os.path.join(d, "heap_timeline.dat"))
    texts = svg_texts(os.path.join(d, "heap_timeline.svg"))
    threads = summary.get("threads", [])
    check(blocks and blocks[0][0] == ["t_ns", "process total"], "heap_timeline.dat: block 0 is not the process")
    want = series(summary.get("timeline", {})) or [(0.0, 0.0)]
    got = [tuple(floats(r, 2)) for r in blocks[0][1:]] if blocks else []
    check(got == want, f"heap_timeline.dat: process rows differ ({len(got)} vs {len(want)} rows)")
    cands = [(i, t) for i, t in enumerate(threads) if tracked(t) and (num(t.get("peak_live_bytes")) or 0) > 0]
    with_tl = [(i, t) for i, t in cands if isinstance(t.get("timeline"), dict)]
    if cands and not with_tl:
        check(any("per-thread lines unavailable" in x for x in texts),
              "heap_timeline.svg: no note that per-thread lines are unavailable")
        check(len(blocks) == 1, f"heap_timeline.dat: {len(blocks)} blocks without per-thread timelines")
        return
    order = sorted(with_tl, key=lambda p: (-float(p[1]["peak_live_bytes"]), p[0]))
    lines = order if len(order) <= 9 else order[:8]
    rest = order[len(lines):]
    check(len(blocks) == 1 + len(lines) + (1 if rest else 0),
          f"heap_timeline.dat: {len(blocks)} blocks, expected {1 + len(lines) + (1 if rest else 0)}")
    for k, (i, t) in enumerate(lines, 1):
        if k >= len(blocks):
            break
        label = "%s (%d)" % (t.get("name") or "thread", int(t["tid"]))
        check(blocks[k][0][1] == label or "?" in blocks[k][0][1], f"heap_timeline.dat: block {k} is {blocks[k][0]}, expected {label!r}")
        check(label in texts or "?" in label, f"heap_timeline.svg: no legend entry {label!r}")
        got = [tuple(floats(r, 2)) for r in blocks[k][1:]]
        check(got == (thread_series(t) or [(0.0, 0.0)]), f"heap_timeline.dat: rows of {label!r} differ")
    if rest and len(blocks) == len(lines) + 2:
        ss = [thread_series(t) for _, t in rest]
        ts = [[p[0] for p in s] for s in ss]
        # The last point at a time wins: bisect on the times finds the last of equal ones.
        want = [(t, sum(value_at(s, tt, t) for s, tt in zip(ss, ts)))
                for t in sorted({p[0] for s in ss for p in s})]
        got = [tuple(floats(r, 2)) for r in blocks[-1][1:]]
        check(blocks[-1][0][1] == "rest: %d other threads (sum)" % len(rest), f"heap_timeline.dat: rest header {blocks[-1][0]}")
        check(got == want, f"heap_timeline.dat: rest rows differ ({len(got)} vs {len(want)})")
        check("rest: %d other threads (sum)" % len(rest) in texts, "heap_timeline.svg: no rest entry")


def check_thread_peaks(d, summary):
    threads = summary.get("threads", [])
    rows = [r for b in read_dat(os.path.join(d, "thread_peaks.dat")) for r in b]
    tr = sorted([(i, t) for i, t in enumerate(threads) if tracked(t)],
                key=lambda p: (-(num(p[1].get("peak_live_bytes")) or 0), p[0]))
    want = [(r, float(t.get("peak_live_bytes") or 0), float(t["tid"])) for r, (_, t) in enumerate(tr[:40])]
    got = [tuple(floats(r, 3)) for r in rows]
    check(got == want, f"thread_peaks.dat: rows {got[:5]}... differ from {want[:5]}...")
    untracked = [t for t in threads if not tracked(t)]
    tids = {float(r[2]) for r in rows}
    for t in untracked:
        check(float(t["tid"]) not in tids, f"thread_peaks.dat: untracked thread {t['tid']} is drawn")
    texts = svg_texts(os.path.join(d, "thread_peaks.svg"))
    if untracked:
        check(any("%d untracked thread" % len(untracked) in x for x in texts),
              f"thread_peaks.svg: no note of the {len(untracked)} untracked threads left out")
    if len(tr) > 40:
        check(any("the 40 highest of %d tracked threads" % len(tr) in x for x in texts),
              "thread_peaks.svg: no note that only 40 threads are drawn")


def check_size_histogram(d, summary):
    h = summary.get("size_histogram", [])
    nz = [i for i, e in enumerate(h) if (num(e.get("count")) or 0) > 0]
    want = [] if not nz else [(i - nz[0], float(h[i]["min"]), float(h[i]["max"]), float(h[i]["count"]))
                              for i in range(nz[0], nz[-1] + 1)]
    got = [tuple(floats(r, 4)) for b in read_dat(os.path.join(d, "size_histogram.dat")) for r in b]
    check(got == want, f"size_histogram.dat: rows {got} differ from {want}")


def check_scatter(d, summary):
    threads = summary.get("threads", [])
    corr = summary.get("correlation")
    if isinstance(corr, dict):
        want = [(float(p["x"]), float(p["y"]), float(p["tid"])) for p in corr.get("points", [])
                if num(p.get("x")) is not None and num(p.get("y")) is not None]
    else:
        want = [(float(t["cpu_percent"]), float(t["allocated_bytes_per_s"]), float(t["tid"])) for t in threads
                if tracked(t) and num(t.get("cpu_percent")) is not None and num(t.get("allocated_bytes_per_s")) is not None]
    got = [tuple(floats(r, 3)) for b in read_dat(os.path.join(d, "cpu_alloc_scatter.dat")) for r in b]
    check(len(got) == len(want) and all(all(close(a, b) for a, b in zip(g, w)) for g, w in zip(got, want)),
          f"cpu_alloc_scatter.dat: rows {got[:3]} differ from {want[:3]}")
    texts = svg_texts(os.path.join(d, "cpu_alloc_scatter.svg"))
    gp = open(os.path.join(d, "cpu_alloc_scatter.gp")).read()
    if isinstance(corr, dict) and all(num(corr.get(k)) is not None for k in ("r", "slope", "intercept")):
        key = "least-squares fit: r = %.3f, n = %d threads" % (float(corr["r"]), int(corr["n"]))
        check(key in texts, f"cpu_alloc_scatter.svg: no key entry {key!r} in {texts}")
        m = re.search(r"fit_line\(x\) = \(([^ ]+) \* x \+ ([^ ]+)\)", gp)
        check(m and close(float(m.group(1)), float(corr["slope"])) and close(float(m.group(2)), float(corr["intercept"])),
              "cpu_alloc_scatter.gp: the fit line is not the summary's slope and intercept")
    else:
        check("fit_line" not in gp, "cpu_alloc_scatter.gp: a fit line without a fit in the summary")
        why = (corr or {}).get("reason") if isinstance(corr, dict) else "this summary.json has no correlation"
        check(any(x.startswith("no fit: ") and (not why or why[:40] in x) for x in texts),
              f"cpu_alloc_scatter.svg: no 'no fit: {why}' in the title")


def check_rss_cpu(d, resources):
    rows = [r for b in read_dat(os.path.join(d, "rss_cpu.dat")) for r in b]
    if resources is None:
        check(rows == [], "rss_cpu.dat: rows without resources.json")
        check(any("no /proc samples" in x for x in svg_texts(os.path.join(d, "rss_cpu.svg"))), "rss_cpu.svg: no note")
        return
    # The chart plots the sampler's own CPU figures (each over >= cpu_window_min_s), not a
    # difference of tick counts between neighbouring samples.
    want = []
    for s in resources.get("samples", []):
        if s.get("t_s") is None:
            continue
        p = s.get("process", {})
        want.append((s["t_s"], p.get("rss_bytes"), p.get("cpu_percent"), (s.get("cpu") or {}).get("total_percent")))
    check(len(rows) == len(want), f"rss_cpu.dat: {len(rows)} rows for {len(want)} samples")
    for r, w in zip(rows, want):
        g = [float(x) for x in r[:4]]
        for a, b in zip(g, w):
            b = math.nan if b is None else float(b)
            check((math.isnan(a) and math.isnan(b)) or close(a, b, rel=1e-4, abs_=2e-3),
                  f"rss_cpu.dat: row {r[:4]} differs from {w}")
    # The key says what window the CPU figures cover; with no figure at all the chart says why.
    texts = svg_texts(os.path.join(d, "rss_cpu.svg"))
    win = resources.get("cpu_window_min_s")
    if win is not None and any(w[2] is not None for w in want):
        key = "process CPU (%% of one core, over >= %.0f ms, right axis)" % (win * 1e3)
        check(key in texts, f"rss_cpu.svg: no key entry {key!r} in {texts}")
    elif win is not None and want and all(w[2] is None and w[3] is None for w in want):
        check(any(x.startswith("no CPU figure: ") for x in texts), f"rss_cpu.svg: no 'no CPU figure' label in {texts}")
    if want and all(w[1] is None for w in want):
        check(any(x.startswith("no RSS figure: ") for x in texts), f"rss_cpu.svg: no 'no RSS figure' label in {texts}")


def check_history(d, history, baseline=None):
    blocks = read_dat(os.path.join(d, "overhead_history.dat"))
    texts = svg_texts(os.path.join(d, "overhead_history.svg"))
    entries = []
    if history and os.path.exists(history):
        entries = [json.loads(l) for l in open(history) if l.strip()]
    if not entries:
        check(any("no overhead history yet" in x for x in texts), "overhead_history.svg: no 'no history' note")
        return
    runs, scen = [], []
    for e in entries:
        k = e.get("run") or e.get("time")
        if k not in runs:
            runs.append(k)
        if e["scenario"] not in scen:
            scen.append(e["scenario"])
    runs = runs[-60:]
    base = [b for b in blocks if b[0][0] != "run"]  # the gate's baseline: no header row
    blocks = [b for b in blocks if b[0][0] == "run"]
    check(len(blocks) == min(len(scen), 16), f"overhead_history.dat: {len(blocks)} blocks for {len(scen)} scenarios")
    if baseline:
        ratios = json.load(open(baseline))["scenarios"]
        want = [[float(k)] + [statistics.median(ratios[s][m]["ratios"]) if s in ratios else math.nan
                              for m in ("cpu", "wall")] for k, s in enumerate(scen[:16])]
        got = [floats(r, 3) for r in base[0]] if base else []
        check(len(got) == len(want) and all(close(p, q, rel=1e-5) or (math.isnan(p) and math.isnan(q))
                                            for g, w in zip(got, want) for p, q in zip(g, w)),
              f"overhead_history.dat: baseline rows {got} differ from {want}")
        check(any("dashed: the gate baseline" in x for x in texts), "overhead_history.svg: no baseline key entry")
    else:
        check(not base, "overhead_history.dat: a baseline block without --baseline")
    for b, s in zip(blocks, scen):
        check(b[0][1] == s, f"overhead_history.dat: block {b[0]} is not {s!r}")
        want = []
        for x, r in enumerate(runs, 1):
            hit = [e for e in entries if (e.get("run") or e.get("time")) == r and e["scenario"] == s]
            if hit:
                e = hit[-1]
                want.append([float(x)] + [float(e[k]) for k in ("cpu_ratio", "cpu_q1", "cpu_q3", "wall_ratio", "wall_q1", "wall_q3")])
        got = [floats(r, 7) for r in b[1:]]
        check(len(got) == len(want) and all(all(close(p, q, rel=1e-5) for p, q in zip(g, w)) for g, w in zip(got, want)),
              f"overhead_history.dat: rows of {s!r} {got} differ from {want}")
    if len(runs) == 1:
        check(any("one run: no trend yet" in x for x in texts), "overhead_history.svg: no 'one run' note")


def main():
    args = sys.argv[1:]
    opts = {}
    while len(args) > 2 and args[-2].startswith("--"):
        opts[args[-2]] = args[-1]
        args = args[:-2]
    d = args[0]
    if args[1] == "-":  # the overhead history alone (gate --plots)
        check_files(d, ("overhead_history",))
        if not errors:
            check_history(d, opts.get("--history"), opts.get("--baseline"))
        return
    summary = json.load(open(args[1]))
    resources = json.load(open(opts["--resources"])) if "--resources" in opts else None
    check_files(d)
    if errors:
        return
    check_heap_timeline(d, summary)
    check_thread_peaks(d, summary)
    check_size_histogram(d, summary)
    check_scatter(d, summary)
    check_rss_cpu(d, resources)
    check_history(d, opts.get("--history"), opts.get("--baseline"))


main()
for e in errors:
    print("  " + e, file=sys.stderr)
sys.exit(1 if errors else 0)
