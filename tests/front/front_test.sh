#!/usr/bin/env bash
# front_test.sh MEMSCOPE MODE PROGRAM [MEMSCOPE_ANALYZE]: the `memscope` front command (docs/memscope-cmd.md).
#   sites              ms_f_sites' report: each site's calls, bytes live at the peak and leak,
#                      as its constants say (sites.c); `memscope print` gives the same report
#   heaptrack          ms_f_sites: the top 5 sites by calls and by peak agree with heaptrack_print
#   heaptrack-sqlite3  the same on Debian's sqlite3 running sqlite_2k.sql
#   cli                --version, --help, usage errors (exit 2), the program's exit status,
#                      --filter, -n, --no-leaks
set -u
MS=$1 MODE=$2 PROG=$3 ANALYZE=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

case $MODE in
sites)
  "$MS" -o "$work/t" -n 20 "$PROG" >"$work/rep.txt" 2>"$work/err.txt" || fail "memscope exited $?"
  "$MS" print -n 20 "$work/t/summary.json" >"$work/print_json.txt" || fail "print summary.json"
  "$MS" print -n 20 "$work/t" >"$work/print_dir.txt" || fail "print TRACE_DIR"
  cmp -s "$work/rep.txt" "$work/print_json.txt" || fail "memscope print SUMMARY differs from the run's report"
  cmp -s "$work/rep.txt" "$work/print_dir.txt" || fail "memscope print TRACE_DIR differs from the run's report"
  leak_line=$(grep -n 'leaks\[i\] = malloc(77)' "$here/sites.c" | cut -d: -f1)
  python3 - "$work/rep.txt" "$work/t/summary.json" "$leak_line" <<'PY' || exit 1
import json, re, sys
text = open(sys.argv[1]).read()
summary = json.load(open(sys.argv[2]))
leak_line = int(sys.argv[3])
# From sites.c's constants: calls and bytes live at the peak per site.
want = {"many_temporaries": (60, 0), "hold_small": (40, 40 * 100), "grow_buffer": (25, 64 * 25),
        "zeroed_blocks": (12, 12 * 500), "hold_big": (5, 5 * 10000), "leak_some": (3, 3 * 77)}
peak = sum(p for _, p in want.values())
ok = True
def check(what, got, exp):
    global ok
    good = got == exp
    ok &= good
    print("%s %-40s expected %-12s got %s" % ("ok  " if good else "FAIL", what, exp, got))
def section(title):
    m = re.search(r"^" + title + r"\n(.*?)\n\n", text, re.S | re.M)
    return m.group(1) if m else ""
calls = dict((f, int(n)) for n, f in re.findall(
    r"^(\d+) calls to allocation functions with \S+ peak consumption from\n(\S+)\n",
    section("MOST CALLS TO ALLOCATION FUNCTIONS"), re.M))
for f, (n, _) in want.items():
    check("calls from " + f, calls.get(f), n)
order = re.findall(r"^\S+ peak memory consumed over \d+ calls from\n(\S+)\n",
                   section("PEAK MEMORY CONSUMERS"), re.M)
check("peak consumers, largest first", order,
      [f for f, _ in sorted(want.items(), key=lambda kv: -kv[1][1]) if want[f][1]])
pk = summary["peak_stacks"]
check("peak_stacks computed", pk["computed"], True)
check("totals.peak_live_bytes", summary["totals"]["peak_live_bytes"], peak)
check("peak_stacks.sum_live_bytes", pk["sum_live_bytes"], peak)
by_fn = {}
for s in pk["stacks"]:
    by_fn[s["stack"][0]["function"]] = by_fn.get(s["stack"][0]["function"], 0) + s["live_bytes"]
for f, (_, p) in want.items():
    if p:
        check("live at the peak from " + f, by_fn.get(f), p)
check("the peak's allocation", pk["peak_stack"][0]["function"], "hold_big")
check("PEAK section names hold_big", bool(re.search(r"^PEAK\n.*\n  hold_big\n    at \S*sites\.c:\d+", text, re.M)), True)
leaks = section("MEMORY LEAKS")
check("leak section: 231B over 3 calls from leak_some at sites.c:%d" % leak_line,
      bool(re.search(r"^231B leaked over 3 calls from\nleak_some\n  at \S*/sites\.c:%d\n" % leak_line, leaks, re.M)), True)
sys.exit(0 if ok else 1)
PY
  ;;
