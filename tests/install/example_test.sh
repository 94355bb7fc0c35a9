#!/usr/bin/env bash
# example_test.sh CASE: examples/consumer built and tested against an installed memscope that
# was moved after the install (issue 11; docs/install.md). Cases:
#   prefix    cmake --install into STAGE, then STAGE moved to PREFIX (a relocated prefix): the
#             files, and the moved harness finds the moved tracker and memscope-scenario
#   cmake     the example through find_package(memscope) + memscope_add_test, ctest
#   pkgconfig the example through its Makefile (pkg-config --cflags / --variable=harness)
# Both builds: the clean tests pass; the leaking test fails with harness exit 1 and a JUnit
# failure naming strlist.c:LINE (LINE read from the source here); the EXPECT_FAIL test passes;
# an EXPECT_FAIL test with a usage error (exit 2) fails.
# Environment (tests/install/CMakeLists.txt): CMAKE, CTEST, BUILD_DIR, SRC_DIR, PREFIX, STAGE,
# PKG_CONFIG, WORK (scratch, emptied).
set -uo pipefail
case_name=$1
: "${CMAKE:?}" "${CTEST:?}" "${BUILD_DIR:?}" "${SRC_DIR:?}" "${PREFIX:?}" "${STAGE:?}" "${WORK:?}"
rm -rf "$WORK"
mkdir -p "$WORK"
# shellcheck source=../harness/test_lib.sh
. "$(dirname "$0")/../harness/test_lib.sh"
unset LD_PRELOAD MEMSCOPE_LIB MEMSCOPE_OUT PKG_CONFIG_PATH

EXAMPLE=$SRC_DIR/examples/consumer
# The leak's allocation site, found in the source, not in any output.
LEAK_LINE=$(grep -n "the leaked block's allocation site" "$EXAMPLE/strlist.c" | cut -d: -f1)
[ -n "$LEAK_LINE" ] || fail "no allocation-site marker in $EXAMPLE/strlist.c"
LEAK_SITE="strlist.c:$LEAK_LINE"

# expect_junit FILE WANT_FAILURES [TEXT]: FILE is JUnit XML with WANT_FAILURES <failure>s, and
# (when given) TEXT is in a failure's message or body.
expect_junit() {
  [ -f "$1" ] || fail "no JUnit file $1"
  local got
  got=$(python3 - "$1" "${3:-}" <<'PY'
import sys, xml.etree.ElementTree as ET
fails = list(ET.parse(sys.argv[1]).getroot().iter("failure"))
text = sys.argv[2]
found = any(text in (f.get("message") or "") + (f.text or "") for f in fails) if text else True
print(len(fails), found)
PY
)
  expect_eq "JUnit failures and '${3:-}' in $1" "$2 True" "$got"
}

