#!/usr/bin/env bash
# fuzz_test.sh CASE: one ctest case of `memscope-harness fuzz` (AFL++ with memscope's oracle).
# Environment (tests/harness/CMakeLists.txt): HARNESS, DEMO_AFL (the demo built with afl-cc),
# DEMO (its plain build: no AFL++ instrumentation), CLEAN_AFL (a target that frees
# everything), CRASH_AFL (one that crashes and hangs), PARTIAL_AFL (one whose
# signal handler allocates inside allocator calls), SEEDS (the demo's seeds), LIB
# (libmemscope.so), XSD, WORK (emptied first).
set -uo pipefail

case_name=$1
: "${HARNESS:?}" "${WORK:?}" "${DEMO_AFL:?}" "${SEEDS:?}"
rm -rf "$WORK"
mkdir -p "$WORK"

# shellcheck source=test_lib.sh
. "$(dirname "$0")/test_lib.sh"

validate_junit() {
  xmllint --noout --schema "$XSD" "$1" 2>"$WORK/xmllint.err" ||
    { cat "$WORK/xmllint.err"; fail "$1 does not validate against junit-10.xsd"; }
}

# check_findings OUT: what holds for every campaign's findings.json: no two findings of the
# same kind and place, ids unique, every replayed file counted once, files and inputs there.
check_findings() {
  python3 - "$1" <<'EOF' || fail "findings.json of $1 is not consistent"
import json, os, sys
out = sys.argv[1]
d = json.load(open(os.path.join(out, "findings.json")))
assert d["schema"] == "memscope.findings/1", d["schema"]
f = d["findings"]
places = [(x["kind"], x["where"]) for x in f]
assert len(places) == len(set(places)), "duplicate kind+where: %s" % places
assert len({x["id"] for x in f}) == len(f), "duplicate ids"
t = d["totals"]
assert sum(x["count"] for x in f) == t["crash_files"] + t["hang_files"] + t["seed_crashes"], "counts"
assert t["findings"] == len(f)
for x in f:
    assert x["count"] == len(x["files"]) >= 1
    assert os.path.getsize(os.path.join(out, x["input"])) == x["input_size"]
    for rel in x["files"]:
        inst = rel.split("/")[1]
        assert inst in x["instances"], (rel, x["instances"])
        assert os.path.isfile(os.path.join(out, rel)), rel
    if x["kind"] in ("leak", "peak"):
        r = json.load(open(os.path.join(out, x["report"])))
        assert r["schema"] == "memscope.fuzz_report/1" and r["kind"] == x["kind"]
        assert r["input_file"] == os.path.join(out, x["input"]), r["input_file"]
        assert x["value"] > x["limit"] or (x["kind"] == "leak" and x["value"] >= x["limit"])
EOF
}

# frame_named OUT KIND FUNCTION: a finding of KIND whose stack names FUNCTION (as the function
# or inlined into it) with file demo_parser.c and a line; prints its first_found_s.
frame_named() {
  python3 - "$@" <<'EOF'
import json, os, sys
out, kind, fn = sys.argv[1:4]
d = json.load(open(os.path.join(out, "findings.json")))
for x in d["findings"]:
    if x["kind"] != kind:
        continue
    for fr in x["stack"]:
        if fn in (fr["function"], fr["inlined"]) and fr["file"].endswith("demo_parser.c") and fr["line"] > 0:
            print(x["first_found_s"])
            sys.exit(0)
sys.exit(1)
EOF
}

