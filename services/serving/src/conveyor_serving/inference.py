"""The infer hot path: JSON bytes → one float32 matrix → one session.run → response dict.

Kept free of pydantic and FastAPI so it can run on the event loop or in a worker thread, and so every bad
request is a BadRequest whose message names the input and what to fix.
"""

import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from .adapters.onnx_model import CLASSIFICATION, LoadedModel

SUPPORTED_DATATYPES = frozenset({"FP32", "FP64", "INT64", "INT32", "BOOL"})
_NUMERIC_KINDS = frozenset("iuf")
_BOOL_KINDS = frozenset("b")


class BadRequest(ValueError):
    """The request cannot be served as sent; the message says what to fix."""


@dataclass(slots=True)
class Inference:
    """One answered request: the response body and what the prediction log needs."""

    response: dict[str, Any]
    model: LoadedModel
    request_id: str
    features: np.ndarray
    results: dict[str, np.ndarray]
    timestamp_ms: int
    attributes: dict[str, list[str]] | None = None
    first_row: int = 0  # the index of features[0] within its request (a big request is logged in slices)

    @property
    def rows(self) -> int:
        return self.features.shape[0]


def _find_input(inputs: Any, model: LoadedModel) -> dict[str, Any]:
    wanted = model.input.name
    if not isinstance(inputs, list) or not inputs:
        raise BadRequest(f'"inputs" must be a non-empty list holding the tensor {wanted!r}')
    names = []
    for tensor in inputs:
        if not isinstance(tensor, dict):
            raise BadRequest('every item of "inputs" must be an object with name, shape, datatype, data')
        if tensor.get("name") == wanted:
            return tensor
        names.append(tensor.get("name"))
    raise BadRequest(f"missing input {wanted!r}: the request has {names}, model {model.name!r} takes {wanted!r}")


def _matrix(tensor: dict[str, Any], model: LoadedModel, max_rows: int) -> np.ndarray:
    name = model.input.name
    datatype = tensor.get("datatype")
    if datatype not in SUPPORTED_DATATYPES:
        raise BadRequest(f"input {name!r}: unsupported datatype {datatype!r}; use one of {sorted(SUPPORTED_DATATYPES)}")
    shape = tensor.get("shape")
    if not (isinstance(shape, list) and len(shape) == 2 and all(type(d) is int and d > 0 for d in shape)):
        raise BadRequest(f"input {name!r}: shape must be [rows, {model.n_features}] with positive integers, "
                         f"got {shape!r}")
    rows, n_features = shape
    if n_features != model.n_features:
        raise BadRequest(f"input {name!r}: shape {shape} has {n_features} features per row, "
                         f"model {model.name!r} expects {model.n_features}")
    if rows > max_rows:
        raise BadRequest(f"input {name!r}: {rows} rows is more than the limit of {max_rows}; split the request")
    data = tensor.get("data")
    if not isinstance(data, list):
        raise BadRequest(f"input {name!r}: data must be a list of numbers (flat or nested)")
    if datatype == "FP32" and len(data) == rows * n_features and type(data[0]) is float:
        # The common case (flat FP32 rows) straight to float32; anything odd takes the checked path below.
        try:
            fast = np.array(data, dtype=np.float32)
        except (ValueError, TypeError):
            fast = None
        if fast is not None:
            return _finite(fast.reshape(rows, n_features), name)
    try:
        values = np.asarray(data)
    except ValueError as exc:
        raise BadRequest(f"input {name!r}: data rows have different lengths") from exc
    if datatype == "BOOL":
        if values.dtype.kind not in _BOOL_KINDS:
            raise BadRequest(f"input {name!r}: datatype BOOL but data holds non-booleans; send true/false")
    elif values.dtype.kind not in _NUMERIC_KINDS:
        raise BadRequest(f"input {name!r}: datatype {datatype} but data holds non-numbers; send only numbers")
    if datatype.startswith("INT") and values.dtype.kind == "f":
        raise BadRequest(f"input {name!r}: datatype {datatype} but data holds non-integers; send FP32 or FP64")
    if values.size != rows * n_features:
        raise BadRequest(f"input {name!r}: data has {values.size} values but shape {shape} needs "
                         f"{rows * n_features}")
    return _finite(values.reshape(rows, n_features), name)


def _finite(values: np.ndarray, name: str) -> np.ndarray:
    # An overflow to inf is caught just below as a 400. No np.errstate here: it costs more than the
    # session.run that follows (it slows the next ONNX Runtime call), and bad values are the rare case.
    features = values.astype(np.float32, copy=False)
    if not np.isfinite(features).all():
        raise BadRequest(f"input {name!r}: data holds values that are not finite in float32 (NaN, inf, too large?)")
    return features


