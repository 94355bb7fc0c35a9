#!/usr/bin/env bash
# relative_out.sh LIB PROG: a relative MEMSCOPE_OUT means the directory the program started
# in, for its fork children too. PROG (chdir_fork.c) moves to another directory and forks.
# The child used to resolve the variable again there: it made out/ in that directory (a
# scratch directory the program then could not remove), and a daemon's child that had moved
# to / tried to make /out.
set -u
LIB=$1 PROG=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/start" "$work/elsewhere"
fail() { echo "FAIL $*"; exit 1; }
(cd "$work/start" && MEMSCOPE_OUT=out LD_PRELOAD="$LIB" "$PROG" "$work/elsewhere") ||
  fail "program exit status $?"
[ -z "$(ls -A "$work/elsewhere")" ] ||
  fail "the child wrote into the directory it had moved to: $(ls -A "$work/elsewhere")"
runs=$(find "$work/start/out" -mindepth 1 -maxdepth 1 -name 'memscope.*' | wc -l)
[ "$runs" = 2 ] || fail "$runs run directories in the start directory's out/, not 2"
grep -qx origin=fork "$work"/start/out/memscope.*/meta.txt ||
  fail "no run with origin=fork in the start directory's out/"
echo "ok   both runs in the start directory's out/"
