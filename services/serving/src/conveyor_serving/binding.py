"""A request's input tensors, as any protocol sent them, checked against the model's inputs and made its feeds.

Every protocol (JSON, binary REST, gRPC, KServe V1) hands over RequestTensors: name, datatype, shape and
either JSON `data` (flat or nested lists) or `raw` elements already decoded from bytes. One set of rules
then applies, each refusal a BadRequest naming the input and the fix:
- every model input present, no input the model does not take;
- a datatype the protocol knows and the model input can take (numbers into numeric inputs, with a check
  that integers are integers; BOOL into BOOL; BYTES into string inputs);
- a shape that fits the model's (a column takes [rows] or [rows, 1]) and the same rows for every input;
- missing values: JSON null is NaN in a float column and "" (the trainer's missing-string marker) in a
  string column; other datatypes cannot carry a gap. A single-matrix model takes finite numbers only.
"""

from dataclasses import dataclass
from math import prod
from typing import Any

import numpy as np

from .adapters.onnx_model import COLUMNS, MATRIX, LoadedModel, TensorSpec
from .errors import BadRequest
from .tensors import DATATYPES, texts

MISSING_TEXT = ""  # what a null becomes in a string column: the imputer's missing marker
_FLOATS = frozenset({"FP16", "FP32", "FP64"})


@dataclass(slots=True)
class RequestTensor:
    name: str
    datatype: Any
    shape: Any
    data: Any = None  # JSON: flat or nested lists
    raw: np.ndarray | None = None  # binary: the flat elements in `datatype`


def bind(model: LoadedModel, tensors: list[RequestTensor], max_rows: int) -> tuple[dict[str, np.ndarray], int]:
    """The feeds for session.run and the request's row count."""
    if model.layout == MATRIX and len(tensors) == 1 and tensors[0].name == model.input.name:
        features = _matrix(tensors[0], model, max_rows)  # the common case, kept short
        return {model.input.name: features}, features.shape[0]
    _check_names(model, tensors)
    feeds: dict[str, np.ndarray] = {}
    rows = -1
    first = ""
    for tensor in tensors:
        spec = model.input_by_name[tensor.name]
        if model.layout == MATRIX:
            values = _matrix(tensor, model, max_rows)
        else:
            values = _tensor(tensor, spec, model.layout == COLUMNS)
        if spec.batched:
            if rows == -1:
                rows, first = values.shape[0], tensor.name
                if rows > max_rows:
                    raise BadRequest(f"input {tensor.name!r}: {rows} rows is more than the limit of {max_rows}; "
                                     "split the request")
            elif values.shape[0] != rows:
                raise BadRequest(f"input {tensor.name!r} has {values.shape[0]} rows but input {first!r} has "
                                 f"{rows}: every input needs one value per row")
        feeds[tensor.name] = values
    return feeds, max(rows, 1)


def _check_names(model: LoadedModel, tensors: list[RequestTensor]) -> None:
    names = [t.name for t in tensors]
    wanted = [spec.name for spec in model.inputs]
    missing = [n for n in wanted if n not in names]
    if missing and len(wanted) == 1:
        raise BadRequest(f"missing input {missing[0]!r}: the request has {names}, model {model.name!r} takes "
                         f"{wanted[0]!r}")
    if missing:
        raise BadRequest(f"missing input(s) {missing}: the request has {names}, model {model.name!r} takes {wanted}")
    unknown = [n for n in names if n not in model.input_by_name]
    if unknown:
        raise BadRequest(f"unknown input(s) {unknown}: model {model.name!r} takes only {wanted}")
    if len(set(names)) != len(names):
        raise BadRequest(f"input(s) {sorted({n for n in names if names.count(n) > 1})} sent more than once")


def _shape(tensor: RequestTensor) -> list[int]:
    shape = tensor.shape
    if not (isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape)):
        raise BadRequest(f"input {tensor.name!r}: shape must be a list of non-negative integers, got {shape!r}")
    return shape


