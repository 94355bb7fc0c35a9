#!/usr/bin/env bash
# roles_test.sh CASE: thread roles and their thresholds as a user sets them (issue 10).
#   harness_report  `memscope-harness report` on a real trace (8 threads x 1504 allocations)
#                   with the default thresholds, --role-threshold, --role-thresholds FILE and
#                   both: every thread's role is what an independent Python rule gives from
#                   its figures; the correlation agrees with statistics.correlation and
#                   linear_regression (or is null with a reason under 3 points)
#   analyze         memscope-analyze on the same kind of trace with the same options
#   bad_thresholds  an unknown key, a wrong type, a negative value, a missing file: exit 2 and
#                   one line on stderr naming the key or file, on report, run, scenario and
#                   memscope-analyze
# Environment (tests/analysis/CMakeLists.txt): HARNESS, ANALYZE, THREADS_PROG, WORK.
set -uo pipefail

case_name=$1
: "${HARNESS:?}" "${ANALYZE:?}" "${THREADS_PROG:?}" "${WORK:?}"
rm -rf "$WORK"
mkdir -p "$WORK"

# shellcheck source=../harness/test_lib.sh
. "$(dirname "$0")/../harness/test_lib.sh"

# check_roles SUMMARY SOURCE OVERRIDES_JSON EXPECT_WORKERS: roles of every thread against the
# rule of docs/analysis.md written again here; thresholds = SPEC §8 defaults + overrides;
# every worker thread (ms_h_threads' threads other than main) must have role EXPECT_WORKERS
# ("-": any; the workers spin on malloc/free, so with a measured CPU figure they may pass the
# default CPU threshold: the cases that expect a memory role raise it out of reach).
check_roles() {
  python3 - "$@" <<'EOF' || fail "roles in $1 are not as the thresholds say"
import json, math, statistics, sys
path, source, overrides, expect_workers = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
d = json.load(open(path))
th = {"memory_peak_bytes": 18e6, "memory_allocations": 1200, "cpu_percent": 25, "io_ops": 2000,
      "balanced_allocations": 1000, "alert_high_bytes": 20e6, "alert_high_cpu": 30,
      "alert_medium_bytes": 15e6, "alert_medium_cpu": 20}
th.update(overrides)
got_th = d["roles"]["thresholds"]
assert all(got_th[k] == v for k, v in th.items()), ("thresholds", got_th, th)
assert d["roles"]["thresholds_source"] == source, (d["roles"]["thresholds_source"], source)

def fig(t, k):
    v = t.get(k)
    if v is None:
        v = (t.get("resources") or {}).get(k)
    return v

def role(t):
    peak, al, cpu, io = fig(t, "peak_live_bytes"), fig(t, "allocations"), fig(t, "cpu_percent"), fig(t, "io_ops")
    if peak is not None and al is not None and peak > th["memory_peak_bytes"] and al > th["memory_allocations"]:
        return "memory_intensive"
    if io is not None and io > th["io_ops"]:
        return "io_intensive"
    if cpu is not None and cpu > th["cpu_percent"]:
        return "cpu_intensive"
    if al is not None and al >= th["balanced_allocations"]:
        return "balanced"
    return "light"

def alert(t):
    peak, cpu = fig(t, "peak_live_bytes") or 0, fig(t, "cpu_percent")
    if peak > th["alert_high_bytes"] or (cpu is not None and cpu > th["alert_high_cpu"]):
        return "high"
    if peak > th["alert_medium_bytes"] or (cpu is not None and cpu > th["alert_medium_cpu"]):
        return "medium"
    return "normal"

threads = d["threads"]
workers = 0
counts = {}
for t in threads:
    assert t["role"] == role(t), (t["tid"], t["role"], role(t), t)
    assert t["alert"] == alert(t), (t["tid"], t["alert"], alert(t))
    assert t["role_basis"].startswith("known: peak_live_bytes, allocations"), t["role_basis"]
    counts[t["role"]] = counts.get(t["role"], 0) + 1
    if t.get("allocations") == 1504:  # a worker: 4 kept blocks + 1500 malloc/free pairs
        workers += 1
        assert expect_workers == "-" or t["role"] == expect_workers, (t["tid"], t["role"], expect_workers)
assert workers == 8, ("workers", workers)
assert all(d["roles"]["counts"].get(k, 0) == v for k, v in counts.items()), (d["roles"]["counts"], counts)

# The correlation's points are the tracked threads with both figures.
c = d["correlation"]
pts = []
for t in threads:
    x, y = fig(t, "cpu_percent"), t.get("allocated_bytes_per_s")
    if t.get("tracked") is True and x is not None and y is not None and not (y == 0 and t["allocated_bytes"] > 0):
        pts.append((t["tid"], x, y))
assert [(p["tid"], p["x"], p["y"]) for p in c["points"]] == pts, (c["points"], pts)
assert c["n"] == len(pts)
xs, ys = [p[1] for p in pts], [p[2] for p in pts]
if len(pts) >= 3 and len(set(xs)) > 1 and len(set(ys)) > 1:
    r = statistics.correlation(xs, ys)
    lr = statistics.linear_regression(xs, ys)
    assert math.isclose(c["r"], r, rel_tol=1e-9, abs_tol=1e-12), (c["r"], r)
    assert math.isclose(c["slope"], lr.slope, rel_tol=1e-9, abs_tol=1e-12), (c["slope"], lr.slope)
    assert math.isclose(c["intercept"], lr.intercept, rel_tol=1e-9, abs_tol=1e-6), (c["intercept"], lr.intercept)
    assert c["reason"] is None
    print("r = %.6f over %d threads (python: %.6f)" % (c["r"], len(pts), r))
else:
    assert c["r"] is None and isinstance(c["reason"], str) and c["reason"], c
    print("no r over %d threads: %s" % (len(pts), c["reason"]))

# Bottlenecks: churn ranked by (allocations + frees) / lifetime, hottest first.
ch = d["bottlenecks"]["churn_threads"]
assert ch and all(ch[i]["churn_per_s"] >= ch[i + 1]["churn_per_s"] for i in range(len(ch) - 1)), ch
for e in ch:
    assert math.isclose(e["churn_per_s"], (e["allocations"] + e["frees"]) / e["lifetime_s"], rel_tol=1e-12)
print("roles:", counts)
EOF
}

