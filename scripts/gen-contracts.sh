#!/usr/bin/env bash
# Regenerates the Python code for proto/ (committed; a test checks it is current):
#   proto/conveyor/events  -> libs/contracts/src                      (the event contracts)
#   proto/oip              -> services/serving/src/conveyor_serving/oip (OIP v2 gRPC, KServe's proto)
# Usage: gen-contracts.sh [events-out [oip-out]]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/libs/contracts/src}
oip_out=${2:-$root/services/serving/src}
cd "$root"
mkdir -p "$out" "$oip_out"
python -m grpc_tools.protoc -Iproto --python_out="$out" --mypy_out="$out" proto/conveyor/events/v1/*.proto

# The OIP proto declares package `inference`, and so does Triton's grpc_service.proto, which tritonclient.grpc
# loads into protobuf's default descriptor pool. Two files defining the same names cannot share a pool (the
# second import fails with "duplicate symbol"), so the server's copy is loaded into a pool of its own. The
# wire format does not depend on the pool: clients built from either file talk to this server unchanged.
# The -I mapping makes the generated gRPC module import its messages as conveyor_serving.oip.*.
python -m grpc_tools.protoc -Iconveyor_serving/oip=proto/oip --python_out="$oip_out" --pyi_out="$oip_out" \
  --grpc_python_out="$oip_out" proto/oip/grpc_predict_v2.proto
sed -i 's/_descriptor_pool\.Default()/_descriptor_pool.DescriptorPool()/' \
  "$oip_out/conveyor_serving/oip/grpc_predict_v2_pb2.py"
