#!/usr/bin/env bash
# ci/gate.sh: the CI's overhead gate: OUT_DIR/overhead.json (from ci/run-scenarios.sh) against
# the committed baseline. A scenario fails only when its median CPU-overhead ratio rose more
# than TOLERANCE percent and a one-sided Mann-Whitney U test (alpha 0.01) says the rise is not
# noise (docs/harness.md). CPU times compare only between runs on the same kind of machine
# (the files' "host": CPU model, cores, kernel): when this runner is another one, this script
# measures the scenarios' instruction counts under callgrind (CALLGRIND_REPEAT pairs, 1) and
# the gate compares those with the baseline's instead; without them it exits 2, never guessing.
# Refresh the baseline with ci/update-baseline.sh (docs/ci.md).
# Environment: BUILD_DIR (build), OUT_DIR (out/ci), BASELINE (ci/overhead-baseline.json),
# TOLERANCE (25), SCALE (1), HISTORY (unset: none): the overhead history (JSON Lines) that the
# current ratios are appended to, charted with the baseline in OUT_DIR/plots/overhead_history;
# the workflow keeps it between runs (docs/plots.md, "Overhead history").
# Exit: 0 no regression, 1 a scenario regressed, 2 bad input or nothing comparable.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
OUT_DIR=${OUT_DIR:-out/ci}
BASELINE=${BASELINE:-ci/overhead-baseline.json}
HARNESS="$BUILD_DIR/harness/memscope-harness"
current="$OUT_DIR/overhead.json"
history=()
if [ -n "${HISTORY:-}" ]; then
  mkdir -p "$(dirname "$HISTORY")"
  history=(--history "$HISTORY" --plots --out "$OUT_DIR")
fi
# "same": the hosts match; "other": they differ and the baseline has instruction counts, so
# measure ours; "none": they differ and it has none (the gate then says it cannot compare).
verdict=$(python3 - "$BASELINE" "$current" <<'PY'
import json, sys
try:
    b, c = (json.load(open(p)) for p in sys.argv[1:3])
except (OSError, ValueError):
    print("same"); sys.exit(0)  # the gate reports the unreadable file itself
keys = ("cpu", "ncpu", "kernel")
bh, ch = b.get("host") or {}, c.get("host") or {}
if all(bh.get(k) for k in keys) and all(bh.get(k) == ch.get(k) for k in keys):
    print("same")
elif all("instructions" in s for s in b.get("scenarios", {}).values()):
    print("other")
else:
    print("none")
PY
)
if [ "$verdict" = other ]; then
  echo "gate.sh: the baseline is from another machine; measuring instruction counts (callgrind)"
  rc=0
  "$HARNESS" all --scale "${SCALE:-1}" --repeat "${CALLGRIND_REPEAT:-1}" --overhead-mode callgrind \
    --out "$OUT_DIR/callgrind" --no-progress >"$OUT_DIR/callgrind.log" 2>&1 || rc=$?
  # 1 = an assertion of a scenario failed (ci/run-scenarios.sh reports those); 2 = no figures.
  [ $rc -le 1 ] || { tail -n 5 "$OUT_DIR/callgrind.log" >&2; exit 2; }
  python3 ci/overhead-merge.py "$current" "$OUT_DIR/callgrind/overhead.json" "$OUT_DIR/overhead-gate.json"
  current="$OUT_DIR/overhead-gate.json"
fi
exec "$HARNESS" gate --baseline "$BASELINE" --current "$current" --tolerance "${TOLERANCE:-25}" "${history[@]}"
