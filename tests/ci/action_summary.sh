#!/usr/bin/env bash
# action_summary.sh: the action's job summary and annotations (ci/action-summary.py) on a real
# failing run: ms_h_exits leaks N blocks of 1000 B under `memscope-harness run
# --max-leak-bytes 0`, which fails (exit 1). The Markdown must hold the totals, the failed
# assertion and the leak's file:line; the one annotation must name that file and line. The
# expected site is found twice, independently of the script: by grep in the source, and as the
# innermost frame in this source tree in summary.json.
# Environment: SRC_DIR, HARNESS, EXITS (ms_h_exits), WORK (scratch, emptied first).
set -uo pipefail
: "${SRC_DIR:?}" "${HARNESS:?}" "${EXITS:?}" "${WORK:?}"
rm -rf "$WORK"
mkdir -p "$WORK"
fail() { echo "FAIL: $*" >&2; exit 1; }
script=$SRC_DIR/ci/action-summary.py
n=4
"$HARNESS" run --no-progress --max-leak-bytes 0 --repeat 5 --out "$WORK/run" -- "$EXITS" leak "$n" exit \
  >"$WORK/harness.out" 2>&1
rc=$?
[ $rc = 1 ] || { cat "$WORK/harness.out"; fail "the leaking run exited $rc, not 1"; }
python3 "$script" --workspace "$SRC_DIR" --markdown "$WORK/summary.md" "$WORK/run" >"$WORK/ann" ||
  fail "action-summary.py failed"
cat "$WORK/summary.md" "$WORK/ann"

# The allocation site by grep: the line of leak_blocks' alloc_fn call in the source.
src_rel=tests/harness/ms_h_exits.c
want_line=$(awk '/^static void leak_blocks/ {f=1} f && /alloc_fn\(size\)/ {print NR; exit}' "$SRC_DIR/$src_rel")
[ -n "$want_line" ] || fail "cannot find leak_blocks' alloc_fn call in $src_rel"
# The same from summary.json: the innermost frame whose file is in the source tree.
json_site=$(python3 - "$WORK/run/summary.json" "$SRC_DIR" <<'PY'
import json, os, sys
d = json.load(open(sys.argv[1]))
root = os.path.realpath(sys.argv[2])
lk = max(d["leaks"], key=lambda l: l["bytes"])
for fr in lk["stack"]:
    f = os.path.realpath(fr.get("file") or "/")
    if f.startswith(root + "/"):
        print(f"{os.path.relpath(f, root)}:{fr['line']}")
        break
PY
)
[ "$json_site" = "$src_rel:$want_line" ] || fail "summary.json's site $json_site is not $src_rel:$want_line"

# Annotations: exactly one, at that file and line.
[ "$(grep -c '^::error ' "$WORK/ann")" = 1 ] || fail "want one ::error annotation"
grep -q "^::error file=$src_rel,line=$want_line,title=memscope%3A leak::$((n * 1000)) B leaked in $n blocks allocated in leak_blocks" "$WORK/ann" ||
  fail "the annotation does not name $src_rel line $want_line with $((n * 1000)) B in $n blocks"
# The Markdown: the verdict, the totals row (N allocations, no frees, N x 1000 B leaked), the
# failed leak assertion, and the leak's file:line.
md=$WORK/summary.md
grep -q "^## memscope: FAILED (1 of 1 run failed an assertion)" "$md" || fail "no FAILED heading"
grep -qF "| $n | 0 | 0 | $n.00 kB ($((n * 1000)) B) | $n.00 kB ($((n * 1000)) B) | $n.00 kB ($((n * 1000)) B) in $n blocks |" "$md" ||
  fail "no totals row with $n allocations and $((n * 1000)) B leaked"
grep -q "^| ❌ | max_leak_bytes | leaked bytes: .*exceeds limit 0 B" "$md" || fail "no failed max_leak_bytes assertion"
grep -qF "| $((n * 1000)) | $n | leak_blocks | <code>$src_rel:$want_line</code> |" "$md" || fail "no leak row with $src_rel:$want_line"

# Names are data: a function and a file with markup and the workflow commands' separators.
python3 - "$WORK/run/summary.json" "$WORK/hostile.json" "$SRC_DIR" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
lk = max(d["leaks"], key=lambda l: l["bytes"])
# A relative file name from debug info (glibc's) is not placed in the workspace; the next
# frame, in it, is the site.
lk["stack"] = [{"function": "libc_fn", "file": "./nptl/allocatestack.c", "line": 423},
               {"function": "f<b>|x", "file": sys.argv[3] + "/odd,name:1.c", "line": 7}]
d["leaks"] = [lk]
json.dump(d, open(sys.argv[2], "w"))
PY
python3 "$script" --workspace "$SRC_DIR" --markdown "$WORK/hostile.md" "$WORK/hostile.json" >"$WORK/hostile.ann" ||
  fail "action-summary.py failed on odd names"
grep -q "^::error file=odd%2Cname%3A1.c,line=7," "$WORK/hostile.ann" || fail "file name not escaped in the annotation"
grep -qF "| libc_fn | <code>odd,name:1.c:7</code> in f&lt;b&gt;&#124;x |" "$WORK/hostile.md" || fail "names not escaped in the Markdown"
grep -q "::.* allocated in libc_fn, called from f<b>|x here" "$WORK/hostile.ann" || fail "the annotation does not name both functions"
grep -q "<b>" "$WORK/hostile.md" && fail "raw markup in the Markdown"
# Overhead against a baseline: compared on the same machine, not on another (docs/harness.md).
python3 - "$WORK/run/summary.json" "$WORK" <<'PY'
import json, sys
ov = json.load(open(sys.argv[1]))["overhead"]
same = {"host": ov["host"], "scenarios": {"ms_h_exits": {"cpu": {"median": ov["cpu"]["median"] / 2}}}}
json.dump(same, open(sys.argv[2] + "/base_same.json", "w"))
other = dict(same, host=dict(ov["host"], cpu="Another CPU"))
json.dump(other, open(sys.argv[2] + "/base_other.json", "w"))
PY
python3 "$script" --workspace "$SRC_DIR" --markdown "$WORK/same.md" --baseline "$WORK/base_same.json" "$WORK/run" >/dev/null || fail "failed"
grep -q "^Overhead: CPU time x[0-9.]* (median of 5 pairs); baseline x[0-9.]*, +100.0%.$" "$WORK/same.md" ||
  fail "same machine: the overhead is not compared with the baseline (half of it: +100.0 %)"
python3 "$script" --workspace "$SRC_DIR" --markdown "$WORK/other.md" --baseline "$WORK/base_other.json" "$WORK/run" >/dev/null || fail "failed"
grep -q "^Overhead: .*was measured on another machine (Another CPU, .*: not compared.$" "$WORK/other.md" ||
  fail "another machine: the CPU-time overhead was compared"
# A leak with no frame in the workspace: listed, not annotated (GitHub could not place it).
mkdir -p "$WORK/elsewhere"
python3 "$script" --workspace "$WORK/elsewhere" --markdown "$WORK/out.md" "$WORK/run" >"$WORK/out.ann" || fail "failed"
[ -s "$WORK/out.ann" ] && fail "annotated a leak outside the workspace"
grep -qF "$src_rel:$want_line" "$WORK/out.md" || fail "the leak outside the workspace is not listed"
# Bad input: exit 2 with one line.
python3 "$script" "$WORK/none" 2>"$WORK/err"
[ $? = 2 ] && [ "$(wc -l <"$WORK/err")" = 1 ] || fail "a missing path is not exit 2 with one line"
echo "ok"
