"""Generated from proto/oip/grpc_predict_v2.proto by scripts/gen-contracts.sh: do not edit the *_pb2* files."""
