"""The lifecycle scenario, as plain steps over REST: used by `conveyor demo`, the e2e test and bench/loop.py.

Requests go as the people who make them: the data scientist's token uploads, the label feed's service-account
token posts the true outcomes (POST /labels is for service accounts), and inference goes without a bearer
token (serving's API keys guard it). Inference sends one input per column, raw values with null for gaps, as
the model's metadata lists its inputs.
"""

import asyncio
import io
import json
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import numpy as np
import pandas as pd

T = TypeVar("T")


@dataclass(frozen=True)
class Served:
    """One served row: where its prediction was logged (request id, row) and its true label, known later."""

    request_id: str
    row: int
    truth: str


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


def _bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


class Client:
    """The scenario's REST calls: `token` (the data scientist's) goes with uploads and reads, `label_token` (a
    service account's) with labels; inference carries neither."""

    def __init__(self, urls: dict[str, str], token: str | None = None, label_token: str | None = None) -> None:
        self.urls = urls
        self.http = httpx.AsyncClient(timeout=30.0, headers=_bearer(token))
        self.label_feed = httpx.AsyncClient(timeout=30.0, headers=_bearer(label_token))
        self.inference = httpx.AsyncClient(timeout=30.0)

    async def close(self) -> None:
        for client in (self.http, self.label_feed, self.inference):
            await client.aclose()

    async def upload(self, frame: pd.DataFrame, spec: dict[str, Any], filename: str) -> dict[str, Any]:
        body = io.BytesIO()
        frame.to_csv(body, index=False)
        return await self.upload_csv(body.getvalue(), spec, filename)

    async def upload_csv(self, body: bytes, spec: dict[str, Any], filename: str) -> dict[str, Any]:
        response = await self.http.post(
            f"{self.urls['ingest']}/datasets",
            files={"file": (filename, body, "text/csv"),
                   "spec": (None, json.dumps(spec), "application/json")},
        )
        response.raise_for_status()
        return response.json()

    async def model_names(self) -> list[str]:
        response = await self.http.get(f"{self.urls['registry']}/models")
        response.raise_for_status()
        body = response.json()
        return [m["name"] for m in (body if isinstance(body, list) else body.get("models", []))]

    async def model_inputs(self, model: str) -> list[dict[str, Any]]:
        """The serving model's inputs as its metadata lists them (read from the ONNX graph)."""
        response = await self.inference.get(f"{self.urls['serving']}/v2/models/{model}")
        response.raise_for_status()
        return response.json()["inputs"]

    async def infer(self, model: str, rows: pd.DataFrame, inputs: list[dict[str, Any]], request_id: str,
                    attributes: dict[str, list[str]] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"id": request_id, "inputs": [_column(rows, i) for i in inputs]}
        if attributes:
            body["parameters"] = {"attributes": attributes}  # per-row context for live fairness, not a model input
        response = await self.inference.post(f"{self.urls['serving']}/v2/models/{model}/infer", json=body)
        response.raise_for_status()
        return response.json()

    async def post_labels(self, served: list[Served]) -> dict[str, Any]:
        body = {"labels": [{"request_id": s.request_id, "row": s.row, "label": s.truth} for s in served]}
        response = await self.label_feed.post(f"{self.urls['monitor']}/labels", json=body)
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


def _column(rows: pd.DataFrame, model_input: dict[str, Any]) -> dict[str, Any]:
    """One OIP input per column, shape [N]: raw values, null for a gap (NaN in a number, "" in a text)."""
    name, datatype = model_input["name"], model_input["datatype"]
    values = rows[name].tolist()
    if datatype == "BYTES":
        data = [None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in values]
    else:
        data = [None if v is None or math.isnan(float(v)) else float(v) for v in values]
    return {"name": name, "shape": [len(values)], "datatype": datatype, "data": data}


def traffic(population: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """`rows` people drawn from a population, each at most once while the population lasts."""
    rng = np.random.default_rng(seed)
    index = rng.permutation(len(population))[:rows] if rows <= len(population) \
        else rng.integers(0, len(population), rows)
    return population.iloc[index].reset_index(drop=True)


async def send_traffic(client: Client, model: str, rows: pd.DataFrame, target: str, batch: int,
                       prefix: str) -> list[Served]:
    """Infer `rows` in batches of `batch`; returns where each row's prediction was logged, with its truth."""
    inputs = await client.model_inputs(model)
    served = []
    for start in range(0, len(rows), batch):
        chunk = rows.iloc[start:start + batch]
        request_id = f"{prefix}-{start}"
        await client.infer(model, chunk, inputs, request_id)
        served += [Served(request_id, i, str(truth)) for i, truth in enumerate(chunk[target])]
    return served


async def post_labels(client: Client, served: list[Served], timeout: float) -> int:
    """Post the true labels; rows the monitor has not seen logged yet (serving logs in batches) are posted
    again until it has, with a bound. Returns how many joined."""
    pending, joined = served, 0
    deadline = time.monotonic() + timeout
    while pending:
        answer = await client.post_labels(pending)
        joined += answer["joined"]
        unmatched = {(u["request_id"], u["row"]) for u in answer["unmatched"]}
        pending = [s for s in pending if (s.request_id, s.row) in unmatched]
        if pending and time.monotonic() > deadline:
            raise TimeoutError(f"{len(pending)} labels found no logged prediction after {timeout:.0f} s")
        if pending:
            await asyncio.sleep(0.2)
    return joined