case "$case_name" in
demo_finds)
  # The demo's leak (parse_alias) and blow-up (expand_repeat) are found from the seeds, well
  # within the issue's 5 minutes, and reported with file and line; the JUnit validates.
  start=$(date +%s)
  expect_exit 1 "$HARNESS" fuzz --time 60s --max-peak-bytes 1MB --corpus "$SEEDS" --out "$WORK/o" \
    --no-progress -- "$DEMO_AFL"
  echo "campaign and replay: $(($(date +%s) - start)) s"
  cat "$WORK/out"
  leak_t=$(frame_named "$WORK/o" leak parse_alias) || fail "no leak finding naming parse_alias (demo_parser.c:LINE)"
  peak_t=$(frame_named "$WORK/o" peak expand_repeat) || fail "no peak finding naming expand_repeat (demo_parser.c:LINE)"
  echo "time to the first leak: ${leak_t} s, to the first peak: ${peak_t} s"
  python3 -c "import sys; sys.exit(not (0 <= float(sys.argv[1]) < 300 and 0 <= float(sys.argv[2]) < 300))" \
    "$leak_t" "$peak_t" || fail "a finding took 5 minutes or more (leak $leak_t s, peak $peak_t s)"
  check_findings "$WORK/o"
  echo "execs/s: $(json_get "$WORK/o/findings.json" "d['totals']['execs_per_s']")"
  [ "$(json_get "$WORK/o/findings.json" "d['limits']['max_peak_bytes']")" = 1000000 ] || fail "peak limit not 1 MB"
  validate_junit "$WORK/o/junit.xml"
  python3 - "$WORK/o" <<'EOF' || fail "junit.xml does not hold one failure per finding"
import json, sys, xml.etree.ElementTree as ET
out = sys.argv[1]
d = json.load(open(out + "/findings.json"))
cases = list(ET.parse(out + "/junit.xml").getroot().iter("testcase"))
assert len(cases) == len(d["findings"])
for tc, x in zip(cases, d["findings"]):
    fl = tc.find("failure")
    assert fl is not None and fl.get("type") == x["kind"] and fl.get("message") == x["message"]
    assert tc.get("name").endswith("." + x["id"])
    assert "demo_parser.c" in fl.text
EOF
  grep -q "^  FAIL leak-" "$WORK/out" && grep -q "^  FAIL peak-" "$WORK/out" || fail "no FAIL line per finding"
  # The copied input reproduces its finding under the oracle (the -afl build replays files).
  id=$(json_get "$WORK/o/findings.json" "[x['id'] for x in d['findings'] if x['kind']=='leak'][0]")
  mkdir "$WORK/rep"
  LD_PRELOAD="$LIB" MEMSCOPE_FUZZ=1 MEMSCOPE_FUZZ_REPORT_DIR="$WORK/rep" "$DEMO_AFL" \
    "$WORK/o/findings/$id/input" 2>"$WORK/rep.err" && fail "the copied leak input does not fail under the oracle"
  grep -q "memscope: leak:.*parse_alias" "$WORK/rep.err" || fail "the copied leak input does not leak in parse_alias"
  ;;
jobs2)
  # Two instances (-M main, -S sec1) on one -o directory: both ran, their findings are one
  # list without duplicates, and each finding says which instances found it.
  expect_exit 1 "$HARNESS" fuzz --jobs 2 --time 45s --max-peak-bytes 1MB --corpus "$SEEDS" \
    --out "$WORK/o" --no-progress -- "$DEMO_AFL"
  cat "$WORK/out"
  for i in main sec1; do
    [ -s "$WORK/o/afl/$i/fuzzer_stats" ] || fail "no fuzzer_stats for instance $i"
    [ -s "$WORK/o/logs/$i.log" ] || fail "no log for instance $i"
  done
  check_findings "$WORK/o"
  [ "$(json_get "$WORK/o/findings.json" "sorted((i['name'], i['role']) for i in d['instances'])")" = \
    "[('main', 'main'), ('sec1', 'secondary')]" ] || fail "instances are not main and sec1"
  [ "$(json_get "$WORK/o/findings.json" "sorted({i for x in d['findings'] for i in x['instances']})")" = \
    "['main', 'sec1']" ] || fail "findings do not come from both instances"
  [ "$(json_get "$WORK/o/findings.json" "sorted(x['kind'] for x in d['findings'])")" = "['leak', 'peak']" ] ||
    fail "expected exactly one leak and one peak finding after deduplication"
  [ "$(json_get "$WORK/o/findings.json" "all(i['execs'] > 0 for i in d['instances'])")" = True ] ||
    fail "an instance ran no input"
  validate_junit "$WORK/o/junit.xml"
  ;;
