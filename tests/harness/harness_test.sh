#!/usr/bin/env bash
# harness_test.sh CASE [ARGS]: one ctest case of memscope-harness. Each case runs the harness
# as a user would and checks exit status, stdout/stderr and the reports it writes.
# Environment (set by tests/harness/CMakeLists.txt): HARNESS, THREADS_PROG, XSD, SRC_DIR,
# BUILD_DIR, WORK (a scratch directory of this test, emptied first).
set -uo pipefail

case_name=$1
shift
: "${HARNESS:?}" "${WORK:?}"
rm -rf "$WORK"
mkdir -p "$WORK"

# shellcheck source=test_lib.sh
. "$(dirname "$0")/test_lib.sh"

validate_junit() {
  xmllint --noout --schema "$XSD" "$1" 2>"$WORK/xmllint.err" ||
    { cat "$WORK/xmllint.err"; fail "$1 does not validate against junit-10.xsd"; }
}

case "$case_name" in
scenario)
  # scenario NAME: exits 0, every assertion passed, exact counts equal, reports written.
  name=$1
  expect_exit 0 "$HARNESS" scenario "$name" --out "$WORK/out.d" --no-progress --html --plots
  for f in summary.json resources.json junit.xml report.html plots/heap_timeline.png \
           plots/heap_timeline.svg plots/thread_peaks.png "${name}_memory_analysis.json"; do
    [ -s "$WORK/out.d/$f" ] || fail "missing report $f"
  done
  [ "$(json_get "$WORK/out.d/summary.json" "all(a['passed'] for a in d['assertions'])")" = True ] ||
    fail "not every assertion passed"
  [ "$(json_get "$WORK/out.d/summary.json" "[a['passed'] for a in d['assertions'] if a['name']=='exact_counts'][0]")" = True ] ||
    fail "exact_counts did not pass"
  # Every tracked thread has its CPU and I/O figures, measured by the tracker itself, however
  # short its life (issue 10: the 10 Hz /proc sampling left them null for 12 ms runs).
  [ "$(json_get "$WORK/out.d/summary.json" "[t['tid'] for t in d['threads'] if t['tracked'] and not (isinstance(t['cpu_percent'], (int, float)) and isinstance(t['io_ops'], (int, float)) and t['resources']['source'] == 'tracker')]")" = "[]" ] ||
    fail "a tracked thread without the tracker's CPU or I/O figure"
  [ "$(json_get "$WORK/out.d/summary.json" "sum(1 for t in d['threads'] if t['tracked'])")" -ge 1 ] ||
    fail "no tracked thread at all"
  validate_junit "$WORK/out.d/junit.xml"
  ;;
leak_demo)
  # The leak assertion fails: exit 1, a JUnit <failure> naming the leaking function.
  expect_exit 1 "$HARNESS" scenario leak_demo --out "$WORK/out.d" --junit "$WORK/j.xml" --no-progress
  grep -q "FAIL leaked bytes" "$WORK/out" || fail "no FAIL line for the leak on stdout"
  validate_junit "$WORK/j.xml"
  python3 - "$WORK/j.xml" <<'EOF' || fail "JUnit has no <failure> naming leak_demo_leaky_function"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
fails = [f for f in root.iter("failure") if "leak_demo_leaky_function" in (f.text or "") + f.get("message", "")]
assert fails, "no failure names the function"
assert any(tc.get("name") == "leak_demo.max_leak_bytes" for tc in root.iter("testcase") if tc.find("failure") is not None)
EOF
  # The other assertions held: only the leak failed.
  [ "$(json_get "$WORK/out.d/summary.json" "sorted(a['name'] for a in d['assertions'] if not a['passed'])")" = "['max_leak_bytes']" ] ||
    fail "something other than the leak assertion failed"
  ;;
