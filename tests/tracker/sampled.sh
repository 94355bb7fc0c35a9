#!/usr/bin/env bash
# sampled.sh LIB TRACESTAT PROG: both sampled modes record a consistent subset. Each mode's
# trace must hold fewer allocations than the program made (but some), every recorded free
# must be of a recorded block (frees are written only for sampled blocks), and meta.txt must
# name the mode and its parameter so the analysis can scale counts back.
set -u
LIB=$1 TRACESTAT=$2 PROG=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
full=$(MEMSCOPE_OUT="$work/full" LD_PRELOAD="$LIB" "$PROG" 4 20 | sed -n 's/.*expect allocations=\([0-9]*\).*/\1/p')
[ -n "$full" ] || { echo "FAIL: no expect line"; exit 1; }
for mode in size-classes bytes:65536; do
  dir="$work/${mode%%:*}"
  MEMSCOPE_SAMPLE=$mode MEMSCOPE_OUT="$dir" LD_PRELOAD="$LIB" "$PROG" 4 20 >/dev/null || { echo "FAIL $mode: program failed"; fails=$((fails+1)); continue; }
  "$TRACESTAT" "$dir" >"$dir.json" || { echo "FAIL $mode: tracestat failed"; fails=$((fails+1)); continue; }
  python3 - "$dir.json" "$mode" "$full" <<'PY' || fails=$((fails+1))
import json, sys
run = json.load(open(sys.argv[1]))["runs"][0]
mode, full = sys.argv[2], int(sys.argv[3])
t, meta = run["totals"], run["meta"]
ok = True
def check(cond, what):
    global ok
    print(("ok   " if cond else "FAIL ") + mode + ": " + what)
    ok &= bool(cond)
check(0 < t["allocations"] < full, "recorded %d of the %d+ allocations" % (t["allocations"], full))
check(t["unmatched_frees"] == 0, "every recorded free is of a recorded block (unmatched %d)" % t["unmatched_frees"])
check(t["alloc_over_live"] == 0, "no block recorded twice")
check(meta["sample"] == mode.split(":")[0], "meta sample=%s" % meta["sample"])
if mode.startswith("bytes:"):
    check(meta["sample_bytes"] == mode.split(":")[1], "meta sample_bytes=%s" % meta["sample_bytes"])
check(not run["partial"], "trace complete")
sys.exit(0 if ok else 1)
PY
done
exit $((fails > 0))
