#!/usr/bin/env bash
# The Debian packages the platform's helpers and the browser test run: npm (with Node: the console's build),
# Prometheus (the metrics server `conveyor up` starts) and Chromium (the console's browser test). Installs what is missing when run as root, as
# postgres.sh does for PostgreSQL; otherwise says which apt-get line would.
# Usage: debian-tools.sh install | check
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# command the package puts on PATH -> the package
needs=("npm:npm" "prometheus:prometheus" "chromium:chromium")

missing() {
  local pair
  for pair in "${needs[@]}"; do
    command -v "${pair%%:*}" > /dev/null || echo "${pair##*:}"
  done
}

install() {
  local packages
  packages=$(missing | tr '\n' ' ')
  if [ -z "${packages// /}" ]; then return 0; fi
  if [ "$(id -u)" != 0 ]; then
    echo "debian-tools: missing $packages; install Debian's packages: sudo apt-get install -y $packages" >&2
    return 1
  fi
  echo "debian-tools: installing $packages (Debian's packages; log in var/debian-tools.log)"
  mkdir -p "$root/var"
  # shellcheck disable=SC2086 # one word per package
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $packages \
    > "$root/var/debian-tools.log" 2>&1 || {
    apt-get update -q > /dev/null 2>&1
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $packages \
      >> "$root/var/debian-tools.log" 2>&1
  }
}

case "${1:-}" in
  install) install ;;
  check) packages=$(missing | tr '\n' ' '); [ -z "${packages// /}" ] || { echo "missing: $packages"; exit 1; } ;;
  *) echo "usage: $0 install|check" >&2; exit 2 ;;
esac
