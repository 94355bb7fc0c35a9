#!/bin/bash
# interleaved: native + variants; prints name msec per run
W=/work/main/build/bench/ms-bench-workload
R=${1:-20}
for i in $(seq $R); do
  for n in $VARS; do
    rm -rf o
    if [ $n = nat ]; then
      perf stat -x, -e task-clock -o st.txt $W 4 1000000 >/dev/null
    else
      MEMSCOPE_OUT=o MEMSCOPE_STACK_DEPTH=0 perf stat -x, -e task-clock -o st.txt env LD_PRELOAD=/tmp/bx-$n/tracker/libmemscope.so $W 4 1000000 >/dev/null
    fi
    echo "$i $n $(grep task-clock st.txt | cut -d, -f1)"
  done
done
