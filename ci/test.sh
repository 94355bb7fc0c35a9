#!/usr/bin/env bash
# ci/test.sh: set up (ci/setup.sh) and run the whole test suite with JUnit output.
# ctest's JUnit file is made schema-valid by ci/junit-normalize.py (the original is kept as
# reports/ctest-junit.xml.orig); the exit status is ctest's.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bash ci/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
mkdir -p "$BUILD_DIR/reports"
cd "$BUILD_DIR"
rc=0
ctest --output-on-failure -j "$(nproc)" --timeout 600 --output-junit reports/ctest-junit.xml || rc=$?
if [ -s reports/ctest-junit.xml ]; then
  python3 "$root/ci/junit-normalize.py" reports/ctest-junit.xml || { [ "$rc" != 0 ] || rc=2; }
fi
exit $rc