selective_50)
  expect_exit 0 "$HARNESS" scenario selective_50 --out "$WORK/out.d" --no-progress
  s="$WORK/out.d/summary.json"
  [ "$(json_get "$s" "d['module_filter']['allocations']")" = 31000 ] || fail "tracked block allocations != 31000"
  [ "$(json_get "$s" "len([t for t in d['threads'] if t['name'].startswith('sel-worker-') and int(t['allocations'])>0])")" = 25 ] ||
    fail "tracked worker threads != 25"
  [ "$(json_get "$s" "len([t for t in d['threads'] if t['name'].startswith('sel-worker-') and int(t['name'][11:])%2 and int(t['allocations'])+int(t['frees'])>0])")" = 0 ] ||
    fail "events from odd threads"
  json_get "$s" "[round(int(t['peak_live_bytes'])/1048576,3) for t in d['threads'] if t['name'].startswith('sel-worker-') and int(t['name'][11:])%4==2]" >"$WORK/peaks"
  python3 -c "import sys; p=eval(open(sys.argv[1]).read()); assert len(p)==12 and all(15.9<=round(x,1)<=22.8 for x in p), p" "$WORK/peaks" ||
    fail "16-KiB thread peaks out of 15.9-22.8 MiB: $(cat "$WORK/peaks")"
  ;;
peak_limits)
  # A --max-peak-bytes below the real peak fails; one above it passes; same for a scope.
  expect_exit 0 "$HARNESS" scenario work_stealing --out "$WORK/a" --no-progress
  peak=$(json_get "$WORK/a/summary.json" "d['totals']['peak_live_bytes']")
  expect_exit 1 "$HARNESS" scenario work_stealing --out "$WORK/b" --no-progress --max-peak-bytes $((peak / 4))
  grep -q "FAIL peak live bytes" "$WORK/out" || fail "no FAIL line for the peak"
  expect_exit 0 "$HARNESS" scenario work_stealing --out "$WORK/c" --no-progress --max-peak-bytes 10MiB
  grep -q "PASS peak live bytes" "$WORK/out" || fail "no PASS line for the peak"
  expect_exit 1 "$HARNESS" scenario work_stealing --out "$WORK/d" --no-progress --max-scope-peak work_stealing=1B
  grep -q "FAIL peak live bytes in scope 'work_stealing'" "$WORK/out" || fail "no FAIL line for the scope peak"
  expect_exit 0 "$HARNESS" scenario work_stealing --out "$WORK/e" --no-progress --max-scope-peak work_stealing=1MiB
  expect_exit 1 "$HARNESS" scenario work_stealing --out "$WORK/f" --no-progress --max-scope-peak no_such_scope=1MiB
  grep -q "no scope named 'no_such_scope'" "$WORK/out" || fail "missing scope not reported"
  # Per-stack leak limit, pytest-memray limit_leaks style: leak_demo leaks 7 x 1000 B from one stack.
  expect_exit 1 "$HARNESS" scenario leak_demo --out "$WORK/g" --no-progress --max-leak-bytes 1MB --max-leak-bytes-per-stack 6kB
  grep -q "FAIL largest leak of one stack" "$WORK/out" || fail "per-stack leak limit not failed"
  expect_exit 0 "$HARNESS" scenario leak_demo --out "$WORK/h" --no-progress --max-leak-bytes 7kB --max-leak-bytes-per-stack 7000
  ;;
