#!/usr/bin/env bash
# Benchmarks intercom-ingest and intercom-worker against the limits of this
# machine, measured in the same run, and prints one table: each figure, its
# reference limit, the ratio and the target. docs/benchmarks.md explains
# every row.
#
#   tools/bench/run.sh [--smoke] [--build-dir DIR] [--only "STEP ..."]
#
# --smoke      runs every step for a second or two and checks no target, so CI
#              can keep the harness working (about 35 s after the build).
# --build-dir  builds into DIR instead of build-bench. A directory without a
#              CMake cache is configured as Release without the test suites;
#              one with a cache keeps its build type (CI passes its test build).
# --only       runs only the named steps, in order: ingest-batch
#              ingest-single worker-fast worker-slow worker-limited latency
#              worker-rss claim.
#
# Everything runs on 127.0.0.1: real intercom-ingest and intercom-worker
# processes, a fake Intercom (bench-fake-intercom) and the load generator
# (bench-load) in processes of their own. Each process runs under `timeout`,
# so none outlives the run. Work files go to DIR/bench-run, on the same disk
# as the build.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build_dir="$root/build-bench"
smoke=0
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1 ;;
    --build-dir) build_dir="$(cd "$root" && mkdir -p "$2" && cd "$2" && pwd)"; shift ;;
    --build-dir=*) build_dir="$(cd "$root" && mkdir -p "${1#*=}" && cd "${1#*=}" && pwd)" ;;
    --only) only="$2"; shift ;;
    --only=*) only="${1#*=}" ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument \"$1\"; see --help" >&2; exit 2 ;;
  esac
  shift
done

# --- Build -------------------------------------------------------------------
configure=(-DCONNECTOR_BUILD_BENCH=ON)
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  configure+=(-DCMAKE_BUILD_TYPE=Release -DCONNECTOR_BUILD_TESTS=OFF)
fi
cmake -S "$root" -B "$build_dir" "${configure[@]}" >/dev/null
cmake --build "$build_dir" -j"$(nproc)" --target intercom-ingest intercom-worker \
  bench-fake-intercom bench-load bench-queue >/dev/null
ingest_bin="$build_dir/ingest/intercom-ingest"
worker_bin="$build_dir/worker/intercom-worker"
tools="$build_dir/tools/bench"
build_type="$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build_dir/CMakeCache.txt")"

# --- Durations (seconds) and sizes --------------------------------------------
if [ "$smoke" -eq 1 ]; then
  raw_s=1; ingest_s=1; worker_s=2; limited_s=2; latency_s=2; rss_s=2
  rss_rows=40000; claim_small_rows=2000; claims=10
else
  raw_s=10; ingest_s=10; worker_s=10; limited_s=60; latency_s=20; rss_s=10
  rss_rows=1000000; claim_small_rows=10000; claims=50
fi
# Intercom's limit: 10,000 requests a minute, counted in 10 s windows.
limit_per_minute=10000
window_s=10
window_limit=$((limit_per_minute * window_s / 60))

work="$build_dir/bench-run"
rm -rf "$work"
mkdir -p "$work"
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

log() { echo "bench: $*" >&2; }

# Prints the value of KEY from a key=value file.
kv() { sed -n "s/^$2=//p" "$1" | head -n1; }

# Prints A / B with 3 decimals, or "n/a" when B is 0 or empty.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == "" || b + 0 == 0) print "n/a"; else printf "%.3f", a / b }'; }

now_s() { date +%s; }

# Sleeps until Unix second $1.
sleep_until() {
  local delay
  delay=$(awk -v t="$1" -v n="$(date +%s.%N)" 'BEGIN { d = t - n; print (d > 0 ? d : 0) }')
  sleep "$delay"
}

# Starts a process in the background under `timeout`, so it stops by itself
# after $1 seconds even if this script dies. Its stderr goes to $2.
# Sets started_pid to the `timeout` process, which passes SIGTERM on, and
# program_pid to the program itself, for its CPU time and memory.
start_bounded() {
  local limit="$1" log_file="$2"
  shift 2
  timeout --signal=TERM --kill-after=10 "$limit" "$@" >"$log_file.out" 2>"$log_file" &
  started_pid=$!
  pids+=("$started_pid")
  program_pid=""
  for _ in $(seq 100); do
    program_pid=$(cat "/proc/$started_pid/task/$started_pid/children" 2>/dev/null | awk '{ print $1 }')
    [ -n "$program_pid" ] && return 0
    sleep 0.02
  done
  echo "run.sh: $1 failed to start within 2 s; see $log_file" >&2
  exit 1
}

