#!/usr/bin/env bash
# Regenerates the Python code for proto/ into libs/contracts (committed; a test checks it is current).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/libs/contracts/src}
cd "$root"
python -m grpc_tools.protoc -Iproto --python_out="$out" --mypy_out="$out" proto/conveyor/events/v1/*.proto
