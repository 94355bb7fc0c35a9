#!/usr/bin/env bash
# heaptrack_oracle.sh LIB TRACESTAT WHICH: memscope's exact figures against heaptrack's on a
# real Debian program (WHICH = sqlite3 | python3). Allocation calls, peak and leaked bytes
# must agree within 0.1 %.
#
# Like for like: heaptrack's preload library pulls libstdc++ into the traced process, whose
# initializer allocates a 72 KiB exception pool; memscope's run preloads libstdc++ too, so the
# two processes make the same calls. heaptrack reports leaks minus its built-in suppressions
# ("suppressed leaks"); the comparison adds them back.
set -u
LIB=$1 TRACESTAT=$2 WHICH=$3
here=$(cd "$(dirname "$0")" && pwd)
command -v heaptrack >/dev/null && command -v heaptrack_print >/dev/null ||
  { echo "FAIL: heaptrack is not installed (apt-get install heaptrack)"; exit 1; }
libstdcxx=$(ldconfig -p | awk '/libstdc\+\+\.so\.6 .*x86-64/ {print $NF; exit}')
[ -n "$libstdcxx" ] || libstdcxx=/usr/lib/x86_64-linux-gnu/libstdc++.so.6
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PYTHONHASHSEED=0 # python's dict sizes, hence its allocations, must not vary per run
case $WHICH in
  sqlite3) cmd=(/usr/bin/sqlite3 :memory:); input=$here/sqlite_200k.sql ;;
  python3) cmd=(/usr/bin/python3 "$here/python_work.py"); input=/dev/null ;;
  *) echo "usage: heaptrack_oracle.sh LIB TRACESTAT sqlite3|python3"; exit 2 ;;
esac

heaptrack -o "$work/ht" "${cmd[@]}" <"$input" >"$work/ht.out" 2>"$work/ht.err" ||
  { echo "FAIL: heaptrack run failed"; cat "$work/ht.err"; exit 1; }
heaptrack_print -f "$work"/ht*.zst >"$work/ht.txt" 2>/dev/null ||
  { echo "FAIL: heaptrack_print failed"; exit 1; }
MEMSCOPE_OUT="$work/ms" LD_PRELOAD="$libstdcxx:$LIB" "${cmd[@]}" <"$input" >"$work/ms.out" 2>"$work/ms.err" ||
  { echo "FAIL: memscope run failed"; cat "$work/ms.err"; exit 1; }
# heaptrack adds its own lines to stdout: every line of the program's must be among them.
[ -s "$work/ms.out" ] && ! grep -vxF -f "$work/ht.out" "$work/ms.out" >/dev/null ||
  { echo "FAIL: the two runs printed different output"; exit 1; }
"$TRACESTAT" "$work/ms" >"$work/ms.json" || { echo "FAIL: tracestat failed"; exit 1; }

python3 - "$work/ht.txt" "$work/ms.json" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
units = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9}
def size(label):
    m = re.search(label + r": ([0-9.]+)([KMG]?)B?", text)
    if not m:
        sys.exit("FAIL: heaptrack_print has no '%s' line" % label)
    return float(m.group(1)) * units[m.group(2)]
ht = {
    "allocations": int(re.search(r"calls to allocation functions: (\d+)", text).group(1)),
    "peak_live_bytes": size("peak heap memory consumption"),
    "leaked_bytes": size("total memory leaked") + (size("suppressed leaks") if "suppressed leaks" in text else 0),
}
run = json.load(open(sys.argv[2]))["runs"][0]
tot = run["totals"]
ok = True
for key, want in ht.items():
    got = tot[key]
    rel = abs(got - want) / max(want, 1)
    status = "ok  " if rel <= 0.001 else "FAIL"
    ok &= rel <= 0.001
    print("%s %-16s heaptrack %14.0f  memscope %14d  diff %.4f %%" % (status, key, want, got, rel * 100))
if run["partial"]:
    print("FAIL memscope trace is partial"); ok = False
sys.exit(0 if ok else 1)
PY
