#!/usr/bin/env bash
# The whole suite: starts the local broker if nothing listens on the bootstrap address, and the local
# PostgreSQL (deploy/local/postgres.sh, Debian's package; installed first when missing) for the tests that run
# on both state backends, and stops what it started afterwards.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bootstrap=${CONVEYOR_KAFKA__BOOTSTRAP_SERVERS:-127.0.0.1:9092}
started=0
if ! (exec 3<>"/dev/tcp/${bootstrap%:*}/${bootstrap##*:}") 2>/dev/null; then
  deploy/local/kafka.sh start
  started=1
fi
pg_started=0
if ! deploy/local/postgres.sh status > /dev/null 2>&1; then
  deploy/local/postgres.sh start
  pg_started=1
fi
cleanup() {
  if [ "$started" = 1 ]; then deploy/local/kafka.sh stop; fi
  if [ "$pg_started" = 1 ]; then deploy/local/postgres.sh stop; fi
}
trap cleanup EXIT
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/pytest "$@"
