#!/usr/bin/env bash
# validate_workflows.sh: every workflow in .github/workflows and the action (action.yml)
# pass @action-validator/cli (tests/browser/package.json pins it; ci/setup.sh installs it),
# and broken copies of each fail it: the check can fail. Outside CI a machine without node or
# tests/browser/node_modules skips (exit 77) with the command that installs them.
# Environment: SRC_DIR (the source tree), WORK (a scratch folder, emptied first).
set -uo pipefail
: "${SRC_DIR:?}" "${WORK:?}"
rm -rf "$WORK"
mkdir -p "$WORK"
validator=$SRC_DIR/tests/browser/node_modules/.bin/action-validator
missing() {
  if [ "${CI:-}" = true ]; then
    echo "FAIL [ci]: $* (CI=true: ci/setup.sh installs this)" >&2
    exit 1
  fi
  echo "SKIP [ci]: $*" >&2
  exit 77
}
command -v node >/dev/null || missing "no node: apt-get install nodejs npm"
[ -x "$validator" ] || missing "no action-validator: npm ci --prefix tests/browser (or bash ci/setup.sh)"
fail() { echo "FAIL: $*" >&2; exit 1; }

cd "$SRC_DIR" || exit 1
files=(.github/workflows/*.yml action.yml)
[ -f action.yml ] || fail "no action.yml at the repository root (uses: OWNER/memscope@REF needs it)"
for f in "${files[@]}"; do
  "$validator" "$f" >"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "$f does not validate"; }
  echo "ok: $f validates"
done
# The validator tells a workflow from an action by the file name: the broken copies keep it.
mkdir -p "$WORK/wf" "$WORK/act"
sed 's/^    runs-on:/    runs-onn:/' .github/workflows/ci.yml >"$WORK/wf/ci.yml"
cmp -s .github/workflows/ci.yml "$WORK/wf/ci.yml" && fail "the workflow's broken copy is unchanged"
"$validator" "$WORK/wf/ci.yml" >"$WORK/out" 2>&1 && fail "a job without runs-on validated"
grep -q "runs-onn" "$WORK/out" || { cat "$WORK/out"; fail "the validator did not name runs-onn"; }
# A composite step without its shell is an error in an action.
python3 - action.yml "$WORK/act/action.yml" <<'PY' || fail "cannot break action.yml"
import sys
lines = open(sys.argv[1]).read().split("\n")
i = next(i for i, l in enumerate(lines) if l.strip() == "shell: bash")
del lines[i]
open(sys.argv[2], "w").write("\n".join(lines))
PY
"$validator" "$WORK/act/action.yml" >"$WORK/out" 2>&1 && fail "an action step without shell validated"
echo "ok: the broken copies fail"
