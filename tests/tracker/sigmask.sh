#!/usr/bin/env bash
# sigmask.sh LIB PROG: sigmask.c's signal checks hold natively and under the tracker, and the
# tracker's walks make 2 rt_sigprocmask calls each (one hold and its release), not libunwind's
# two a step (19,704 in sqlite3's 200k-row script before; docs/tracker.md, "Signals during a
# walk"). Counted with strace (required: exit 77, a skip, without it): `PROG walks` (512
# stacks of 11+ frames, twice each) at most 2 a stack-cache miss plus 100 (start-up, exit);
# `PROG depths` (4,000 misses walked by unw_backtrace, warm) at most 612: 2 for each of a
# thread's 256 stepped walks plus 100.
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

command -v strace >/dev/null || { echo "SKIP: strace is not installed (ci/setup.sh installs it)"; exit 77; }
# count MODE: rt_sigprocmask calls and stack-cache misses of `PROG MODE` under the tracker
# (the count mode's meta gives the misses; it makes no signal calls of its own).
count() {
  rm -rf "$work/s"
  MEMSCOPE_OUT="$work/s" MEMSCOPE_STACK_DEPTH=16 MEMSCOPE_TEST_STACK_VERIFY=count \
    strace -f -qq -e trace=rt_sigprocmask,write -o "$work/strace.txt" \
    env LD_PRELOAD="$LIB" "$PROG" "$1" >"$work/strace.out" 2>&1 ||
    fail "$1 under strace: $(head -c 300 "$work/strace.out")"
  n=$(grep -c 'rt_sigprocmask(' "$work/strace.txt")
  m=$(find "$work/s" -name meta.txt -exec sed -n 's/^stack_cache_misses=//p' {} + | awk '{s += $1} END {print s + 0}')
}
# Learning walks (512 stacks, twice each): one block a walk at most.
count walks
bound=$((2 * m + 100))
echo "walks: $n rt_sigprocmask calls for $m stack-cache misses (bound $bound)"
[ "$m" -ge 500 ] || fail "walks: only $m misses"
[ "$n" -le "$bound" ] || fail "walks: $n rt_sigprocmask calls, more than $bound: the walks are not held"
# The holds themselves: their block leaves the fault signals out (strace lists a mask as
# ~[the signals not blocked]; libunwind's own <all> leaves out only glibc's RTMIN and RT_1),
# and no write happens between a block and its restore (a stack is interned, and its chunk
# written, after the hold; libunwind's own 1-byte writes to its memory-check pipe do not
# count).
read -r holds inside <<<"$(awk '
  /rt_sigprocmask\(SIG_SETMASK, ~\[/ { if ($0 ~ /SEGV/ && $0 ~ /BUS/ && $0 ~ /ILL/ && $0 ~ /FPE/) { held = 1; holds++ } next }
  /rt_sigprocmask\(SIG_SETMASK, \[/ { held = 0; next }
  /write\([0-9]+, .*, [0-9]+\)/ { if (held && $0 !~ /, 1\) *= /) inside++ }
  END { print holds + 0, inside + 0 }' "$work/strace.txt")"
echo "walks: $holds holds with the fault signals unblocked, $inside writes inside them"
[ "$holds" -ge 200 ] || fail "walks: $holds holds leave SIGSEGV/SIGBUS/SIGILL/SIGFPE unblocked, expected one a learn (200 at least)"
[ "$inside" = 0 ] || fail "walks: $inside writes with the program's signals blocked"
# 4,000 walks that never learn, by unw_backtrace with its trace cache warm: libunwind locks
# nothing, so a hold must cost nothing either (a hold that blocked eagerly made 8,002).
count depths
echo "depths: $n rt_sigprocmask calls for $m stack-cache misses (bound 612)"
[ "$m" -ge 4000 ] || fail "depths: only $m misses"
[ "$n" -le 612 ] || fail "depths: $n rt_sigprocmask calls, more than 612: holds block where libunwind does not"
[ "$fails" = 0 ] && echo "ok: signals and the mask are the program's; misses=$misses"
exit $((fails > 0))
