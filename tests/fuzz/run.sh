#!/usr/bin/env bash
# Builds the capture fuzzer with clang into build-fuzz and runs it for a fixed
# time (FUZZ_SECONDS, default 60) from the committed seed corpus. Exits
# non-zero when the build fails or the fuzzer finds a crash, a leak, a
# sanitizer report or an input slower than 10 s. The input that failed is kept
# in build-fuzz/artifacts/.
#
# New inputs the fuzzer finds go to build-fuzz/corpus, never to the committed
# seeds, so a run leaves the work tree unchanged.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${FUZZ_SECONDS:-60}
build_dir=build-fuzz

cmake -S tests/fuzz -B "$build_dir" -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build_dir" -j"$(nproc)"

mkdir -p "$build_dir/corpus" "$build_dir/artifacts"
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# -rss_limit_mb stays above the decoder's 1 MiB output cap plus ASan's overhead;
# -max_len lets the seeds' larger bodies through.
"$build_dir/capture_fuzzer" "$build_dir/corpus" tests/fuzz/corpus \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -artifact_prefix="$build_dir/artifacts/" -print_final_stats=1
