#!/usr/bin/env bash
# Builds the Debian package and installs it on this machine with dpkg -i. It
# checks the installed binaries, units and configuration, and runs ingest and
# the worker the way their units do: as the intercom-connector user, under
# systemd when systemd is running. Then it removes and purges the package and
# checks what is left.
#
# Usage: tests/packaging/deb_test.sh [BUILD_DIR]   (default: build-deb)
# Needs root (dpkg -i); exits 0 with "SKIP" otherwise. Refuses to run when
# intercom-connector is already installed, so it never replaces a real install.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$repo/build-deb}
package=intercom-connector
user=intercom-connector
state_dir=/var/lib/intercom-connector

log() { echo "deb_test: $*"; }
fail() { echo "deb_test: FAIL: $*" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
  log "SKIP: dpkg -i needs root; run as root or with sudo"
  exit 0
fi
if dpkg-query -W -f='${Status}' "$package" 2> /dev/null | grep -q "installed"; then
  fail "$package is already installed; remove it first (this test installs and purges it)"
fi

user_existed=no
getent passwd "$user" > /dev/null && user_existed=yes
state_existed=no
[ -e "$state_dir" ] && state_existed=yes
work=$(mktemp -d)
chmod 711 "$work"  # the services' user must reach $work/run
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2> /dev/null || true; done
  if dpkg-query -W -f='${Status}' "$package" 2> /dev/null | grep -q "installed\|config-files"; then
    dpkg -P "$package" > /dev/null 2>&1 || true
  fi
  [ "$state_existed" = no ] && rm -rf "$state_dir"
  [ "$user_existed" = no ] && userdel "$user" 2> /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Build the package.
started=$SECONDS
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
    -DCONNECTOR_BUILD_TESTS=OFF > "$work/cmake.log"
fi
cmake --build "$build" -j"$(nproc)" --target intercom-ingest intercom-worker intercom-queue \
  > "$work/build.log" || { cat "$work/build.log"; fail "build failed"; }
(cd "$build" && cpack -G DEB > "$work/cpack.log") || { cat "$work/cpack.log"; fail "cpack failed"; }
deb=$(ls -t "$build"/${package}_*.deb | head -n 1)
log "built $deb in $((SECONDS - started)) s"

# The control data: shared-library dependencies found by dpkg-shlibdeps.
depends=$(dpkg-deb -f "$deb" Depends)
log "Depends: $depends"
for library in libpoconet libsqlite3 libc6; do
  echo "$depends" | grep -q "$library" || fail "Depends lacks $library: $depends"
done

# Install.
dpkg -i "$deb" > "$work/dpkg-install.log" 2>&1 || { cat "$work/dpkg-install.log"; fail "dpkg -i failed"; }
for binary in intercom-ingest intercom-worker intercom-queue; do
  version=$("/usr/bin/$binary" --version) || fail "$binary --version failed"
  [ "$version" = "$binary $(dpkg-deb -f "$deb" Version)" ] || fail "unexpected version: $version"
done
unit_dir=/usr/lib/systemd/system
for unit in intercom-ingest.service intercom-worker.service; do
  [ -f "$unit_dir/$unit" ] || fail "$unit_dir/$unit not installed"
  for option in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
                StateDirectory=intercom-connector Restart=on-failure RestartPreventExitStatus=2 \
                User=intercom-connector; do
    grep -qx "$option" "$unit_dir/$unit" || fail "$unit lacks $option"
  done
done
if command -v systemd-analyze > /dev/null; then
  systemd-analyze verify "$unit_dir/intercom-ingest.service" "$unit_dir/intercom-worker.service" \
    || fail "systemd-analyze verify found problems in the units"
fi
[ -f /usr/share/intercom-connector/schema/001_queue.sql ] || fail "schema SQL not installed"
[ -f /usr/share/doc/intercom-connector/intercom-connector.example.toml ] \
  || fail "example configuration not installed"
config=/etc/intercom-connector/intercom-connector.toml
[ -f "$config" ] || fail "$config not installed"
[ "$(stat -c %a:%G "$config")" = "640:$user" ] || fail "$config is $(stat -c %a:%G "$config")"
getent passwd "$user" > /dev/null || fail "postinst did not create the $user user"
[ "$(stat -c %U:%a "$state_dir")" = "$user:750" ] || fail "$state_dir is $(stat -c %U:%a "$state_dir")"
if [ -d /run/systemd/system ]; then
  for unit in intercom-ingest.service intercom-worker.service; do
    ! systemctl is-enabled --quiet "$unit" || fail "postinst enabled $unit"
  done
fi
log "installed: binaries, units, schema, configuration, user and state directory"

# Run ingest and the worker against a queue in a temporary directory, with the
# unit's user and command line.
run_dir="$work/run"
install -d -o "$user" -g "$user" -m 0750 "$run_dir"
cat > "$run_dir/connector.toml" << TOML
[queue]
path = "$run_dir/queue.db"
[ingest]
listen = "127.0.0.1:0"
metrics_listen = "127.0.0.1:0"
[worker]
metrics_listen = "127.0.0.1:0"
dry_run_file = "$run_dir/requests.ndjson"
TOML
chown "$user:$user" "$run_dir/connector.toml"

# Prints the first capture of a sed pattern in a log, waiting up to 10 s.
wait_for_log() {
  local file=$1 pattern=$2 value=""
  for _ in $(seq 100); do
    value=$(sed -n "s/.*$pattern.*/\1/p" "$file" 2> /dev/null | head -n 1)
    [ -n "$value" ] && { echo "$value"; return 0; }
    sleep 0.1
  done
  cat "$file" >&2
  return 1
}

# Starts a binary the way its unit does, with --config replaced.
start_service() {
  local unit=$1 log_file=$2 exec_start
  exec_start=$(sed -n 's/^ExecStart=//p' "$unit_dir/$unit")
  exec_start=${exec_start/$config/$run_dir/connector.toml}
  if [ -d /run/systemd/system ]; then
    systemd-run --quiet --unit "deb-test-$unit" --property User="$user" \
      --property NoNewPrivileges=yes --property WorkingDirectory="$run_dir" \
      sh -c "exec $exec_start 2> $log_file"
    return
  fi
  (cd "$run_dir" && exec setpriv --reuid="$user" --regid="$user" --init-groups --no-new-privs \
     env -u INTERCOM_API_KEY $exec_start 2> "$log_file") &
  pids+=($!)
}

if [ -d /run/systemd/system ]; then
  log "systemd is running: starting the commands with systemd-run"
else
  log "systemd is not running (PID 1 is $(cat /proc/1/comm)): starting the commands directly as $user"
fi
start_service intercom-ingest.service "$run_dir/ingest.log"
capture_port=$(wait_for_log "$run_dir/ingest.log" 'msg=listening address=127\.0\.0\.1:\([0-9]*\).*') \
  || fail "ingest did not start"
ingest_metrics=$(wait_for_log "$run_dir/ingest.log" 'msg=metrics_listening address=127\.0\.0\.1:\([0-9]*\).*') \
  || fail "ingest served no metrics"
curl -fsS "http://127.0.0.1:$capture_port/healthz" > /dev/null || fail "ingest /healthz failed"
curl -fsS "http://127.0.0.1:$ingest_metrics/healthz" > /dev/null || fail "ingest metrics /healthz failed"
curl -fsS "http://127.0.0.1:$capture_port/capture/" -H 'Content-Type: application/json' \
  -d '{"api_key": "phc_deb", "event": "$identify", "distinct_id": "ada@example.com"}' > /dev/null \
  || fail "ingest rejected an event"
curl -fsS "http://127.0.0.1:$ingest_metrics/metrics" | grep -qx 'intercom_connector_ingest_events_accepted_total 1' \
  || fail "ingest metrics do not count the event"

start_service intercom-worker.service "$run_dir/worker.log"
worker_metrics=$(wait_for_log "$run_dir/worker.log" 'msg=metrics_listening address=127\.0\.0\.1:\([0-9]*\).*') \
  || fail "worker served no metrics"
for _ in $(seq 100); do
  [ -s "$run_dir/requests.ndjson" ] && break
  sleep 0.1
done
grep -q 'ada@example.com' "$run_dir/requests.ndjson" || fail "the worker sent nothing to its dry-run file"
curl -fsS "http://127.0.0.1:$worker_metrics/healthz" > /dev/null || fail "worker /healthz failed"
curl -fsS "http://127.0.0.1:$worker_metrics/" | grep -q '<title>intercom-worker status</title>' \
  || fail "worker status page missing"
setpriv --reuid="$user" --regid="$user" --init-groups \
  /usr/bin/intercom-queue --config "$run_dir/connector.toml" stats > "$work/stats.txt" \
  || fail "intercom-queue stats failed"
log "ran ingest and the worker as $user: event accepted, delivered to the dry-run file"

# Stop them as systemd would, with SIGTERM, and expect a clean exit.
if [ -d /run/systemd/system ]; then
  systemctl stop deb-test-intercom-ingest.service deb-test-intercom-worker.service
else
  for pid in "${pids[@]}"; do
    kill -TERM "$pid"
    wait "$pid" || fail "a service exited with status $? after SIGTERM"
  done
  pids=()
fi

# Remove: binaries and units go, the edited configuration stays until purge.
dpkg -r "$package" > "$work/dpkg-remove.log" 2>&1 || { cat "$work/dpkg-remove.log"; fail "dpkg -r failed"; }
for path in /usr/bin/intercom-ingest /usr/bin/intercom-worker /usr/bin/intercom-queue \
            "$unit_dir/intercom-ingest.service" "$unit_dir/intercom-worker.service"; do
  [ ! -e "$path" ] || fail "$path still present after dpkg -r"
done
[ -f "$config" ] || fail "dpkg -r removed the configuration (a conffile)"
dpkg -P "$package" > "$work/dpkg-purge.log" 2>&1 || { cat "$work/dpkg-purge.log"; fail "dpkg -P failed"; }
[ ! -e /etc/intercom-connector ] || fail "/etc/intercom-connector still present after purge"
[ -d "$state_dir" ] || fail "purge removed the queue directory $state_dir"
if dpkg-query -W -f='${Status}' "$package" 2> /dev/null | grep -q "installed\|config-files"; then
  fail "$package is still registered after purge"
fi
log "removed and purged: binaries, units and configuration gone, queue directory kept"
log "PASS in $((SECONDS - started)) s"
