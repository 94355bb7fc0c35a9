#!/usr/bin/env bash
# oracle_test.sh CASE: the fuzz oracle's rules (docs/fuzz.md), each on inputs replayed through
# oracle_target with libmemscope.so in fuzz mode. Environment (tests/fuzz_oracle/
# CMakeLists.txt): TARGET (the replay build), LIB (libmemscope.so), WORK (scratch, emptied).
set -uo pipefail
case_name=$1
: "${TARGET:?}" "${LIB:?}" "${WORK:?}"
rm -rf "$WORK"
mkdir -p "$WORK/in" "$WORK/rep"
# shellcheck source=../harness/test_lib.sh
. "$(dirname "$0")/../harness/test_lib.sh"

# oracle [VAR=VALUE...] -- PATHS: replays under the oracle; stdout/stderr in $WORK/out, err.
oracle() {
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  env LD_PRELOAD="$LIB" MEMSCOPE_FUZZ=1 MEMSCOPE_FUZZ_REPORT_DIR="$WORK/rep" "${envs[@]}" \
    "$TARGET" "$@" >"$WORK/out" 2>"$WORK/err"
}

# report_get EXPR: a field of the one report written.
report_get() {
  local n
  n=$(find "$WORK/rep" -name 'memscope-*.json' | wc -l)
  [ "$n" = 1 ] || fail "expected one report, found $n"
  json_get "$(find "$WORK/rep" -name 'memscope-*.json')" "$1"
}

put() { printf '%s' "$2" >"$WORK/in/$1"; }

case "$case_name" in
lazy_global)
  # A cache built on the first input and kept is not that input's leak.
  for i in 1 2 3 4 5; do put "g$i" "G$i"; done
  oracle -- "$WORK/in"
  rc=$?
  [ "$rc" = 0 ] || { cat "$WORK/err"; fail "the lazy global was reported (exit $rc)"; }
  ;;
one_in_1000)
  # 999 clean inputs and one that leaks 1 byte: found, and blamed on that input alone.
  for i in $(seq -w 0 999); do put "$i" "N$i"; done
  put 0537 "L0537"
  oracle -- "$WORK/in"
  expect_eq "exit status (abort)" 134 "$?"
  expect_eq "leaked bytes" 1 "$(report_get "d['value']")"
  expect_eq "blocks" 1 "$(report_get "d['blocks']")"
  cmp -s "$(report_get "d['input_file']")" "$WORK/in/0537" || fail "the report's input is not the leaking one"
  want=$(python3 -c "
h=0xcbf29ce484222325
for b in open('$WORK/in/0537','rb').read(): h=((h^b)*0x100000001b3)&0xffffffffffffffff
print('%016x'%h)")
  expect_eq "input hash" "$want" "$(report_get "d['input_hash']")"
  grep -q "^memscope: leak: 1 B in 1 block (limit 0 B) allocated in leak_one_byte (.*oracle_target.c:[0-9]*)" "$WORK/err" ||
    fail "the one line does not name leak_one_byte with file and line: $(cat "$WORK/err")"
  ;;
peak_per_input)
  # 3000 inputs each replacing one 600-B block of a 2000-block ring: the live heap grows by
  # 1.2 MB across them, but no input adds more than 600 B above its own start.
  for i in $(seq -w 0 2999); do put "r$i" "R$i"; done
  oracle MEMSCOPE_FUZZ_MAX_LEAK_BYTES=none MEMSCOPE_FUZZ_MAX_PEAK_BYTES=1000 -- "$WORK/in"
  rc=$?
  [ "$rc" = 0 ] || { cat "$WORK/err"; fail "inputs were blamed for their sum (exit $rc)"; }
  # The same limit below one input's own 600 B is a violation: the limit is live.
  oracle MEMSCOPE_FUZZ_MAX_LEAK_BYTES=none MEMSCOPE_FUZZ_MAX_PEAK_BYTES=500 -- "$WORK/in/r0000"
  expect_eq "exit status with a limit under one input's peak" 134 "$?"
  expect_eq "kind" peak "$(report_get "d['kind']")"
  ;;
crossing_stack)
  # Ten 100-kB blocks against a 500-kB limit: the sixth crosses it, and is named.
  put p "P"
  oracle MEMSCOPE_FUZZ_MAX_PEAK_BYTES=500000 -- "$WORK/in/p"
  expect_eq "exit status (abort)" 134 "$?"
  expect_eq "kind" peak "$(report_get "d['kind']")"
  expect_eq "crossing block size" 100000 "$(report_get "d['stacks'][0]['size']")"
  expect_eq "peak at the crossing" 600000 "$(report_get "d['value']")"
  [ "$(report_get "d['stacks'][0]['frames'][0]['function']")" = peak_step ] ||
    fail "the crossing stack does not start in peak_step"
  [ "$(report_get "d['stacks'][0]['frames'][0]['line'] > 0")" = True ] || fail "no line number"
  ;;
