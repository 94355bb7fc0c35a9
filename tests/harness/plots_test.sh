#!/usr/bin/env bash
# plots_test.sh CASE: the gnuplot charts of docs/plots.md. Every case checks, with
# plots_check.py, that every chart's .gp/.dat/.png/.svg exist and are valid (PNG 1200x800, SVG
# parsed by xmllint) and that the .dat rows equal the figures computed by python3 from
# summary.json (resources.json, the history).
#   scenario     work_stealing and selective_50 (25 untracked threads left out of thread_peaks)
#   contract     summaries with the fields of docs/dashboard-data.md: per-thread timelines (top 8
#                + rest), a correlation with its fit, one whose r is null, untracked threads
#   history      the overhead history grows by one entry per gate run; 0, 1 and 3 runs drawn
#   run_threads  `run --plots` of a 60-thread program (the 40 highest drawn, the note says so)
# Environment (tests/harness/CMakeLists.txt): HARNESS, PLOTS (ms_h_plots), THREADS_PROG,
# SRC_DIR, WORK.
set -uo pipefail

case_name=$1
: "${HARNESS:?}" "${PLOTS:?}" "${WORK:?}" "${SRC_DIR:?}"
rm -rf "$WORK"
mkdir -p "$WORK"
CHECK="$(dirname "$0")/plots_check.py"

# shellcheck source=test_lib.sh
. "$(dirname "$0")/test_lib.sh"

# check_dir OUT [ARGS]: plots_check.py on OUT/plots with OUT's summary.json (and resources.json).
check_dir() {
  local out=$1
  shift
  local res=()
  [ -f "$out/resources.json" ] && res=(--resources "$out/resources.json")
  python3 "$CHECK" "$out/plots" "$out/summary.json" "${res[@]}" "$@" || fail "$out/plots: charts wrong (above)"
}

svg_has() { # svg_has FILE TEXT: some <text> of the SVG contains TEXT
  python3 - "$1" "$2" <<'EOF' || fail "$1 has no text containing '$2'"
import sys, xml.etree.ElementTree as ET
texts = ["".join(t.itertext()) for t in ET.parse(sys.argv[1]).getroot().iter("{http://www.w3.org/2000/svg}text")]
sys.exit(0 if any(sys.argv[2] in t for t in texts) else 1)
EOF
}

case "$case_name" in
scenario)
  expect_exit 0 "$HARNESS" scenario work_stealing --out "$WORK/ws" --no-progress --plots
  check_dir "$WORK/ws"
  expect_exit 0 "$HARNESS" scenario selective_50 --out "$WORK/sel" --no-progress --plots
  n=$(json_get "$WORK/sel/summary.json" "sum(1 for t in d['threads'] if t.get('tracked') is False)")
  [ "$n" -gt 0 ] || fail "selective_50 lists no untracked thread: this test needs some"
  check_dir "$WORK/sel"
  # `report` rebuilds them from the trace.
  expect_exit 0 "$HARNESS" report "$WORK/ws/trace" --out "$WORK/rep" --no-progress --plots
  check_dir "$WORK/rep"
  ;;
contract)
  # A real run's summary plus the analysis's per-thread timelines (its comprehensive JSON has
  # them in the shape of docs/dashboard-data.md section 2), with untracked threads added.
  expect_exit 0 "$HARNESS" run --out "$WORK/t" --no-progress -- "$THREADS_PROG" 30 300
  python3 - "$WORK/t" "$WORK" <<'EOF' || fail "making the contract summaries failed"
import json, math, sys
src, work = sys.argv[1], sys.argv[2]
comp = json.load(open(src + "/ms_h_threads_comprehensive.json"))
summary = json.load(open(src + "/summary.json"))
by_tid = {t["tid"]: t.get("timeline") for t in comp["threads"]}
for t in summary["threads"]:
    if by_tid.get(t["tid"]) is not None:
        t["timeline"] = by_tid[t["tid"]]
assert sum(1 for t in summary["threads"] if "timeline" in t) > 9, "fewer than 10 threads with a timeline"
# Three threads only /proc saw (docs/dashboard-data.md section 1): no allocation figures.
for k in range(3):
    summary["threads"].append({"tid": 900000 + k, "name": "untracked-%d" % k, "tracked": False,
                               "peak_live_bytes": 0, "resources": {"source": "proc"}})
# A correlation whose fit is computed here by least squares over (allocations, bytes/s) of the
# tracked threads: any measured pair exercises the chart.
pts = [(float(t["allocations"]), float(t["allocated_bytes_per_s"]), t["tid"]) for t in summary["threads"]
       if t.get("tracked", True) and t.get("allocated_bytes_per_s") is not None]
