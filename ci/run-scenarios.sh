#!/usr/bin/env bash
# ci/run-scenarios.sh: the CI's scenario step: every scenario under the tracker with all its
# reports (JUnit, JSON, HTML, gnuplot PNG/SVG) and overhead samples for the gate.
# Environment: BUILD_DIR (build), OUT_DIR (out/ci), SCALE (1), REPEAT (10 overhead pairs).
# Exit: the harness's (0 all assertions held, 1 one failed, 2 error).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
OUT_DIR=${OUT_DIR:-out/ci}
mkdir -p "$OUT_DIR"
exec "$BUILD_DIR/harness/memscope-harness" all --scale "${SCALE:-1}" --repeat "${REPEAT:-10}" \
  --out "$OUT_DIR" --junit "$OUT_DIR/junit.xml" --html --plots --no-progress
