#!/usr/bin/env bash
# Builds and runs the test suites under sanitizers: every suite with
# AddressSanitizer and UndefinedBehaviorSanitizer in build-asan, and the
# worker's suite (the multi-threaded delivery code) with ThreadSanitizer in
# build-tsan. Exits non-zero on any failing test or sanitizer report.
#
# Usage: scripts/test-sanitizers.sh [asan|tsan]   (both when no argument)
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc)
which=${1:-all}

# A sanitizer report fails the test that triggered it instead of only
# printing. detect_leaks stays on: the suites end their servers and threads.
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

# GCC 12 reports false -Wmaybe-uninitialized warnings inside libstdc++'s
# <regex> when ASan instruments it, which -Werror would turn into errors.
quiet_flags=-Wno-maybe-uninitialized

if [ "$which" = all ] || [ "$which" = asan ]; then
  echo "test-sanitizers: address,undefined in build-asan"
  BUILD_DIR=build-asan scripts/build.sh -DCONNECTOR_SANITIZE=address,undefined \
    -DCMAKE_CXX_FLAGS="$quiet_flags"
  (cd build-asan && ctest --output-on-failure -j"$jobs" --timeout 600)
fi

if [ "$which" = all ] || [ "$which" = tsan ]; then
  echo "test-sanitizers: thread in build-tsan (worker tests)"
  cmake -S . -B build-tsan -DCONNECTOR_WERROR=ON -DCONNECTOR_SANITIZE=thread \
    -DCMAKE_CXX_FLAGS="$quiet_flags" >/dev/null
  cmake --build build-tsan -j"$jobs" --target worker_tests intercom-worker
  # Only the worker's suites: a regex built from the suites worker_tests lists.
  suites=$(build-tsan/tests/worker/worker_tests --gtest_list_tests | grep -v '^ ' | tr -d '.' | paste -sd'|')
  (cd build-tsan && ctest --output-on-failure -j"$jobs" --timeout 600 -R "^($suites)\\.")
fi
