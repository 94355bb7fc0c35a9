#!/usr/bin/env bash
# prealloc.sh LIB WORKLOAD TRACESTAT: thread files reserve blocks ahead of their writes
# (fallocate with FALLOC_FL_KEEP_SIZE, 1 MiB at a time once a file passes 256 KiB; core.c
# file_prealloc, docs/tracker.md "Thread files reserved ahead") and give back what they did not
# use at the last flush: after the run no file holds more blocks than its size needs, the
# trace reads whole, and the reservation did happen (strace). Under a finite RLIMIT_FSIZE
# nothing is reserved. A killed process keeps at most 1 MiB reserved past a file's end.
set -u
LIB=$1 WORKLOAD=$2 TRACESTAT=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# over_blocks DIR: bytes allocated to DIR's thread files beyond their sizes (4 KiB blocks).
over_blocks() {
  local total=0 f size alloc need
  for f in "$1"/memscope.*/memscope_thread_*.bin; do
    [ -e "$f" ] || continue
    size=$(stat -c %s "$f") alloc=$(($(stat -c %b "$f") * $(stat -c %B "$f")))
    need=$(((size + 4095) / 4096 * 4096))
    [ "$alloc" -gt "$need" ] && total=$((total + alloc - need))
  done
  echo "$total"
}

# 4 threads x 200,000 events: ~0.9 MiB a thread file.
MEMSCOPE_OUT="$work/a" MEMSCOPE_STACK_DEPTH=0 LD_PRELOAD="$LIB" "$WORKLOAD" 4 100000 >/dev/null ||
  fail "workload failed under the tracker"
over=$(over_blocks "$work/a")
[ "$over" = 0 ] || fail "$over bytes still reserved past the thread files' ends"
"$TRACESTAT" "$work"/a/memscope.* >"$work/a.json" || fail "trace unreadable"
grep -q '"events_lost":[[:space:]]*"0"' "$work/a.json" || fail "events lost: $(grep -o '"events_lost":[^,]*' "$work/a.json")"
allocs=$(sed -n 's/^[[:space:]]*"allocations":[[:space:]]*\([0-9]*\),$/\1/p' "$work/a.json" | head -1)
[ "${allocs:-0}" -ge 400000 ] || fail "${allocs:-no} allocations read back, the program made 400,000"
grep -q '"unmatched_frees":[[:space:]]*0,' "$work/a.json" || fail "unmatched frees in the trace"

if command -v strace >/dev/null; then
  MEMSCOPE_OUT="$work/b" MEMSCOPE_STACK_DEPTH=0 strace -f -qq -e trace=fallocate \
    -o "$work/b.strace" env LD_PRELOAD="$LIB" "$WORKLOAD" 4 100000 >/dev/null
  n=$(grep -c 'FALLOC_FL_KEEP_SIZE, [0-9]*, 1048576) = 0' "$work/b.strace")
  echo "reservations: $n of 1 MiB"
  [ "$n" -ge 4 ] || fail "$n reservations, expected one a thread file at least"
  (ulimit -f 100000
   MEMSCOPE_OUT="$work/c" MEMSCOPE_STACK_DEPTH=0 strace -f -qq -e trace=fallocate \
     -o "$work/c.strace" env LD_PRELOAD="$LIB" "$WORKLOAD" 4 100000 >/dev/null)
  n=$(grep -c 'FALLOC_FL_KEEP_SIZE, [0-9]*, 1048576)' "$work/c.strace")
  [ "$n" = 0 ] || fail "$n reservations under a finite RLIMIT_FSIZE"
fi

# Killed mid-run (SIGKILL: no last flush): at most 1 MiB past each file's end.
MEMSCOPE_OUT="$work/k" MEMSCOPE_STACK_DEPTH=0 LD_PRELOAD="$LIB" "$WORKLOAD" 2 5000000 >/dev/null &
pid=$!
for _ in $(seq 100); do
  big=$(find "$work/k" -name 'memscope_thread_*.bin' -size +2M 2>/dev/null | head -1)
  [ -n "$big" ] && break
  sleep 0.05
done
kill -KILL "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
nfiles=$(find "$work/k" -name 'memscope_thread_*.bin' | wc -l)
over=$(over_blocks "$work/k")
echo "killed: $over bytes reserved past the ends of $nfiles files"
[ "$over" -le $((nfiles * 1048576)) ] || fail "killed run: $over bytes reserved, more than 1 MiB a file"

[ "$fails" = 0 ] && echo "ok: reserved ahead, given back, bounded when killed"
exit $((fails > 0))
