#!/usr/bin/env bash
# ci/demo.sh: set up (ci/setup.sh), then run the main job: the work_stealing scenario under
# the tracker, with its reports (JSON, JUnit, HTML, gnuplot PNG/SVG) in out/work_stealing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
exec "$BUILD_DIR/harness/memscope-harness" scenario work_stealing --out out/work_stealing --html --plots "$@"
