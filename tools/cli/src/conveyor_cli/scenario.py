"""The lifecycle scenario, as plain steps over REST: used by `conveyor demo`, the e2e test and bench/loop.py."""

import asyncio
import io
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer

T = TypeVar("T")
MODEL = "breast-cancer"


@dataclass
class Data:
    frame: pd.DataFrame
    features: list[str]
    target: str = "diagnosis"
    sensitive: str = "clinic"


def breast_cancer(shuffle_seed: int = 1) -> Data:
    """scikit-learn's breast cancer data with a derived sensitive attribute.

    `clinic` stands for where a patient was seen: assigned by patient number, so it is independent of the
    diagnosis, as a protected attribute should be for a fair model (the policy checks the gaps per clinic).
    """
    raw = load_breast_cancer(as_frame=True)
    frame = raw.frame.rename(columns={"target": "diagnosis"})
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    features = [c for c in frame.columns if c != "diagnosis"]
    frame["clinic"] = np.where(np.arange(len(frame)) % 2 == 0, "north", "south")
    frame["patient_id"] = [f"p{i:04d}" for i in range(len(frame))]
    if shuffle_seed != 1:  # a later demo run uploads the same patients in another order: new bytes, new dataset
        frame = frame.sample(frac=1.0, random_state=shuffle_seed).reset_index(drop=True)
    return Data(frame=frame, features=features)


def dataset_spec(data: Data, model: str = MODEL, estimator: str = "logistic_regression") -> dict[str, Any]:
    return {
        "name": model,
        "target": data.target,
        "task": "classification",
        "features": [{"name": f, "kind": "numeric"} for f in data.features],
        "sensitive_attributes": [data.sensitive],
        "subject_id_column": "patient_id",
        "consent_basis": "public_task",
        "owner": "data-science@conveyor.example",
        "training": {"model_name": model, "estimator": estimator, "seed": 42, "primary_metric": "roc_auc"},
    }


async def wait_for(what: str, probe: Callable[[], Awaitable[T | None]], timeout: float) -> T:
    """Poll `probe` until it returns something, with a bound; never a blind sleep."""
    deadline = time.monotonic() + timeout
    while True:
        found = await probe()
        if found is not None and found is not False:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.1)


class Client:
    """The scenario's REST calls, as one person: `token` (a data scientist's, for the demo) goes with every call
    but inference, which serving's API keys guard instead."""

    def __init__(self, urls: dict[str, str], token: str | None = None) -> None:
        self.urls = urls
        self.http = httpx.AsyncClient(timeout=30.0, headers={"Authorization": f"Bearer {token}"} if token else {})
        self.inference = httpx.AsyncClient(timeout=30.0)

    async def close(self) -> None:
        await self.http.aclose()
        await self.inference.aclose()

    async def upload(self, data: Data, spec: dict[str, Any]) -> dict[str, Any]:
        body = io.BytesIO()
        data.frame.to_csv(body, index=False)
        response = await self.http.post(
            f"{self.urls['ingest']}/datasets",
            files={"file": ("breast_cancer.csv", body.getvalue(), "text/csv"),
                   "spec": (None, json.dumps(spec), "application/json")},
        )
        response.raise_for_status()
        return response.json()

    async def demo_run_number(self) -> int:
        """1 on a fresh platform; n + 1 when n demo models exist already (each run trains its own model)."""
        response = await self.http.get(f"{self.urls['registry']}/models")
        response.raise_for_status()
        body = response.json()
        models = body if isinstance(body, list) else body.get("models", [])
        return 1 + sum(1 for m in models if m["name"] == MODEL or m["name"].startswith(f"{MODEL}-run"))

    async def infer(
        self, model: str, rows: np.ndarray, request_id: str, attributes: dict[str, list[str]] | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"id": request_id, "inputs": [{"name": "input", "shape": list(rows.shape),
                                                              "datatype": "FP32", "data": rows.ravel().tolist()}]}
        if attributes:
            body["parameters"] = {"attributes": attributes}  # per-row context for live fairness, not a model input
        response = await self.inference.post(f"{self.urls['serving']}/v2/models/{model}/infer", json=body)
        response.raise_for_status()
        return response.json()

    async def ledger_verify(self) -> dict[str, Any]:
        response = await self.http.get(f"{self.urls['audit']}/ledger/verify")
        response.raise_for_status()
        return response.json()

    async def ledger(self, **params: Any) -> list[dict[str, Any]]:
        response = await self.http.get(f"{self.urls['audit']}/ledger", params={"limit": 1000, **params})
        response.raise_for_status()
        body = response.json()
        return body["entries"] if isinstance(body, dict) else body


class Traffic(np.ndarray):
    """Feature rows (a float32 array, as before) that also carry each row's sensitive attributes."""

    attributes: dict[str, list[str]]

    def __array_finalize__(self, obj: Any) -> None:
        self.attributes = getattr(obj, "attributes", {})


def traffic(data: Data, rows: int, drift: bool, seed: int) -> np.ndarray:
    """Rows resampled from the data; with drift, every feature is shifted and scaled as if a sensor changed.

    The result is a float32 array whose `.attributes` holds each row's sensitive attribute (the clinic of
    the patient the row was drawn from), which send_traffic passes to serving for live fairness.
    """
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(data.frame), rows)
    sample = data.frame[data.features].to_numpy(dtype=np.float32)[index]
    if drift:
        sample = sample * np.float32(1.6) + sample.std(axis=0, dtype=np.float32)
    result = sample.astype(np.float32).view(Traffic)
    result.attributes = {data.sensitive: [str(v) for v in data.frame[data.sensitive].to_numpy()[index]]}
    return result


async def send_traffic(
    client: Client, model: str, rows: np.ndarray, batch: int, prefix: str,
    attributes: dict[str, list[str]] | None = None,
) -> int:
    """Infer `rows` in batches; per-row attributes (given, or carried by `traffic()`'s rows) go along."""
    if attributes is None:
        attributes = getattr(rows, "attributes", None) or None
    sent = 0
    for start in range(0, len(rows), batch):
        chunk = np.asarray(rows[start:start + batch])
        per_row = {name: values[start:start + batch] for name, values in attributes.items()} if attributes else None
        await client.infer(model, chunk, f"{prefix}-{start}", per_row)
        sent += len(chunk)
    return sent