# Sends SIGTERM to $1 and waits for it.
stop_process() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# Waits up to 20 s for the line matching $2 in file $1; prints the line.
wait_for_line() {
  local deadline=$(( $(now_s) + 20 ))
  while [ "$(now_s)" -lt "$deadline" ]; do
    if grep -q -- "$2" "$1" 2>/dev/null; then grep -m1 -- "$2" "$1"; return 0; fi
    sleep 0.05
  done
  echo "run.sh: timed out waiting for \"$2\" in $1:" >&2
  tail -n 20 "$1" >&2
  return 1
}

# CPU seconds (user + system) used so far by process $1.
cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"
}

# Seconds that the threads of process $1 have spent runnable but waiting for
# a CPU (the second field of /proc/PID/task/*/schedstat, in nanoseconds).
cpu_wait_seconds() {
  cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ sum += $2 } END { printf "%.2f", sum / 1e9 }'
}

# Prints the resident set size of process $1 in MiB: $2 is VmHWM for the
# peak or VmRSS for the current size.
rss_mib() { awk -v key="$2:" '$1 == key { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

# Starts the fake Intercom with the given flags; sets fake_pid and fake_url.
start_fake() {
  local name="$1"
  shift
  rm -f "$work/$name.port"
  start_bounded 900 "$work/$name.fake.log" "$tools/bench-fake-intercom" \
    --port-file="$work/$name.port" --max-seconds=890 "$@"
  fake_pid=$started_pid
  local deadline=$(( $(now_s) + 20 ))
  until [ -s "$work/$name.port" ]; do
    if [ "$(now_s)" -ge "$deadline" ]; then echo "run.sh: the fake Intercom did not start" >&2; exit 1; fi
    sleep 0.05
  done
  fake_url="http://127.0.0.1:$(cat "$work/$name.port")"
}

# The metrics servers bind a fixed port by default; port 0 avoids clashing
# with anything else on this machine. Older builds have no ingest key.
ingest_metrics_line=""
if awk '/^\[ingest\]/ { s = 1; next } /^\[/ { s = 0 } s && /^metrics_listen/ { found = 1 } END { exit !found }' \
    "$root/config/intercom-connector.example.toml"; then
  ingest_metrics_line='metrics_listen = "127.0.0.1:0"'
fi

# Writes config $1 for queue $2; optional settings: base_url=, rate=, concurrency=, metadata=.
write_config() {
  local file="$1" db="$2" base_url="http://127.0.0.1:9" rate="$limit_per_minute" concurrency=8 metadata=""
  shift 2
  for setting in "$@"; do
    case "$setting" in
      base_url=*) base_url="${setting#*=}" ;;
      rate=*) rate="${setting#*=}" ;;
      concurrency=*) concurrency="${setting#*=}" ;;
      metadata=*) metadata="\"${setting#*=}\"" ;;
    esac
  done
  cat >"$file" <<EOF
[queue]
path = "$db"
synchronous = "full"

[ingest]
listen = "127.0.0.1:0"
$ingest_metrics_line

[intercom]
api_key = "bench-token"
base_url = "$base_url"
triggering_events = ["\$identify"]
metadata_properties = [$metadata]

[worker]
concurrency = $concurrency
rate_limit_per_minute = $rate
metrics_listen = "127.0.0.1:0"
EOF
}

# Starts intercom-ingest with config $1 (log $2); sets ingest_pid and ingest_address.
start_ingest() {
  start_bounded 900 "$2" "$ingest_bin" --config "$1"
  ingest_pid=$started_pid
  ingest_program=$program_pid
  local line
  line=$(wait_for_line "$2" "msg=listening")
  ingest_address=$(sed -n 's/.* address=\([^ ]*\).*/\1/p' <<<"$line")
  curl -sf "http://$ingest_address/healthz" >/dev/null
}