n = len(pts)
mx = sum(p[0] for p in pts) / n
my = sum(p[1] for p in pts) / n
sxx = sum((p[0] - mx) ** 2 for p in pts)
sxy = sum((p[0] - mx) * (p[1] - my) for p in pts)
syy = sum((p[1] - my) ** 2 for p in pts)
slope = sxy / sxx if sxx else 0.0
r = sxy / math.sqrt(sxx * syy) if sxx and syy else 0.0
summary["correlation"] = {"x": "cpu_percent", "y": "allocated_bytes_per_s", "n": n, "r": r,
                          "slope": slope, "intercept": my - slope * mx,
                          "points": [{"tid": p[2], "x": p[0], "y": p[1]} for p in pts], "reason": None}
json.dump(summary, open(work + "/fit.json", "w"))
summary["correlation"] = {"x": "cpu_percent", "y": "allocated_bytes_per_s", "n": 2, "r": None,
                          "slope": None, "intercept": None, "points": summary["correlation"]["points"][:2],
                          "reason": "only 2 threads have both figures; r needs 3"}
json.dump(summary, open(work + "/nofit.json", "w"))
EOF
  # nofit is drawn without resources.json: rss_cpu then says there are no /proc samples.
  mkdir -p "$WORK/fit" "$WORK/nofit"
  expect_exit 0 "$PLOTS" "$WORK/fit" contract_fit "$WORK/fit.json" "$WORK/t/resources.json"
  cp "$WORK/t/resources.json" "$WORK/fit/resources.json"
  expect_exit 0 "$PLOTS" "$WORK/nofit" contract_nofit "$WORK/nofit.json"
  for v in fit nofit; do
    cp "$WORK/$v.json" "$WORK/$v/summary.json"
    check_dir "$WORK/$v"
  done
  grep -q '^"t_ns" "rest: ' "$WORK/fit/plots/heap_timeline.dat" || fail "heap_timeline.dat has no rest block"
  svg_has "$WORK/nofit/plots/cpu_alloc_scatter.svg" "no fit: only 2 threads have both figures; r needs 3"
  svg_has "$WORK/fit/plots/thread_peaks.svg" "3 untracked threads left out"
  # A process that ended before /proc gave its RSS (a CI run's leak_demo once: every sample
  # without rss_bytes, and gnuplot failed on the all-undefined line): the chart says so, with
  # and without CPU figures.
  for v in norss norss_nocpu; do
    python3 - "$WORK/t/resources.json" "$WORK/$v.resources.json" "$v" <<'EOF' || fail "making $v failed"
import json, sys
r = json.load(open(sys.argv[1]))
for smp in r["samples"]:
    smp.setdefault("process", {})["rss_bytes"] = None
    if sys.argv[3] == "norss_nocpu":
        smp["process"]["cpu_percent"] = None
        if isinstance(smp.get("cpu"), dict):
            smp["cpu"]["total_percent"] = None
            smp["cpu"]["per_core_percent"] = [None for _ in smp["cpu"].get("per_core_percent") or []]
json.dump(r, open(sys.argv[2], "w"))
EOF
    mkdir -p "$WORK/$v"
    expect_exit 0 "$PLOTS" "$WORK/$v" "contract_$v" "$WORK/fit.json" "$WORK/$v.resources.json"
    cp "$WORK/$v.resources.json" "$WORK/$v/resources.json"
    cp "$WORK/fit.json" "$WORK/$v/summary.json"
    check_dir "$WORK/$v"
    svg_has "$WORK/$v/plots/rss_cpu.svg" "no RSS figure: /proc gave none in"
  done
  ;;
history)
  # gate --history: one entry per gate run (the current file holds one scenario), drawn with
  # --plots. The entry's figures are the median and quartiles of the current ratios.
  python3 - "$SRC_DIR/ci/overhead-baseline.json" "$WORK/current.json" <<'EOF' || fail "no current file"
import json, sys
d = json.load(open(sys.argv[1]))
d["scenarios"] = {"work_stealing": d["scenarios"]["work_stealing"]}
json.dump(d, open(sys.argv[2], "w"))
EOF
  hist="$WORK/history.jsonl"
  mkdir -p "$WORK/h0"
  expect_exit 0 "$PLOTS" --history "$WORK/h0" "$hist"
  python3 "$CHECK" "$WORK/h0/plots" - --history "$hist" || fail "the empty history's chart is wrong"
  for i in 1 2 3; do
    expect_exit 0 env GITHUB_SHA="c0ffee$i$i$i$i" "$HARNESS" gate --baseline "$SRC_DIR/ci/overhead-baseline.json" \
      --current "$WORK/current.json" --history "$hist" --plots --out "$WORK/g$i"
    expect_eq "history lines after gate run $i" "$i" "$(wc -l <"$hist")"
    [ $i = 1 ] && svg_has "$WORK/g1/plots/overhead_history.svg" "one run: no trend yet"
  done
  python3 - "$hist" "$WORK/current.json" <<'EOF' || fail "history entries wrong"
