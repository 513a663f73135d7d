"""KServe V1 for older clients: `{"instances": [...]}` in, `{"predictions": [...]}` out.

Instances are rows: lists of the features (a single-matrix model; for a per-column model the values in the
order of the model's inputs, as metadata lists them) or objects `{column: value}` (KServe's and pandas'
records form; null for a missing value). The answer holds one prediction per row (labels, or values for
regression) and, where the model has them, `probabilities` (one list per row, in `class_labels` order).
"""

from typing import Any

import numpy as np

from .adapters.onnx_model import COLUMNS, MATRIX, LoadedModel
from .binding import RequestTensor, bind
from .errors import BadRequest
from .inference import Inference, InferRequest, dumps, new_id
from .rest_v2 import payload

_NUMERIC_KINDS = frozenset("iufb")


def decode(model: LoadedModel, body: bytes, header_length: str | None, max_rows: int) -> InferRequest:
    document = payload(body)
    if not isinstance(document, dict) or not isinstance(document.get("instances"), list) or not document["instances"]:
        shape = "[<n features>]" if model.layout == MATRIX else '{"<column>": <value>, ...}'
        raise BadRequest(f'request body must be {{"instances": [{shape}, ...]}} with at least one row')
    instances = document["instances"]
    if len(instances) > max_rows:
        raise BadRequest(f"instances: {len(instances)} rows is more than the limit of {max_rows}; split the request")
    if model.layout == MATRIX:
        feeds = {model.input.name: _matrix(instances, model)}
    else:
        feeds, _ = bind(model, _columns(instances, model), max_rows)
    return InferRequest(feeds, len(instances), None, new_id(None))


def _matrix(instances: list[Any], model: LoadedModel) -> np.ndarray:
    if all(isinstance(row, dict) for row in instances) and model.feature_names:
        instances = [_ordered(row, i, model.feature_names) for i, row in enumerate(instances)]
    try:
        values = np.asarray(instances)
    except ValueError as exc:
        raise BadRequest(f"instances: rows have different lengths; each needs {model.n_features} numbers") from exc
    if values.dtype.kind not in _NUMERIC_KINDS:
        raise BadRequest("instances: rows must hold only numbers")
    if values.ndim != 2 or values.shape[1] != model.n_features:
        raise BadRequest(f"instances: each row needs {model.n_features} numbers for model {model.name!r}, "
                         f"got shape {list(values.shape)}")
    features = values.astype(np.float32)
    if not np.isfinite(features).all():
        raise BadRequest("input 'instances': data holds values that are not finite in float32 (NaN, inf, too large?)")
    return features


def _ordered(row: dict[str, Any], i: int, columns: list[str]) -> list[Any]:
    missing = [c for c in columns if c not in row]
    extra = [c for c in row if c not in columns]
    if missing or extra:
        raise BadRequest(f"instances[{i}]: " + "; ".join(
            part for part in (f"no value for {missing} (send null for a missing value)" if missing else "",
                              f"unknown column(s) {extra}" if extra else "") if part))
    return [row[c] for c in columns]


def _columns(instances: list[Any], model: LoadedModel) -> list[RequestTensor]:
    """One tensor per model input from rows of objects (by name) or lists (by position)."""
    names = [spec.name for spec in model.inputs]
    if all(isinstance(row, dict) for row in instances):
        rows = [_ordered(row, i, names) for i, row in enumerate(instances)]
    elif all(isinstance(row, list) for row in instances):
        for i, row in enumerate(instances):
            if len(row) != len(names):
                raise BadRequest(f"instances[{i}] has {len(row)} values; model {model.name!r} takes {len(names)}: "
                                 f"{names} (or send objects {{column: value}})")
        rows = instances
    elif len(names) == 1 and model.layout != COLUMNS:
        rows = [[row] for row in instances]  # a one-input tensor model: each instance is one item of the batch
    else:
        raise BadRequest(f"instances must all be objects {{column: value}} or all lists of {len(names)} values")
    # a column is one value per row; a tensor input takes each row's item whole (its shape from the first row)
    return [RequestTensor(spec.name, spec.datatype, [len(rows), *np.shape(rows[0][j])],
                          data=[row[j] for row in rows]) for j, spec in enumerate(model.inputs)]


def encode(model: LoadedModel, inference: Inference, request: InferRequest) -> tuple[bytes, dict[str, str] | None]:
    results = inference.results
    primary = results.get("label", results.get("variable", results[model.output_names[0]]))
    if primary.ndim == 2 and primary.shape[1] == 1:
        primary = primary.ravel()
    body: dict[str, Any] = {"predictions": primary.tolist() if primary.dtype.kind in "OUS" else primary}
    if "probabilities" in results:
        body["probabilities"] = results["probabilities"]
    return dumps(body), None