make_trace() {
  expect_exit 0 "$HARNESS" run --out "$WORK/run" --no-progress -- "$THREADS_PROG" 8 1500
  [ -d "$WORK/run/trace" ] || fail "no trace in $WORK/run/trace"
}

case "$case_name" in
harness_report)
  make_trace
  trace="$WORK/run/trace"
  expect_exit 0 "$HARNESS" report "$trace" --out "$WORK/d" --no-progress
  check_roles "$WORK/d/summary.json" defaults '{}' -
  # The run's own summary (roles after its /proc figures were merged) follows the same rule.
  check_roles "$WORK/run/summary.json" defaults '{}' -

  # Both spellings (--opt VALUE, --opt=VALUE); CPU out of reach, fewer allocations than 2000.
  expect_exit 0 "$HARNESS" report "$trace" --out "$WORK/cli" --no-progress \
    --role-threshold balanced_allocations=2000 --role-threshold=cpu_percent=1000 \
    --role-threshold alert_medium_cpu=5
  check_roles "$WORK/cli/summary.json" "command line" \
    '{"balanced_allocations": 2000, "cpu_percent": 1000, "alert_medium_cpu": 5}' light

  printf '{"memory_peak_bytes": 100, "memory_allocations": 1000, "cpu_percent": 1000}\n' >"$WORK/th.json"
  expect_exit 0 "$HARNESS" report "$trace" --out "$WORK/file" --no-progress \
    --role-thresholds "$WORK/th.json"
  check_roles "$WORK/file/summary.json" "$WORK/th.json" \
    '{"memory_peak_bytes": 100, "memory_allocations": 1000, "cpu_percent": 1000}' memory_intensive

  # The command line after the file overrides it: 1504 allocations are not above 1600.
  expect_exit 0 "$HARNESS" report "$trace" --out "$WORK/both" --no-progress \
    --role-thresholds "$WORK/th.json" --role-threshold memory_allocations=1600
  check_roles "$WORK/both/summary.json" "$WORK/th.json + command line" \
    '{"memory_peak_bytes": 100, "memory_allocations": 1600, "cpu_percent": 1000}' balanced
  ;;
