"""A notebook's model: register a fitted scikit-learn pipeline (the rest of the client is in client.py).

    from conveyor_cli.client import log_model
    log_model(pipeline, name="fair-notebook", dataset="<dataset id from POST /datasets>")

The pipeline is converted to ONNX here, on the data scientist's machine, with one input per feature column
(text categories as strings, everything else as float32), exactly the platform's own model contract; its
parity with scikit-learn is checked on a sample (yours, or one drawn from the dataset's profile); then the
ONNX file and its signature are uploaded to the trainer, which measures the model on the dataset's holdout
itself. Pickles never leave this machine: the platform accepts ONNX only.

The pipeline receives what the served model will receive: numbers as float32 (NaN for a gap) and text as
str, a missing text being "" (so impute text with SimpleImputer(missing_values="") inside the pipeline).
"""

import json
from typing import Any

import httpx
import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, StringTensorType

DEFAULT_INGEST = "http://127.0.0.1:8001"
DEFAULT_TRAINER = "http://127.0.0.1:8002"
PARITY_TOLERANCE = 1e-4
SAMPLE_ROWS = 200
_WORDS = {"true": 1.0, "yes": 1.0, "false": 0.0, "no": 0.0}  # booleans written as words


class ParityError(Exception):
    """The ONNX conversion does not compute what the pipeline computes; nothing was uploaded."""


class ConveyorClient:
    """`ingest` and `trainer`: base URLs, or ready httpx clients (tests pass the apps' TestClients)."""

    def __init__(self, ingest: str | httpx.Client = DEFAULT_INGEST, trainer: str | httpx.Client = DEFAULT_TRAINER,
                 user: str = "notebook") -> None:  # user: ignored by the platform (the token's subject acts)
        self.ingest = ingest if isinstance(ingest, httpx.Client) else httpx.Client(base_url=ingest, timeout=60)
        self.trainer = trainer if isinstance(trainer, httpx.Client) else httpx.Client(base_url=trainer, timeout=300)
        self.user = user

    def dataset(self, dataset_id: str) -> dict[str, Any]:
        response = self.ingest.get(f"/datasets/{dataset_id}")
        _raise_for(response)
        return response.json()

    def log_model(self, pipeline: Any, *, name: str, dataset: str,
                  sample: pd.DataFrame | None = None) -> dict[str, Any]:
        """Convert, check parity, upload; the trainer's answer (run id, the platform's metrics)."""
        described = self.dataset(dataset)
        columns = feature_columns(described)
        rows = model_rows(sample if sample is not None else synthetic_sample(described), columns)
        onnx_bytes = to_onnx(pipeline, columns, name)
        parity = check_parity(pipeline, onnx_bytes, rows, columns)
        signature = {
            "inputs": [{"name": n, "datatype": "BYTES" if text else "FP32"} for n, text in columns],
            "estimator": type(pipeline[-1] if hasattr(pipeline, "steps") else pipeline).__name__,
            "parity_max_abs_diff": parity, "parity_rows": len(rows),
        }
        response = self.trainer.post(
            "/models",
            files={"file": (f"{name}.onnx", onnx_bytes, "application/octet-stream")},
            data={"signature": json.dumps(signature), "dataset_id": dataset, "model_name": name},
            headers={"X-Conveyor-User": self.user},
        )
        _raise_for(response)
        return response.json()


def log_model(pipeline: Any, *, name: str, dataset: str, sample: pd.DataFrame | None = None,
              client: ConveyorClient | None = None) -> dict[str, Any]:
    """Register a fitted scikit-learn pipeline as a model of the platform (see the module docstring)."""
    return (client or ConveyorClient()).log_model(pipeline, name=name, dataset=dataset, sample=sample)


def feature_columns(described: dict[str, Any]) -> list[tuple[str, bool]]:
    """(name, is text) per feature, in the spec's order: the model's inputs."""
    dtypes = described.get("dtypes", {})
    return [(f["name"], f["kind"] == "categorical" and dtypes.get(f["name"]) == "string")
            for f in described["spec"]["features"]]


