#!/usr/bin/env bash
# action_steps.sh: action.yml's own shell steps, run here as GitHub would run them (each step's
# `run` text through bash -e, its inputs as environment variables, GITHUB_OUTPUT and
# GITHUB_STEP_SUMMARY as files), with this build's memscope-harness on PATH in place of the
# install step: a clean command exits 0, a leaking one 1 (the step fails, its exit-code output
# is 1), the summary step then writes the job summary and the leak's annotation; giving both
# command and ctest-label is an error (2).
# Environment: SRC_DIR, HARNESS, EXITS (ms_h_exits), WORK (scratch, emptied first).
set -uo pipefail
: "${SRC_DIR:?}" "${HARNESS:?}" "${EXITS:?}" "${WORK:?}"
rm -rf "$WORK"
mkdir -p "$WORK/bin" "$WORK/ws"
fail() { echo "FAIL: $*" >&2; exit 1; }
ln -s "$HARNESS" "$WORK/bin/memscope-harness"
# The step scripts, by name, from action.yml (python3-yaml, Debian's).
python3 - "$SRC_DIR/action.yml" "$WORK" <<'PY' || fail "cannot read the steps of action.yml"
import sys, yaml
steps = yaml.safe_load(open(sys.argv[1]))["runs"]["steps"]
for s in steps:
    if s.get("id") == "run":
        open(sys.argv[2] + "/run.sh", "w").write(s["run"])
    if s.get("name", "").startswith("memscope job summary"):
        open(sys.argv[2] + "/summary.sh", "w").write(s["run"])
for s in steps:
    assert "run" not in s or "${{" not in s["run"], "an input spliced into a script: " + s["name"]
PY
step() { # step SCRIPT OUTFILE: runs it as GitHub does (bash -e), in the workspace
  (cd "$WORK/ws" && PATH="$WORK/bin:$PATH" GITHUB_OUTPUT="$2" GITHUB_STEP_SUMMARY="$WORK/summary.md" \
     GITHUB_WORKSPACE="$SRC_DIR" SRC="$SRC_DIR" bash -e "$1")
}
export MAX_LEAK=0 MAX_PEAK="" MAX_OVERHEAD="" REPEAT="" SUPPRESSIONS="" LABEL="" BUILD_DIR=build
export BASELINE="" TOP=5
COMMAND="$EXITS leak 0 exit" OUT=clean step "$WORK/run.sh" "$WORK/clean.out" >"$WORK/log" 2>&1 ||
  { cat "$WORK/log"; fail "the clean command failed"; }
grep -qx "exit-code=0" "$WORK/clean.out" || fail "no exit-code=0 output"
grep -qx "report-dir=$WORK/ws/clean" "$WORK/clean.out" || fail "no report-dir output"
COMMAND="$EXITS leak 2 exit" OUT=leak step "$WORK/run.sh" "$WORK/leak.out" >"$WORK/log" 2>&1
rc=$?
[ $rc = 1 ] || { cat "$WORK/log"; fail "the leaking command's step exited $rc, not 1"; }
grep -qx "exit-code=1" "$WORK/leak.out" || fail "no exit-code=1 output"
[ -s "$WORK/ws/leak/summary.json" ] && [ -s "$WORK/ws/leak/junit.xml" ] || fail "no reports in the report dir"
REPORTS="$WORK/ws/leak" step "$WORK/summary.sh" /dev/null >"$WORK/ann" 2>&1 || fail "the summary step failed"
cat "$WORK/summary.md" "$WORK/ann"
line=$(awk '/^static void leak_blocks/ {f=1} f && /alloc_fn\(size\)/ {print NR; exit}' "$SRC_DIR/tests/harness/ms_h_exits.c")
grep -q "^::error file=tests/harness/ms_h_exits.c,line=$line," "$WORK/ann" || fail "no annotation at ms_h_exits.c:$line"
grep -q "^## memscope: FAILED" "$WORK/summary.md" || fail "no job summary"
COMMAND="true" LABEL=x OUT=both step "$WORK/run.sh" "$WORK/both.out" >"$WORK/log" 2>&1
[ $? = 2 ] && grep -q "^::error title=memscope::give command or ctest-label, not both" "$WORK/log" ||
  fail "command and ctest-label together are not an error (2)"
echo ok
