#!/usr/bin/env bash
# ci/setup.sh: install what is missing (Debian packages), then configure and build.
# As root it runs apt-get; otherwise it prints the exact apt-get line and stops (exit 2).
# Environment: BUILD_DIR (default build), BUILD_TYPE (Release), CMAKE_ARGS (extra flags).
set -euo pipefail
cd "$(dirname "$0")/.."

# afl++: afl-cc builds the fuzz targets (the demo's -afl build, the install tests) and
# afl-fuzz runs `memscope-harness fuzz` (docs/fuzz.md); it brings clang with it.
PACKAGES=(build-essential cmake pkg-config libunwind-dev libcjson-dev libdw-dev libelf-dev
          gnuplot-nox heaptrack sqlite3 libxml2-utils valgrind python3 libc6-dbg afl++)
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

BUILD_DIR=${BUILD_DIR:-build}
werror=OFF
[ "${CI:-}" = true ] && werror=ON
# shellcheck disable=SC2086
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" -DMEMSCOPE_WERROR=$werror ${CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"