def _datatype(tensor: RequestTensor, spec: TensorSpec) -> str:
    datatype = tensor.datatype
    if datatype not in DATATYPES:
        raise BadRequest(f"input {tensor.name!r}: unsupported datatype {datatype!r}; use one of {sorted(DATATYPES)}")
    wanted = spec.datatype
    if (wanted == "BYTES") != (datatype == "BYTES") or (wanted == "BOOL" and datatype != "BOOL"):
        raise BadRequest(f"input {tensor.name!r}: the model takes {wanted}, the request sends {datatype}; "
                         f"send {wanted}" + (" (strings)" if wanted == "BYTES" else ""))
    return datatype


def _matrix(tensor: RequestTensor, model: LoadedModel, max_rows: int) -> np.ndarray:
    """The single float32 [rows, n_features] input, with the messages that model's clients know."""
    name, n_features = tensor.name, model.n_features
    datatype = tensor.datatype
    if datatype not in DATATYPES or datatype == "BYTES":
        raise BadRequest(f"input {name!r}: unsupported datatype {datatype!r} for this FP32 [rows, {n_features}] "
                         f"input; use one of {sorted(DATATYPES - {'BYTES'})}")
    shape = tensor.shape
    if not (isinstance(shape, list) and len(shape) == 2 and all(type(d) is int and d > 0 for d in shape)):
        raise BadRequest(f"input {name!r}: shape must be [rows, {n_features}] with positive integers, got {shape!r}")
    rows, width = shape
    if width != n_features:
        raise BadRequest(f"input {name!r}: shape {shape} has {width} features per row, "
                         f"model {model.name!r} expects {n_features}")
    if rows > max_rows:
        raise BadRequest(f"input {name!r}: {rows} rows is more than the limit of {max_rows}; split the request")
    if tensor.raw is not None:
        values = tensor.raw
    else:
        data = tensor.data
        if not isinstance(data, list):
            raise BadRequest(f"input {name!r}: data must be a list of numbers (flat or nested)")
        if datatype == "FP32" and len(data) == rows * n_features and data and type(data[0]) is float:
            # The common case (flat FP32 rows) straight to float32; anything odd takes the checked path below.
            try:
                fast = np.array(data, dtype=np.float32)
            except (ValueError, TypeError):
                fast = None
            if fast is not None:
                return _finite(fast.reshape(rows, n_features), name)
        values = _numbers(data, datatype, name, gaps=False)
    if values.size != rows * n_features:
        raise BadRequest(f"input {name!r}: data has {values.size} values but shape {shape} needs {rows * n_features}")
    return _finite(_cast(values.reshape(rows, n_features), np.dtype(np.float32), datatype, name), name)


def _finite(values: np.ndarray, name: str) -> np.ndarray:
    # An overflow to inf is caught here as a 400. No np.errstate: it costs more than the session.run that
    # follows (it slows the next ONNX Runtime call), and bad values are the rare case.
    features = values.astype(np.float32, copy=False)
    if not np.isfinite(features).all():
        raise BadRequest(f"input {name!r}: data holds values that are not finite in float32 (NaN, inf, too large?)")
    return features


def _tensor(tensor: RequestTensor, spec: TensorSpec, column: bool) -> np.ndarray:
    name = tensor.name
    datatype = _datatype(tensor, spec)
    shape = _shape(tensor)
    target = _fitted_shape(shape, spec, name, column)
    count = prod(shape)
    if tensor.raw is not None:
        values = tensor.raw
    elif datatype == "BYTES":
        values = _json_texts(tensor.data, name)
    else:
        values = _numbers(tensor.data, datatype, name, gaps=spec.datatype in _FLOATS)
    if values.size != count:
        raise BadRequest(f"input {name!r}: data has {values.size} values but shape {shape} needs {count}")
    values = values.reshape(target)
    if spec.datatype == "BYTES":
        return texts(values, name) if tensor.raw is not None else values
    values = _cast(values, spec.dtype, datatype, name)
    if column and spec.datatype in _FLOATS and np.isinf(values).any():
        raise BadRequest(f"input {name!r}: data holds infinite values (or numbers too large for {spec.datatype}); "
                         "send null for a missing value")
    return values


