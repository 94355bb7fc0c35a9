#!/usr/bin/env bash
# make_pages.sh: ctest browser.pages, the fixture of the browser tests: the dashboards they
# open, made by this build's memscope-harness into PAGES (emptied first), and copied into
# ARTIFACTS/pages so that CI keeps them beside the screenshots:
#   selective_50/  `scenario selective_50 --html` (25 tracked workers of 50)
#   threads_100/   `run --html -- ms_h_threads 100 10000`: 100 threads, 1,000,000 malloc/free
#                  pairs (+400 kept blocks), i.e. about 2M allocation events
#   hostile/       `run --html -- ms_b_hostile`: markup as a thread, type and function name
# Environment (tests/browser/CMakeLists.txt): HARNESS, THREADS_PROG, HOSTILE_PROG, PAGES,
# ARTIFACTS. Exit 0, or 1 when a page could not be made.
set -uo pipefail
: "${HARNESS:?}" "${THREADS_PROG:?}" "${HOSTILE_PROG:?}" "${PAGES:?}" "${ARTIFACTS:?}"
rm -rf "$PAGES" "$ARTIFACTS"
mkdir -p "$PAGES/cwd" "$ARTIFACTS/pages"
cd "$PAGES/cwd" || exit 1

fail() {
  echo "FAIL [browser.pages]: $*" >&2
  exit 1
}

# page NAME ARGS...: memscope-harness ARGS with "@OUT" replaced by the reports' options (they
# must come before a `--`), into PAGES/NAME; fails with the harness's output.
page() {
  local name=$1 a args=()
  shift
  for a in "$@"; do
    if [ "$a" = @OUT ]; then args+=(--html --no-progress --out "$PAGES/$name"); else args+=("$a"); fi
  done
  "$HARNESS" "${args[@]}" >"$PAGES/$name.log" 2>&1
  local rc=$?
  [ $rc = 0 ] || { cat "$PAGES/$name.log" >&2; fail "memscope-harness ${args[*]} exited $rc"; }
  [ -s "$PAGES/$name/report.html" ] || fail "no $PAGES/$name/report.html"
  cp "$PAGES/$name/report.html" "$ARTIFACTS/pages/$name.html" || fail "cannot copy $name"
  echo "browser.pages: $PAGES/$name/report.html ($(stat -c %s "$PAGES/$name/report.html") bytes)"
}

page selective_50 scenario selective_50 @OUT
page threads_100 run @OUT -- "$THREADS_PROG" 100 10000
page hostile run @OUT -- "$HOSTILE_PROG"
