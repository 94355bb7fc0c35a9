#!/usr/bin/env bash
# stack_verify.sh LIB SQL ADVERSARY PROG...: the stack cache never changes a stack.
# Each program runs with MEMSCOPE_TEST_STACK_VERIFY=1, where every cache hit is also walked
# and interned, and the ids compared, and every walk is taken by unw_step (the stepped walk a
# thread's first captures use instead of unw_backtrace) and compared with unw_backtrace's; meta.txt (of every process: forks and
# execs write their own) counts hits, misses and mismatches. Every program must show no
# mismatch, every hit verified, and some hits; sqlite3 runs too when installed (a 20k-row
# version of the oracle's script). Then the check is shown able to fail: with
# =weak (hits trust the key alone) the adversary's same-key-different-caller stacks must
# be found different.
set -u
LIB=$1 SQL=$2 ADV=$3
shift 3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
n=0

# sum KEY DIR: the KEY= values of every meta.txt under DIR, added up.
sum() { find "$2" -name meta.txt -exec sed -n "s/^$1=//p" {} + | awk '{s += $1} END {print s + 0}'; }

# run NAME MODE MUST_HIT CMD...: runs CMD under the tracker; checks the counts.
run() {
  local name=$1 mode=$2 must_hit=$3
  shift 3
  n=$((n + 1))
  local out="$work/$n"
  if ! MEMSCOPE_OUT="$out" MEMSCOPE_STACK_DEPTH=16 MEMSCOPE_TEST_STACK_VERIFY=$mode \
      LD_PRELOAD="$LIB" "$@" >"$work/$n.stdout" 2>"$work/$n.stderr" <"${STDIN:-/dev/null}"; then
    echo "FAIL $name: program failed: $(head -c 300 "$work/$n.stderr")"
    fails=$((fails + 1))
    return
  fi
  local hits misses verified mism
  hits=$(sum stack_cache_hits "$out")
  misses=$(sum stack_cache_misses "$out")
  verified=$(sum stack_cache_verified "$out")
  mism=$(sum stack_cache_mismatches "$out")
  local compared wmism
  compared=$(sum stack_walks_compared "$out")
  wmism=$(sum stack_walk_mismatches "$out")
  local line="$name ($mode): hits=$hits misses=$misses verified=$verified mismatches=$mism"
  line="$line walks_compared=$compared walk_mismatches=$wmism"
  local ok=1
  [ "$(find "$out" -name meta.txt | wc -l)" -gt 0 ] || { echo "FAIL $line: no meta.txt"; ok=0; }
  [ "$verified" = "$hits" ] || { echo "FAIL $line: not every hit was verified"; ok=0; }
  if [ "$mode" = weak ]; then
    [ "$mism" -gt 0 ] || { echo "FAIL $line: the weakened cache must give wrong stacks"; ok=0; }
  else
    [ "$mism" = 0 ] || { echo "FAIL $line: cached stacks differ from fresh walks"; ok=0; }
  fi
  # Every walk (misses and verified hits) is stepped and compared with unw_backtrace.
  [ "$compared" = $((misses + verified)) ] ||
    { echo "FAIL $line: not every walk was compared with unw_backtrace"; ok=0; }
  [ "$wmism" = 0 ] || { echo "FAIL $line: stepped walks differ from unw_backtrace"; ok=0; }
  if [ "$must_hit" = 1 ] && [ "$hits" -le 0 ]; then
    echo "FAIL $line: the cache never hit"
    ok=0
  fi
  [ "$ok" = 1 ] && echo "ok   $line" || fails=$((fails + 1))
}

run adversary 1 1 "$ADV" 4 2000
run adversary weak 1 "$ADV" 4 2000
for prog in "$@"; do
  case "$(basename "$prog")" in
    ms_t_alloc_family) run alloc_family 1 1 "$prog" 4 ;;
    ms_t_api_threads) run api_threads 1 1 "$prog" api ;;
    *) run "$(basename "$prog")" 1 1 "$prog" ;;
  esac
done
if [ -x /usr/bin/sqlite3 ]; then
  sed 's/200000/20000/' "$SQL" >"$work/sqlite_20k.sql"
  STDIN="$work/sqlite_20k.sql" run sqlite3 1 1 /usr/bin/sqlite3 :memory:
else
  echo "skip sqlite3: /usr/bin/sqlite3 not installed"
fi
exit $((fails > 0))
