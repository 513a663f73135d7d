#!/usr/bin/env bash
# Zipkin's server, the exec jar from Maven Central (io.zipkin:zipkin-server:<version>:jar:exec), fetched once
# without its transitive dependencies (the exec jar carries them) into .cache/zipkin.
# Usage: zipkin.sh fetch | path     (`conveyor up` runs the jar; this only gets it)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
version=${CONVEYOR_ZIPKIN_VERSION:-3.6.1}
cache=${CONVEYOR_ZIPKIN_CACHE:-$root/.cache/zipkin}
jar=$cache/zipkin-server-$version-exec.jar

fetch() {
  if [ -f "$jar" ]; then return 0; fi
  if ! command -v mvn >/dev/null; then
    echo "zipkin: mvn not found; the platform runs without a trace UI (spans still go to var/spans)" >&2
    return 0
  fi
  mkdir -p "$cache"
  mvn -B -q dependency:copy -Dartifact="io.zipkin:zipkin-server:$version:jar:exec" \
    -Dtransitive=false -DoutputDirectory="$cache" -Dmdep.overWriteIfNewer=true
}

case "${1:-}" in
  fetch) fetch ;;
  path) echo "$jar" ;;
  *) echo "usage: $0 fetch|path" >&2; exit 2 ;;
esac