# Starts intercom-worker with config $1 (log $2); sets worker_pid.
start_worker() {
  start_bounded 900 "$2" "$worker_bin" --config "$1"
  worker_pid=$started_pid
  worker_program=$program_pid
  wait_for_line "$2" "msg=worker_started" >/dev/null
}

# Counts accepted requests at the fake in Unix seconds [$1, $2); prints key=value lines.
fake_stats() { curl -sf "$fake_url/bench/stats?from_s=$1&to_s=$2"; }

# Rows of the final table: figure, measured, reference, ratio, target, verdict.
rows=()
add_row() { rows+=("$1|$2|$3|$4|$5|$6"); }
# Lines printed under the table: CPU time, per-connection counts, errors.
details=()

# Prints "met" or "MISSED" for ratio $1 against the rule $2 ("min X",
# "above X" or "max X"), or "smoke" in a smoke run.
verdict() {
  if [ "$smoke" -eq 1 ]; then echo "smoke"; return; fi
  awk -v r="$1" -v rule="$2" 'BEGIN {
    split(rule, p, " ");
    if (r == "n/a") { print "n/a"; exit }
    if (p[1] == "min") print (r + 0 >= p[2] + 0 ? "met" : "MISSED");
    else if (p[1] == "above") print (r + 0 > p[2] + 0 ? "met" : "MISSED");
    else print (r + 0 <= p[2] + 0 ? "met" : "MISSED") }'
}

started_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
run_start=$(now_s)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
log "build $build_type in $build_dir; work files in $work; load average $load_before"

raw1=""    # raw SQLite rows/s, 1 row per commit; set by step_ingest_single
raw100=""  # the same with 100 rows per commit; set by step_ingest_batch

# Each step measures one or two figures and adds their rows to the table.

# Measures the raw SQLite insert rate with $1 rows per commit into a fresh
# queue file and prints rows/s. Each ingest step measures its own reference
# just before its load, because this disk's fsync time changes by up to 10x
# from minute to minute when other work shares the machine.
raw_rate() {
  log "raw SQLite inserts, $1 rows per commit, ${raw_s}s"
  "$tools/bench-queue" insert-rate --db="$work/raw$1.db" --rows-per-commit="$1" --seconds="$raw_s" >"$work/raw$1.txt"
  rm -f "$work/raw$1.db"*
  kv "$work/raw$1.txt" rows_per_s
}

step_ingest_batch() {
  raw100=$(raw_rate 100)
  log "ingest: batches of 100 from 8 keep-alive clients, ${ingest_s}s"
  write_config "$work/ingest-batch.toml" "$work/ingest-batch.db"
  start_ingest "$work/ingest-batch.toml" "$work/ingest-batch.log"
  # Enough distinct bodies for twice the raw 100-row rate, so the pool cannot run out first.
  local requests
  requests=$(awk -v r="${raw100:-20000}" -v s="$ingest_s" 'BEGIN { n = int(r * s * 2 / 100) + 50; print (n > 20000 ? 20000 : n) }')
  "$tools/bench-load" --mode=batch --address="$ingest_address" --connections=8 --seconds="$ingest_s" \
    --max-requests="$requests" >"$work/ingest-batch.txt"
  details+=("ingest CPU $(cpu_seconds "$ingest_program") s over the ${ingest_s} s batch run; its threads waited $(cpu_wait_seconds "$ingest_program") s in all for a CPU")
  stop_process "$ingest_pid"
  local measured r
  measured=$(kv "$work/ingest-batch.txt" events_per_s)
  r=$(ratio "$measured" "$raw100")
  add_row "ingest, gzip batches of 100, 8 keep-alive clients (events/s)" "$measured" \
    "$raw100 raw SQLite rows/s, 100 per commit" "$r" ">= 0.30" "$(verdict "$r" "min 0.30")"
  details+=("batch request p50/p99 $(kv "$work/ingest-batch.txt" request_p50_ms)/$(kv "$work/ingest-batch.txt" request_p99_ms) ms, errors $(kv "$work/ingest-batch.txt" errors), bodies run out: $(kv "$work/ingest-batch.txt" requests_exhausted)")

  "$tools/bench-queue" size --db="$work/ingest-batch.db" >"$work/size.txt"
  local bytes payload
  bytes=$(kv "$work/size.txt" bytes_per_event)
  payload=$(kv "$work/size.txt" payload_bytes_per_event)
  add_row "database bytes per queued posthog-node \$identify event" "$(printf '%.0f' "$bytes")" \
    "$payload bytes of JSON payload" "$(ratio "$bytes" "$payload")" "reported" "-"
  details+=("database bytes per event by table and index: $(sed -n 's/^bytes_per_event\.\(.*\)=\(.*\)/\1 \2/p' "$work/size.txt" | awk '$2 > 0' | paste -sd, -)")
  rm -f "$work"/ingest-batch.db*
}

