#!/usr/bin/env bash
# install_test.sh CASE: memscope installed into a prefix and used from there, as README.md's
# "Fuzzing" section tells a user to (issue 9). Cases:
#   layout         cmake --install into PREFIX (emptied first); the files; the archive needs
#                  nothing of memscope's outside itself; the installed harness finds the
#                  installed tracker and scenarios
#   pkgconfig      fuzz/demo/demo_parser.c built with afl-cc $(pkg-config ... memscope-fuzz)
#   cmake_package  the same through find_package(memscope) + memscope_add_fuzzer, afl-cc as
#                  CMAKE_C_COMPILER (tests/install/consumer)
# Both builds must be AFL-instrumented, pass a clean input, and abort (exit 134) on a leaking
# one with a report that names parse_alias with its file and line.
# Environment (tests/install/CMakeLists.txt): CMAKE, BUILD_DIR, SRC_DIR, PREFIX, MS_AFL_CC,
# PKG_CONFIG, WORK (scratch, emptied).
set -uo pipefail
case_name=$1
: "${CMAKE:?}" "${BUILD_DIR:?}" "${SRC_DIR:?}" "${PREFIX:?}" "${MS_AFL_CC:?}" "${WORK:?}"
rm -rf "$WORK"
mkdir -p "$WORK"
# shellcheck source=../harness/test_lib.sh
. "$(dirname "$0")/../harness/test_lib.sh"

DEMO_SRC=$SRC_DIR/fuzz/demo/demo_parser.c
# Whatever the calling shell has set must not change what the oracle or afl-cc do here.
unset LD_PRELOAD AFL_PRELOAD MEMSCOPE_LIB MEMSCOPE_OUT
for v in $(env | sed -n 's/^\(MEMSCOPE_FUZZ[A-Z_]*\)=.*/\1/p'); do unset "$v"; done

# expect_instrumented BIN: afl-cc really compiled and linked it (afl-compiler-rt is in it);
# a plain cc build would replay the same way and pass everything else.
# (nm into a file first: grep -q would close the pipe early and pipefail fail nm.)
expect_instrumented() {
  nm "$1" >"$WORK/nm" 2>&1
  grep -q ' [TtWw] __afl_persistent_loop$' "$WORK/nm" ||
    fail "$1 has no AFL++ runtime (__afl_persistent_loop): not built by afl-cc"
}

