#!/usr/bin/env bash
# nested.sh LIB PROG TRACESTAT: allocator calls made inside a hook (a signal handler that
# interrupted malloc or free, or any call after a handler left a hook by siglongjmp) cannot be
# recorded; they are counted (meta.txt events_nested, in events_unrecorded and events_lost),
# so the run says it lost them and is never taken as complete (docs/tracker.md, "Calls inside
# a hook"). With stacks and without:
#   `PROG handler`: every call the program made is in the trace or counted, exactly
#     (allocations + frees read back + events_nested = the program's own counts), and at
#     least one handler call was counted (2,000 signals; most land inside a hook);
#   `PROG flush`: the same, with the loop calling memscope_flush() after every 16 pairs, so
#     that most signals land in the tracker's own work outside a hook (a flush), where a
#     handler's calls are counted too (MS_WORK_STATE in tracker/ms_internal.h);
#   `PROG jump`: the handler leaves a hook by siglongjmp; the 40,000 calls the program makes
#     after that are all counted as lost, not silently dropped.
set -u
LIB=$1 PROG=$2 TRACESTAT=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# meta KEY DIR: KEY's value in DIR's run's meta.txt (0 when absent).
meta() { sed -n "s/^$1=//p" "$2"/memscope.*/meta.txt | head -1 | grep . || echo 0; }
# total KEY JSON: a "totals" count from memscope-tracestat's output.
total() { sed -n "s/^[[:space:]]*\"$1\":[[:space:]]*\([0-9]*\),\{0,1\}$/\1/p" "$2" | head -1; }
# prog_count KEY OUT: the program's own count (allocs=, frees=) from its output line.
prog_count() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" "$2"; }

for mode in handler flush; do
for depth in 0 16; do
  d="$work/$mode$depth"
  MEMSCOPE_OUT="$d" MEMSCOPE_STACK_DEPTH=$depth timeout 60 env LD_PRELOAD="$LIB" "$PROG" $mode \
    >"$d.out" 2>&1 || fail "$mode, depth $depth: exit $?: $(head -c 300 "$d.out")"
  "$TRACESTAT" "$d"/memscope.* >"$d.json" 2>"$d.err" || fail "$mode, depth $depth: trace unreadable"
  nested=$(meta events_nested "$d") lost=$(meta events_lost "$d")
  a=$(total allocations "$d.json") f=$(total frees "$d.json")
  pa=$(prog_count allocs "$d.out") pf=$(prog_count frees "$d.out")
  echo "$mode, depth $depth: program $pa allocations $pf frees; trace $a and $f; events_nested $nested, events_lost $lost"
  [ -n "$a" ] && [ -n "$f" ] && [ -n "$pa" ] && [ -n "$pf" ] || { fail "$mode, depth $depth: counts missing"; continue; }
  [ "$nested" -ge 1 ] || fail "$mode, depth $depth: no call counted inside the tracker: the test did not reach its case"
  [ $((a + f + nested)) = $((pa + pf)) ] ||
    fail "$mode, depth $depth: trace $((a + f)) + counted $nested != the program's $((pa + pf)) calls"
  [ "$lost" -ge "$nested" ] || fail "$mode, depth $depth: events_lost $lost < events_nested $nested"
done
done

# The jump lands at a random point of a hook; a few tries, each exact where it can be.
for depth in 0 16; do
  ok=0
  for try in 1 2 3 4 5; do
    d="$work/j$depth.$try"
    MEMSCOPE_OUT="$d" MEMSCOPE_STACK_DEPTH=$depth timeout 60 env LD_PRELOAD="$LIB" "$PROG" jump \
      >"$d.out" 2>&1
    rc=$?
    [ "$rc" = 0 ] || { fail "jump, depth $depth: exit $rc: $(head -c 300 "$d.out")"; break; }
    nested=$(meta events_nested "$d") lost=$(meta events_lost "$d")
    echo "jump, depth $depth, try $try: events_nested $nested, events_lost $lost"
    # The state a jump leaves behind is the hook's: every later call is counted.
    if [ "$nested" -ge 40000 ] && [ "$lost" -ge "$nested" ]; then
      ok=1
      break
    fi
  done
  [ "$ok" = 1 ] || fail "jump, depth $depth: the 40,000 calls after a jump out of a hook were not all counted as lost"
done

[ "$fails" = 0 ] && echo "ok: calls inside a hook are counted as lost"
exit $((fails > 0))