def _fitted_shape(shape: list[int], spec: TensorSpec, name: str, column: bool) -> list[int]:
    """The request's shape as the model declares it: a column takes [rows] or [rows, 1]."""
    declared = spec.shape
    if len(shape) == len(declared) and all(d == -1 or d == s for d, s in zip(declared, shape, strict=True)):
        return shape
    if column and (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)):
        return [shape[0], *declared[1:]]
    if column:
        raise BadRequest(f"input {name!r}: shape {shape} is not one column; send [rows] or [rows, 1]")
    raise BadRequest(f"input {name!r}: shape {shape} does not fit the model's {declared} (-1: any size)")


def _numbers(data: Any, datatype: str, name: str, gaps: bool) -> np.ndarray:
    if not isinstance(data, list):
        raise BadRequest(f"input {name!r}: data must be a list of numbers (flat or nested)")
    try:
        values = np.asarray(data)
    except ValueError as exc:
        raise BadRequest(f"input {name!r}: data rows have different lengths") from exc
    if values.dtype == object:
        values = _with_gaps(values, name, gaps)
    kind = values.dtype.kind
    if datatype == "BOOL":
        if kind != "b":
            raise BadRequest(f"input {name!r}: datatype BOOL but data holds non-booleans; send true/false")
    elif kind not in "iuf":
        raise BadRequest(f"input {name!r}: datatype {datatype} but data holds non-numbers; send only numbers")
    elif datatype not in _FLOATS and kind == "f":
        raise BadRequest(f"input {name!r}: datatype {datatype} but data holds non-integers; send FP32 or FP64")
    return values


def _with_gaps(values: np.ndarray, name: str, gaps: bool) -> np.ndarray:
    """An object array from JSON: nulls become NaN where the input is a float column, else a refusal."""
    missing = values == None  # noqa: E711 - elementwise on an object array
    if not missing.any():
        raise BadRequest(f"input {name!r}: data holds non-numbers (or rows of different lengths); send only numbers")
    if not gaps:
        raise BadRequest(f"input {name!r}: data holds null, but this input cannot carry a missing value; "
                         "send a number (nulls are taken by float inputs only)")
    values = values.copy()
    values[missing] = np.nan
    try:
        return values.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise BadRequest(f"input {name!r}: data holds non-numbers; send numbers or null") from exc


def _json_texts(data: Any, name: str) -> np.ndarray:
    if not isinstance(data, list):
        raise BadRequest(f"input {name!r}: data must be a list of strings (flat or nested)")
    flat = _flatten(data)  # in order; ragged nesting is caught by the size check against the shape
    out = np.empty(len(flat), dtype=object)
    for i, item in enumerate(flat):
        if item is None:
            item = MISSING_TEXT
        elif not isinstance(item, str):
            raise BadRequest(f"input {name!r}: datatype BYTES but element {i} is {item!r}; send strings "
                             "(null for a missing value)")
        out[i] = item
    return out


def _flatten(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        out.extend(_flatten(item) if isinstance(item, list) else [item])
    return out


def _cast(values: np.ndarray, dtype: np.dtype, datatype: str, name: str) -> np.ndarray:
    """Values sent as `datatype` in the model input's dtype; integers must stay what they were."""
    if values.dtype == dtype:
        return values
    if dtype.kind in "iu":
        if values.dtype.kind == "f" and not np.equal(np.mod(values, 1), 0).all():
            raise BadRequest(f"input {name!r}: the model takes {dtype.name} integers but the {datatype} data holds "
                             "non-integers")
        info = np.iinfo(dtype)
        if values.size and (values.min() < info.min or values.max() > info.max):
            raise BadRequest(f"input {name!r}: values outside the range of the model's {dtype.name} "
                             f"({info.min}..{info.max})")
    return values.astype(dtype)