case "$case_name" in
prefix)
  rm -rf "$STAGE" "$PREFIX"
  expect_exit 0 "$CMAKE" --install "$BUILD_DIR" --prefix "$STAGE"
  mv "$STAGE" "$PREFIX" || fail "cannot move $STAGE to $PREFIX"
  for f in bin/memscope-harness bin/memscope-analyze bin/memscope-tracestat bin/memscope-scenario \
           lib/libmemscope.so include/memscope.h lib/pkgconfig/memscope.pc \
           lib/cmake/memscope/memscopeConfig.cmake lib/cmake/memscope/memscopeConfigVersion.cmake \
           lib/cmake/memscope/MemscopeTest.cmake lib/cmake/memscope/MemscopeExpectFail.cmake; do
    [ -f "$PREFIX/$f" ] || fail "cmake --install did not install $f"
  done
  for f in bin/memscope-harness bin/memscope-analyze bin/memscope-tracestat bin/memscope-scenario; do
    [ -x "$PREFIX/$f" ] || fail "$f is not executable"
  done
  # The front command `memscope`, in a build that has it, is installed like the others.
  if [ -n "$(find "$BUILD_DIR" -name memscope -type f -perm -u+x -not -path '*/CMakeFiles/*' -print -quit)" ]; then
    [ -x "$PREFIX/bin/memscope" ] || fail "the build has a memscope program, but cmake --install did not install bin/memscope"
  fi
  # Neither the package nor memscope.pc may name the place it was installed to.
  if grep -rlF "$STAGE" "$PREFIX/lib/cmake/memscope" "$PREFIX/lib/pkgconfig/memscope.pc"; then
    fail "the files above name the install-time prefix $STAGE: the prefix is not relocatable"
  fi
  # The moved harness preloads the moved tracker (bin/../lib) and finds memscope-scenario
  # beside itself: the stage is gone, so nothing can come from there.
  expect_exit 0 "$PREFIX/bin/memscope-harness" run --max-leak-bytes 0 --no-progress --out "$WORK/run" -- true
  expect_eq "tracker used" "$(realpath "$PREFIX/lib/libmemscope.so")" \
    "$(json_get "$WORK/run/summary.json" 'd["harness"]["tracker"]')"
  expect_exit 0 "$PREFIX/bin/memscope-harness" list
  grep -qw work_stealing "$WORK/out" || fail "the moved memscope-harness list names no scenarios"
  expect_exit 0 "$PREFIX/bin/memscope-harness" scenario work_stealing --no-progress --out "$WORK/scenario"
  expect_eq "scenario program" "$(realpath "$PREFIX/bin/memscope-scenario")" \
    "$(json_get "$WORK/scenario/summary.json" 'd["harness"]["argv"][0]')"
  # The EXPECT_FAIL runner alone: a run whose assertions hold is not the expected failure.
  expect_exit 1 "$CMAKE" -P "$PREFIX/lib/cmake/memscope/MemscopeExpectFail.cmake" -- \
    "$PREFIX/bin/memscope-harness" run --no-progress --out "$WORK/ef0" -- true
  grep -q 'every assertion held' "$WORK/err" || fail "EXPECT_FAIL on a pass: no 'every assertion held' message"
  expect_exit 0 "$CMAKE" -P "$PREFIX/lib/cmake/memscope/MemscopeExpectFail.cmake" -- \
    "$PREFIX/bin/memscope-harness" run --no-progress --out "$WORK/ef1" -- false
  expect_exit 1 "$CMAKE" -P "$PREFIX/lib/cmake/memscope/MemscopeExpectFail.cmake" -- \
    "$PREFIX/bin/memscope-harness" run --no-such-option -- true
  grep -q 'usage or runtime error (harness exit 2)' "$WORK/err" ||
    fail "EXPECT_FAIL on a usage error: no 'usage or runtime error' message"
  ;;
cmake)
  expect_exit 0 "$CMAKE" -S "$EXAMPLE" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$PREFIX" -DEXAMPLE_USAGE_ERROR_TEST=ON
  expect_eq "memscope_DIR" "$PREFIX/lib/cmake/memscope" \
    "$(sed -n 's/^memscope_DIR:PATH=//p' "$WORK/build/CMakeCache.txt")"
  expect_exit 0 "$CMAKE" --build "$WORK/build"
  # Three tests fail (two on purpose, one as the usage error must): ctest exits 8.
  expect_exit 8 "$CTEST" --test-dir "$WORK/build" --output-on-failure
  expect_eq "failed tests" "leak scope_over_limit usage_error_expected" \
    "$(cut -d: -f2 "$WORK/build/Testing/Temporary/LastTestsFailed.log" | sort | tr '\n' ' ' | sed 's/ $//')"
  for t in clean scope_within_limit leak_expected; do
    grep -Eq "Test +#[0-9]+: $t \.+ +Passed" "$WORK/out" || fail "ctest: $t did not pass"
  done
  # Each test's command, from ctest itself: the installed harness, label memscope. The leak
  # test's command exits 1 (an assertion failed), not 2 and not a crash.
  "$CTEST" --test-dir "$WORK/build" --show-only=json-v1 >"$WORK/tests.json" || fail "ctest --show-only failed"
  expect_eq "harness of the clean test" "$PREFIX/bin/memscope-harness" \
    "$(json_get "$WORK/tests.json" '[t for t in d["tests"] if t["name"]=="clean"][0]["command"][0]')"
  expect_eq "tests without the memscope label" "[]" \
    "$(json_get "$WORK/tests.json" '[t["name"] for t in d["tests"] if not any(p["name"]=="LABELS" and "memscope" in p["value"] for p in t.get("properties",[]))]')"
  python3 - "$WORK/tests.json" >"$WORK/leak_cmd" <<'PY' || fail "no leak test in ctest's list"
