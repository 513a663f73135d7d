"""Which outputs a request asked for and in what form: `binary_data` (REST) and `classification` (top-k).

Classification follows Triton's classification extension: the output becomes BYTES of shape [rows, k], each
element "<value>:<index>" or "<value>:<index>:<label>" for the k largest values of the row, largest first
(k is capped at the row's width). Labels are the model's class labels, for its "probabilities" output.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np

from .adapters.onnx_model import LoadedModel
from .errors import BadRequest
from .tensors import datatype_of


@dataclass(slots=True)
class Wanted:
    name: str
    binary: bool = False
    classes: int = 0  # 0: the tensor itself; k: the top-k classification strings


@dataclass(slots=True)
class Answer:
    """One output as it is sent: name, datatype, shape and values."""

    name: str
    datatype: str
    shape: list[int]
    values: np.ndarray
    binary: bool


def wanted_outputs(requested: Any, model: LoadedModel, binary: bool = False) -> list[Wanted]:
    """The requested outputs (JSON form: [{"name", "parameters"}]); every output when none are named.
    `binary` is the request's binary_data_output: the default for outputs that do not say."""
    if requested is None or requested == []:
        return [Wanted(name, binary) for name in model.output_names]
    if not isinstance(requested, list):
        raise BadRequest('"outputs" must be a list of {"name": ...} objects')
    wanted = []
    for item in requested:
        name = item.get("name") if isinstance(item, dict) else item
        parameters = item.get("parameters") if isinstance(item, dict) else None
        wanted.append(_wanted(name, parameters or {}, binary))
    check_known(wanted, model)
    return wanted


def _wanted(name: Any, parameters: Any, binary: bool) -> Wanted:
    if not isinstance(parameters, dict):
        raise BadRequest(f"output {name!r}: parameters must be an object")
    binary_data = parameters.get("binary_data", binary)
    if not isinstance(binary_data, bool):
        raise BadRequest(f"output {name!r}: parameters.binary_data must be true or false")
    classes = parameters.get("classification", 0)
    if type(classes) is not int or classes < 0:
        raise BadRequest(f"output {name!r}: parameters.classification must be a non-negative integer (top k)")
    return Wanted(name, binary_data, classes)


def check_known(wanted: list[Wanted], model: LoadedModel) -> None:
    unknown = [w.name for w in wanted if w.name not in model.output_names]
    if unknown:
        raise BadRequest(f"unknown output(s) {unknown}; model {model.name!r} outputs {model.output_names}")


def answers(model: LoadedModel, results: dict[str, np.ndarray], wanted: list[Wanted]) -> list[Answer]:
    out = []
    for want in wanted:
        values = results[want.name]
        if want.classes:
            if values.dtype.kind not in "biuf":
                raise BadRequest(f"output {want.name!r} holds {datatype_of(values)}: classification needs numbers")
            labels = model.class_labels if want.name == "probabilities" else []
            values = classify(values, want.classes, labels)
        elif values.dtype.kind in "US":
            values = values.astype(object)
        out.append(Answer(want.name, datatype_of(values), list(values.shape), values, want.binary))
    return out


def classify(values: np.ndarray, k: int, labels: list[str]) -> np.ndarray:
    rows = values.reshape(values.shape[0], -1) if values.ndim else values.reshape(1, 1)
    k = min(k, rows.shape[1])
    order = np.argsort(-rows, axis=1, kind="stable")[:, :k]
    with_labels = len(labels) == rows.shape[1]
    out = np.empty((rows.shape[0], k), dtype=object)
    for r in range(rows.shape[0]):
        for j, index in enumerate(order[r].tolist()):
            value = rows[r, index]
            text = f"{float(value):f}:{index}" if rows.dtype.kind == "f" else f"{value}:{index}"
            out[r, j] = f"{text}:{labels[index]}" if with_labels else text
    return out
