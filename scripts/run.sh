#!/usr/bin/env bash
# Builds the project and runs intercom-ingest and intercom-worker together in
# the foreground until Ctrl-C. Arguments are passed to both (for example
# --config FILE); with none, both use the embedded default configuration:
# queue file ./intercom-queue.db, ingest on 127.0.0.1:8000, and, without
# INTERCOM_API_KEY, the worker writes the requests it would send to
# ./intercom-requests.ndjson instead of calling Intercom.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build_dir="${BUILD_DIR:-$root/build}"
cmake -S "$root" -B "$build_dir" >/dev/null
cmake --build "$build_dir" -j"$(nproc)" --target intercom-ingest intercom-worker intercom-queue

"$build_dir/ingest/intercom-ingest" "$@" &
ingest_pid=$!
"$build_dir/worker/intercom-worker" "$@" &
worker_pid=$!

stop() {
  kill -TERM "$ingest_pid" "$worker_pid" 2>/dev/null || true
  wait "$ingest_pid" "$worker_pid" 2>/dev/null || true
}
trap stop INT TERM EXIT

# Stop both when either exits, so a failed start is not hidden.
wait -n "$ingest_pid" "$worker_pid"
