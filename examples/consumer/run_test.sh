#!/bin/sh
# run_test.sh HARNESS OUTDIR NAME EXPECT [harness options] -- PROGRAM ARGS: one test of the
# Makefile. Runs PROGRAM under `HARNESS run`, reports in OUTDIR/memscope/NAME, JUnit in
# OUTDIR/memscope-junit/NAME.xml, the harness's exit status in OUTDIR/results/NAME.rc.
# EXPECT pass: the test passes on exit 0. EXPECT fail: only on exit 1 (an assertion failed),
# never on exit 2 (a usage or runtime error), as memscope_add_test's EXPECT_FAIL.
harness=$1 out=$2 name=$3 expect=$4
shift 4
mkdir -p "$out/memscope-junit" "$out/results"
"$harness" run --no-progress --out "$out/memscope/$name" --junit "$out/memscope-junit/$name.xml" "$@"
rc=$?
echo "$rc" >"$out/results/$name.rc"
case "$expect:$rc" in
pass:0 | fail:1) echo "PASS $name (harness exit $rc)"; exit 0 ;;
*) echo "FAIL $name (harness exit $rc, expected the test to $expect)"; exit 1 ;;
esac
