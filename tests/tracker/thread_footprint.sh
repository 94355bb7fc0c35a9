#!/usr/bin/env bash
# thread_footprint.sh LIB CALLS: a tracked thread in full mode (16 frames) costs at most
# 96 KiB (issue 12). CALLS is ms-bench-calls: `threads T` parks T threads that each allocated
# a little and prints VmRSS before and with them. Per-thread cost = (tracked growth - native
# growth) / T. Then the measurement is shown able to see libunwind's per-thread trace cache
# (256 KiB, made by a thread's first unw_backtrace): under MEMSCOPE_TEST_STACK_VERIFY=1 every
# walk is also compared with unw_backtrace, so every thread makes one, and the cost must
# exceed 200 KiB (docs/tracker.md, "Stack cache": per-thread memory).
set -u
LIB=$1 CALLS=$2
T=64
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# growth ENV...: VmRSS growth in KiB of `CALLS threads T` run with the given environment.
growth() {
  local out
  if ! out=$(env "$@" "$CALLS" threads "$T" 2>"$work/stderr"); then
    echo "FAIL: ms-bench-calls threads failed: $(head -c 300 "$work/stderr")" >&2
    exit 1
  fi
  local before after
  before=$(sed -n 's/^rss_before_kb=//p' <<<"$out")
  after=$(sed -n 's/^rss_threads_kb=//p' <<<"$out")
  [ -n "$before" ] && [ -n "$after" ] || { echo "FAIL: no VmRSS figures: $out" >&2; exit 1; }
  echo $((after - before))
}

native=$(growth MEMSCOPE_OUT=)
full=$(growth LD_PRELOAD="$LIB" MEMSCOPE_OUT="$work/full" MEMSCOPE_STACK_DEPTH=16)
verify=$(growth LD_PRELOAD="$LIB" MEMSCOPE_OUT="$work/verify" MEMSCOPE_STACK_DEPTH=16 \
  MEMSCOPE_TEST_STACK_VERIFY=1)
per_full=$(awk -v a="$full" -v b="$native" -v t="$T" 'BEGIN {printf "%.1f", (a - b) / t}')
per_verify=$(awk -v a="$verify" -v b="$native" -v t="$T" 'BEGIN {printf "%.1f", (a - b) / t}')
echo "native growth ${native} KiB; full ${per_full} KiB a thread; verify ${per_verify} KiB a thread"
fails=0
awk -v x="$per_full" 'BEGIN {exit !(x <= 96)}' ||
  { echo "FAIL: a tracked thread costs ${per_full} KiB in full mode (limit 96)"; fails=1; }
awk -v x="$per_verify" 'BEGIN {exit !(x > 200)}' ||
  { echo "FAIL: the trace caches of verify mode were not seen (${per_verify} KiB a thread)"; fails=1; }
exit $fails
