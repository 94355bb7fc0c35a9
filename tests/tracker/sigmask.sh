#!/usr/bin/env bash
# sigmask.sh LIB PROG: sigmask.c's signal checks hold natively and under the tracker, and the
# tracker's walks make 2 rt_sigprocmask calls each (one hold and its release), not libunwind's
# two a step (19,704 in sqlite3's 200k-row script before; docs/tracker.md, "Signals during a
# walk"). Counted with strace on `PROG walks` (512 stacks of 11+ frames, twice each): at most
# 2 a stack-cache miss plus 100 (start-up, exit).
set -u
LIB=$1 PROG=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

"$PROG" >"$work/native.out" 2>&1 || fail "native run: $(head -c 300 "$work/native.out")"
MEMSCOPE_OUT="$work/t" MEMSCOPE_STACK_DEPTH=16 MEMSCOPE_TEST_STACK_VERIFY=count \
  LD_PRELOAD="$LIB" "$PROG" >"$work/tracked.out" 2>&1 || fail "tracked run: $(head -c 300 "$work/tracked.out")"
cmp -s "$work/native.out" "$work/tracked.out" || fail "output differs: $(head -c 300 "$work/tracked.out")"
misses=$(find "$work/t" -name meta.txt -exec sed -n 's/^stack_cache_misses=//p' {} + | awk '{s += $1} END {print s + 0}')
[ "$misses" -ge 500 ] || fail "only $misses stack-cache misses: the program did not make the tracker walk"

if command -v strace >/dev/null; then
  # `walks`: the stacks alone, learnt (the count mode's meta gives the misses; the count
  # mode's own work makes no signal calls).
  MEMSCOPE_OUT="$work/s" MEMSCOPE_STACK_DEPTH=16 MEMSCOPE_TEST_STACK_VERIFY=count \
    strace -f -qq -e trace=rt_sigprocmask -o "$work/strace.txt" \
    env LD_PRELOAD="$LIB" "$PROG" walks >"$work/strace.out" 2>&1 ||
    fail "run under strace: $(head -c 300 "$work/strace.out")"
  n=$(grep -c 'rt_sigprocmask(' "$work/strace.txt")
  m=$(find "$work/s" -name meta.txt -exec sed -n 's/^stack_cache_misses=//p' {} + | awk '{s += $1} END {print s + 0}')
  bound=$((2 * m + 100))
  echo "rt_sigprocmask: $n calls for $m stack-cache misses (bound $bound)"
  [ "$m" -ge 500 ] || fail "walks: only $m misses"
  [ "$n" -le "$bound" ] || fail "$n rt_sigprocmask calls, more than $bound: the walks are not held"
else
  echo "strace not installed: the system-call count is not checked"
fi
[ "$fails" = 0 ] && echo "ok: signals and the mask are the program's; misses=$misses"
exit $((fails > 0))
