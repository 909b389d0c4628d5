#!/usr/bin/env bash
# Builds and runs every test suite. Exits non-zero when any test fails.
# Each step can also run alone; README.md's "Tests" section lists how.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { echo; echo "== test.sh: $* ($(date -u +%H:%M:%S))"; }

step "build and GoogleTest suites"
BUILD_DIR=build scripts/build.sh
(cd build && ctest --output-on-failure -j"$(nproc)" --timeout 300)

step "end-to-end suites: real PostHog clients from npm and Prism"
BUILD_DIR=build tests/e2e/run.sh

step "benchmark smoke: every step briefly, no targets"
tools/bench/run.sh --smoke --build-dir build

step "fuzzing request decoding and event normalisation"
FUZZ_SECONDS=${FUZZ_SECONDS:-60} tests/fuzz/run.sh

step "Debian package: build, dpkg -i, run, purge"
tests/packaging/deb_test.sh build-deb

step "sanitizers: ASan+UBSan on every suite, TSan on the worker's"
scripts/test-sanitizers.sh

step "all passed"