bad_input)
  # One line on stderr and exit 2.
  one_line() {
    expect_exit 2 "$@"
    [ "$(wc -l <"$WORK/err")" = 1 ] || { cat "$WORK/err"; fail "stderr is not one line for: $*"; }
    # "memscope-harness: ..." or, for an error in a command's options, "memscope-harness CMD: ...".
    grep -qE '^memscope-harness( [a-z]+)?: ' "$WORK/err" || fail "stderr does not start with memscope-harness[ CMD]: for: $*"
  }
  one_line "$HARNESS" scenario no_such_scenario --out "$WORK/x"
  one_line "$HARNESS" scenario work_stealing --max-peak-bytes 12XB --out "$WORK/x"
  one_line "$HARNESS" scenario work_stealing --max-leak-bytes -3MB --out "$WORK/x"
  one_line "$HARNESS" scenario work_stealing --max-peak-bytes 1.5 --out "$WORK/x"
  one_line "$HARNESS" run --out "$WORK/x" -- /nonexistent/program
  one_line "$HARNESS" run --out "$WORK/x" -- no-such-program-memscope
  one_line "$HARNESS" run --out "$WORK/x"
  one_line "$HARNESS" scenario work_stealing --out /proc/memscope-unwritable/out
  touch "$WORK/a-file"
  one_line "$HARNESS" scenario work_stealing --out "$WORK/a-file"
  one_line "$HARNESS" scenario work_stealing --scale 0
  one_line "$HARNESS" scenario work_stealing --frobnicate
  one_line "$HARNESS" frobnicate
  one_line "$HARNESS" gate --baseline "$WORK/none.json" --current "$WORK/none.json"
  one_line "$HARNESS" report "$WORK/no-such-trace"
  # Good sizes are taken: units and fractions.
  for pair in 4096=4096 24MB=24000000 24MiB=25165824 1.5GiB=1610612736 100kB=100000 \
              "2 TB=2000000000000" 0.5KiB=512; do
    s=${pair%%=*}
    "$HARNESS" scenario atomics --out "$WORK/ok" --no-progress --max-peak-bytes "$s" >/dev/null 2>&1
    rc=$?
    [ $rc = 0 ] || [ $rc = 1 ] || fail "size '$s' was refused (exit $rc)"
    got=$(json_get "$WORK/ok/summary.json" "int([a['limit'] for a in d['assertions'] if a['name']=='max_peak_bytes'][0])")
    [ "$got" = "${pair#*=}" ] || fail "size '$s' parsed as $got, expected ${pair#*=}"
  done
  ;;
help)
  for c in "" list scenario all run report gate; do
    # shellcheck disable=SC2086
    expect_exit 0 "$HARNESS" $c --help
    grep -q "usage: memscope-harness" "$WORK/out" || fail "'$c --help' printed no usage"
  done
  expect_exit 0 "$HARNESS" list
  [ "$(wc -l <"$WORK/out")" = 6 ] || fail "list does not name six scenarios"
  ;;
sqlite3)
  # A real program through LD_PRELOAD, with assertions.
  sql="create table t(a integer primary key, b text); with recursive c(x) as (select 1 union all select x+1 from c where x<20000) insert into t select x, hex(randomblob(32)) from c; create index ib on t(b); select count(*), sum(length(b)) from t;"
  expect_exit 0 "$HARNESS" run --out "$WORK/sq" --no-progress --max-leak-bytes 1MB --max-peak-bytes 64MiB --junit "$WORK/sq.xml" -- sqlite3 :memory: "$sql"
  grep -q "^20000|1280000" "$WORK/out" || fail "sqlite3's own output is missing"
  [ "$(json_get "$WORK/sq/summary.json" "int(d['totals']['allocations']) > 10000")" = True ] || fail "too few allocations recorded"
  validate_junit "$WORK/sq.xml"
  # And a limit it breaks: the peak of that script is above 100 kB.
  expect_exit 1 "$HARNESS" run --out "$WORK/sq2" --no-progress --max-peak-bytes 100kB -- sqlite3 :memory: "$sql"
  # report: the same trace analyzed again gives the same totals.
  expect_exit 0 "$HARNESS" report "$WORK/sq/trace" --out "$WORK/again" --no-progress
  [ "$(json_get "$WORK/again/summary.json" "d['totals']['allocations']")" = "$(json_get "$WORK/sq/summary.json" "d['totals']['allocations']")" ] ||
    fail "report gives other totals than the run"
  ;;
threads_200)
  expect_exit 0 "$HARNESS" run --out "$WORK/t" --no-progress --max-leak-bytes 64kB -- "$THREADS_PROG" 200 200
  grep -q "threads=200" "$WORK/out" || fail "the program did not start 200 threads"
  n=$(json_get "$WORK/t/summary.json" "len([t for t in d['threads'] if int(t['allocations'])>=204])")
  [ "$n" = 200 ] || fail "expected 200 threads with >= 204 allocations each, got $n"
  [ "$(json_get "$WORK/t/resources.json" "len(d['threads']) > 0 and d['gpu']")" = unavailable ] || fail "resources.json incomplete"
  ;;
junit_ctest)
  # ctest --output-junit from a tiny project (one passing, one failing test) validates too.
  mkdir -p "$WORK/proj"
  cat >"$WORK/proj/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.16)
