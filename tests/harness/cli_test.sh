#!/usr/bin/env bash
# cli_test.sh CASE: the command lines of memscope's programs (cli/ms_cli.c, harness/hs_cli.c):
#   options   each harness command's --help and --list-options name exactly the options
#             written below (independently of the tables), and each of them is taken
#   foreign   an option of another command is refused: exit 2, one line
#             "memscope-harness CMD: unknown option --X (see memscope-harness CMD --help)"
#   usage     a missing value, a value given to a flag, an abbreviation: exit 2, one line
#   version   --version prints "PROGRAM VERSION" (VERSION from CMake's project()) on every
#             program and every harness command
#   programs  memscope-analyze, memscope-tracestat and memscope-scenario: their options, and
#             the same refusals
#   leak_site a leak's console line names the top user frame as function (file:line)
# Environment (tests/harness/CMakeLists.txt): HARNESS, ANALYZE, TRACESTAT, SCENARIO, FRONT, VERSION,
# LEAK_PROG, LEAK_SRC, WORK.
set -uo pipefail

case_name=$1
: "${HARNESS:?}" "${WORK:?}"
rm -rf "$WORK"
mkdir -p "$WORK"

# shellcheck source=test_lib.sh
. "$(dirname "$0")/test_lib.sh"

# The options of each command as docs/harness.md describes them (written here, not read from
# the program). --help and --version are every command's.
tracked="--out --sample --stack-depth --threads --max-leak-bytes --max-leak-bytes-per-stack
  --max-peak-bytes --max-scope-peak --max-overhead --repeat --overhead-mode --baseline
  --tolerance --history --junit --html --plots --exports --suppressions --lib --timeout --resources-hz
  --process --allow-partial --role-threshold --role-thresholds --no-progress"
declare -A want
want[list]=""
want[scenario]="--scale --seed $tracked"
want[all]="--scale --seed $tracked"
want[run]="$tracked"
want[report]="--out --max-leak-bytes --max-leak-bytes-per-stack --max-peak-bytes --max-scope-peak
  --junit --html --plots --exports --history --baseline --suppressions --process --allow-partial
  --role-threshold --role-thresholds --no-progress"
want[gate]="--baseline --current --tolerance --history --plots --out"
want[fuzz]="--time --jobs --max-leak-bytes --max-peak-bytes --memory-feedback --dict
  --suppressions --corpus --out --main-name --replay-timeout --lib --no-progress"
commands="list scenario all run report gate fuzz"
flags=" --html --plots --exports --allow-partial --no-progress --memory-feedback "

sorted() { tr ' \n' '\n\n' | grep -v '^$' | sort -u; }
# The option names a --help text lists: lines "  --name ..." of its Options.
help_names() { grep -oE '^  --[a-z][a-z-]*' "$1" | sed 's/^  //' | sorted; }

case "$case_name" in
options)
  for c in $commands; do
    exp=$(echo "${want[$c]} --help --version" | sorted)
    expect_exit 0 "$HARNESS" "$c" --help
    got=$(help_names "$WORK/out")
    [ "$got" = "$exp" ] || fail "'$c --help' lists: $(echo $got) -- expected: $(echo $exp)"
    expect_exit 0 "$HARNESS" "$c" --list-options
    got=$(cut -d' ' -f1 "$WORK/out" | sorted)
    [ "$got" = "$exp" ] || fail "'$c --list-options': $(echo $got) -- expected: $(echo $exp)"
    # Each is taken: without its value (or with one for a flag) the refusal is not "unknown".
    for o in ${want[$c]}; do
      if [[ $flags == *" $o "* ]]; then arg="$o=1"; msg="option $o takes no value"
      else arg="$o"; msg="option $o needs a value"; fi
      expect_exit 2 "$HARNESS" "$c" "$arg"
      grep -qxF "memscope-harness $c: $msg (see memscope-harness $c --help)" "$WORK/err" ||
        fail "'$c $arg': $(cat "$WORK/err")"
    done
  done
  # Hidden, but taken by the tracked runs: --test-slowdown.
  for c in scenario all run; do
    expect_exit 2 "$HARNESS" "$c" --test-slowdown
    grep -q "needs a value" "$WORK/err" || fail "$c does not take --test-slowdown"
  done
  ;;
foreign)
  all=$(for c in $commands; do echo "${want[$c]}"; done | sorted)
  for c in $commands; do
    mine=" $(echo ${want[$c]}) "
    n=0
    for o in $all; do
      [[ $mine == *" $o "* ]] && continue
      expect_exit 2 "$HARNESS" "$c" "$o" 1
      [ "$(wc -l <"$WORK/err")" = 1 ] || fail "'$c $o': not one line on stderr: $(cat "$WORK/err")"
      want_line="memscope-harness $c: unknown option $o (see memscope-harness $c --help)"
      [ "$(cat "$WORK/err")" = "$want_line" ] || fail "'$c $o': got '$(cat "$WORK/err")', expected '$want_line'"
      [ ! -s "$WORK/out" ] || fail "'$c $o' printed on stdout"
      n=$((n + 1))
    done
    echo "$c: $n options of other commands refused"
  done
  # The issue's own example.
  expect_exit 2 "$HARNESS" report "$WORK" --repeat 3
  [ "$(cat "$WORK/err")" = "memscope-harness report: unknown option --repeat (see memscope-harness report --help)" ] ||
    fail "report --repeat: $(cat "$WORK/err")"
  ;;
