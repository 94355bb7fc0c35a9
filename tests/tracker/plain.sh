#!/usr/bin/env bash
# plain.sh LIB TRACESTAT BENCH_CALLS: MEMSCOPE_STACK_DEPTH=0 takes the plain hook bodies
# (tracker/preload.c, docs/tracker.md "Hot path cost"); their counts must be exact across
# buffer flushes, with no free reordered after a reuse of its block.
# ms-bench-calls calls P R makes P malloc/free pairs R+1 times (one warm-up round): with
# P=1000, R=2, 3000 frees (6000 calls, four full 1536-record buffers) and 3001 allocations (the
# 3000 and stdio's stdout buffer, allocated at its first printf and never freed).
set -uo pipefail
lib=$1 tracestat=$2 bench=$3
work=$(mktemp -d) || exit 2
trap 'rm -rf "$work"' EXIT
MEMSCOPE_STACK_DEPTH=0 MEMSCOPE_OUT="$work" LD_PRELOAD="$lib" "$bench" calls 1000 2 >/dev/null ||
  { echo "FAIL ms-bench-calls exited $?"; exit 1; }
"$tracestat" "$work" >"$work/stat.json" || { echo "FAIL tracestat exited $?"; exit 1; }
python3 - "$work/stat.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
runs = d["runs"]
bad = 0
def expect(what, want, got):
    global bad
    print(("ok  " if want == got else "FAIL") + " %s: expected %r, got %r" % (what, want, got))
    bad += want != got
expect("runs", 1, len(runs))
t = runs[0]["totals"]
expect("partial", False, runs[0]["partial"])
expect("stack_depth", "0", runs[0]["meta"]["stack_depth"])
expect("frees", 3000, t["frees"])
expect("allocations", 3001, t["allocations"])
expect("unmatched frees", 0, t["unmatched_frees"])
expect("allocations over a live block", 0, t["alloc_over_live"])
expect("events_lost", "0", runs[0]["meta"]["events_lost"])
sys.exit(1 if bad else 0)
PY