project(tiny NONE)
enable_testing()
add_test(NAME passes COMMAND true)
add_test(NAME fails COMMAND false)
EOF
  cmake -S "$WORK/proj" -B "$WORK/proj/b" >/dev/null || fail "cmake failed"
  (cd "$WORK/proj/b" && ctest --output-junit "$WORK/ctest.xml" >/dev/null 2>&1)
  [ -s "$WORK/ctest.xml" ] || fail "ctest wrote no JUnit"
  # ctest's own file breaks the schema (testcase@status, no testsuite@errors): ci/test.sh
  # passes it through ci/junit-normalize.py, as here.
  python3 "$SRC_DIR/ci/junit-normalize.py" "$WORK/ctest.xml" || fail "junit-normalize.py failed"
  validate_junit "$WORK/ctest.xml"
  python3 - "$WORK/ctest.xml" <<'EOF' || fail "normalized JUnit lost content"
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
cases = {c.get("name"): c for c in r.iter("testcase")}
assert set(cases) == {"passes", "fails"}, cases
assert cases["fails"].find("failure") is not None and cases["passes"].find("failure") is None
EOF
  ;;
gate_slowdown)
  # A tracker hot path made slower (MEMSCOPE_TEST_SLOWDOWN, via the hidden --test-slowdown)
  # is caught, and the scenario is named with its change.
  k=${1:-2}
  expect_exit 0 "$HARNESS" run --repeat 10 --out "$WORK/base" --no-progress -- "$THREADS_PROG" 4 20000
  expect_exit 1 "$HARNESS" run --repeat 10 --test-slowdown "$k" --baseline "$WORK/base/summary.json" --out "$WORK/slow" --no-progress -- "$THREADS_PROG" 4 20000
  grep -q "gate: ms_h_threads: .*REGRESSED" "$WORK/out" || fail "the gate did not name the regressed program"
  # A real regression repeats: the confirmation (a fresh set of pairs) regresses too.
  grep -q "gate: ms_h_threads: confirmation .*REGRESSED (confirmed)" "$WORK/out" ||
    fail "the regression was not re-measured and confirmed"
  grep "gate:" "$WORK/out"
  # The gate command on the two files says the same.
  expect_exit 1 "$HARNESS" gate --baseline "$WORK/base/summary.json" --current "$WORK/slow/summary.json"
  ;;
gate_unconfirmed)
  # A regression that does not repeat (the slowdown in the first measurement only, as a burst
  # of machine load looks) is re-measured and passes, saying why. The slowdown lifts the
  # ratio by +190 % or more; the tolerance of 50 % leaves room for this machine's own noise
  # between the baseline and the confirmation (a CI run under load once measured +22.5 %,
  # p = 0.003, at the default 20 % with 20000 iterations).
  expect_exit 0 "$HARNESS" run --repeat 10 --out "$WORK/base" --no-progress -- "$THREADS_PROG" 4 100000
  expect_exit 0 "$HARNESS" run --repeat 10 --test-slowdown-first 2 --tolerance 50 --baseline "$WORK/base/summary.json" --out "$WORK/burst" --no-progress -- "$THREADS_PROG" 4 100000
  grep -q "gate: ms_h_threads: CPU overhead ratio .*re-measuring to confirm" "$WORK/out" ||
    fail "the first measurement did not look regressed (the test's slowdown did not show)"
  grep -q "gate: ms_h_threads: confirmation .*ok (the first measurement did not repeat" "$WORK/out" ||
    fail "the confirmation did not pass the unrepeated regression"
  grep "gate:" "$WORK/out"
  # The gate command on the two files cannot measure again: the first measurement decides.
  expect_exit 1 "$HARNESS" gate --baseline "$WORK/base/summary.json" --current "$WORK/burst/summary.json" --tolerance 50
  ;;
