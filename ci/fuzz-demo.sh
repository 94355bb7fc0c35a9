#!/usr/bin/env bash
# ci/fuzz-demo.sh: set up (ci/setup.sh), then fuzz the demo parser (fuzz/demo/demo_parser.c)
# with AFL++ under memscope's per-input leak and peak oracle for FUZZ_TIME, from its seeds.
# The demo has a leak and a blow-up that the seeds do not reach, so this job passes when the
# fuzzer finds something (either; in 120 s on one core both are usually found within seconds):
# the harness's exit is inverted (1 findings -> 0; 0 none -> 1; 2 stays 2).
# Reports: OUT_DIR/findings.json, OUT_DIR/junit.xml, OUT_DIR/findings/<id>/ (docs/fuzz.md).
# Environment: BUILD_DIR (build), OUT_DIR (out/fuzz-demo; must not hold an earlier campaign,
# which the harness refuses to overwrite), FUZZ_TIME (120s). Extra arguments
# go to `memscope-harness fuzz` (e.g. --memory-feedback, --jobs 2).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
OUT_DIR=${OUT_DIR:-out/fuzz-demo}
rc=0
"$BUILD_DIR/harness/memscope-harness" fuzz --time "${FUZZ_TIME:-120s}" --max-peak-bytes 1MB \
  --corpus fuzz/demo/seeds --out "$OUT_DIR" "$@" -- "$BUILD_DIR/fuzz/memscope-fuzz-demo-afl" || rc=$?
case $rc in
1)
  # Findings are the point; but a finding CI cannot show (no findings.json) is a broken run.
  if [ ! -s "$OUT_DIR/findings.json" ]; then
    echo "ci/fuzz-demo.sh: the harness reported findings but wrote no $OUT_DIR/findings.json" >&2
    exit 2
  fi
  echo "ci/fuzz-demo.sh: findings in the demo, as there should be: $OUT_DIR/findings.json"
  exit 0
  ;;
0)
  echo "ci/fuzz-demo.sh: no findings in ${FUZZ_TIME:-120s}; the demo's leak (parse_alias) and" \
       "blow-up (expand_repeat) should be found: the fuzzer or the oracle is not working" >&2
  exit 1
  ;;
*)
  echo "ci/fuzz-demo.sh: memscope-harness fuzz failed to run (exit $rc)" >&2
  exit "$rc"
  ;;
esac
