#!/usr/bin/env bash
# stack_memo.sh LIB PROG: the per-return-address memo of the stack cache's rbp probes is
# dropped at dlclose (docs/tracker.md "Stack cache"). PROG (stack_memo.c) learns two stacks
# that share frames, with a dlclose after them ("keep") or between them ("dlclose"). Every
# frame a learn examines (all but a stack's last) is either probed (stack_fp_probes) or
# answered by the memo (stack_fp_memo_hits), so both runs examine as many frames; the memo
# must answer some in "keep" (the shared frames), and none in "dlclose", where they must be
# probed again (a memo that survived the dlclose answered 2 or 3 there). Both runs also
# verify every hit (MEMSCOPE_TEST_STACK_VERIFY=1): no mismatch. Run without address
# randomization where setarch allows it: the memo is direct-mapped by address, and a
# collision between the few frames here would move the counts from run to run.
set -u
LIB=$1 PROG=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# get KEY DIR: KEY's value in DIR's meta.txt files, added up.
get() { find "$2" -name meta.txt -exec sed -n "s/^$1=//p" {} + | awk '{s += $1} END {print s + 0}'; }

norand=()
setarch "$(uname -m)" -R true 2>/dev/null && norand=(setarch "$(uname -m)" -R)
for mode in keep dlclose; do
  # env sets the preload after setarch: only PROG is tracked.
  if ! MEMSCOPE_OUT="$work/$mode" MEMSCOPE_STACK_DEPTH=16 MEMSCOPE_TEST_STACK_VERIFY=1 \
      "${norand[@]}" env LD_PRELOAD="$LIB" "$PROG" "$mode" >"$work/$mode.out" 2>&1; then
    echo "FAIL $mode: the program failed: $(head -c 300 "$work/$mode.out")"
    exit 1
  fi
done
pk=$(get stack_fp_probes "$work/keep") hk=$(get stack_fp_memo_hits "$work/keep")
pd=$(get stack_fp_probes "$work/dlclose") hd=$(get stack_fp_memo_hits "$work/dlclose")
mk=$(get stack_cache_mismatches "$work/keep") md=$(get stack_cache_mismatches "$work/dlclose")
hits=$(get stack_cache_hits "$work/keep")
echo "keep: probes=$pk memo_hits=$hk mismatches=$mk hits=$hits"
echo "dlclose: probes=$pd memo_hits=$hd mismatches=$md"
fails=0
[ "$mk" = 0 ] && [ "$md" = 0 ] || { echo "FAIL: cached stacks differ from fresh walks"; fails=1; }
[ "$hits" -gt 0 ] || { echo "FAIL: the cache never hit"; fails=1; }
[ "$hk" -gt 0 ] || { echo "FAIL: the memo never answered for the shared frames"; fails=1; }
[ $((pk + hk)) = $((pd + hd)) ] ||
  { echo "FAIL: the runs examined different frame counts ($((pk + hk)) and $((pd + hd)))"; fails=1; }
# After the dlclose only phase 2's learn examines frames, none twice: nothing to remember.
[ "$hd" = 0 ] ||
  { echo "FAIL: the memo answered $hd frames after dlclose: it was not dropped"; fails=1; }
[ "$fails" = 0 ] && echo "ok: dlclose dropped the memo ($((pd - pk)) frames probed again)"
exit "$fails"