clean)
  # A target that frees everything: exit 0, no findings, one passing testcase.
  : "${CLEAN_AFL:?}"
  expect_exit 0 "$HARNESS" fuzz --time 30s --max-peak-bytes 1MB --corpus "$SEEDS" --out "$WORK/o" \
    --no-progress -- "$CLEAN_AFL"
  cat "$WORK/out"
  grep -q "^  PASS no findings" "$WORK/out" || fail "no PASS line"
  [ "$(json_get "$WORK/o/findings.json" "len(d['findings'])")" = 0 ] || fail "findings in a clean target"
  [ "$(json_get "$WORK/o/findings.json" "d['totals']['execs'] > 1000")" = True ] || fail "too few execs"
  validate_junit "$WORK/o/junit.xml"
  python3 - "$WORK/o/junit.xml" <<'EOF' || fail "junit.xml is not one passing testcase"
import sys, xml.etree.ElementTree as ET
cases = list(ET.parse(sys.argv[1]).getroot().iter("testcase"))
assert len(cases) == 1 and cases[0].find("failure") is None and cases[0].find("error") is None
assert cases[0].get("name").endswith(".no_findings")
EOF
  [ ! -e "$WORK/o/findings" ] || [ -z "$(ls -A "$WORK/o/findings")" ] || fail "files in findings/"
  ;;
crash_hang)
  # A crash without memscope's report is a crash finding with its signal; an input that never
  # returns is a hang finding (its replay stopped at --replay-timeout).
  : "${CRASH_AFL:?}"
  mkdir "$WORK/seeds"
  printf 'AB' >"$WORK/seeds/a"
  printf 'CQ' >"$WORK/seeds/c"
  printf 'HA' >"$WORK/seeds/h"
  expect_exit 1 "$HARNESS" fuzz --time 20s --replay-timeout 1 --corpus "$WORK/seeds" --out "$WORK/o" \
    --no-progress -- "$CRASH_AFL"
  cat "$WORK/out"
  check_findings "$WORK/o"
  [ "$(json_get "$WORK/o/findings.json" "[(x['kind'], x['signal'], x['report']) for x in d['findings'] if x['kind']=='crash']")" = \
    "[('crash', 'SIGSEGV', None)]" ] || fail "no single SIGSEGV crash finding without a report"
  [ "$(json_get "$WORK/o/findings.json" "[x['kind'] for x in d['findings'] if x['kind']=='hang']")" = "['hang']" ] ||
    fail "no single hang finding"
  [ "$(json_get "$WORK/o/findings.json" "sorted(open(sys.argv[1].rsplit('/', 1)[0] + '/' + x['input'], 'rb').read()[:2].decode() for x in d['findings'])")" = \
    "['CR', 'HG']" ] || fail "the findings' inputs are not the crashing and the hanging one"
  validate_junit "$WORK/o/junit.xml"
  ;;
partial)
  # An input whose signal handler allocates inside allocator calls: the oracle's `partial`
  # report is a finding of its own kind with its report, not a crash without one.
  : "${PARTIAL_AFL:?}"
  mkdir "$WORK/seeds"
  printf 'AB' >"$WORK/seeds/a"
  printf 'SI' >"$WORK/seeds/s"
  expect_exit 1 "$HARNESS" fuzz --time 10s --corpus "$WORK/seeds" --out "$WORK/o" --no-progress \
    -- "$PARTIAL_AFL"
  cat "$WORK/out"
  check_findings "$WORK/o"
  [ "$(json_get "$WORK/o/findings.json" "[(x['kind'], x['report'] is not None, x['value'] >= 1) for x in d['findings'] if x['kind']=='partial']")" = \
    "[('partial', True, True)]" ] || fail "no single partial finding with its report"
  [ "$(json_get "$WORK/o/findings.json" "[x['kind'] for x in d['findings']]")" = "['partial']" ] ||
    fail "findings other than the one partial (a crash without a report?)"
  grep -q "FAIL partial-[0-9a-f]* partial: [0-9]* allocator calls\? during the input could not be accounted" "$WORK/out" ||
    fail "no FAIL line for the partial finding"
  validate_junit "$WORK/o/junit.xml"
  ;;
