#!/usr/bin/env bash
# nocfi_learn.sh LIB PROG ANALYZE: every allocation of nocfi_learn's runh (N = 40, 24 bytes)
# gets the stack unw_backtrace returns, [nocfi2, target, ...] (nocfi_learn.c says why), in
# one stack: a learning miss that recorded and cached the stepped walk instead split them
# (38 with the one frame nocfi2, 2 with unw_backtrace's). Then "end": a stack that
# libunwind's frame-pointer fallback ends at a frame without CFI because of rbp's value is
# keyed on rbp; verified hits must match fresh walks (7 of 7 did not before).
set -u
LIB=$1 PROG=$2 ANALYZE=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
MEMSCOPE_OUT="$work/t" MEMSCOPE_STACK_DEPTH=16 LD_PRELOAD="$LIB" "$PROG" 40 >"$work/out" 2>&1 ||
  { echo "FAIL: the program failed: $(head -c 300 "$work/out")"; exit 1; }
"$ANALYZE" "$work/t" --out "$work/r" --no-details >"$work/an" 2>&1 ||
  { echo "FAIL: memscope-analyze: $(head -c 300 "$work/an")"; exit 1; }
python3 - "$work/r/summary.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
n24 = {}
for h in d["hot_stacks"]["by_count"]:
    fr = [f.get("function") for f in h["stack"]]
    if h["allocated_bytes"] == 24 * h["allocations"] and fr and fr[0] == "nocfi2":
        n24[tuple(fr[:2])] = n24.get(tuple(fr[:2]), 0) + h["allocations"]
print("24-byte allocations from nocfi2 by their first two frames:", n24)
want = {("nocfi2", "target"): 40}
if n24 != want:
    print("FAIL: expected", want)
    sys.exit(1)
print("learn: ok")
PY
[ $? = 0 ] || exit 1
MEMSCOPE_OUT="$work/e" MEMSCOPE_STACK_DEPTH=16 MEMSCOPE_TEST_STACK_VERIFY=1 LD_PRELOAD="$LIB" \
  "$PROG" end zzzvvvvvvvzzzvvv >"$work/out" 2>&1 ||
  { echo "FAIL: end: the program failed: $(head -c 300 "$work/out")"; exit 1; }
get() { find "$work/e" -name meta.txt -exec sed -n "s/^$1=//p" {} + | awk '{s += $1} END {print s + 0}'; }
mc=$(get stack_cache_mismatches) mw=$(get stack_walk_mismatches)
echo "end: stack_cache_mismatches=$mc stack_walk_mismatches=$mw"
[ "$mc" = 0 ] && [ "$mw" = 0 ] || { echo "FAIL: end: cached stacks differ from fresh walks"; exit 1; }
echo PASS