heaptrack | heaptrack-sqlite3)
  command -v heaptrack >/dev/null && command -v heaptrack_print >/dev/null ||
    fail "heaptrack is not installed (apt-get install heaptrack)"
  input=/dev/null args=()
  [ "$MODE" = heaptrack-sqlite3 ] && input=$here/sqlite_2k.sql args=(:memory:)
  heaptrack -o "$work/ht" "$PROG" "${args[@]}" <"$input" >"$work/ht.out" 2>"$work/ht.err" ||
    { cat "$work/ht.err"; fail "heaptrack run failed"; }
  heaptrack_print -f "$work"/ht*.zst -n 10 >"$work/ht.txt" 2>/dev/null || fail "heaptrack_print failed"
  "$MS" -o "$work/t" -n 10 "$PROG" "${args[@]}" <"$input" >"$work/ms.txt" 2>"$work/ms.err" ||
    { cat "$work/ms.err"; fail "memscope exited $?"; }
  python3 "$here/compare_heaptrack.py" "$work/ht.txt" "$work/ms.txt" || {
    echo "--- heaptrack_print (sections) ---"; grep -A3 -E '^[0-9.]+[KMG]?B? peak memory consumed|calls to allocation functions with' "$work/ht.txt" | head -80
    echo "--- memscope ---"; grep -A3 -E '^[0-9.]+[KMG]?B? peak memory consumed|calls to allocation functions with' "$work/ms.txt" | head -80
    exit 1; }
  ;;
cli)
  v=$("$MS" --version) || fail "--version exited $?"
  [[ $v =~ ^memscope\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "--version printed '$v'"
  # Whole help first: grep -q stops at the match, and the SIGPIPE would fail the pipeline.
  h=$("$MS" --help)
  grep -q -- '--stack-depth' <<<"$h" || fail "--help lacks --stack-depth"
  h=$("$MS" print --help)
  grep -q -- '--output' <<<"$h" && fail "print --help lists run's --output"
  "$MS" --bogus >/dev/null 2>"$work/e"; rc=$?
  [ $rc = 2 ] && [ "$(wc -l <"$work/e")" = 1 ] || fail "unknown option: exit $rc, stderr: $(cat "$work/e")"
  "$MS" -n x "$PROG" >/dev/null 2>&1; [ $? = 2 ] || fail "-n x is not a usage error"
  "$MS" >/dev/null 2>&1; [ $? = 2 ] || fail "no PROGRAM is not a usage error"
  "$MS" print "$work/nonexistent" >/dev/null 2>&1; [ $? = 2 ] || fail "print of a missing path"
  echo '{"a": 1}' >"$work/notsum.json"
  "$MS" print "$work/notsum.json" >/dev/null 2>&1; [ $? = 2 ] || fail "print of a non-summary"
  "$MS" -o "$work/x" sh -c 'exit 3' >/dev/null 2>&1; rc=$?
  [ $rc = 3 ] || fail "the program's exit status 3 came back as $rc"
  "$MS" -o "$work/x" true >/dev/null 2>&1; [ $? = 2 ] || fail "an existing -o DIR is not refused"
  "$MS" -o "$work/t" "$PROG" >/dev/null 2>&1 || fail "run"
  "$MS" print --filter grow_buffer "$work/t/summary.json" >"$work/f.txt" || fail "print --filter"
  n=$(grep -c 'calls to allocation functions with' "$work/f.txt")
  [ "$n" = 1 ] && grep -q '^grow_buffer$' "$work/f.txt" || fail "--filter grow_buffer listed $n sites"
  "$MS" print -n 2 "$work/t/summary.json" >"$work/n.txt"
  n=$(grep -c 'calls to allocation functions with' "$work/n.txt")
  [ "$n" = 2 ] || fail "-n 2 listed $n sites by calls"
  grep -q '^MEMORY LEAKS' "$work/n.txt" || fail "no leaks section"
  "$MS" print --no-leaks "$work/t/summary.json" | grep -q '^MEMORY LEAKS' && fail "--no-leaks kept it"
  "$MS" print --stack-depth 1 "$work/t/summary.json" | grep -q '__libc_start_main' &&
    fail "--stack-depth 1 showed a third frame"
  # The live bytes per stack at the peak are computed only when asked (the front asks):
  # memscope-analyze's summary of the same trace has no peak_stacks.
  "$ANALYZE" "$work/t" --out "$work/plain" --no-details >/dev/null 2>&1 || fail "memscope-analyze"
  python3 -c 'import json,sys; sys.exit("peak_stacks" in json.load(open(sys.argv[1])))' \
    "$work/plain/summary.json" || fail "memscope-analyze's summary has peak_stacks"
  "$MS" print -n 3 "$work/plain/summary.json" >"$work/plain.txt" || fail "print of a plain summary"
  grep -q "the peak's stacks are not in this summary" "$work/plain.txt" || fail "no note on the missing peak stacks"
  # A sampled run: no per-stack figures at the peak, and the report says why.
  MEMSCOPE_SAMPLE=size-classes "$MS" -o "$work/s" "$PROG" >"$work/s.txt" 2>&1 || fail "sampled run"
  grep -q "sampled run: live bytes per stack at the peak are known only in full mode" "$work/s.txt" ||
    fail "the sampled run's report does not say why the peak's stacks are missing"
  echo "ok: cli"
  ;;
*) echo "usage: front_test.sh MEMSCOPE sites|heaptrack|heaptrack-sqlite3|cli PROGRAM"; exit 2 ;;
esac