def v1_matrix(payload: Any, model: LoadedModel, max_rows: int) -> np.ndarray:
    """KServe V1 `{"instances": [[...], ...]}`: one list of `n_features` numbers per row."""
    if not isinstance(payload, dict) or not isinstance(payload.get("instances"), list) or not payload["instances"]:
        raise BadRequest('request body must be {"instances": [[<n features>], ...]} with at least one row')
    instances = payload["instances"]
    if len(instances) > max_rows:
        raise BadRequest(f"instances: {len(instances)} rows is more than the limit of {max_rows}; split the request")
    try:
        values = np.asarray(instances)
    except ValueError as exc:
        raise BadRequest(f"instances: rows have different lengths; each needs {model.n_features} numbers") from exc
    if values.dtype.kind not in _NUMERIC_KINDS | _BOOL_KINDS:
        raise BadRequest("instances: rows must hold only numbers")
    if values.ndim != 2 or values.shape[1] != model.n_features:
        raise BadRequest(f"instances: each row needs {model.n_features} numbers for model {model.name!r}, "
                         f"got shape {list(values.shape)}")
    return _finite(values, "instances")


def _attributes(parameters: Any, rows: int) -> dict[str, list[str]] | None:
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


def _wanted_outputs(requested: Any, model: LoadedModel) -> list[str]:
    if requested is None or requested == []:
        return model.output_names
    if not isinstance(requested, list):
        raise BadRequest('"outputs" must be a list of {"name": ...} objects')
    names = [o.get("name") if isinstance(o, dict) else o for o in requested]
    unknown = [n for n in names if n not in model.output_names]
    if unknown:
        raise BadRequest(f"unknown output(s) {unknown}; model {model.name!r} outputs {model.output_names}")
    return names


_WIRE_TYPES = {np.dtype(np.int64): "INT64", np.dtype(np.int32): "INT32", np.dtype(np.float64): "FP64",
               np.dtype(np.bool_): "BOOL", np.dtype(np.float32): "FP32"}
_FP32 = np.dtype(np.float32)


def _output(name: str, value: np.ndarray) -> dict[str, Any]:
    datatype = _WIRE_TYPES.get(value.dtype)
    if datatype is None:  # any other numeric output goes out as FP32
        datatype, value = "FP32", value.astype(_FP32)
    return {"name": name, "datatype": datatype, "shape": list(value.shape), "data": value.ravel()}


def _payload(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from exc


def infer(model: LoadedModel, body: bytes, max_rows: int) -> Inference:
    """Answer one OIP v2 request on `model`; raise BadRequest when the request is at fault."""
    payload = _payload(body)
    if not isinstance(payload, dict):
        raise BadRequest('request body must be a JSON object with "inputs"')
    features = _matrix(_find_input(payload.get("inputs"), model), model, max_rows)
    wanted = _wanted_outputs(payload.get("outputs"), model)
    attributes = _attributes(payload.get("parameters"), features.shape[0])
    request_id = payload.get("id")
    return run(model, features, wanted, str(request_id) if request_id else os.urandom(16).hex(), attributes)


def infer_v1(model: LoadedModel, body: bytes, max_rows: int) -> Inference:
    """Answer one KServe V1 `:predict`; the response is `{"predictions": [...]}`, one item per row."""
    item = run(model, v1_matrix(_payload(body), model, max_rows), [], os.urandom(16).hex(), None)
    first = model.output_names[0]
    primary = item.results.get("label", item.results.get("variable", item.results[first]))
    if primary.ndim == 2 and primary.shape[1] == 1:
        primary = primary.ravel()
    item.response = {"predictions": primary}
    return item


def run(model: LoadedModel, features: np.ndarray, wanted: list[str], request_id: str,
        attributes: dict[str, list[str]] | None) -> Inference:
    results = dict(zip(model.output_names, model.session.run(None, {model.input.name: features}), strict=True))
    response = {
        "model_name": model.name,
        "model_version": str(model.version),
        "id": request_id,
        "outputs": [_output(name, results[name]) for name in wanted],
    }
    return Inference(response, model, request_id, features, results, time.time_ns() // 1_000_000, attributes)


def is_classifier(model: LoadedModel) -> bool:
    return model.task == CLASSIFICATION


def dumps(body: Any) -> bytes:
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
