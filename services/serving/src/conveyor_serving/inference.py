"""The infer core every protocol shares: a decoded request (feeds, wanted outputs, id) → one session.run.

Kept free of pydantic, FastAPI and gRPC so it runs on the event loop or in a worker thread. Decoding a
protocol's body into an InferRequest is the protocol module's job (rest_v2, rest_v1, grpc_codec); every bad
request is a BadRequest whose message names the input and what to fix.
"""

import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from .adapters.onnx_model import CLASSIFICATION, LoadedModel
from .errors import BadRequest
from .outputs import Wanted

__all__ = ["BadRequest", "InferRequest", "Inference", "attributes_of", "dumps", "new_id", "run"]


@dataclass(slots=True)
class InferRequest:
    feeds: dict[str, np.ndarray]  # what session.run takes, checked against the model's inputs
    rows: int
    outputs: list[Wanted] | None  # None: every output, as JSON
    request_id: str
    attributes: dict[str, list[str]] | None = None  # per-row context for monitoring, never a model input


@dataclass(slots=True)
class Inference:
    """One answered request: what the protocol encodes and what the prediction log needs."""

    model: LoadedModel
    request_id: str
    feeds: dict[str, np.ndarray]
    results: dict[str, np.ndarray]
    timestamp_ms: int
    rows: int
    attributes: dict[str, list[str]] | None = None
    first_row: int = 0  # the index of this item's first row within its request (a big request is logged in slices)


def run(model: LoadedModel, request: InferRequest) -> Inference:
    outputs = model.session.run(None, request.feeds)
    return Inference(model, request.request_id, request.feeds, dict(zip(model.output_names, outputs, strict=True)),
                     time.time_ns() // 1_000_000, request.rows, request.attributes)


def attributes_of(parameters: Any, rows: int) -> dict[str, list[str]] | None:
    """Per-row context the client sends for monitoring (e.g. sensitive attributes): never a model input."""
    if parameters is None:
        return None
    if not isinstance(parameters, dict):
        raise BadRequest('"parameters" must be an object')
    attributes = parameters.get("attributes")
    if attributes is None:
        return None
    if not isinstance(attributes, dict):
        raise BadRequest('parameters.attributes must be an object: {"<attribute>": [one value per row]}')
    parsed = {}
    for name, values in attributes.items():
        if not isinstance(values, list) or len(values) != rows:
            raise BadRequest(f"parameters.attributes.{name} must be a list of {rows} values, one per row")
        if not all(isinstance(v, str | int | bool) for v in values):
            raise BadRequest(f"parameters.attributes.{name} must hold strings, integers or booleans")
        parsed[name] = [str(v) for v in values]
    return parsed


MAX_ID_CHARS = 256  # a request id travels into every logged row; a 5 MB id once blocked the whole log


def new_id(given: Any) -> str:
    """The request's own id, or a fresh one; an id longer than MAX_ID_CHARS is refused (BadRequest)."""
    if not given:
        return os.urandom(16).hex()
    text = str(given)
    if len(text) > MAX_ID_CHARS:
        raise BadRequest(f'request "id" has {len(text)} characters; an id may have at most {MAX_ID_CHARS}: '
                         "send a shorter one (or none, and the server makes one up)")
    return text


def is_classifier(model: LoadedModel) -> bool:
    return model.task == CLASSIFICATION


def dumps(body: Any) -> bytes:
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
