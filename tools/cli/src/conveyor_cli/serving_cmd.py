"""`conveyor serving`: run the serving service on its own, from a folder of ONNX models.

DIR/<model>/<version>/model.onnx (the Triton/MLServer layout). Without --kafka (or
CONVEYOR_KAFKA__BOOTSTRAP_SERVERS) nothing else is needed: no registry, no broker, no prediction log.
With Kafka, every worker also consumes promotions and logs predictions.
"""

import json
import os
import sys
from pathlib import Path

import typer


def serving(
    model_repository: Path = typer.Option(..., exists=True, file_okay=False, resolve_path=True,
                                          help="folder holding <model>/<version>/model.onnx"),
    port: int = typer.Option(8004, help="HTTP port"),
    grpc_port: int = typer.Option(8104, min=0, help="OIP v2 gRPC port (every worker serves it)"),
    host: str = typer.Option("127.0.0.1", help="interface to listen on (0.0.0.0 for all)"),
    workers: int = typer.Option(os.cpu_count() or 1, min=1, help="worker processes (default: the core count)"),
    kafka: str = typer.Option(None, envvar="CONVEYOR_KAFKA__BOOTSTRAP_SERVERS",
                              help="Kafka bootstrap servers; promotions and prediction logging when set"),
    api_key: list[str] = typer.Option(None, help="require this API key on inference routes (repeatable)"),
) -> None:
    """Serve a model-repository folder over Open Inference Protocol v2 (REST and gRPC) and KServe V1."""
    env = dict(os.environ)
    env.update({
        "CONVEYOR_MODEL_REPOSITORY": str(model_repository),
        "CONVEYOR_PORT": str(port),
        "CONVEYOR_GRPC_PORT": str(grpc_port),
        "CONVEYOR_HOST": host,
        "CONVEYOR_WORKERS": str(workers),
        "CONVEYOR_KAFKA_ENABLED": "true" if kafka else "false",
    })
    if kafka:
        env["CONVEYOR_KAFKA__BOOTSTRAP_SERVERS"] = kafka
    if api_key:
        env["CONVEYOR_API_KEYS"] = json.dumps(api_key)
    # Replace this process: signals (Ctrl-C, SIGTERM) then reach uvicorn's supervisor directly.
    os.execve(sys.executable, [sys.executable, "-m", "conveyor_serving"], env)