interrupt)
  # SIGINT to the harness stops the campaign at once (afl-fuzz's clean stop); what was saved
  # so far is replayed and reported, and no afl-fuzz or target is left running.
  "$HARNESS" fuzz --time 120s --max-peak-bytes 1MB --corpus "$SEEDS" --out "$WORK/o" --no-progress \
    -- "$DEMO_AFL" >"$WORK/out" 2>"$WORK/err" &
  pid=$!
  sleep 6
  start=$(date +%s)
  kill -INT "$pid"
  wait "$pid"
  rc=$?
  cat "$WORK/out" "$WORK/err"
  [ "$rc" = 1 ] || fail "expected exit 1 (the peak is found in the first second), got $rc"
  [ $(($(date +%s) - start)) -lt 30 ] || fail "the campaign did not stop within 30 s of SIGINT"
  [ "$(json_get "$WORK/o/findings.json" "d['campaign']['interrupted']")" = True ] || fail "not marked interrupted"
  check_findings "$WORK/o"
  validate_junit "$WORK/o/junit.xml"
  ! pgrep -f "$WORK/o/afl" >/dev/null || fail "an afl-fuzz of the campaign still runs"
  ;;
overrun)
  # An afl-fuzz that ignores -V and SIGINT, with a child in its group and a grandchild in a
  # session of its own: stopped after the deadline's grace, its whole tree killed.
  mkdir "$WORK/bin"
  cat >"$WORK/bin/afl-fuzz" <<'FAKE'
#!/bin/bash
out= name=
while [ $# -gt 0 ]; do
  case $1 in -o) out=$2; shift ;; -M | -S) name=$2; shift ;; --) break ;; esac
  shift
done
mkdir -p "$out/$name/queue" "$out/$name/crashes" "$out/$name/hangs"
printf 'execs_done        : 10\nexecs_per_sec     : 1.00\ncorpus_count      : 3\n' >"$out/$name/fuzzer_stats"
trap '' INT TERM
sleep 1000 &
setsid sleep 1001 &
echo $! >"$out/$name/grandchild.pid"
wait
FAKE
  chmod +x "$WORK/bin/afl-fuzz"
  start=$(date +%s)
  expect_exit 0 env PATH="$WORK/bin:$PATH" "$HARNESS" fuzz --time 1 --corpus "$SEEDS" --out "$WORK/o" \
    --no-progress -- "$DEMO_AFL"
  took=$(($(date +%s) - start))
  cat "$WORK/out" "$WORK/err"
  echo "stopped after $took s"
  [ "$took" -ge 20 ] && [ "$took" -lt 45 ] || fail "stopped after $took s, not 1 + 15 s grace + 10 s to SIGKILL"
  [ "$(json_get "$WORK/o/findings.json" "d['campaign']['overran']")" = True ] || fail "not marked overran"
  grep -q "warning: afl-fuzz (main) did not stop at the deadline (ended by SIGKILL)" "$WORK/err" ||
    fail "no warning about the instance that was killed"
  gc=$(cat "$WORK/o/afl/main/grandchild.pid")
  ! kill -0 "$gc" 2>/dev/null || fail "the instance's grandchild $gc (a session of its own) still runs"
  ;;
