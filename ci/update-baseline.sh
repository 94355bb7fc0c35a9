#!/usr/bin/env bash
# ci/update-baseline.sh: measure the overhead of every scenario (REPEAT pairs, default 10) and
# make it the committed baseline ci/overhead-baseline.json, with the machine it was measured on
# ("host": CPU model, cores, kernel) and the instruction counts of a callgrind run
# (CALLGRIND_REPEAT pairs, 1) that the gate uses on any other machine (docs/ci.md). Run it on
# the machine class CI uses, on an unchanged Release build, and say in the commit message where
# it was measured.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
OUT_DIR=${OUT_DIR:-out/baseline}
export BUILD_DIR OUT_DIR REPEAT=${REPEAT:-10}
bash ci/run-scenarios.sh >/dev/null || { rc=$?; [ $rc = 1 ] || exit $rc; }
"$BUILD_DIR/harness/memscope-harness" all --scale "${SCALE:-1}" --repeat "${CALLGRIND_REPEAT:-1}" \
  --overhead-mode callgrind --out "$OUT_DIR/callgrind" --no-progress >/dev/null ||
  { rc=$?; [ $rc = 1 ] || exit $rc; }
python3 ci/overhead-merge.py "$OUT_DIR/overhead.json" "$OUT_DIR/callgrind/overhead.json" "$OUT_DIR/merged.json"
python3 - "$OUT_DIR/merged.json" ci/overhead-baseline.json <<'PY'
import json, os, platform, sys
d = json.load(open(sys.argv[1]))
cpu = ""
try:
    cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
except Exception:
    pass
# The harness records the host itself (hs_host_json); older files get it from here.
d.setdefault("host", {"cpu": cpu, "ncpu": os.cpu_count(), "kernel": platform.release()})
d["host"]["note"] = "measured by ci/update-baseline.sh; regenerate on the CI machine class"
# Keep the samples the gate needs and drop the raw times, so the file stays small and readable.
for s in d["scenarios"].values():
    for m in list(s):
        if isinstance(s[m], dict):
            s[m] = {k: s[m][k] for k in ("unit", "ratios", "median", "q1", "q3", "min", "max", "ratio_of_medians",
                                         "median_tracked", "median_untracked") if k in s[m]}
json.dump(d, open(sys.argv[2], "w"), indent=1)
PY
echo "ci/overhead-baseline.json updated from $OUT_DIR/overhead.json"