def model_rows(frame: pd.DataFrame, columns: list[tuple[str, bool]]) -> pd.DataFrame:
    """What the served model is fed: text as str ("" for a gap), everything else float32 (NaN for a gap)."""
    out = {}
    for name, text in columns:
        values = frame[name]
        if text:
            out[name] = values.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v))
                                   else str(v)).astype(object)
        else:
            if values.dtype == object:
                values = values.map(lambda v: _WORDS.get(str(v).strip().lower(), v))
            out[name] = pd.to_numeric(values, errors="coerce").astype(np.float32)
    return pd.DataFrame(out)


def synthetic_sample(described: dict[str, Any], rows: int = SAMPLE_ROWS, seed: int = 0) -> pd.DataFrame:
    """Rows drawn from the dataset's profile, for a parity check when no sample is given."""
    rng = np.random.default_rng(seed)
    stats = described["profile"]["columns"]
    frame = {}
    for feature in described["spec"]["features"]:
        column = stats[feature["name"]]
        if feature["kind"] == "numeric":
            low, high = column.get("min") or 0.0, column.get("max") or 1.0
            drawn = rng.normal(column.get("mean") or 0.0, column.get("std") or 1.0, rows)
            frame[feature["name"]] = drawn.clip(low, high)
        else:
            values = [v for v in column.get("values", {}) if v != "(other)"] or ["0"]
            picked = rng.choice(values, rows)
            text = described.get("dtypes", {}).get(feature["name"]) == "string"
            frame[feature["name"]] = picked if text else pd.to_numeric(pd.Series(picked), errors="coerce").to_numpy()
    return pd.DataFrame(frame)


def to_onnx(pipeline: Any, columns: list[tuple[str, bool]], name: str) -> bytes:
    final = pipeline[-1] if hasattr(pipeline, "steps") else pipeline
    options = {id(final): {"zipmap": False}} if hasattr(final, "predict_proba") else None
    model = convert_sklearn(
        pipeline,
        initial_types=[(n, StringTensorType([None, 1]) if text else FloatTensorType([None, 1])) for n, text in columns],
        options=options, target_opset={"": 21, "ai.onnx.ml": 3},
    )
    for graph_input, (column, _) in zip(model.graph.input, columns, strict=True):  # skl2onnx renames "a b" to a_b
        old = graph_input.name
        for node in model.graph.node:
            node.input[:] = [column if i == old else i for i in node.input]
        graph_input.name = column
    model.graph.name = name
    onnx.checker.check_model(model)
    return model.SerializeToString()


def check_parity(pipeline: Any, onnx_bytes: bytes, rows: pd.DataFrame, columns: list[tuple[str, bool]]) -> float:
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    feed = {n: rows[n].to_numpy(dtype=object if text else np.float32).reshape(-1, 1) for n, text in columns}
    outputs = session.run(None, feed)
    if hasattr(pipeline, "predict_proba"):
        labels, proba = outputs[0].reshape(-1), outputs[1]
        diff = float(np.max(np.abs(proba - pipeline.predict_proba(rows)))) if len(rows) else 0.0
        mismatched = int(np.sum(labels != pipeline.predict(rows)))
    else:
        expected = pipeline.predict(rows)
        diff = float(np.max(np.abs(outputs[0].reshape(-1) - expected) / np.maximum(1.0, np.abs(expected))))
        mismatched = 0
    if not np.isfinite(diff) or diff > PARITY_TOLERANCE or mismatched:
        raise ParityError(f"the ONNX conversion differs from the pipeline on {len(rows)} rows: max |diff| "
                          f"{diff:.3g} (tolerance {PARITY_TOLERANCE:g}), {mismatched} label(s) differ; nothing "
                          "was uploaded")
    return diff


def _raise_for(response: httpx.Response) -> None:
    from .client import raise_for

    raise_for(response)
