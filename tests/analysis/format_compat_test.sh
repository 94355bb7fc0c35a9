#!/usr/bin/env bash
# format_compat_test.sh CASE: the same program traced in format version 1
# (MEMSCOPE_TEST_FORMAT=1) and version 2 (the default) gives the same analysis: counts, bytes,
# peaks, leaks (with their stacks as module offsets), size histogram and hot stacks.
# The programs are single-threaded and deterministic, so only times and addresses differ.
#   workload  ms-bench-workload 1 30000 (short FREE/ALLOC forms, misses, chunk resets)
#   family    ms_t_alloc_family (aligned allocations, realloc, calloc: the long forms)
#   sqlite    /usr/bin/sqlite3 on tests/front/sqlite_2k.sql (realloc-heavy, many stacks)
# Environment (tests/analysis/CMakeLists.txt): ANALYZE, LIB, WORKLOAD, FAMILY, SRC, WORK.
set -uo pipefail
case_name=$1
: "${ANALYZE:?}" "${LIB:?}" "${WORKLOAD:?}" "${FAMILY:?}" "${SRC:?}" "${WORK:?}"
fail() { echo "FAIL: $*" >&2; exit 1; }
rm -rf "$WORK"
mkdir -p "$WORK"

run() { # run VERSION: traces the case's program into $WORK/vVERSION, analyzes it
  local out="$WORK/v$1" input=/dev/null
  mkdir -p "$out"
  local -a cmd
  case "$case_name" in
  workload) cmd=("$WORKLOAD" 1 30000) ;;
  family) cmd=("$FAMILY") ;;
  sqlite)
    [ -x /usr/bin/sqlite3 ] || { echo "SKIP: no /usr/bin/sqlite3"; exit 77; }
    cmd=(/usr/bin/sqlite3 :memory:)
    input="$SRC/tests/front/sqlite_2k.sql" ;;
  *) fail "unknown case $case_name" ;;
  esac
  MEMSCOPE_OUT="$out" MEMSCOPE_TEST_FORMAT="$1" LD_PRELOAD="$LIB" "${cmd[@]}" <"$input" \
    >/dev/null || fail "the traced program failed (version $1)"
  local dir
  dir=$(ls -d "$out"/memscope.*) || fail "no run directory (version $1)"
  grep -qx "version=$1" "$dir/meta.txt" || fail "meta.txt does not say version=$1"
  for f in "$dir"/memscope_thread_*.bin; do
    v=$(od -An -tu2 -j8 -N2 "$f" | tr -d ' ')
    [ "$v" = "$1" ] || fail "$f: header version $v, not $1"
  done
  "$ANALYZE" "$dir" --no-symbols --no-details >/dev/null || fail "memscope-analyze failed (v$1)"
  echo "$dir"
}
d1=$(run 1) || exit 1
d2=$(run 2) || exit 1
python3 - "$d1/summary.json" "$d2/summary.json" <<'PY' || exit 1
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
def totals(j):  # times and the mark-inclusive record count differ between runs
    return {k: v for k, v in j["totals"].items()
            if not k.endswith("_ns") and k not in ("events", "marks")}
def frames(st):
    return [(f["module"], f["module_offset"]) for f in st or []]
def leaks(j):
    return sorted((l["bytes"], l["blocks"], l["stack_known"], frames(l["stack"]))
                  for l in j["leaks"])
def hot(j, key):
    return sorted((h["allocations"], h["allocated_bytes"], h["temporary_allocations"],
                   frames(h.get("stack")))
                  for h in j["hot_stacks"][key])
checks = [("totals", totals), ("leaks", leaks), ("leak_groups", lambda j: j["leak_groups"]),
          ("size_histogram", lambda j: j["size_histogram"]),
          ("hot_stacks by_count", lambda j: hot(j, "by_count")),
          ("hot_stacks by_bytes", lambda j: hot(j, "by_bytes")),
          ("stacks", lambda j: j["run"]["stacks"]),
          ("partial", lambda j: j["run"]["partial"])]
bad = 0
for name, f in checks:
    x, y = f(a), f(b)
    if x != y:
        print(f"FAIL: {name} differ:\n  v1: {str(x)[:400]}\n  v2: {str(y)[:400]}", file=sys.stderr)
        bad = 1
t = a["totals"]
if t["allocations"] == 0 or t["frees"] == 0:
    print("FAIL: the program made no allocations or frees", file=sys.stderr)
    bad = 1
sys.exit(bad)
PY
echo "ok $case_name: v1 and v2 analyses agree"