analyze)
  make_trace
  trace="$WORK/run/trace"
  expect_exit 0 "$ANALYZE" "$trace" --out "$WORK/a0" --no-details --no-symbols
  check_roles "$WORK/a0/summary.json" defaults '{}' -
  printf '{"cpu_percent": 1000, "balanced_allocations": 1505}' >"$WORK/th.json"
  expect_exit 0 "$ANALYZE" "$trace" --out "$WORK/a1" --no-details --no-symbols \
    --role-thresholds "$WORK/th.json"
  check_roles "$WORK/a1/summary.json" "$WORK/th.json" \
    '{"cpu_percent": 1000, "balanced_allocations": 1505}' light
  expect_exit 0 "$ANALYZE" "$trace" --out "$WORK/a2" --no-symbols \
    --role-threshold memory_peak_bytes=1 --role-threshold memory_allocations=1503
  check_roles "$WORK/a2/summary.json" "command line" \
    '{"memory_peak_bytes": 1, "memory_allocations": 1503}' memory_intensive
  # The rankings file carries the same roles as summary.json.
  python3 - "$WORK/a2" <<'EOF' || fail "_resource_rankings.json roles differ from summary.json"
import json, sys
d = sys.argv[1]
s = {t["tid"]: t["role"] for t in json.load(open(d + "/summary.json"))["threads"]}
r = json.load(open(d + "/memscope_resource_rankings.json"))["by_allocations"]
assert r and all(e["role"] == s[e["tid"]] for e in r), r
EOF
  ;;
bad_thresholds)
  # one_line_error WANT_TEXT CMD...: exit 2, one stderr line containing WANT_TEXT.
  one_line_error() {
    local want=$1
    shift
    expect_exit 2 "$@"
    [ "$(wc -l <"$WORK/err")" = 1 ] || { cat "$WORK/err"; fail "not one line on stderr: $*"; }
    grep -qF -- "$want" "$WORK/err" || { cat "$WORK/err"; fail "stderr does not name '$want': $*"; }
  }
  mkdir -p "$WORK/t"
  printf '{"cpu_percent": -5}' >"$WORK/neg.json"
  printf '{"io_ops": "many"}' >"$WORK/str.json"
  printf '{"cpu_percent": 50, "colour": "red"}' >"$WORK/unk.json"
  one_line_error "bogus" "$HARNESS" report "$WORK/t" --role-threshold bogus=1
  one_line_error "cpu_percent" "$HARNESS" report "$WORK/t" --role-threshold cpu_percent=-1
  one_line_error "memory_peak_bytes" "$HARNESS" report "$WORK/t" --role-threshold memory_peak_bytes=12MB
  one_line_error "cpu_percent" "$HARNESS" report "$WORK/t" --role-thresholds "$WORK/neg.json"
  one_line_error "io_ops" "$HARNESS" run --role-thresholds "$WORK/str.json" -- true
  one_line_error "colour" "$HARNESS" scenario work_stealing --role-thresholds "$WORK/unk.json"
  one_line_error "colour" "$HARNESS" all --role-thresholds "$WORK/unk.json"
  one_line_error "$WORK/missing.json" "$HARNESS" report "$WORK/t" --role-thresholds "$WORK/missing.json"
  one_line_error "bogus" "$ANALYZE" "$WORK/t" --role-threshold bogus=1
  one_line_error "colour" "$ANALYZE" "$WORK/t" --role-thresholds "$WORK/unk.json"
  # Nothing was run or written on the way.
  [ -z "$(ls -A "$WORK/t")" ] || fail "a report was written despite the bad thresholds"
  ;;
*)
  fail "unknown case"
  ;;
esac
echo "ok $case_name"
