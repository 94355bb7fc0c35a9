#!/usr/bin/env bash
# hostile_names.sh: ctest harness.hostile_names. Strings from a traced program (thread names,
# the program's file name, the name of a trace's directory) must reach gnuplot and HTML as data:
# a program whose threads are named like `touch MSQ1` must not make `memscope-harness run
# --plots --html` or `report --plots --html` run anything, and every name must be shown as the
# text it is (in the SVG legend and tick labels, and HTML-escaped in report.html).
# Environment (tests/harness/CMakeLists.txt): HARNESS, NAMES_PROG (ms_h_names), WORK (scratch
# directory of this test, emptied first).
set -uo pipefail
: "${HARNESS:?}" "${NAMES_PROG:?}" "${WORK:?}"
rm -rf "$WORK"
mkdir -p "$WORK/cwd" "$WORK/bin" "$WORK/direct"

fail() {
  echo "FAIL [hostile_names]: $*" >&2
  exit 1
}

# no_markers WHEN: fails when a marker file exists anywhere under $WORK (checked before the
# exit status, which a name that breaks a script also changes: the injection is the finding).
no_markers() {
  local m
  m=$(find "$WORK" -name 'MSQ*')
  [ -z "$m" ] || fail "$1: a name was run as a command; markers created: $m"
}

# The names, as ms_h_names prints them (JSON), from a direct run outside the harness.
(cd "$WORK/direct" && "$NAMES_PROG") >"$WORK/names.json" || fail "ms_h_names failed on its own"

# The program's own file name is the case name of `run`; the --out directory's name is the
# case name of `report`: both end up in plot titles and the HTML <title>.
prog_name='p`touch MSQ6`'"'"'x"<i>&amp;'
report_name='r`touch MSQ7`'"'"'y"<i>z&amp;'
cp "$NAMES_PROG" "$WORK/bin/$prog_name" || fail "cannot copy ms_h_names"

# Markers are relative paths: whatever runs them (the harness, or gnuplot in DIR/plots) runs
# somewhere under $WORK, where we look for them afterwards.
cd "$WORK/cwd" || fail "no $WORK/cwd"
"$HARNESS" run --plots --html --no-progress --out "$WORK/cwd/run.d" -- "$WORK/bin/$prog_name" \
  >"$WORK/run.out" 2>"$WORK/run.err"
rc=$?
no_markers "run"
# Exit 0: the program exited 0 and the plots and HTML were written (a gnuplot failure, e.g. a
# script broken by a name, is a runtime error, exit 2).
[ $rc = 0 ] || { cat "$WORK/run.out" "$WORK/run.err"; fail "run exited $rc, expected 0"; }

trace_dir=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["harness"]["trace_dir"])' \
  "$WORK/cwd/run.d/summary.json") || fail "no harness.trace_dir in summary.json"
# `report` names its case after the --out directory when that exists (else after the trace's).
# Links planted at every name the plots and the HTML are written to must be replaced, never
# followed: a dangling one would create its target, a live one would truncate it.
report_dir="$WORK/cwd/$report_name"
mkdir -p "$report_dir/plots" "$WORK/victim"
echo keep >"$WORK/victim/existing"
ln -s "$WORK/victim/existing" "$report_dir/report.html"
for f in gnuplot.log overhead_history.log \
         {heap_timeline,thread_peaks,rss_cpu,size_histogram,cpu_alloc_scatter,overhead_history}.{gp,dat,png,svg}; do
  ln -s "$WORK/victim/$f" "$report_dir/plots/$f"
done
ln -sfn "$WORK/victim/existing" "$report_dir/plots/heap_timeline.png"
"$HARNESS" report "$trace_dir" --plots --html --no-progress --out "$report_dir" \
  >"$WORK/report.out" 2>"$WORK/report.err"
rc=$?
no_markers "report"
[ "$(ls "$WORK/victim")" = existing ] && [ "$(cat "$WORK/victim/existing")" = keep ] ||
  fail "a link planted in the report directory was followed: $(ls -l "$WORK/victim")"