import json, sys
t = [t for t in json.load(open(sys.argv[1]))["tests"] if t["name"] == "leak"][0]
print("\0".join(t["command"]), end="")
PY
  mapfile -d '' -t leak_cmd <"$WORK/leak_cmd"
  expect_exit 1 "${leak_cmd[@]}"
  J=$WORK/build/memscope-junit
  expect_junit "$J/leak.xml" 1 "$LEAK_SITE"
  expect_junit "$J/leak.xml" 1 "strlist_push"
  expect_junit "$J/leak_expected.xml" 1 "$LEAK_SITE"
  expect_junit "$J/clean.xml" 0
  expect_junit "$J/scope_within_limit.xml" 0
  expect_junit "$J/scope_over_limit.xml" 1 "build_index"
  [ -f "$WORK/build/memscope/clean/summary.json" ] || fail "no private report folder build/memscope/clean"
  # test_leak pops "delta", "gamma" and "beta": their copies with the NUL, 6 + 6 + 5 bytes.
  expect_eq "leaked bytes of test_leak" "3 17" \
    "$(json_get "$WORK/build/memscope/leak/summary.json" 'd["totals"]["leaked_blocks"], d["totals"]["leaked_bytes"]' | tr -d '(),')"
  ;;
pkgconfig)
  : "${PKG_CONFIG:?pkg-config is needed (ci/setup.sh installs it)}"
  export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig
  expect_eq "harness" "$(realpath "$PREFIX/bin/memscope-harness")" \
    "$(realpath "$("$PKG_CONFIG" --variable=harness memscope)")"
  expect_eq "preload" "$(realpath "$PREFIX/lib/libmemscope.so")" \
    "$(realpath "$("$PKG_CONFIG" --variable=preload memscope)")"
  inc=$("$PKG_CONFIG" --cflags memscope) || fail "pkg-config --cflags memscope failed"
  inc=${inc%% } # pkg-config ends the flags with a space
  expect_eq "cflags" "-I$(realpath "$PREFIX/include")" "-I$(realpath "${inc#-I}")"
  mkdir -p "$WORK/mk"
  # `make check` fails, as two tests fail on purpose; each test's harness status is kept.
  expect_exit 2 make -C "$EXAMPLE" O="$WORK/mk" PKG_CONFIG="$PKG_CONFIG" EXAMPLE_USAGE_ERROR_TEST=1 check
  for pair in clean:0 scope_within_limit:0 leak:1 scope_over_limit:1 leak_expected:1 usage_error_expected:2; do
    expect_eq "harness exit of ${pair%%:*}" "${pair#*:}" "$(cat "$WORK/mk/results/${pair%%:*}.rc")"
  done
  for want in "PASS clean" "PASS scope_within_limit" "FAIL leak" "FAIL scope_over_limit" \
              "PASS leak_expected" "FAIL usage_error_expected"; do
    grep -q "^$want (" "$WORK/out" || fail "make check did not print '$want'"
  done
  J=$WORK/mk/memscope-junit
  expect_junit "$J/leak.xml" 1 "$LEAK_SITE"
  expect_junit "$J/clean.xml" 0
  expect_junit "$J/scope_over_limit.xml" 1 "build_index"
  ;;
*)
  fail "unknown case $case_name"
  ;;
esac
echo "ok [$case_name]"
