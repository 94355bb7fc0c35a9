#!/usr/bin/env bash
# fork_snapshot.sh LIB PROG: every fork child's maps.txt holds a snapshot (fork_snapshot.c),
# and a meta.txt line cut to its buffer still ends its line. PROG gets a 3000-character
# argument of '%' (escaped %25 in cmdline=, 9000 bytes): the cut cmdline= line used to run
# into the next key, and meta.txt had no start_realtime_ns= line.
set -u
LIB=$1 PROG=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL $*"; exit 1; }
long=$(printf '%%%.0s' $(seq 3000))
MEMSCOPE_OUT="$work/out" LD_PRELOAD="$LIB" "$PROG" "$long" || fail "program exit status $?"
children=0
for meta in "$work"/out/memscope.*/meta.txt; do
  dir=$(dirname "$meta")
  grep -qx origin=fork "$meta" || continue
  children=$((children + 1))
  grep -q '^# maps ' "$dir/maps.txt" || fail "$(basename "$dir"): a fork child's maps.txt has no snapshot"
done
[ "$children" = 20 ] || fail "$children fork children's runs, not 20"
start=$(grep -l '^origin=start' "$work"/out/memscope.*/meta.txt)
grep -q '^start_realtime_ns=[0-9]*$' "$start" || fail "the start run's meta.txt lost start_realtime_ns= after its long cmdline="
grep -q '^cmdline=' "$start" || fail "no cmdline= line"
echo "ok   20 fork children each with a maps snapshot; the cut cmdline= line ends"
