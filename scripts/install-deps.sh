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