gate_no_false_alarm)
  # Ten measurements of the unchanged build, each gated against the one before it by `run
  # --baseline` (which re-measures a CPU-time regression before failing): the gate never
  # fails. The workload is long enough (~10 ms native, ~45 ms tracked, CPU) that the ratio
  # measures the hot path, not process start-up. A CI run once saw one set of seven pairs
  # come out +34 % (p = 0.0035) against the set measured just before it: a burst of load on
  # the machine that lifted every pair's ratio; the confirmation is for that.
  expect_exit 0 "$HARNESS" run --repeat 7 --out "$WORK/a0" --no-progress -- "$THREADS_PROG" 4 100000
  for i in 1 2 3 4 5 6 7 8 9 10; do
    expect_exit 0 "$HARNESS" run --repeat 7 --baseline "$WORK/a$((i - 1))/summary.json" --out "$WORK/a$i" --no-progress -- "$THREADS_PROG" 4 100000
    grep "gate: ms_h_threads" "$WORK/out" || fail "pair $i: no gate line"
  done
  ;;
gate_stats)
  # The statistics on fixed samples: a clear shift is significant, a shuffle is not. All
  # three files say they were measured on the same machine (CPU times compare only then).
  host='"host":{"cpu":"Test CPU 1","ncpu":2,"kernel":"6.1.0"}'
  printf '{%s,"scenarios":{"s":{"cpu":{"ratios":[1.0,1.1,0.9,1.05,0.95,1.02,0.98,1.01,0.99,1.03]}}}}' "$host" >"$WORK/b.json"
  printf '{%s,"scenarios":{"s":{"cpu":{"ratios":[2.0,2.1,1.9,2.05,1.95,2.02,1.98,2.01,1.99,2.03]}}}}' "$host" >"$WORK/c.json"
  printf '{%s,"scenarios":{"s":{"cpu":{"ratios":[1.3,0.8,1.4,0.7,1.5,0.6,1.6,0.9,1.2,1.0]}}}}' "$host" >"$WORK/n.json"
  expect_exit 1 "$HARNESS" gate --baseline "$WORK/b.json" --current "$WORK/c.json"
  grep -q "gate: s: .*+99.5%.*REGRESSED" "$WORK/out" || fail "a doubled ratio (medians 1.005 -> 2.005) was not reported as +99.5%"
  expect_exit 0 "$HARNESS" gate --baseline "$WORK/b.json" --current "$WORK/n.json"
  expect_exit 0 "$HARNESS" gate --baseline "$WORK/b.json" --current "$WORK/c.json" --tolerance 150
  printf '{%s,"scenarios":{"s":{"cpu":{"ratios":[1,2]}}}}' "$host" >"$WORK/few.json"
  expect_exit 2 "$HARNESS" gate --baseline "$WORK/b.json" --current "$WORK/few.json"
  printf 'not json' >"$WORK/bad.json"
  expect_exit 2 "$HARNESS" gate --baseline "$WORK/bad.json" --current "$WORK/c.json"
  ;;