for f in "$report_dir/report.html" "$report_dir"/plots/*; do
  [ -L "$f" ] && fail "$f is still a link: it was not replaced by the new file"
done
[ $rc = 0 ] || { cat "$WORK/report.out" "$WORK/report.err"; fail "report exited $rc, expected 0"; }

python3 - "$WORK/names.json" "$WORK/cwd/run.d" "$prog_name" "$WORK/cwd/$report_name" "$report_name" <<'EOF'
import html.parser, json, os, re, sys
import xml.etree.ElementTree as ET

names = json.load(open(sys.argv[1]))
cases = [(sys.argv[2], sys.argv[3]), (sys.argv[4], sys.argv[5])]
errors = []

def check(cond, msg):
    if not cond:
        errors.append(msg)

def shown(s):
    """A name as a plot shows it: control characters are replaced by '?' (a newline would
    split a label, and a data file or a script line)."""
    return "".join("?" if ord(c) < 32 or ord(c) == 127 else c for c in s)

def svg_texts(path):
    """Every <text> element's text; parsing also proves the SVG is well-formed XML."""
    root = ET.parse(path).getroot()
    return ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]

def strip_single_quoted(line):
    """A gnuplot line without its '...' strings ('' is a quote inside one)."""
    return re.sub(r"'(?:[^']|'')*'", "''", line)

class Html(html.parser.HTMLParser):
    """The tags of the page and the text of its data element (<script id="memscope-data">)."""
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.data, self.in_data = set(), None, False
    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag == "script" and ("id", "memscope-data") in attrs:
            self.in_data, self.data = True, ""
    def handle_endtag(self, tag):
        if tag == "script":
            self.in_data = False
    def handle_data(self, data):
        if self.in_data: self.data += data

for d, case in cases:
    summary = json.load(open(os.path.join(d, "summary.json")))
    tid = {}
    for t in summary["threads"]:
        tid[t["name"]] = "%.0f" % float(t["tid"])
    for n in names:
        check(n in tid, f"{d}: thread {n!r} not in summary.json (names: {sorted(tid)})")
    if errors:
        break
    plots = os.path.join(d, "plots")
    files = sorted(os.listdir(plots))
    check(not [f for f in files if ".tmp" in f], f"{plots}: temporary files left: {files}")
    for base in ("heap_timeline", "thread_peaks", "rss_cpu", "size_histogram", "cpu_alloc_scatter",
                 "overhead_history"):
        for ext in ("gp", "dat", "png", "svg"):
            p = os.path.join(plots, base + "." + ext)
            check(os.path.isfile(p) and os.path.getsize(p) > 0, f"missing or empty {p}")
    # Names are data: no thread name in a script, no backtick outside a '...' string.
    for f in files:
        if not f.endswith(".gp"):
            continue
        text = open(os.path.join(plots, f), encoding="utf-8", errors="replace").read()
        for n in names:
            check(n not in text and shown(n) not in text, f"{f}: thread name {n!r} is in the script")
        for i, line in enumerate(text.split("\n"), 1):
            check("`" not in strip_single_quoted(line), f"{f}:{i}: backtick outside '...': {line!r}")
    log = os.path.join(plots, "gnuplot.log")
    check(os.path.isfile(log), f"no {log}")
    if os.path.isfile(log):
        for line in open(log, errors="replace"):
            # gnuplot's errors read '"x.gp" line N: message' (warnings say "warning:"); a shell
            # started by a backtick would complain with "sh: ".
            check(not re.search(r"line \d+: (?!warning)|sh: |not found", line), f"{log}: {line.rstrip()}")
    # heap_timeline: the legend names the 8 threads with the highest peaks (when the summary has
    # per-thread timelines; else the title says they are unavailable), the title the case.
    texts = svg_texts(os.path.join(plots, "heap_timeline.svg"))
    check(shown(case) + ": live heap over time" in texts,
          f"heap_timeline.svg: no title {shown(case)!r}: live heap over time")
    if any("timeline" in t for t in summary["threads"]):
        for n in names[:8]:
            want = f"{shown(n)} ({tid[n]})"
            check(want in texts, f"heap_timeline.svg: no legend entry {want!r} in {texts}")
    else:
        check(any("per-thread lines unavailable" in t for t in texts),
              f"heap_timeline.svg: no note that per-thread lines are unavailable in {texts}")
    # cpu_alloc_scatter names its points (when at most 16) from the data file's fields.
    texts = svg_texts(os.path.join(plots, "cpu_alloc_scatter.svg"))
    rows = [l.split(" ", 3) for l in open(os.path.join(plots, "cpu_alloc_scatter.dat"), encoding="utf-8")
            if l.strip() and not l.startswith("#")]
    if 0 < len(rows) <= 16:
        for n in names:
            if tid[n] in [r[2] for r in rows]:
                check(f"{shown(n)}:{tid[n]}" in texts, f"cpu_alloc_scatter.svg: no label {shown(n)}:{tid[n]}")
    texts = svg_texts(os.path.join(plots, "thread_peaks.svg"))
    for n in names:
        want = f"{shown(n)}:{tid[n]}"
        check(want in texts, f"thread_peaks.svg: no tick label {want!r} in {texts}")
    # report.html (docs/dashboard.md): names reach the page only inside its JSON data element,
    # every '<' written as \u003c, so no name is markup and none can close the element; the
    # page's script shows them as text (tests/browser checks what a browser displays).
    raw = open(os.path.join(d, "report.html"), encoding="utf-8").read()
    check("<b>x</b>" not in raw and "<i>" not in raw, "report.html: raw markup from a name")
    p = Html()
    p.feed(raw)
    check(not p.tags & {"b", "i"}, f"report.html: tags from names: {p.tags & {'b', 'i'}}")
    check(p.data is not None, "report.html: no <script id=memscope-data> element")
    if p.data is not None:
        check("<" not in p.data, "report.html: a raw '<' inside the data element")
        doc = json.loads(p.data)
        shown_names = [t.get("name") for t in doc["summary"]["threads"]]
        for n in names:
            check(n in shown_names, f"report.html: thread name {n!r} is not in the page's data")
        check(doc["name"] == case, f"report.html: the page's name is {doc['name']!r}, expected {case!r}")

for e in errors:
    print("  " + e, file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
[ $? = 0 ] || fail "names were not shown as data (above)"
echo "hostile_names: no marker created; names shown as text in SVG and HTML"
