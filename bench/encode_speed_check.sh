#!/bin/bash
# encode_speed_check.sh BENCH: ms-bench-encode's smoke test (ctest bench_encode_smoke). Checks
# that the workload-shaped stream encodes every event of the run (2 repetitions of 2^20
# records, all allocator events), at most 5 bytes an event (issue 12's trace target; the
# real traces' figure is bench/cost_report.py's), that the sqlite3-shaped stream encodes its
# events too, and that a wrong stream name or count is one line on stderr and exit 2. No
# timing is asserted. (Output identity across encoder versions is test_encode_ident's.)
set -u
B=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
out=$("$B" workload 2 --det) || fail "workload run exited $?"
echo "$out"
ev=$(sed -n 's/.* \([0-9]*\) events .*/\1/p' <<<"$out")
[ "$ev" = $((2 * 1048576)) ] || fail "events '$ev', expected $((2 * 1048576))"
bpe=$(sed -n 's/.*  \([0-9.]*\) B\/event.*/\1/p' <<<"$out")
awk -v b="$bpe" 'BEGIN { exit !(b > 1 && b <= 5) }' || fail "bytes/event '$bpe' not in (1, 5]"
sq=$("$B" sqlite 1) || fail "sqlite run exited $?"
echo "$sq"
sev=$(sed -n 's/.* \([0-9]*\) events .*/\1/p' <<<"$sq")
[ -n "$sev" ] && [ "$sev" -gt 0 ] || fail "sqlite stream: events '$sev'"
for args in "bogus 1" "workload 0" "workload 1 --nope"; do
  err=$("$B" $args 2>&1 >/dev/null); rc=$?
  [ $rc -eq 2 ] || fail "'$args' exited $rc, expected 2"
  [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || fail "'$args' printed: $err"
done
echo "ok: $ev events, $bpe B/event; sqlite stream $sev events"