gate_machines)
  # Like with like (docs/harness.md): CPU-time ratios are compared only between files of the
  # same machine (CPU model, cores, kernel); otherwise the instruction counts decide, or the
  # gate says it cannot compare (exit 2). The CPU times below double (a regression on one
  # machine, or just a slower runner) while the instruction ratios stay at 1.5 or rise 40 %.
  cpu10='"cpu":{"ratios":[1.0,1.1,0.9,1.05,0.95,1.02,0.98,1.01,0.99,1.03]}'
  cpu20='"cpu":{"ratios":[2.0,2.1,1.9,2.05,1.95,2.02,1.98,2.01,1.99,2.03]}'
  ins15='"instructions":{"ratios":[1.5]}'
  ins21='"instructions":{"ratios":[2.1]}'
  a='"host":{"cpu":"Intel(R) Xeon(R) Processor","ncpu":2,"kernel":"6.1.0","build_type":"Release"}'
  b='"host":{"cpu":"AMD EPYC 7763 64-Core Processor","ncpu":2,"kernel":"6.1.0","build_type":"Release"}'
  c='"host":{"cpu":"Intel(R) Xeon(R) Processor","ncpu":2,"kernel":"6.1.0","build_type":"Debug"}'
  doc() { printf '{%s,"scenarios":{"s":{%s}}}' "$1" "$2"; }
  doc "$a" "$cpu10,$ins15" >"$WORK/base.json"
  doc "$a" "$cpu10" >"$WORK/base_noins.json"
  # Same machine: the CPU-time test as before (the doubling is caught, no instruction line).
  doc "$a" "$cpu20,$ins15" >"$WORK/same.json"
  expect_exit 1 "$HARNESS" gate --baseline "$WORK/base.json" --current "$WORK/same.json"
  grep -q "gate: s: CPU overhead ratio .*+99.5%.*REGRESSED" "$WORK/out" || fail "same machine: not the CPU-time test"
  # Another CPU model: the doubled CPU times are not a regression; the unchanged instruction
  # ratio (1.5 -> 1.5) passes, a rise 1.5 -> 2.1 (+40 %) fails.
  doc "$b" "$cpu20,$ins15" >"$WORK/other.json"
  expect_exit 0 "$HARNESS" gate --baseline "$WORK/base.json" --current "$WORK/other.json"
  grep -q "gate: s: instruction-count overhead ratio 1.500 vs baseline 1.500 .*+0.0%.*ok" "$WORK/out" ||
    fail "another machine: not the instruction-count test"
  doc "$b" "$cpu10,$ins21" >"$WORK/other_slow.json"
  expect_exit 1 "$HARNESS" gate --baseline "$WORK/base.json" --current "$WORK/other_slow.json"
  grep -q "gate: s: instruction-count overhead ratio 2.100 vs baseline 1.500 .*+40.0%.*REGRESSED" "$WORK/out" ||
    fail "another machine: the instruction-count rise was not caught"
  # Another machine and no instruction counts on one side: exit 2 with one line naming both.
  expect_exit 2 "$HARNESS" gate --baseline "$WORK/base_noins.json" --current "$WORK/other.json"
  expect_eq "lines of the cannot-compare message" 1 "$(wc -l <"$WORK/err")"
  grep -q "cannot compare: the baseline was measured on 'Intel(R) Xeon(R) Processor'.* this run on 'AMD EPYC" "$WORK/err" ||
    fail "the message does not name both machines"
  doc "$b" "$cpu10" >"$WORK/other_noins.json"
  expect_exit 2 "$HARNESS" gate --baseline "$WORK/base.json" --current "$WORK/other_noins.json"
  # The same model with other cores or another kernel is another machine too; so is a side
  # that does not say (a file without "host").
  doc '"host":{"cpu":"Intel(R) Xeon(R) Processor","ncpu":4,"kernel":"6.1.0","build_type":"Release"}' "$cpu20" >"$WORK/cores.json"
  expect_exit 2 "$HARNESS" gate --baseline "$WORK/base_noins.json" --current "$WORK/cores.json"
  doc '"host":{"cpu":"Intel(R) Xeon(R) Processor","ncpu":2,"kernel":"6.12.0","build_type":"Release"}' "$cpu20" >"$WORK/kernel.json"
  expect_exit 2 "$HARNESS" gate --baseline "$WORK/base_noins.json" --current "$WORK/kernel.json"
  printf '{"scenarios":{"s":{%s}}}' "$cpu20" >"$WORK/nohost.json"
  expect_exit 2 "$HARNESS" gate --baseline "$WORK/base_noins.json" --current "$WORK/nohost.json"
  # Another build type of the tracker: never compared, not even by instructions.
  doc "$c" "$cpu10,$ins15" >"$WORK/debug.json"
  expect_exit 2 "$HARNESS" gate --baseline "$WORK/base.json" --current "$WORK/debug.json"
  grep -q "Release build, this one is Debug" "$WORK/err" || fail "no build-type message"
  # A real measurement records this machine: /proc/cpuinfo's model, the cores, uname -r.
  expect_exit 0 "$HARNESS" run --repeat 5 --out "$WORK/real" --no-progress -- "$THREADS_PROG" 2 1000
  model=$(sed -n 's/^\(model name\|Hardware\|cpu model\)[[:space:]]*: *//p' /proc/cpuinfo | head -1)
  expect_eq "host.cpu" "$model" "$(json_get "$WORK/real/summary.json" "d['overhead']['host']['cpu']")"
  expect_eq "host.ncpu" "$(getconf _NPROCESSORS_ONLN)" "$(json_get "$WORK/real/summary.json" "d['overhead']['host']['ncpu']")"
  expect_eq "host.kernel" "$(uname -r)" "$(json_get "$WORK/real/summary.json" "d['overhead']['host']['kernel']")"
  ;;