import json, statistics, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
ratios = json.load(open(sys.argv[2]))["scenarios"]["work_stealing"]
def q(v, p):  # type 7 quantile, computed independently of the harness
    v = sorted(v); h = (len(v) - 1) * p; lo = int(h); hi = min(lo + 1, len(v) - 1)
    return v[lo] + (h - lo) * (v[hi] - v[lo])
for i, e in enumerate(lines, 1):
    assert e["schema"] == "memscope.overhead-history/1" and e["scenario"] == "work_stealing", e
    assert e["commit"] == "c0ffee" + str(i) * 4 and e["source"] == "gate" and e["pairs"] == 10, e
    for m in ("cpu", "wall"):
        r = ratios[m]["ratios"]
        assert abs(e[m + "_ratio"] - statistics.median(r)) < 1e-12, (m, e)
        assert abs(e[m + "_q1"] - q(r, 0.25)) < 1e-12 and abs(e[m + "_q3"] - q(r, 0.75)) < 1e-12, (m, e)
assert len({e["run"] for e in lines}) == 3, "the three gate runs share a run id"
EOF
  python3 "$CHECK" "$WORK/g3/plots" - --history "$hist" --baseline "$SRC_DIR/ci/overhead-baseline.json" ||
    fail "the chart of 3 runs is wrong"
  [ "$(awk '/^# the gate/ { exit } /^[0-9]/ { n++ } END { print n }' "$WORK/g3/plots/overhead_history.dat")" = 3 ] ||
    fail "overhead_history.dat has not 3 rows of runs"
  svg_has "$WORK/g3/plots/overhead_history.svg" "3 runs"
  # scenario --repeat with --history appends its own entry; --history alone is refused.
  expect_exit 0 "$HARNESS" scenario work_stealing --repeat 2 --history "$hist" --out "$WORK/s" --no-progress --plots
  expect_eq "history lines after a scenario run" 4 "$(wc -l <"$hist")"
  check_dir "$WORK/s" --history "$hist"
  expect_exit 2 "$HARNESS" scenario work_stealing --history "$hist" --out "$WORK/s2" --no-progress
  grep -q "add --repeat N" "$WORK/err" || fail "no hint to add --repeat"
  # A history is input (CI restores it): a hostile scenario name and commit stay data, and a
  # line that is not an entry is skipped and counted.
  cp "$hist" "$WORK/hostile.jsonl"
  # shellcheck disable=SC2016 # the $(...) and backticks are the test's literal data
  printf '%s\n' 'not json' \
    '{"run":"x","scenario":"`touch MSQH1`","commit":"$(touch MSQH2)\"'"'"'","cpu_ratio":2,"cpu_q1":1.5,"cpu_q3":2.5,"wall_ratio":2,"wall_q1":1,"wall_q3":3}' \
    >>"$WORK/hostile.jsonl"
  mkdir -p "$WORK/hh"
  (cd "$WORK/hh" && "$PLOTS" --history "$WORK/hh" "$WORK/hostile.jsonl") || fail "the hostile history was not drawn"
  [ -z "$(find "$WORK" -name 'MSQH*')" ] || fail "a name from the history ran: $(find "$WORK" -name 'MSQH*')"
  # shellcheck disable=SC2016
  svg_has "$WORK/hh/plots/overhead_history.svg" '`touch MSQH1`'
  svg_has "$WORK/hh/plots/overhead_history.svg" '1 unreadable line of the history skipped'
  # A link at the history's name is refused, not followed.
  ln -s "$WORK/victim" "$WORK/link.jsonl"
  expect_exit 2 "$HARNESS" gate --baseline "$SRC_DIR/ci/overhead-baseline.json" --current "$WORK/current.json" \
    --history "$WORK/link.jsonl"
  [ ! -e "$WORK/victim" ] || fail "the history was written through a link"
  expect_exit 2 "$HARNESS" gate --baseline "$SRC_DIR/ci/overhead-baseline.json" --current "$WORK/current.json" --plots
  grep -q "give --out DIR" "$WORK/err" || fail "gate --plots without --out: no hint"
  ;;
run_threads)
  expect_exit 0 "$HARNESS" run --out "$WORK/r" --no-progress --plots -- "$THREADS_PROG" 60 200
  check_dir "$WORK/r"
  expect_eq "thread_peaks rows" 40 "$(grep -c '^[0-9]' "$WORK/r/plots/thread_peaks.dat")"
  svg_has "$WORK/r/plots/thread_peaks.svg" "the 40 highest of 61 tracked threads"
  ;;
*)
  fail "unknown case"
  ;;
esac
exit 0
