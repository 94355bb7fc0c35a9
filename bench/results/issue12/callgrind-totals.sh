#!/bin/bash
# callgrind totals: native, before, after; workload 4x100000 (16 frames and 0), sqlite 200k (16 frames)
cd /tmp/cgf
W=/work/main/build/bench/ms-bench-workload
tot() { callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1}'; }
ev() { cat "$1"/*/meta.txt 2>/dev/null | awk -F= '/^events=/{s+=$2} END{print s}'; }
valgrind --tool=callgrind --callgrind-out-file=w_native.cg $W 4 100000 >/dev/null 2>&1
echo "workload native $(tot w_native.cg)"
for lib in before after; do for d in 16 0; do
  rm -rf o_w_${lib}_$d
  LD_PRELOAD=/work/$lib/libmemscope.so MEMSCOPE_OUT=/tmp/cgf/o_w_${lib}_$d MEMSCOPE_STACK_DEPTH=$d valgrind --tool=callgrind --callgrind-out-file=w_${lib}_$d.cg $W 4 100000 >/dev/null 2>&1
  echo "workload $lib depth=$d $(tot w_${lib}_$d.cg) events=$(ev o_w_${lib}_$d)"
done; done
valgrind --tool=callgrind --callgrind-out-file=s_native.cg /usr/bin/sqlite3 :memory: < /work/main/tests/oracle/sqlite_200k.sql >/dev/null 2>&1
echo "sqlite native $(tot s_native.cg)"
for lib in before after; do
  rm -rf o_s_$lib
  LD_PRELOAD=/work/$lib/libmemscope.so MEMSCOPE_OUT=/tmp/cgf/o_s_$lib valgrind --tool=callgrind --callgrind-out-file=s_$lib.cg /usr/bin/sqlite3 :memory: < /work/main/tests/oracle/sqlite_200k.sql >/dev/null 2>&1
  echo "sqlite $lib depth=16 $(tot s_$lib.cg) events=$(ev o_s_$lib)"
done