step_ingest_single() {
  raw1=$(raw_rate 1)
  log "ingest: single-event /e/ requests on 32 connections, ${ingest_s}s"
  write_config "$work/ingest-single.toml" "$work/ingest-single.db"
  start_ingest "$work/ingest-single.toml" "$work/ingest-single.log"
  "$tools/bench-load" --mode=single --address="$ingest_address" --connections=32 --seconds="$ingest_s" \
    >"$work/ingest-single.txt"
  details+=("ingest CPU $(cpu_seconds "$ingest_program") s over the ${ingest_s} s single-event run; its threads waited $(cpu_wait_seconds "$ingest_program") s in all for a CPU")
  stop_process "$ingest_pid"
  local measured r
  measured=$(kv "$work/ingest-single.txt" events_per_s)
  r=$(ratio "$measured" "$raw1")
  add_row "ingest, single-event /e/, 32 connections (events/s)" "$measured" \
    "$raw1 raw SQLite rows/s, 1 per commit" "$r" "> 1" "$(verdict "$r" "above 1")"
  details+=("single-event connections served: $(kv "$work/ingest-single.txt" connections_served) of 32, request p50/p99 $(kv "$work/ingest-single.txt" request_p50_ms)/$(kv "$work/ingest-single.txt" request_p99_ms) ms, errors $(kv "$work/ingest-single.txt" errors)")
  rm -f "$work"/ingest-single.db*
}

# Runs the worker against a fake Intercom over a pre-filled queue and counts
# the deliveries the fake accepted in a window of $3 s after a 2 s warm-up.
# $1 name, $2 rows to pre-fill, then config settings; the fake's flags come
# from fake_flags. Sets delivered, delivered_per_s, rate_limited, worker_cpu
# (cores), worker_cpu_wait (thread-seconds per second spent waiting for a
# CPU) and worker_hwm (MiB). Leaves the queue file $work/$1.db.
worker_run() {
  local name="$1" fill="$2" seconds="$3"
  shift 3
  "$tools/bench-queue" fill --db="$work/$name.db" --count="$fill" >"$work/$name.fill.txt"
  start_fake "$name" "${fake_flags[@]}"
  write_config "$work/$name.toml" "$work/$name.db" base_url="$fake_url" "$@"
  start_worker "$work/$name.toml" "$work/$name.log"
  local from to cpu_before cpu_after wait_before wait_after
  from=$(( $(now_s) + 2 ))
  if [ "$seconds" -ge 60 ]; then
    # Align the window with the fake's rate-limit windows.
    from=$(( (from + window_s - 1) / window_s * window_s ))
  fi
  to=$(( from + seconds ))
  sleep_until "$from"
  cpu_before=$(cpu_seconds "$worker_program")
  wait_before=$(cpu_wait_seconds "$worker_program")
  sleep_until "$to"
  cpu_after=$(cpu_seconds "$worker_program")
  wait_after=$(cpu_wait_seconds "$worker_program")
  worker_cpu=$(awk -v a="$cpu_after" -v b="$cpu_before" -v s="$seconds" 'BEGIN { printf "%.2f", (a - b) / s }')
  worker_cpu_wait=$(awk -v a="$wait_after" -v b="$wait_before" -v s="$seconds" 'BEGIN { printf "%.2f", (a - b) / s }')
  worker_hwm=$(rss_mib "$worker_program" VmHWM)
  sleep 1.2  # let requests of the window's last second finish
  fake_stats "$from" "$to" >"$work/$name.txt"
  stop_process "$worker_pid"
  stop_process "$fake_pid"
  delivered=$(kv "$work/$name.txt" range_accepted)
  rate_limited=$(kv "$work/$name.txt" range_rate_limited)
  delivered_per_s=$(awk -v a="$delivered" -v s="$seconds" 'BEGIN { printf "%.1f", a / s }')
  if [ "$(kv "$work/$name.txt" accepted)" -ge "$fill" ]; then
    log "warning: $name delivered the whole pre-filled queue; its rate is a lower bound"
  fi
}

