#!/usr/bin/env bash
# fuzz_bench.sh: what the fuzz oracle costs and what memory feedback buys (docs/benchmarks.md,
# "Fuzzing"). Every figure is afl-fuzz's own (fuzzer_stats), on the demo target
# (fuzz/demo/demo_parser.c) from its seeds, one afl-fuzz at a time (2 cores: never two).
#   execs/s: (a) plain persistent mode: AFL++'s libAFLDriver.a, and memscope's driver without
#            the oracle; (b) memscope's oracle (AFL_PRELOAD=libmemscope.so MEMSCOPE_FUZZ=1,
#            leak check on, peak limit 1 MB); (c) AFL_USE_LSAN=1 with __AFL_LEAK_CHECK() after
#            every input; (d) AFL_USE_ASAN=1 with libAFLDriver.a. Rounds interleave the
#            configurations; the median over rounds is reported.
#   time to the first blow-up (peak > 1 MB, leak check off): with and without
#            MEMSCOPE_FUZZ_FEEDBACK=1, REPEAT runs each, from the crash file's time: field,
#            from bench/fuzz/seeds_blowup ("repeat=2": 128 B of table, the blow-up needs
#            N >= 40), where growth has to be found step by step.
# Usage: bench/fuzz/fuzz_bench.sh [BUILD_DIR] ; env SECS (30), ROUNDS (3), REPEAT (3),
# FIRST_LIMIT_S (300).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
SECS=${SECS:-30}
ROUNDS=${ROUNDS:-3}
REPEAT=${REPEAT:-3}
FIRST_LIMIT_S=${FIRST_LIMIT_S:-300}
lib=$build/tracker/libmemscope.so
seeds=$src/fuzz/demo/seeds
work=$(mktemp -d /tmp/ms-fuzz-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
command -v afl-fuzz >/dev/null || { echo "fuzz_bench: afl-fuzz not installed" >&2; exit 2; }
libs="$build/fuzz/libmemscope_fuzz.a $build/analysis/libmsanalysis.a $build/analysis/libmsfiles.a -lcjson -ldw -lelf -lstdc++ -lm"
demo=$src/fuzz/demo/demo_parser.c
export AFL_QUIET=1
afl-cc -O1 -g "$demo" /usr/lib/afl/libAFLDriver.a -o "$work/t_aflpp" 2>/dev/null
# shellcheck disable=SC2086
afl-cc -O1 -g -gdwarf-aranges "$demo" $libs -o "$work/t_ms" 2>/dev/null
AFL_USE_LSAN=1 afl-cc -O1 -g "$demo" "$src/bench/fuzz/lsan_main.c" -o "$work/t_lsan" 2>/dev/null
AFL_USE_ASAN=1 afl-cc -O1 -g "$demo" /usr/lib/afl/libAFLDriver.a -o "$work/t_asan" 2>/dev/null
unset AFL_QUIET

# run NAME SECONDS BINARY [ENV...]: one bounded afl-fuzz; prints execs_per_sec.
run() {
  local name=$1 secs=$2 bin=$3
  shift 3
  rm -rf "$work/o_$name"
  env AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 "$@" \
    afl-fuzz -i "$seeds" -o "$work/o_$name" -V "$secs" -- "$bin" >"$work/log_$name" 2>&1 || true
  sed -n 's/^execs_per_sec *: //p' "$work/o_$name/default/fuzzer_stats" 2>/dev/null || echo 0
}

median() { sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

declare -A res
configs=(a_aflpp a_ms b_oracle c_lsan d_asan)
for ((r = 0; r < ROUNDS; r++)); do
  for ((k = 0; k < ${#configs[@]}; k++)); do
    c=${configs[(k + r) % ${#configs[@]}]}
    case $c in
    a_aflpp) v=$(run "$c" "$SECS" "$work/t_aflpp") ;;
    a_ms) v=$(run "$c" "$SECS" "$work/t_ms") ;;
    b_oracle) v=$(run "$c" "$SECS" "$work/t_ms" AFL_PRELOAD="$lib" MEMSCOPE_FUZZ=1 \
                   MEMSCOPE_FUZZ_MAX_PEAK_BYTES=1000000 MEMSCOPE_FUZZ_REPORT_DIR="$work/rep") ;;
    c_lsan) v=$(run "$c" "$SECS" "$work/t_lsan") ;; # afl-fuzz sets LSAN_OPTIONS itself
    d_asan) v=$(run "$c" "$SECS" "$work/t_asan") ;;
    esac
    res[$c]="${res[$c]:-} $v"
    echo "round $r $c execs/s $v" >&2
  done
done
echo "config execs_per_sec_median (rounds) [per round]"
for c in "${configs[@]}"; do
  # shellcheck disable=SC2086
  echo "$c $(printf '%s\n' ${res[$c]} | median) ($ROUNDS) [${res[$c]# }]"
done

# Time to the first blow-up: the first crash file's time: field (ms since the start).
first() {
  local name=$1
  shift
  rm -rf "$work/o_$name"
  env AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_BENCH_UNTIL_CRASH=1 \
    AFL_PRELOAD="$lib" MEMSCOPE_FUZZ=1 MEMSCOPE_FUZZ_MAX_LEAK_BYTES=none \
    MEMSCOPE_FUZZ_MAX_PEAK_BYTES=1000000 MEMSCOPE_FUZZ_REPORT_DIR="$work/rep" "$@" \
    afl-fuzz -i "$src/bench/fuzz/seeds_blowup" -o "$work/o_$name" -V "$FIRST_LIMIT_S" -- "$work/t_ms" \
    >/dev/null 2>&1 || true
  local f
  f=$(ls "$work/o_$name/default/crashes" 2>/dev/null | grep '^id:' | head -1 || true)
  if [ -n "$f" ]; then echo "$f" | sed -n 's/.*time:\([0-9]*\).*/\1/p'; else echo "none"; fi
}
for ((r = 0; r < REPEAT; r++)); do
  a=$(first nofb)
  b=$(first fb MEMSCOPE_FUZZ_FEEDBACK=1)
  echo "first_blowup_ms round $r without_feedback $a with_feedback $b"
done
