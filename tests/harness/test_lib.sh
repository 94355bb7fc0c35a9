# test_lib.sh: what the harness's shell tests share (sourced, not run). The caller sets
# case_name and WORK (its scratch directory) first.

fail() {
  echo "FAIL [$case_name]: $*" >&2
  exit 1
}

# expect_exit WANT CMD...: runs CMD, keeps stdout/stderr in $WORK/out, $WORK/err.
expect_exit() {
  local want=$1
  shift
  "$@" >"$WORK/out" 2>"$WORK/err"
  local got=$?
  if [ "$got" != "$want" ]; then
    echo "--- stdout"; cat "$WORK/out"; echo "--- stderr"; cat "$WORK/err"
    fail "expected exit $want, got $got from: $*"
  fi
}

# json_get FILE PYTHON_EXPR: evaluates an expression over the parsed file `d`.
json_get() {
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"
}

# expect_eq WHAT WANT GOT
expect_eq() {
  [ "$2" = "$3" ] || fail "$1: expected $2, got $3"
}
