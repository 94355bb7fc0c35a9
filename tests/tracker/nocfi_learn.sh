#!/usr/bin/env bash
# nocfi_learn.sh LIB PROG ANALYZE: every allocation of nocfi_learn's runh (N = 40, 24 bytes)
# gets the stack unw_backtrace returns, [nocfi2, target, ...] (nocfi_learn.c says why), in
# one stack: a learning miss that recorded and cached the stepped walk instead split them
# (38 with the one frame nocfi2, 2 with unw_backtrace's).
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
print("PASS")
PY
