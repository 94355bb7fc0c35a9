#!/usr/bin/env bash
# prealloc.sh LIB WORKLOAD TRACESTAT ANALYZE: thread files reserve blocks ahead of their writes
# (fallocate with FALLOC_FL_KEEP_SIZE, 1 MiB at a time once a file passes 256 KiB; files.c
# file_prealloc, docs/tracker.md "Thread files reserved ahead") and give back what they did not
# use at the last flush: after the run no file holds more blocks than its size needs (64 KiB
# of slack a file for ext4's extent blocks), the trace reads whole, and the reservation did
# happen (strace; skipped where the work directory's file system has no fallocate). Under a
# finite RLIMIT_FSIZE, and on a file system with less than 1 GiB free (an 8-MiB tmpfs, where
# one can be mounted), nothing is reserved and nothing is lost. A killed process keeps at
# most 1 MiB reserved past a file's end, and none once its run is salvaged.
set -u
LIB=$1 WORKLOAD=$2 TRACESTAT=$3 ANALYZE=$4
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
    need=$(((size + 4095) / 4096 * 4096 + 65536))
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

# reservations DIR STRACE_OUT [ulimit -f value]: the 1-MiB reservations of a traced run.
reservations() {
  (if [ -n "${3:-}" ]; then ulimit -f "$3"; fi
   MEMSCOPE_OUT="$1" MEMSCOPE_STACK_DEPTH=0 strace -f -qq -e trace=fallocate \
     -o "$2" env LD_PRELOAD="$LIB" "$WORKLOAD" 4 100000 >/dev/null)
  # (a call another thread interrupts is printed in two lines: "<unfinished ...>", then the
  # result; a failed one sets no reserve and counts here anyway: the tests want 0 or >= 4)
  grep -c 'FALLOC_FL_KEEP_SIZE, [0-9]*, 1048576' "$2"
}
can_reserve=0
: >"$work/probe" && fallocate -n -l 1M "$work/probe" 2>/dev/null && can_reserve=1
rm -f "$work/probe"
if ! command -v strace >/dev/null; then
  echo "strace not installed: whether reservations happen is not checked"
elif [ "$can_reserve" = 0 ]; then
  echo "the work directory's file system has no fallocate: reservations not checked"
else
  n=$(reservations "$work/b" "$work/b.strace")
  echo "reservations: $n of 1 MiB"
  [ "$n" -ge 4 ] || fail "$n reservations, expected one a thread file at least"
  n=$(reservations "$work/c" "$work/c.strace" 100000)
  [ "$n" = 0 ] || fail "$n reservations under a finite RLIMIT_FSIZE"
fi

# A small file system (less than 1 GiB free): no reservation, nothing lost, nothing left.
if [ "$(id -u)" = 0 ] && mkdir -p "$work/small" &&
    mount -t tmpfs -o size=8m tmpfs "$work/small" 2>/dev/null; then
  MEMSCOPE_OUT="$work/small/out" MEMSCOPE_STACK_DEPTH=0 LD_PRELOAD="$LIB" "$WORKLOAD" 4 100000 \
    >/dev/null || fail "small: workload failed"
  "$TRACESTAT" "$work"/small/out/memscope.* >"$work/small.json" || fail "small: trace unreadable"
  grep -q '"events_lost":[[:space:]]*"0"' "$work/small.json" || fail "small: events lost"
  over=$(over_blocks "$work/small/out")
  [ "$over" = 0 ] || fail "small: $over bytes past the files' ends"
  if command -v strace >/dev/null; then
    n=$(reservations "$work/small/out2" "$work/small.strace")
    [ "$n" = 0 ] || fail "small: $n reservations with less than 1 GiB free"
  fi
  echo "small tmpfs: no reservation, $(df -k "$work/small" | awk 'NR == 2 {print $3}') KiB used"
  umount "$work/small"
else
  echo "small tmpfs: skipped (cannot mount tmpfs here)"
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
# Analyzing the killed run salvages it (ms_salvage.c), and the salvage gives the reserves back.
"$ANALYZE" "$work"/k/memscope.* --no-symbols --out "$work/k.report" >/dev/null 2>&1 ||
  fail "killed run: memscope-analyze failed"
grep -qx 'end_reason=salvaged' "$work"/k/memscope.*/meta.txt || fail "killed run: not salvaged"
over=$(over_blocks "$work/k")
echo "killed, then salvaged: $over bytes reserved past the files' ends"
[ "$over" = 0 ] || fail "salvaged run: $over bytes still reserved past the files' ends"

[ "$fails" = 0 ] && echo "ok: reserved ahead, given back, bounded when killed"
exit $((fails > 0))
