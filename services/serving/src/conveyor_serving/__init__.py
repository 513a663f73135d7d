"""Conveyor serving: keeps each model's champion loaded in ONNX Runtime and answers Open Inference Protocol v2.

Consumes ModelPromoted (every process sees every promotion), publishes ModelDeployed and PredictionsLogged.
"""