step_worker_fast() {
  log "worker: zero-latency fake Intercom, rate limit off, ${worker_s}s"
  fake_flags=()
  worker_run worker-fast $(( smoke ? 20000 : 150000 )) "$worker_s" rate=0
  local r
  r=$(ratio "$delivered_per_s" 3000)
  add_row "worker, zero-latency fake, rate limit off (deliveries/s)" "$delivered_per_s" \
    "3000/s (the target; no measured limit)" "$r" ">= 1" "$(verdict "$r" "min 1")"
  details+=("worker CPU ${worker_cpu} cores at the zero-latency rate; its threads waited ${worker_cpu_wait} s per second for a CPU")
  rm -f "$work"/worker-fast.db*
}

step_worker_slow() {
  log "worker: fake Intercom adding 50 ms, concurrency 8, ${worker_s}s"
  fake_flags=(--delay-ms=50)
  worker_run worker-slow 5000 "$worker_s" rate=0 concurrency=8
  local limit r
  limit=$(awk 'BEGIN { print 8 / 0.050 }')
  r=$(ratio "$delivered_per_s" "$limit")
  add_row "worker, fake adding 50 ms, concurrency 8 (deliveries/s)" "$delivered_per_s" \
    "$limit/s = concurrency / 50 ms" "$r" ">= 0.80" "$(verdict "$r" "min 0.80")"
  rm -f "$work"/worker-slow.db*
}

step_worker_limited() {
  log "worker: fake Intercom enforcing $limit_per_minute/min in ${window_s}s windows, ${limited_s}s"
  fake_flags=(--window-limit="$window_limit" --window-seconds="$window_s")
  worker_run worker-limited $(( smoke ? 2000 : 14000 )) "$limited_s" rate="$limit_per_minute"
  # The maximum the fake lets through in the window: whole windows times the
  # window limit, pro rata for a part window (smoke runs only).
  local allowed r v
  allowed=$(awk -v s="$limited_s" -v w="$window_s" -v l="$window_limit" \
    'BEGIN { n = int(s / w); printf "%d", n * l + (s - n * w) / w * l }')
  r=$(ratio "$delivered" "$allowed")
  v=$(verdict "$r" "min 0.99")
  if [ "$smoke" -eq 0 ] && [ "${rate_limited:-0}" -ne 0 ]; then v="MISSED"; fi
  add_row "worker, fake enforcing $limit_per_minute/min, deliveries in ${limited_s}s (429s: $rate_limited)" \
    "$delivered" "$allowed allowed by the limit" "$r" ">= 0.99, no 429" "$v"
  details+=("rate-limited run: busiest second $(grep -o '^ts=[^.]*' "$work/worker-limited.log" | sort | uniq -c | sort -rn | head -n1 | awk '{ print $1 }') log lines, $(grep -c 'msg=delivered' "$work/worker-limited.log") deliveries logged in all")
  rm -f "$work"/worker-limited.db*
}