bad_input)
  # Each bad input: exit 2, one line on stderr saying what to do, nothing on stdout, and no
  # afl-fuzz started.
  : "${DEMO:?}"
  one_line() { # one_line PATTERN ARGS...: exit 2 with one "memscope-harness fuzz: " line matching PATTERN
    local pat=$1
    shift
    expect_exit 2 "$@"
    [ "$(wc -l <"$WORK/err")" = 1 ] || { cat "$WORK/err"; fail "not one line on stderr: $*"; }
    grep -q "^memscope-harness fuzz: .*$pat" "$WORK/err" || { cat "$WORK/err"; fail "stderr does not say '$pat': $*"; }
    [ ! -s "$WORK/out" ] || fail "output on stdout: $*"
  }
  ok=(--time 30s --corpus "$SEEDS")
  one_line "afl-cc" "$HARNESS" fuzz "${ok[@]}" --out "$WORK/o1" -- "$DEMO"
  [ ! -e "$WORK/o1/afl" ] || fail "a campaign was started on a target without instrumentation"
  mkdir "$WORK/empty" "$WORK/only_empty"
  : >"$WORK/only_empty/zero"
  one_line "no seed" "$HARNESS" fuzz --time 30s --corpus "$WORK/empty" --out "$WORK/o2" -- "$DEMO_AFL"
  one_line "no seed" "$HARNESS" fuzz --time 30s --corpus "$WORK/only_empty" --out "$WORK/o2" -- "$DEMO_AFL"
  one_line "No such file" "$HARNESS" fuzz --time 30s --corpus "$WORK/missing" --out "$WORK/o2" -- "$DEMO_AFL"
  one_line "not a directory" "$HARNESS" fuzz --time 30s --corpus "$WORK/only_empty/zero" --out "$WORK/o2" -- "$DEMO_AFL"
  # Unwritable --out: a path under a regular file (tests run as root, where chmod stops nothing).
  : >"$WORK/file"
  one_line "cannot create --out" "$HARNESS" fuzz "${ok[@]}" --out "$WORK/file/x" -- "$DEMO_AFL"
  mkdir -p "$WORK/o3/afl"
  one_line "already holds a campaign" "$HARNESS" fuzz "${ok[@]}" --out "$WORK/o3" -- "$DEMO_AFL"
  # afl-fuzz not installed: a PATH without it (the harness and target by absolute paths).
  one_line "afl-fuzz not found" env PATH=/nonexistent "$HARNESS" fuzz "${ok[@]}" --out "$WORK/o4" -- "$DEMO_AFL"
  [ ! -e "$WORK/o4" ] || fail "--out created though afl-fuzz is missing"
  for t in 5x 0 0.5s -3m "" 1h30m 9000h; do
    one_line "--time" "$HARNESS" fuzz --time "$t" --corpus "$SEEDS" --out "$WORK/o5" -- "$DEMO_AFL"
  done
  one_line "how long" "$HARNESS" fuzz --corpus "$SEEDS" --out "$WORK/o5" -- "$DEMO_AFL"
  for j in 0 -1 65 two; do
    one_line "--jobs" "$HARNESS" fuzz --jobs "$j" "${ok[@]}" --out "$WORK/o5" -- "$DEMO_AFL"
  done
  one_line "max-peak-bytes" "$HARNESS" fuzz --max-peak-bytes 12XB "${ok[@]}" --out "$WORK/o5" -- "$DEMO_AFL"
  one_line "which target" "$HARNESS" fuzz "${ok[@]}" --out "$WORK/o5"
  one_line "unknown option" "$HARNESS" fuzz --bogus "${ok[@]}" --out "$WORK/o5" -- "$DEMO_AFL"
  one_line "cannot run" "$HARNESS" fuzz "${ok[@]}" --out "$WORK/o5" -- "$WORK/no-such-target"
  [ ! -e "$WORK/o5" ] || fail "--out created for a bad command line"
  expect_exit 0 "$HARNESS" fuzz --help
  grep -q -- "--memory-feedback" "$WORK/out" || fail "fuzz --help does not list its options"
  ;;
*)
  fail "unknown case $case_name"
  ;;
esac
echo "PASS [$case_name]"
