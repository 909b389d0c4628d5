#!/usr/bin/env bash
# Builds and runs every test suite. Exits non-zero when any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=build scripts/build.sh
(cd build && ctest --output-on-failure -j"$(nproc)" --timeout 300)

# End-to-end suites: real PostHog clients from npm and Prism (tests/e2e/README.md).
BUILD_DIR=build tests/e2e/run.sh
