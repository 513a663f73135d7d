"""The servers bench/serving.py compares, and the models they load (built fresh on every run).

Each server runs as its own process group on its own port and is stopped (SIGTERM, then SIGKILL) after use.
"""

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import joblib
import numpy as np
import onnx
from serving_load import pinned
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from conveyor_cli.kafka_accounts import principal_settings

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
MLSERVER_BIN = ROOT / ".cache" / "mlserver-venv" / "bin"
MODELS = ("rf", "lr")


def build_models(workdir: Path) -> dict[str, Path]:
    """RF(100) and logistic regression on breast_cancer, as ONNX (folder layout) and joblib (MLServer).

    Returns the request body file of each model: one row of 30 features, FP32, OIP v2.
    """
    X, y = load_breast_cancer(return_X_y=True)
    estimators = {"rf": RandomForestClassifier(n_estimators=100, random_state=0),
                  "lr": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))}
    bodies = {}
    for name, estimator in estimators.items():
        estimator.fit(X, y)
        model = to_onnx(estimator, initial_types=[("input", FloatTensorType([None, X.shape[1]]))],
                        options={"zipmap": False}, target_opset=17)
        renames = dict(zip([o.name for o in model.graph.output], ["label", "probabilities"], strict=True))
        for node in model.graph.node:  # the Conveyor output contract: label + probabilities
            node.output[:] = [renames.get(o, o) for o in node.output]
        for output in model.graph.output:
            output.name = renames[output.name]
        onnx_dir = workdir / "repo" / name / "1"
        onnx_dir.mkdir(parents=True, exist_ok=True)
        onnx.save(model, onnx_dir / "model.onnx")
        ml_dir = workdir / "mlserver" / name
        ml_dir.mkdir(parents=True, exist_ok=True)
        joblib.dump(estimator, ml_dir / "model.joblib")
        (ml_dir / "model-settings.json").write_text(json.dumps({
            "name": name, "implementation": "mlserver_sklearn.SKLearnModel",
            "parameters": {"uri": "./model.joblib", "version": "1"}}))
        body = {"inputs": [{"name": "input", "shape": [1, X.shape[1]], "datatype": "FP32",
                            "data": X[0].astype(np.float32).tolist()}]}
        bodies[name] = workdir / f"body-{name}.json"
        bodies[name].write_text(json.dumps(body))
    return bodies


PROTOCOLS = ("json", "binary", "grpc")
BATCH_ROWS = (1, 1000)


def protocol_bodies(workdir: Path) -> dict[tuple[str, str, int], Path]:
    """(model, protocol, rows) -> request file: JSON REST, binary REST (with its .header), gRPC (serialized)."""
    from conveyor_serving.oip import grpc_predict_v2_pb2 as pb  # the server's own generated messages

    X = load_breast_cancer().data.astype(np.float32)
    files = {}
    for model in MODELS:
        for rows in BATCH_ROWS:
            data = np.resize(X, (rows, X.shape[1]))
            tensor = {"name": "input", "shape": [rows, X.shape[1]], "datatype": "FP32"}
            stem = workdir / f"{model}-{rows}"
            files[(model, "json", rows)] = stem.with_suffix(".json")
            files[(model, "json", rows)].write_text(json.dumps({"inputs": [{**tensor, "data": data.ravel().tolist()}]}))
            raw = data.astype("<f4").tobytes()
            header = json.dumps({"inputs": [{**tensor, "parameters": {"binary_data_size": len(raw)}}],
                                 "parameters": {"binary_data_output": True}}).encode()
            files[(model, "binary", rows)] = stem.with_suffix(".bin")
            files[(model, "binary", rows)].write_bytes(header + raw)
            stem.with_suffix(".header").write_text(str(len(header)))
            request = pb.ModelInferRequest(model_name=model, raw_input_contents=[raw])
            request.inputs.add(**tensor)
            files[(model, "grpc", rows)] = stem.with_suffix(".pb")
            files[(model, "grpc", rows)].write_bytes(request.SerializeToString())
    return files


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running(command: list[str], env: dict[str, str], ready_url: str, log: Path, cwd: Path = ROOT) -> Iterator[None]:
    """Start a server in its own process group; wait until every ready URL answers 200; stop it after."""
    with log.open("w") as out:
        process = subprocess.Popen(command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
                                   cwd=cwd, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        pending = [ready_url.format(model=m) for m in MODELS]
        while pending and time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(pending[0], timeout=2).status_code == 200:
                    pending.pop(0)
                    continue
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        if pending:
            raise RuntimeError(f"{command[0]} not ready: {log.read_text()[-2000:]}")
        yield
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            pass


def reference(workdir: Path, port: int, workers: int, cpus: str | None = None) -> contextmanager:
    command = [str(VENV_BIN / "uvicorn"), "serving_reference:create", "--factory", "--app-dir", str(ROOT / "bench"),
               "--port", str(port), "--workers", str(workers), "--loop", "uvloop", "--http", "httptools",
               "--no-access-log", "--log-level", "warning"]
    return running(pinned(command, cpus), {"BENCH_REPO": str(workdir / "repo")},
                   f"http://127.0.0.1:{port}/v2/models/{{model}}/ready", workdir / "reference.log")


def conveyor(workdir: Path, port: int, workers: int, kafka: str | None, prefix: str,
             cpus: str | None = None, grpc_port: int = 0) -> contextmanager:
    command = [str(VENV_BIN / "conveyor"), "serving", "--model-repository", str(workdir / "repo"),
               "--port", str(port), "--workers", str(workers), "--grpc-port", str(grpc_port or free_port())]
    env = {"CONVEYOR_DATA_DIR": str(workdir / "data"), "CONVEYOR_KAFKA__TOPIC_PREFIX": prefix,
           "CONVEYOR_KAFKA__BOOTSTRAP_SERVERS": kafka or "",
           "CONVEYOR_TELEMETRY__SPAN_FILE": str(workdir / "spans.jsonl")}
    if kafka:  # as serving's own Kafka principal on the local SASL broker
        env.update(principal_settings(kafka, prefix, "serving").as_env())
        command += ["--kafka", kafka]
    # /v2/health/ready is 503 until Kafka is connected; then each model must be ready too
    return running(pinned(command, cpus), env, f"http://127.0.0.1:{port}/v2/models/{{model}}/ready",
                   workdir / f"conveyor-{'kafka' if kafka else 'nokafka'}.log")


def mlserver(workdir: Path, port: int, cpus: str | None = None) -> contextmanager:
    settings = workdir / "mlserver" / "settings.json"
    settings.write_text(json.dumps({"http_port": port, "grpc_port": free_port(), "metrics_port": free_port()}))
    return running(pinned([str(MLSERVER_BIN / "mlserver"), "start", str(workdir / "mlserver")], cpus),
                   {"PATH": f"{MLSERVER_BIN}:{os.environ['PATH']}", "VIRTUAL_ENV": str(MLSERVER_BIN.parent)},
                   f"http://127.0.0.1:{port}/v2/models/{{model}}/ready", workdir / "mlserver.log")