usage)
  one() { # one LINE ARGS...: exit 2, exactly LINE on stderr
    local line=$1
    shift
    expect_exit 2 "$HARNESS" "$@"
    [ "$(cat "$WORK/err")" = "$line" ] || fail "'$*': got '$(cat "$WORK/err")', expected '$line'"
  }
  one "memscope-harness scenario: unknown option --time (see memscope-harness scenario --help)" scenario work_stealing --time 5
  one "memscope-harness scenario: unknown option --max-leak (see memscope-harness scenario --help)" scenario x --max-leak 1
  one "memscope-harness run: option --out needs a value (see memscope-harness run --help)" run --out
  one "memscope-harness all: option --html takes no value (see memscope-harness all --help)" all --html=yes
  one "memscope-harness gate: unknown option -x (see memscope-harness gate --help)" gate -x
  one "memscope-harness list: unexpected argument 'extra' (see memscope-harness list --help)" list extra
  one "memscope-harness: unknown command 'frobnicate'; try 'memscope-harness --help'" frobnicate
  # --opt=value and --opt value mean the same; --max-scope-peak=NAME=SIZE keeps NAME=SIZE.
  one "memscope-harness scenario: --scale '0': give an integer from 1 to 1000000" scenario x --scale=0
  one "memscope-harness scenario: --max-scope-peak '=1': give NAME=SIZE, e.g. work_stealing=64KiB" scenario x --max-scope-peak==1
  # Positional arguments may stand anywhere before "--"; run's PROGRAM comes after it.
  expect_exit 0 "$HARNESS" scenario --help
  ;;
version)
  : "${VERSION:?}" "${ANALYZE:?}" "${TRACESTAT:?}" "${SCENARIO:?}" "${FRONT:?}"
  for p in "$HARNESS" "$ANALYZE" "$TRACESTAT" "$SCENARIO" "$FRONT"; do
    expect_exit 0 "$p" --version
    expect_eq "$(basename "$p") --version" "$(basename "$p") $VERSION" "$(cat "$WORK/out")"
  done
  for c in $commands; do
    expect_exit 0 "$HARNESS" "$c" --version
    expect_eq "memscope-harness $c --version" "memscope-harness $VERSION" "$(cat "$WORK/out")"
  done
  expect_exit 0 "$SCENARIO" atomics --version
  expect_eq "memscope-scenario atomics --version" "memscope-scenario $VERSION" "$(cat "$WORK/out")"
  ;;
programs)
  : "${ANALYZE:?}" "${TRACESTAT:?}" "${SCENARIO:?}"
  check_set() { # check_set PROG_LABEL WANT CMD...
    local label=$1 exp
    exp=$(echo "$2 --help --version" | sorted)
    shift 2
    expect_exit 0 "$@" --help
    local got
    got=$(help_names "$WORK/out")
    [ "$got" = "$exp" ] || fail "$label --help lists: $(echo $got) -- expected: $(echo $exp)"
    expect_exit 0 "$@" --list-options
    got=$(cut -d' ' -f1 "$WORK/out" | sorted)
    [ "$got" = "$exp" ] || fail "$label --list-options: $(echo $got) -- expected: $(echo $exp)"
  }
  check_set memscope-analyze "--out --prefix --suppressions --module --no-symbols --no-details
    --stats --export-compare --no-salvage --role-threshold --role-thresholds --collapsed
    --collapsed-count --massif" "$ANALYZE"
  check_set memscope-tracestat "--module" "$TRACESTAT"
  check_set memscope-scenario "--scale --seed --expect-only" "$SCENARIO" atomics
  for p in "$ANALYZE" "$TRACESTAT"; do
    b=$(basename "$p")
    expect_exit 2 "$p" "$WORK" --repeat 3
    expect_eq "$b --repeat" "$b: unknown option --repeat (see $b --help)" "$(cat "$WORK/err")"
    expect_exit 2 "$p" "$WORK" --module
    expect_eq "$b --module" "$b: option --module needs a value (see $b --help)" "$(cat "$WORK/err")"
  done
  expect_exit 2 "$SCENARIO" atomics --out x
  expect_eq "memscope-scenario --out" "memscope-scenario: unknown option --out (see memscope-scenario --help)" "$(cat "$WORK/err")"
  expect_exit 2 "$SCENARIO" atomics --sca 2
  expect_eq "memscope-scenario --sca" "memscope-scenario: unknown option --sca (see memscope-scenario --help)" "$(cat "$WORK/err")"
  expect_exit 0 "$SCENARIO" atomics --expect-only --scale=2 --seed 3
  grep -q '"scale":2,"seed":3' "$WORK/out" || fail "scenario --scale=2 --seed 3 not taken: $(cat "$WORK/out")"
  ;;
leak_site)
  : "${LEAK_PROG:?}" "${LEAK_SRC:?}"
  line=$(grep -n 'LEAK-SITE' "$LEAK_SRC" | cut -d: -f1)
  [ -n "$line" ] || fail "no LEAK-SITE marker in $LEAK_SRC"
  expect_exit 1 "$HARNESS" run --out "$WORK/o" --no-progress --max-leak-bytes 0 -- "$LEAK_PROG"
  grep -qF "FAIL leaked bytes: 9 B exceeds limit 0 B; top leak 9 B in 1 blocks from leaky_copy (ms_h_leak.c:$line)" "$WORK/out" ||
    { cat "$WORK/out"; fail "the leak line does not name leaky_copy (ms_h_leak.c:$line)"; }
  ;;
*)
  fail "unknown case $case_name"
  ;;
esac
echo "PASS [$case_name]"
