#!/usr/bin/env bash
# ci/gate.sh: the CI's overhead gate: OUT_DIR/overhead.json (from ci/run-scenarios.sh) against
# the committed baseline. A scenario fails only when its median CPU-overhead ratio rose more
# than TOLERANCE percent and a one-sided Mann-Whitney U test (alpha 0.01) says the rise is not
# noise (docs/harness.md). The baseline was measured on one machine (see its "host" note):
# on another class of machine, regenerate it with ci/update-baseline.sh.
# Environment: BUILD_DIR (build), OUT_DIR (out/ci), BASELINE (ci/overhead-baseline.json),
# TOLERANCE (25), HISTORY (unset: none): the overhead history (JSON Lines) that the current
# ratios are appended to, charted with the baseline in OUT_DIR/plots/overhead_history; the
# workflow keeps it between runs (docs/plots.md, "Overhead history").
# Exit: 0 no regression, 1 a scenario regressed, 2 bad input.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
OUT_DIR=${OUT_DIR:-out/ci}
history=()
if [ -n "${HISTORY:-}" ]; then
  mkdir -p "$(dirname "$HISTORY")"
  history=(--history "$HISTORY" --plots --out "$OUT_DIR")
fi
exec "$BUILD_DIR/harness/memscope-harness" gate --baseline "${BASELINE:-ci/overhead-baseline.json}" \
  --current "$OUT_DIR/overhead.json" --tolerance "${TOLERANCE:-25}" "${history[@]}"
