#!/usr/bin/env bash
# Local PostgreSQL from Debian's package, its cluster under var/postgres, listening on loopback only.
# Usage: postgres.sh install|start|stop|wipe|status|url
# The first start runs initdb with a superuser `conveyor` whose password is made up then; the URL with it goes
# to $data/admin.url (0600). Tests create a database of their own per test with it; `conveyor up` gives the
# services one database (each service keeps its tables in a schema named after it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
data=${CONVEYOR_POSTGRES_DATA:-$root/var/postgres}
port=${CONVEYOR_POSTGRES_PORT:-5432}
cluster=$data/cluster
log=$cluster/postgres.log
admin_user=conveyor
admin_url=$data/admin.url

# The server binaries: Debian installs them under /usr/lib/postgresql/<major>/bin, outside PATH.
bindir() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -n "$found" ] && [ -x "$found/initdb" ]; then echo "$found"; return 0; fi
  if command -v initdb > /dev/null; then dirname "$(command -v initdb)"; return 0; fi
  return 1
}

install() {
  if bindir > /dev/null; then return 0; fi
  if [ "$(id -u)" != 0 ]; then
    echo "postgres: no PostgreSQL server here; install Debian's package: sudo apt-get install postgresql" >&2
    return 1
  fi
  echo "postgres: installing Debian's postgresql package"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql > "$root/var/postgres-install.log" 2>&1 || {
    apt-get update -q > /dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql > "$root/var/postgres-install.log" 2>&1
  }
}

# PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user the package made.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

running() { [ -f "$cluster/postmaster.pid" ] && as_owner "$(bindir)/pg_ctl" -D "$cluster" status > /dev/null 2>&1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

secret() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

init_cluster() {
  if [ -f "$cluster/PG_VERSION" ]; then return 0; fi
  local bin pwfile
  bin=$(bindir)
  mkdir -p "$data"
  chmod 755 "$data"
  (umask 077; printf '%s' "$(secret)" > "$data/admin.password")
  mkdir -p "$cluster"
  pwfile=$(mktemp)
  cp "$data/admin.password" "$pwfile"
  if [ "$(id -u)" = 0 ]; then chown postgres "$cluster" "$pwfile"; fi
  as_owner "$bin/initdb" -D "$cluster" -U "$admin_user" --pwfile="$pwfile" --auth=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 > "$data/initdb.log" 2>&1 || { rm -f "$pwfile"; cat "$data/initdb.log" >&2; return 1; }
  rm -f "$pwfile"
}

write_url() {
  (umask 077
   printf 'postgresql://%s:%s@127.0.0.1:%s/postgres\n' "$admin_user" "$(cat "$data/admin.password")" "$port" \
     > "$admin_url.tmp"
   mv "$admin_url.tmp" "$admin_url")
}

start() {
  if running; then echo "postgres: already running on 127.0.0.1:$port"; write_url; return 0; fi
  if port_open; then echo "postgres: something already listens on 127.0.0.1:$port; using it"; return 0; fi
  install
  init_cluster
  write_url
  # Loopback only; a socket dir of its own (the package's /run/postgresql may not exist or be another's).
  as_owner "$(bindir)/pg_ctl" -D "$cluster" -l "$log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$cluster -c max_connections=300" \
    start > /dev/null || { echo "postgres: did not start; last lines of $log:" >&2; tail -20 "$log" >&2; return 1; }
  echo "postgres: started on 127.0.0.1:$port"
}

stop() {
  if ! running; then echo "postgres: not running"; return 0; fi
  as_owner "$(bindir)/pg_ctl" -D "$cluster" -m fast -w -t 30 stop > /dev/null
  echo "postgres: stopped"
}

wipe() { stop; rm -rf "$data"; echo "postgres: data wiped ($data)"; }

status() { if running; then echo "postgres: running on 127.0.0.1:$port"; else echo "postgres: stopped"; return 1; fi; }

case "${1:-}" in
  install) install ;; start) start ;; stop) stop ;; wipe) wipe ;; status) status ;;
  url) cat "$admin_url" ;;
  *) echo "usage: $0 install|start|stop|wipe|status|url" >&2; exit 2 ;;
esac
