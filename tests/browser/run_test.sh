#!/usr/bin/env bash
# run_test.sh TEST.mjs: one browser test (tests/browser/CMakeLists.txt); run_test.sh --eslint
# ARGS...: tests/browser's eslint with ARGS (no browser needed). Outside CI a machine
# without node, /usr/bin/chromium or tests/browser/node_modules skips (exit 77, ctest's
# SKIP_RETURN_CODE) with the command that installs what is missing; under CI=true it fails.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)

missing() {
  if [ "${CI:-}" = true ]; then
    echo "FAIL [browser]: $* (CI=true: the browser tests must run; ci/setup.sh installs this)" >&2
    exit 1
  fi
  echo "SKIP [browser]: $*" >&2
  exit 77
}

command -v node >/dev/null || missing "no node: apt-get install nodejs npm"
if [ "${1:-}" = --eslint ]; then
  shift
  [ -x "$here/node_modules/.bin/eslint" ] ||
    missing "no eslint: npm ci --prefix tests/browser (or bash ci/setup.sh)"
  exec "$here/node_modules/.bin/eslint" "$@"
fi
[ -x /usr/bin/chromium ] || missing "no /usr/bin/chromium: apt-get install chromium"
[ -f "$here/node_modules/playwright-core/package.json" ] ||
  missing "no playwright-core: npm ci --prefix tests/browser (or bash ci/setup.sh)"
exec node "$1"