alloc_family)
  # calloc, realloc and posix_memalign are counted: each one's leak is found, with its size.
  for c in C:100 A:300 M:200; do
    k=${c%%:*}
    want=${c#*:}
    rm -f "$WORK"/rep/*
    put "$k" "$k"
    oracle -- "$WORK/in/$k"
    expect_eq "$k: exit status (abort)" 134 "$?"
    expect_eq "$k: leaked bytes" "$want" "$(report_get "d['value']")"
    expect_eq "$k: blocks" 1 "$(report_get "d['blocks']")"
  done
  ;;
realloc_global)
  # A global buffer resized by realloc in every input is as old as its first allocation: no
  # input leaks it (inputs of growing sizes, so that it moves).
  for i in 1 22 333 4444 55555; do put "b$i" "B$i"; done
  oracle -- "$WORK/in"
  rc=$?
  [ "$rc" = 0 ] || { cat "$WORK/err"; fail "a resized global buffer was reported (exit $rc)"; }
  ;;
thread_free)
  # A block freed by another thread within the input is not a leak.
  for i in 1 2 3 4 5 6 7 8; do put "t$i" "T$i"; done
  oracle -- "$WORK/in"
  rc=$?
  [ "$rc" = 0 ] || { cat "$WORK/err"; fail "a block freed on another thread was reported (exit $rc)"; }
  ;;
feedback)
  # Memory feedback reaches AFL++'s map: two inputs on the same code path with the same loop
  # counts (tables of 128 B and 3456 B) give equal maps without it and different maps with it
  # (afl-showmap reads the map the instrumented demo writes).
  printf 'repeat=2\n' >"$WORK/in/f2"
  printf 'repeat=6\n' >"$WORK/in/f6"
  for fb in 0 1; do
    for f in f2 f6; do
      AFL_QUIET=1 AFL_PRELOAD="$LIB" MEMSCOPE_FUZZ=1 MEMSCOPE_FUZZ_FEEDBACK=$fb \
        afl-showmap -q -o "$WORK/map_${fb}_$f" -- "$DEMO_AFL" "$WORK/in/$f" 2>"$WORK/err" ||
        fail "afl-showmap failed: $(cat "$WORK/err")"
    done
  done
  cmp -s "$WORK/map_0_f2" "$WORK/map_0_f6" || fail "without feedback the two maps differ already"
  cmp -s "$WORK/map_1_f2" "$WORK/map_1_f6" && fail "with feedback the peak buckets did not reach the map"
  [ "$(wc -l <"$WORK/map_1_f6")" -gt "$(wc -l <"$WORK/map_0_f6")" ] || fail "no map entry added by feedback"
  ;;
suppressions)
  # LSan "leak:" suppressions apply to the leak's stack, as in memscope-harness.
  put l "L"
  printf '# suppressed\nleak:leak_one_byte\n' >"$WORK/supp"
  oracle MEMSCOPE_FUZZ_SUPPRESSIONS="$WORK/supp" -- "$WORK/in/l"
  expect_eq "exit status with the leak suppressed" 0 "$?"
  printf 'leak:no_such_function\n' >"$WORK/supp2"
  oracle MEMSCOPE_FUZZ_SUPPRESSIONS="$WORK/supp2" -- "$WORK/in/l"
  expect_eq "exit status with a suppression that does not match" 134 "$?"
  ;;
signal_inside_alloc)
  # A signal handler's allocations made inside an allocator call pass the table by (they
  # cannot be accounted there): the input is reported as partial, never cleared. Its 20
  # leaked blocks are not in the table, so without this rule the input would pass.
  put s "S"
  oracle -- "$WORK/in/s"
  expect_eq "exit status (abort)" 134 "$?"
  grep -q "^memscope: partial: [0-9]* allocator calls\? during the input could not be accounted (made inside an allocator call, by a signal handler): its leak and peak figures are not exact, input [0-9a-f]\{16\}; report " "$WORK/err" ||
    fail "no partial line: $(cat "$WORK/err")"
  expect_eq "report kind" partial "$(report_get "d['kind']")"
  n=$(report_get "d['value']")
  [ "$n" -ge 1 ] && [ "$n" -le 20 ] || fail "unaccounted calls $n, expected 1 to 20 (the handler's leaks)"
  cmp -s "$(report_get "d['input_file']")" "$WORK/in/s" || fail "the report's input is not the input"
  ;;
false_peak)
  # A handler's free inside an allocator call leaves the table's level too high: the peak
  # limit then fires on a level the heap never reached. The input is partial, not a peak.
  put f "F"
  oracle MEMSCOPE_FUZZ_MAX_PEAK_BYTES=1000000 -- "$WORK/in/f"
  expect_eq "exit status (abort)" 134 "$?"
  grep -q "^memscope: partial: " "$WORK/err" || fail "not reported as partial: $(cat "$WORK/err")"
  expect_eq "report kind" partial "$(report_get "d['kind']")"
  ;;
leak_limit_many)
  # 10,000 leaked blocks of 100 B (1,000,000 B): more blocks than the driver lists with stacks
  # (4,096). The unlisted blocks count: a limit of 500,000 B is exceeded, and the figures
  # are the input's whole leak (the listed blocks alone are 409,600 B, under that limit).
  put k "K"
  for lim in 0 500000; do
    rm -f "$WORK"/rep/*
    oracle MEMSCOPE_FUZZ_MAX_LEAK_BYTES=$lim -- "$WORK/in/k"
    expect_eq "limit $lim: exit status (abort)" 134 "$?"
    expect_eq "limit $lim: leaked bytes" 1000000 "$(report_get "d['value']")"
    expect_eq "limit $lim: blocks" 10000 "$(report_get "d['blocks']")"
  done
  # Suppressed: the listed blocks are; the unlisted ones cannot be (no stack checked).
  printf 'leak:leak_many\n' >"$WORK/supp"
  rm -f "$WORK"/rep/*
  oracle MEMSCOPE_FUZZ_SUPPRESSIONS="$WORK/supp" -- "$WORK/in/k"
  expect_eq "suppressed: exit status (abort: unlisted blocks)" 134 "$?"
  expect_eq "suppressed: blocks" $((10000 - 4096)) "$(report_get "d['blocks']")"
  ;;
exit_in_input)
  # A target that calls exit() during an input: its live blocks are checked then (as
  # LeakSanitizer's check at exit would), and a replay that stops there does not pass.
  put x "X"
  oracle -- "$WORK/in/x"
  expect_eq "leak then exit: exit status (abort)" 134 "$?"
  expect_eq "leak then exit: kind" leak "$(report_get "d['kind']")"
  expect_eq "leak then exit: leaked bytes" 100 "$(report_get "d['value']")"
  grep -q "^memscope: the target called exit(0) during input " "$WORK/err" || fail "no exit line: $(cat "$WORK/err")"
  rm -f "$WORK"/rep/* "$WORK"/in/*
  put 1 "E"
  put 2 "L"
  oracle -- "$WORK/in"
  rc=$?
  [ "$rc" != 0 ] || fail "a replay ended by the target's exit(0) before its last input passed"
  grep -q "^memscope: the target called exit(0) during input .*: the inputs after it were not run" "$WORK/err" ||
    fail "no exit line: $(cat "$WORK/err")"
  # stdout's buffer, made by the input's first printf, is not its leak: the driver gives
  # stdio its buffers before the first input (it read "leak: 4096 B in 1 block").
  rm -f "$WORK"/rep/* "$WORK"/in/*
  put o "O"
  oracle -- "$WORK/in/o"
  expect_eq "printf then exit: exit status (the replay's 2)" 2 "$?"
  ls "$WORK"/rep/memscope-leak-* >/dev/null 2>&1 && fail "printf then exit: reported as a leak"
  ;;
threads_policy)
  # Fuzz mode accounts every thread: MEMSCOPE_THREADS and memscope_thread_track(0) do not
  # take a thread's calls out of the table.
  put l "L"
  for sel in none odd even 'worker*'; do
    rm -f "$WORK"/rep/*
    oracle MEMSCOPE_THREADS="$sel" -- "$WORK/in/l"
    expect_eq "MEMSCOPE_THREADS=$sel: exit status (abort)" 134 "$?"
    expect_eq "MEMSCOPE_THREADS=$sel: leaked bytes" 1 "$(report_get "d['value']")"
  done
  rm -f "$WORK"/rep/*
  put u "U"
  oracle -- "$WORK/in/u"
  expect_eq "memscope_thread_track(0): exit status (abort)" 134 "$?"
  expect_eq "memscope_thread_track(0): leaked bytes" 1 "$(report_get "d['value']")"
  ;;
table_full)
  # The table cannot grow (address-space limit): blocks it could not hold are not in the
  # input's figures, so the input is partial, never cleared.
  put d "D"
  oracle OT_TABLE_FILL=1 -- "$WORK/in/d"
  expect_eq "exit status (abort)" 134 "$?"
  expect_eq "report kind" partial "$(report_get "d['kind']")"
  grep -q "^memscope: partial: .*could not be accounted (the tracker's table of live blocks could not grow" "$WORK/err" ||
    fail "no partial line naming the table: $(cat "$WORK/err")"
  ;;
no_tracker)
  # MEMSCOPE_FUZZ=1 without the tracker is refused with one line (exit 2), not ignored.
  put n "N"
  MEMSCOPE_FUZZ=1 "$TARGET" "$WORK/in/n" >"$WORK/out" 2>"$WORK/err"
  expect_eq "exit status" 2 "$?"
  [ "$(wc -l <"$WORK/err")" = 1 ] && grep -q "^memscope: MEMSCOPE_FUZZ=1 but the tracker" "$WORK/err" ||
    fail "not one clear line: $(cat "$WORK/err")"
  ;;
*)
  fail "unknown case"
  ;;
esac
echo "PASS [$case_name]"
