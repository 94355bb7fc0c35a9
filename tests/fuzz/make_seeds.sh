#!/usr/bin/env bash
# make_seeds.sh [BUILD_DIR]: regenerates fuzz_trace_reader's seeds (corpus/fuzz_trace_reader/
# trace_*) from real traces: ms_fz_seedprog runs under the tracker in a few configurations,
# and pack_run.py packs each run directory (near-valid variants: rings cut to the records
# they hold, thread files cut short, the end part or the rings left out). BUILD_DIR is a
# build with the tracker and ms_fz_seedprog built (default: ../../build-e). Every seed is
# below 64 KiB; the traces are made in a temporary directory and removed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build-e}" && pwd)
lib=$build/tracker/libmemscope.so
prog=$build/tests/fuzz/ms_fz_seedprog
out=$here/corpus/fuzz_trace_reader
for f in "$lib" "$prog"; do
  [ -e "$f" ] || { echo "make_seeds.sh: $f is missing; build $build first" >&2; exit 2; }
done
tmp=$(mktemp -d /tmp/ms-fuzz-seeds-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"

# seed NAME "ENV=V ..." "PROG ARGS" [pack_run.py options]: one traced run, packed as trace_NAME.
seed() {
  local name=$1 envs=$2 args=$3
  shift 3
  mkdir "$tmp/$name"
  # A "kill" run dies of SIGKILL on purpose: its status is not a failure here, and the
  # subshell (which "|| :" keeps from exec'ing the program) says "Killed" into /dev/null.
  # shellcheck disable=SC2086
  (env MEMSCOPE_OUT="$tmp/$name" LD_PRELOAD="$lib" $envs "$prog" $args >/dev/null 2>&1 || :) 2>/dev/null
  local run
  run=$(find "$tmp/$name" -mindepth 1 -maxdepth 1 -name 'memscope.*' | head -n 1)
  [ -n "$run" ] || { echo "make_seeds.sh: no run directory for $name" >&2; exit 1; }
  python3 "$here/pack_run.py" "$run" "$out/trace_$name" "$@"
}

cat >"$tmp/suppr.txt" <<'SUP'
# a comment, a blank line, then LSan-style patterns
leak:worker

leak:^main$
leak:*seedprog.c
interceptor_via_fun:ignored
SUP

# maps.txt is cut to the seed program's lines (most of a seed's bytes otherwise, and
# symbolizing the C library and the tracker takes 160 ms an input) except in two seeds.
m=(--maps-only ms_fz_seedprog)
# Format version 1 (MEMSCOPE_TEST_FORMAT=1): the reader still reads it (issue 12).
seed exit_main "MEMSCOPE_TEST_FORMAT=1" "exit 0"
seed exit_threads "MEMSCOPE_TEST_FORMAT=1" "exit 2" "${m[@]}" --flags fix_crc,module
seed exit_monotonic "MEMSCOPE_TEST_FORMAT=1 MEMSCOPE_TEST_CLOCK=monotonic" "exit 1" "${m[@]}"
seed sampled_bytes "MEMSCOPE_TEST_FORMAT=1 MEMSCOPE_SAMPLE=bytes:64" "exit 1" "${m[@]}"
seed sampled_classes "MEMSCOPE_TEST_FORMAT=1 MEMSCOPE_SAMPLE=size-classes" "exit 1" "${m[@]}"
seed no_stacks "MEMSCOPE_TEST_FORMAT=1 MEMSCOPE_STACK_DEPTH=0" "exit 0" "${m[@]}" --flags ""
seed symbolized "MEMSCOPE_TEST_FORMAT=1" "exit 1" "${m[@]}" --flags symbolize,fix_crc,details,module --suppressions "$tmp/suppr.txt"
seed cut_thread "MEMSCOPE_TEST_FORMAT=1" "exit 1" "${m[@]}" --cut-threads 150
seed no_end "MEMSCOPE_TEST_FORMAT=1" "exit 1" "${m[@]}" --no-end
seed kill_main "MEMSCOPE_TEST_FORMAT=1" "kill 0" "${m[@]}" --shrink-rings
seed kill_threads "MEMSCOPE_TEST_FORMAT=1" "kill 2" "${m[@]}" --shrink-rings --flags fix_crc,module
seed kill_no_rings "MEMSCOPE_TEST_FORMAT=1" "kill 1" "${m[@]}" --no-rings
seed kill_full_ring "MEMSCOPE_TEST_FORMAT=1" "kill 0"
seed kill_noflush "MEMSCOPE_TEST_FORMAT=1" "kill-noflush 0" "${m[@]}" --shrink-rings
# Format version 2, the tracker's default (docs/trace-format.md, 3.5): its compact records.
seed v2_exit_threads "" "exit 2" "${m[@]}" --flags fix_crc,module
seed v2_sampled_classes "MEMSCOPE_SAMPLE=size-classes" "exit 1" "${m[@]}"
seed v2_no_stacks "MEMSCOPE_STACK_DEPTH=0" "exit 0" "${m[@]}" --flags ""
seed v2_kill_threads "" "kill 2" "${m[@]}" --shrink-rings --flags fix_crc,module
# Hand-made: the smallest run the reader accepts (meta.txt alone), and an empty input.
printf '\002M\037\000\000\000format=memscope-trace\nversion=1\n' >"$out/trace_meta_only"
: >"$out/trace_empty"
ls -l "$out"