# expect_demo_oracle BIN: under the installed tracker, a clean input passes and a leaking
# one aborts with one memscope: line and a report naming parse_alias (demo_parser.c:LINE).
expect_demo_oracle() {
  local bin=$1 rep=$WORK/reports
  mkdir -p "$rep"
  printf 'name=memscope\nlevel=3\n' >"$WORK/clean.in"
  printf '@alias=first,rest\n' >"$WORK/leak.in"
  expect_exit 0 env LD_PRELOAD="$PREFIX/lib/libmemscope.so" MEMSCOPE_FUZZ=1 \
    MEMSCOPE_FUZZ_REPORT_DIR="$rep" "$bin" "$WORK/clean.in"
  expect_exit 134 env LD_PRELOAD="$PREFIX/lib/libmemscope.so" MEMSCOPE_FUZZ=1 \
    MEMSCOPE_FUZZ_REPORT_DIR="$rep" "$bin" "$WORK/leak.in"
  # file:line proves the target's DWARF was read (-gdwarf-aranges reached the compiler).
  grep -Eq '^memscope: leak: .* <- parse_alias \([^)]*demo_parser\.c:[0-9]+\)' "$WORK/err" ||
    { cat "$WORK/err"; fail "no 'memscope: leak: ... <- parse_alias (demo_parser.c:LINE)' line"; }
  local reports
  reports=$(find "$rep" -name 'memscope-leak-*.json')
  expect_eq "leak reports" 1 "$(printf '%s\n' "$reports" | grep -c .)"
  expect_eq "report kind" leak "$(json_get "$reports" 'd["kind"]')"
  expect_eq "report names parse_alias" True "$(json_get "$reports" '"parse_alias (" in d["where"]')"
  expect_eq "the input's copy" "$(cat "$WORK/leak.in")" "$(cat "${reports%.json}.input")"
}

case "$case_name" in
layout)
  rm -rf "$PREFIX"
  expect_exit 0 "$CMAKE" --install "$BUILD_DIR" --prefix "$PREFIX"
  for f in lib/libmemscope.so include/memscope.h lib/libmemscope_fuzz.a \
           lib/pkgconfig/memscope-fuzz.pc lib/cmake/memscope/memscopeConfig.cmake \
           lib/cmake/memscope/memscopeConfigVersion.cmake lib/cmake/memscope/MemscopeFuzz.cmake \
           bin/memscope-harness bin/memscope-analyze bin/memscope-tracestat bin/memscope-scenario; do
    [ -f "$PREFIX/$f" ] || fail "cmake --install did not install $f"
  done
  # One archive: every memscope symbol it calls (ms_*, memscope_*) is defined in it, so the
  # driver, the analysis and msfiles are all there and link without the build tree.
  nm "$PREFIX/lib/libmemscope_fuzz.a" >"$WORK/nm" 2>/dev/null || fail "nm cannot read libmemscope_fuzz.a"
  awk '$1=="U"{print $2}' "$WORK/nm" | grep -E '^(ms_|memscope_)' | sort -u >"$WORK/undef"
  awk 'NF==3 && $2!="U"{print $3}' "$WORK/nm" | sort -u >"$WORK/def"
  [ -s "$WORK/undef" ] || fail "the archive calls no ms_ function: the driver is not in it"
  missing=$(comm -23 "$WORK/undef" "$WORK/def")
  [ -z "$missing" ] || fail "libmemscope_fuzz.a calls functions it does not hold: $(tr '\n' ' ' <<<"$missing")"
  grep -q ' W main$' "$WORK/nm" ||
    fail "libmemscope_fuzz.a has no (weak) main: not the fuzz driver"
  # The .pc file names the prefix installed into, not the configure-time CMAKE_INSTALL_PREFIX.
  if [ -n "${PKG_CONFIG:-}" ]; then
    expect_eq "pkg-config prefix" "$PREFIX" \
      "$(PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig" "$PKG_CONFIG" --variable=prefix memscope-fuzz)"
  fi
  # The installed harness finds the tracker at ../lib from bin/ (harness/main.c find_lib), and
  # the scenarios beside itself; the prefix has no ../tracker or ../scenarios to fall back on.
  for d in tracker scenarios; do
    [ ! -e "$PREFIX/$d" ] || fail "the prefix has a $d/ the harness could take its files from"
  done
  expect_exit 0 "$PREFIX/bin/memscope-harness" run --max-leak-bytes 0 --no-progress --out "$WORK/run" -- true
  expect_eq "tracker used" "$(realpath "$PREFIX/lib/libmemscope.so")" \
    "$(json_get "$WORK/run/summary.json" 'd["harness"]["tracker"]')"
  expect_exit 0 "$PREFIX/bin/memscope-harness" list
  grep -qw work_stealing "$WORK/out" || fail "memscope-harness list from the prefix names no scenarios"
  ;;
pkgconfig)
  : "${PKG_CONFIG:?pkg-config is needed (ci/setup.sh installs it)}"
  flags=$(PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig" "$PKG_CONFIG" --cflags --libs memscope-fuzz) ||
    fail "pkg-config --cflags --libs memscope-fuzz failed with PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig"
  case " $flags " in *" -gdwarf-aranges "*) ;; *) fail "pkg-config flags lack -gdwarf-aranges: $flags" ;; esac
  # The README's command, word for word but for the paths. $flags is split on purpose.
  # shellcheck disable=SC2086
  expect_exit 0 env AFL_QUIET=1 "$MS_AFL_CC" -O1 "$DEMO_SRC" $flags -o "$WORK/demo"
  expect_instrumented "$WORK/demo"
  expect_demo_oracle "$WORK/demo"
  ;;
cmake_package)
  # CMAKE_PREFIX_PATH, as a user would point at a prefix; memscope_DIR is checked after, so a
  # memscope installed elsewhere (/usr/local) cannot stand in for this one.
  expect_exit 0 "$CMAKE" -S "$(dirname "$0")/consumer" -B "$WORK/build" \
    -DCMAKE_C_COMPILER="$MS_AFL_CC" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$PREFIX" -DDEMO_SOURCE="$DEMO_SRC"
  expect_eq "memscope_DIR" "$PREFIX/lib/cmake/memscope" \
    "$(sed -n 's/^memscope_DIR:PATH=//p' "$WORK/build/CMakeCache.txt")"
  expect_exit 0 env AFL_QUIET=1 "$CMAKE" --build "$WORK/build"
  expect_instrumented "$WORK/build/demo_parser"
  expect_demo_oracle "$WORK/build/demo_parser"
  ;;
*)
  fail "unknown case $case_name"
  ;;
esac
echo "ok [$case_name]"
