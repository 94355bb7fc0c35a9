#!/usr/bin/env bash
# heaptrack_oracle.sh LIB TRACESTAT ANALYZE WHICH: memscope's exact figures against
# heaptrack's on a real Debian program (WHICH = sqlite3 | python3). Allocation calls, peak and
# leaked bytes must agree within 0.1 %, and the largest leaks' stacks must name the same
# functions (compared by name, __GI_ aliases and symbol versions folded).
#
# Like for like: heaptrack's preload library pulls libstdc++ into the traced process, whose
# initializer allocates a 72 KiB exception pool; memscope's run preloads libstdc++ too, so the
# two processes make the same calls. heaptrack reports leaks minus its built-in suppressions
# ("suppressed leaks"); the comparison adds them back.
set -u
LIB=$1 TRACESTAT=$2 ANALYZE=$3 WHICH=$4
# The two tools trace two separate executions of a real program. One mismatch in ~15 suite
# runs was seen (under parallel load, not reproduced since): a failed comparison is run once
# more, with both attempts' output shown, and only a second failure fails the test.
if [ -z "${MS_ORACLE_ATTEMPT:-}" ]; then
  MS_ORACLE_ATTEMPT=1 bash "$0" "$@" && exit 0
  echo "heaptrack_oracle.sh: first attempt failed (output above); running both tools again"
  MS_ORACLE_ATTEMPT=2 exec bash "$0" "$@"
fi
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
  *) echo "usage: heaptrack_oracle.sh LIB TRACESTAT ANALYZE sqlite3|python3"; exit 2 ;;
esac

heaptrack -o "$work/ht" "${cmd[@]}" <"$input" >"$work/ht.out" 2>"$work/ht.err" ||
  { echo "FAIL: heaptrack run failed"; cat "$work/ht.err"; exit 1; }
heaptrack_print -f "$work"/ht*.zst --print-leaks 1 >"$work/ht.txt" 2>/dev/null ||
  { echo "FAIL: heaptrack_print failed"; exit 1; }
MEMSCOPE_OUT="$work/ms" LD_PRELOAD="$libstdcxx:$LIB" "${cmd[@]}" <"$input" >"$work/ms.out" 2>"$work/ms.err" ||
  { echo "FAIL: memscope run failed"; cat "$work/ms.err"; exit 1; }
# heaptrack adds its own lines to stdout: every line of the program's must be among them.
[ -s "$work/ms.out" ] && ! grep -vxF -f "$work/ht.out" "$work/ms.out" >/dev/null ||
  { echo "FAIL: the two runs printed different output"; exit 1; }
"$TRACESTAT" "$work/ms" >"$work/ms.json" || { echo "FAIL: tracestat failed"; exit 1; }
"$ANALYZE" "$work/ms" --out "$work/rep" --no-details --suppressions "$here/heaptrack-builtin.supp" || { echo "FAIL: memscope-analyze failed"; exit 1; }

python3 - "$work/ht.txt" "$work/ms.json" "$work/rep/summary.json" <<'PY'
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

# Leak stacks. heaptrack_print lists "X leaked over N calls from" + the allocation site, then
# "X leaked over N calls from:" + the rest of each stack (4-space indent; "at"/"in" details
# deeper). A stack is the site followed by those frames.
def norm(name):
    # Symbol versions, glibc's __GI_ internal aliases and leading underscores differ between
    # symbol-table and debug-info names of one function.
    name = name.split("@")[0]
    name = name[5:] if name.startswith("__GI_") else name
    return name.lstrip("_")
def named(frames):
    # heaptrack lists an inlined call as one more frame of the same name: fold repeats.
    out = []
    for f in frames:
        if f and not f.startswith("0x") and (not out or out[-1] != norm(f)):
            out.append(norm(f))
    return out
ht_stacks, site = [], None
lines = text.split("\n")
start = next((i for i, l in enumerate(lines) if l.startswith("MEMORY LEAKS")), len(lines))
i = start + 1
while i < len(lines):
    l = lines[i]
    m = re.match(r"^(\S+) leaked over \d+ calls from(:?)$", l)
    if m and not m.group(2):
        site = lines[i + 1].strip() if i + 1 < len(lines) else ""
        i += 2
        continue
    if m and m.group(2):
        frames = [site]
        i += 1
        while i < len(lines) and lines[i].startswith("    ") and not re.match(r"^\S", lines[i]):
            f = lines[i].strip()
            if not lines[i].startswith("      "):
                frames.append(f)
            i += 1
        ht_stacks.append(named(frames))
        continue
    if l and not l.startswith(" ") and not m and i > start + 1 and l.isupper():
        break
    i += 1
summary = json.load(open(sys.argv[3]))
# With heaptrack's own suppressions applied on both sides, the unsuppressed leaks agree too.
want = size("total memory leaked")
got = summary["totals"]["leaked_bytes"]
rel = abs(got - want) / max(want, 1)
print("%s %-16s heaptrack %14.0f  memscope %14d  diff %.4f %%" % ("ok  " if rel <= 0.001 else "FAIL", "leaked (suppr.)", want, got, rel * 100))
ok &= rel <= 0.001
ours = [l for l in summary["leaks"] if not l.get("suppressed")][:3]
if not ht_stacks or not ours:
    print("FAIL leak stacks: heaptrack %d, memscope %d" % (len(ht_stacks), len(ours))); ok = False
for leak in ours:
    # Each frame by its function and, where code was inlined at the call, the inlined
    # function too: heaptrack names one or the other (and lists inlined calls as frames).
    mine = []
    for f in leak["stack"]:
        names = {norm(n) for n in (f["function"], f.get("inlined", "")) if n and not n.startswith("0x")}
        if names and (not mine or not (names & mine[-1])):
            mine.append(names)
    mine = mine[:4]
    def in_order(h):
        k = 0
        for name in h:
            if k < len(mine) and name in mine[k]:
                k += 1
        return k == len(mine) and h and h[0] in mine[0]
    hit = any(in_order(h) for h in ht_stacks)
    shown = " <- ".join("/".join(sorted(n)) for n in mine)
    print("%s leak of %d B: %s" % ("ok  " if hit and mine else "FAIL", leak["bytes"], shown or "(no names)"))
    ok &= bool(hit and mine)
sys.exit(0 if ok else 1)
PY