callgrind)
  command -v valgrind >/dev/null || { echo "valgrind not installed: skipped"; exit 0; }
  expect_exit 0 "$HARNESS" run --repeat 1 --overhead-mode callgrind --out "$WORK/c0" --no-progress -- "$THREADS_PROG" 2 1000
  grep -q "overhead: instructions x" "$WORK/out" || fail "no instruction-count overhead printed"
  expect_exit 0 "$HARNESS" run --repeat 1 --overhead-mode callgrind --test-slowdown 2 --out "$WORK/c1" --no-progress -- "$THREADS_PROG" 2 1000
  expect_exit 1 "$HARNESS" gate --baseline "$WORK/c0/summary.json" --current "$WORK/c1/summary.json"
  grep -q "instruction-count overhead ratio .*REGRESSED" "$WORK/out" || fail "callgrind gate did not catch the slowdown"
  ;;
all_scale)
  scale=${1:-100}
  expect_exit 0 "$HARNESS" all --scale "$scale" --out "$WORK/all" --no-progress --junit "$WORK/all.xml"
  validate_junit "$WORK/all.xml"
  [ "$(json_get "$WORK/all/summary.json" "all(s['passed'] for s in d['scenarios']) and len(d['scenarios'])")" = 6 ] ||
    fail "not all six scenarios passed"
  ;;
ci_scripts)
  # The workflow's own steps, on this build tree: scenarios with every report, then the gate.
  : "${SRC_DIR:?}" "${BUILD_DIR:?}"
  export BUILD_DIR OUT_DIR="$WORK/ci-out" REPEAT=5 SCALE=1 HISTORY="$WORK/history/h.jsonl"
  expect_exit 0 bash "$SRC_DIR/ci/run-scenarios.sh"
  for f in junit.xml summary.json overhead.json index.html work_stealing/report.html \
           work_stealing/plots/heap_timeline.png leak_demo/summary.json; do
    [ -s "$OUT_DIR/$f" ] || fail "ci/run-scenarios.sh did not write $f"
  done
  validate_junit "$OUT_DIR/junit.xml"
  # The gate step against the committed baseline; and against itself (must pass).
  bash "$SRC_DIR/ci/gate.sh" >"$WORK/gate.out" 2>&1
  rc=$?
  cat "$WORK/gate.out"
  [ $rc = 0 ] || [ $rc = 1 ] || fail "ci/gate.sh failed to run (exit $rc)"
  # The committed baseline comes from one machine: on any other (CPU model, cores or kernel)
  # the gate compares instruction counts, never CPU times (docs/harness.md).
  if [ "$(json_get "$SRC_DIR/ci/overhead-baseline.json" "[d['host'][k] for k in ('cpu','ncpu','kernel')]")" != \
       "$(json_get "$OUT_DIR/overhead.json" "[d['host'][k] for k in ('cpu','ncpu','kernel')]")" ]; then
    grep -q "instruction-count overhead ratio" "$WORK/gate.out" || fail "another machine, yet no instruction-count gate"
    grep -q "gate: .*CPU overhead ratio" "$WORK/gate.out" && fail "another machine, yet CPU times were compared"
  fi
  BASELINE="$OUT_DIR/overhead.json" expect_exit 0 bash "$SRC_DIR/ci/gate.sh"
  # Each gate run appended one history entry per scenario and drew the chart
  # (docs/plots.md, "Overhead history").
  n=$(json_get "$OUT_DIR/overhead.json" "len(d['scenarios'])")
  expect_eq "history entries after two gate runs" $((2 * n)) "$(wc -l <"$HISTORY")"
  [ -s "$OUT_DIR/plots/overhead_history.png" ] || fail "ci/gate.sh drew no overhead_history.png"
  ;;
*)
  fail "unknown case"
  ;;
esac
echo "ok [$case_name]"
