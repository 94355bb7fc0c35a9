#!/usr/bin/env bash
# fork_threads.sh LIB PROGRAM FORKS: runs fork_threads under the tracker (16-frame stacks)
# in a scratch trace directory that is removed afterwards (121 runs, ~23 MB).
set -u
lib=$1 prog=$2 forks=$3
work=$(mktemp -d) || { echo "fork_threads.sh: mktemp failed" >&2; exit 2; }
trap 'rm -rf "$work"' EXIT
MEMSCOPE_OUT="$work" MEMSCOPE_STACK_DEPTH=16 LD_PRELOAD="$lib" "$prog" "$forks"
