#!/usr/bin/env bash
# lint.sh: ctest plots.lint: ESLint (flat config plots/dashboard/eslint.config.mjs) over the
# dashboard's page code, plots/dashboard/*.js. eslint comes from tests/browser/node_modules,
# which ci/setup.sh fills with `npm ci` (or MEMSCOPE_NODE_MODULES). Exit 77 (a skip) only
# when node is not installed and CI is not set; under CI=true every missing piece fails.
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
modules=${MEMSCOPE_NODE_MODULES:-$src/tests/browser/node_modules}
if ! command -v node >/dev/null 2>&1; then
  if [ "${CI:-}" = true ]; then
    echo "plots.lint: node is not installed; ci/setup.sh installs it" >&2
    exit 1
  fi
  echo "plots.lint: skipped: node is not installed (ci/setup.sh installs nodejs and npm)"
  exit 77
fi
eslint=$modules/.bin/eslint
if [ ! -x "$eslint" ]; then
  echo "plots.lint: no eslint in $modules; run ci/setup.sh (npm ci --prefix tests/browser)" >&2
  exit 1
fi
cd "$src/plots/dashboard" || exit 1
MEMSCOPE_NODE_MODULES=$modules "$eslint" -c eslint.config.mjs --max-warnings 0 . || {
  echo "plots.lint: ESLint found problems in plots/dashboard (above)" >&2
  exit 1
}
echo "plots.lint: plots/dashboard/*.js clean ($(ls ./*.js | wc -l) files)"
