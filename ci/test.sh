#!/usr/bin/env bash
# ci/test.sh: set up (ci/setup.sh) and run the whole test suite with JUnit output.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
mkdir -p "$BUILD_DIR/reports"
cd "$BUILD_DIR"
ctest --output-on-failure -j "$(nproc)" --timeout 600 --output-junit reports/ctest-junit.xml