step_latency() {
  log "latency: ingest, worker and fake Intercom at 100 events/s, ${latency_s}s"
  start_fake latency
  write_config "$work/latency.toml" "$work/latency.db" base_url="$fake_url" metadata=bench_sent_us
  start_ingest "$work/latency.toml" "$work/latency-ingest.log"
  start_worker "$work/latency.toml" "$work/latency-worker.log"
  "$tools/bench-load" --mode=paced --rate=100 --address="$ingest_address" --connections=4 \
    --seconds="$latency_s" >"$work/latency-load.txt"
  sleep 1
  fake_stats 0 0 >"$work/latency.txt"
  stop_process "$worker_pid"
  stop_process "$ingest_pid"
  stop_process "$fake_pid"
  local p50 p99 sent seen r
  p50=$(kv "$work/latency.txt" latency_p50_ms)
  p99=$(kv "$work/latency.txt" latency_p99_ms)
  sent=$(kv "$work/latency-load.txt" requests)
  seen=$(kv "$work/latency.txt" latency_count)
  r=$(ratio "$p50" 50)
  add_row "ingest-to-Intercom latency p50 at 100 events/s (ms, $seen of $sent events)" \
    "$p50" "50 ms (the target)" "$r" "<= 1" "$(verdict "$r" "max 1")"
  r=$(ratio "$p99" 250)
  add_row "ingest-to-Intercom latency p99 at 100 events/s (ms)" "$p99" "250 ms (the target)" \
    "$r" "<= 1" "$(verdict "$r" "max 1")"
  details+=("latency max $(kv "$work/latency.txt" latency_max_ms) ms; ingest response p50/p99 $(kv "$work/latency-load.txt" request_p50_ms)/$(kv "$work/latency-load.txt" request_p99_ms) ms, errors $(kv "$work/latency-load.txt" errors)")
  rm -f "$work"/latency.db*
}

step_worker_rss() {
  log "worker RSS: $rss_rows pending events, zero-latency fake, ${rss_s}s"
  fake_flags=()
  worker_run worker-rss "$rss_rows" "$rss_s" rate=0
  local r
  r=$(ratio "$worker_hwm" 64)
  add_row "worker peak RSS with $rss_rows pending (MiB)" "$worker_hwm" "64 MiB (the target)" "$r" "<= 1" \
    "$(verdict "$r" "max 1")"
}

step_claim() {
  # Uses the large queue the RSS step leaves behind, or fills one.
  if [ ! -f "$work/worker-rss.db" ]; then
    "$tools/bench-queue" fill --db="$work/worker-rss.db" --count="$rss_rows" >/dev/null
  fi
  log "claim cost: $claims claims of 64 rows at $claim_small_rows and about $rss_rows pending"
  "$tools/bench-queue" claim-cost --db="$work/worker-rss.db" --claims="$claims" >"$work/claim-large.txt"
  "$tools/bench-queue" fill --db="$work/claim-small.db" --count="$claim_small_rows" >/dev/null
  "$tools/bench-queue" claim-cost --db="$work/claim-small.db" --claims="$claims" >"$work/claim-small.txt"
  local large small r
  for measure in wall cpu; do
    large=$(kv "$work/claim-large.txt" "${measure}_p50_ms")
    small=$(kv "$work/claim-small.txt" "${measure}_p50_ms")
    r=$(ratio "$large" "$small")
    add_row "claim of 64 rows, median $measure time at $(kv "$work/claim-large.txt" pending) pending (ms)" \
      "$large" "$small ms at $(kv "$work/claim-small.txt" pending) pending" "$r" "<= 2" "$(verdict "$r" "max 2")"
  done
  rm -f "$work"/worker-rss.db* "$work"/claim-small.db*
}

all_steps="ingest-batch ingest-single worker-fast worker-slow worker-limited latency worker-rss claim"
for step in ${only:-$all_steps}; do
  case " $all_steps " in
    *" $step "*) "step_${step//-/_}" ;;
    *) echo "run.sh: unknown step \"$step\"; steps: $all_steps" >&2; exit 2 ;;
  esac
done

# --- Table ------------------------------------------------------------------------
echo
echo "Intercom Connector benchmarks, $started_at, $(nproc) cores, $build_type build$([ "$smoke" -eq 1 ] && echo ", SMOKE (no targets checked)")"
echo
echo "| figure | measured | reference limit (same run) | ratio | target | result |"
echo "| --- | ---: | --- | ---: | --- | --- |"
for row in "${rows[@]}"; do
  IFS='|' read -r a b c d e f <<<"$row"
  echo "| $a | $b | $c | $d | $e | $f |"
done
echo
for line in "${details[@]}"; do echo "- $line"; done
echo "- load average before $load_before, after $(cut -d' ' -f1-3 /proc/loadavg); run time $(( $(now_s) - run_start )) s; files in $work"
