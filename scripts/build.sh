#!/usr/bin/env bash
# Configures and builds into BUILD_DIR (default: build). Extra arguments go to
# the CMake configure step, for example -DCONNECTOR_SANITIZE=address,undefined.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
cmake -S . -B "$build_dir" -DCONNECTOR_WERROR=ON "$@" >/dev/null
cmake --build "$build_dir" -j"$(nproc)"
