"""Conveyor serving: keeps each model's champion loaded in ONNX Runtime and answers Open Inference Protocol v2.

Consumes ModelPromoted (every process sees every promotion), publishes ModelDeployed and PredictionsLogged.
It starts through its own `__main__`, not the kernel's `serve`: a supervisor runs N worker processes on one
port, and sets up what they share (load/unload decisions, multiprocess metric values) before they start.
Each worker also answers OIP v2 over gRPC on the gRPC port, bound by every worker with SO_REUSEPORT.
"""
