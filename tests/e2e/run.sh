#!/usr/bin/env bash
# Runs the end-to-end suites: real PostHog clients against intercom-ingest, and
# intercom-worker against a fake Intercom and against Prism mocking Intercom's
# OpenAPI description. Installs the pinned npm packages first (npm ci, skipped
# when node_modules already matches package-lock.json).
#
# Environment:
#   BUILD_DIR              build directory holding ingest/intercom-ingest and
#                          worker/intercom-worker, relative to the repository
#                          root unless absolute (default: build)
#   INTERCOM_OPENAPI_SPEC  Intercom's OpenAPI file (default: the 2.16 file in
#                          ../shared/intercom-openapi/ beside the repository);
#                          the contract suite is skipped when it is absent
#   E2E_KEEP_TMP=1         keep each suite's temporary directory (database,
#                          configuration) for inspection
# Extra arguments go to `node --test`, for example a single test file.
set -euo pipefail
cd "$(dirname "$0")"
repo_root=$(cd ../.. && pwd)

for tool in node npm sqlite3; do
  if ! command -v "$tool" >/dev/null; then
    echo "e2e: $tool not found; install Debian's nodejs (20.20 or newer) and sqlite3" >&2
    exit 1
  fi
done

# npm ci wipes and reinstalls node_modules, so it runs only when the lockfile
# changed since the last install. No package here needs an install script
# (core-js's only prints a banner), so none is run.
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.e2e-lock-sha256
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
  echo "e2e: npm ci"
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > "$stamp"
fi

build_dir=${BUILD_DIR:-build}
case "$build_dir" in
  /*) ;;
  *) build_dir="$repo_root/$build_dir" ;;
esac
for binary in ingest/intercom-ingest worker/intercom-worker; do
  if [ ! -x "$build_dir/$binary" ]; then
    echo "e2e: $build_dir/$binary not found; build first (scripts/build.sh) or set BUILD_DIR" >&2
    exit 1
  fi
done
export BUILD_DIR="$build_dir"

# One test file at a time: each starts its own servers, and the machine has
# two cores. Every test also has its own timeout. --test-force-exit ends a test
# file once its tests are done even though posthog-js leaves timers behind (its
# 30-minute session idle timer, for one), which a browser drops with the tab.
if [ "$#" -eq 0 ]; then
  set -- test/
fi
exec node --test --test-concurrency=1 --test-timeout=300000 --test-force-exit "$@"
