#!/usr/bin/env bash
# ci/setup.sh: install what is missing (Debian packages), then configure and build.
# As root it runs apt-get; otherwise it prints the exact apt-get line and stops (exit 2).
# Environment: BUILD_DIR (default build), BUILD_TYPE (Release), CMAKE_ARGS (extra flags).
set -euo pipefail
cd "$(dirname "$0")/.."

# afl++: afl-cc builds the fuzz targets (the demo's -afl build, the install tests) and
# afl-fuzz runs `memscope-harness fuzz` (docs/fuzz.md); it brings clang with it.
PACKAGES=(build-essential cmake pkg-config libunwind-dev libcjson-dev libdw-dev libelf-dev
          gnuplot-nox heaptrack sqlite3 libxml2-utils valgrind python3 python3-yaml libc6-dbg afl++
          chromium fonts-dejavu-core python3-jsonschema strace dwz)
# dwz: analysis.untrusted.alt_file_fifo makes a program whose DWARF dwz moved into an alt
# file (it skipped, exit 77, on every CI run without it).
# strace: tracker.signals_during_walks and tracker.thread_file_reserve count the tracker's
# system calls with it (they skip that count where it is missing).
# python3-jsonschema: tests/schemas validates every JSON file memscope writes against
# docs/schemas/*.schema.json (draft 2020-12; Debian 12 ships 4.10).
# chromium: the browser tests (tests/browser, docs/browser-tests.md) drive Debian's
# /usr/bin/chromium with playwright-core from npm; fonts-dejavu-core gives its screenshots text.
# node and npm: Debian's, unless a node with its npm is there already (nodesource's nodejs
# carries its own npm, and Debian's npm package would conflict with it).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  PACKAGES+=(nodejs npm)
fi
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "ci/setup.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "ci/setup.sh: missing packages; run as root:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 2
  fi
fi

# playwright-core and eslint, pinned by tests/browser/package-lock.json, into
# tests/browser/node_modules; skipped when that lock is the one installed last. Without the
# registry the browser tests skip, except under CI=true, where this fails.
lock=tests/browser/package-lock.json
stamp=tests/browser/node_modules/.memscope-installed-lock
if ! cmp -s "$lock" "$stamp"; then
  if npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error >/dev/null; then
    cp "$lock" "$stamp"
  elif [ "${CI:-}" = true ]; then
    echo "ci/setup.sh: npm ci in tests/browser failed; the browser tests cannot run" >&2
    exit 2
  else
    echo "ci/setup.sh: npm ci in tests/browser failed (no registry?); the browser tests will skip" >&2
  fi
fi

BUILD_DIR=${BUILD_DIR:-build}
werror=OFF
[ "${CI:-}" = true ] && werror=ON
# shellcheck disable=SC2086
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" -DMEMSCOPE_WERROR=$werror ${CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"
