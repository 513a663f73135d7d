"""Turns a PredictionsLogged batch into columns in the reference's feature order, or says what is wrong.

Serving writes columns; the window and the drift tests want columns too, so a columnar batch is read as it
is (one array per column), never expanded into one Prediction message per row. Row batches (older writers,
tests) are read into the same shape. Numeric inputs travel in `features` (NaN where missing), string
inputs in `text_features` ("" where missing); both are gaps to the drift tests, not errors.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import InvalidMessage

from .reference import Reference


@dataclass(frozen=True)
class LiveBatch:
    size: int
    inputs: dict[str, list[Any]]  # reference feature -> one value per row (float, or str for text inputs)
    outputs: list[Any]  # predicted label (classification) or value (regression)
    attributes: dict[str, list[str]]  # sensitive attribute -> one value per row, "" where the request sent none
    request_ids: Sequence[str]
    request_rows: Sequence[int]
    timestamps_ms: Sequence[int]
    labels: Sequence[str]
    values: Sequence[float]
    probabilities: np.ndarray  # rows x classes; 0 columns when the model gives none


def read_batch(batch: ev.PredictionsLogged, reference: Reference) -> LiveBatch:
    if batch.HasField("columns"):
        if batch.predictions:
            raise InvalidMessage("PredictionsLogged holds both predictions and columns; write one form")
        return _read_columns(batch, reference)
    return _read_rows(batch, reference)


def _numeric_names(batch: ev.PredictionsLogged, text: set[str], reference: Reference) -> list[str]:
    logged = [n for n in (list(batch.feature_names) or list(reference.feature_names)) if n not in text]
    missing = [n for n in reference.feature_names if n not in logged and n not in text]
    if missing:
        raise InvalidMessage(
            f"PredictionsLogged for {batch.model_name} v{batch.version} lacks feature(s) {', '.join(missing)} "
            f"that the reference has; log feature_names in the model's feature order"
        )
    return logged


def _inputs(reference: Reference, numeric: list[str], matrix: np.ndarray,
            text: dict[str, Sequence[str]]) -> dict[str, list[Any]]:
    if np.isinf(matrix).any():
        raise InvalidMessage("PredictionsLogged holds an infinite feature value; log NaN for a missing one")
    index = {n: i for i, n in enumerate(numeric)}
    return {n: list(text[n]) if n in text else matrix[:, index[n]].tolist() for n in reference.feature_names}


def _read_columns(batch: ev.PredictionsLogged, reference: Reference) -> LiveBatch:
    columns = batch.columns
    rows = columns.rows
    text = {name: column.values for name, column in columns.text_features.items()}
    numeric = _numeric_names(batch, set(text), reference)
    if len(columns.features) != rows * len(numeric):
        raise InvalidMessage(f"PredictionColumns.features has {len(columns.features)} values; {rows} rows of "
                             f"{len(numeric)} numeric features need {rows * len(numeric)}")
    for name, column in (("request_ids", columns.request_ids), ("request_rows", columns.request_rows),
                         ("timestamps_ms", columns.timestamps_ms)):
        _exactly(name, len(column), rows)
    for name, column in (("labels", columns.labels), ("values", columns.values)):
        if column:
            _exactly(name, len(column), rows)
    for kind, mapping in (("attributes", columns.attributes), ("text_features", columns.text_features)):
        for name, values in mapping.items():
            _exactly(f"{kind}[{name!r}]", len(values.values), rows)
    classes = len(batch.class_labels) or (len(columns.probabilities) // rows if rows else 0)
    if columns.probabilities and len(columns.probabilities) != rows * classes:
        raise InvalidMessage(f"PredictionColumns.probabilities has {len(columns.probabilities)} values; {rows} rows "
                             f"of {classes} classes need {rows * classes}")
    matrix = np.asarray(columns.features, dtype=float).reshape(rows, len(numeric))
    probabilities = np.asarray(columns.probabilities, dtype=float).reshape(rows, -1 if columns.probabilities else 0)
    labels, values = list(columns.labels), list(columns.values)
    return LiveBatch(
        size=rows, inputs=_inputs(reference, numeric, matrix, text),
        outputs=values if reference.task == "regression" else labels,
        attributes={name: list(column.values) for name, column in columns.attributes.items()},
        request_ids=list(columns.request_ids), request_rows=list(columns.request_rows),
        timestamps_ms=list(columns.timestamps_ms), labels=labels, values=values, probabilities=probabilities,
    )


def _read_rows(batch: ev.PredictionsLogged, reference: Reference) -> LiveBatch:
    predictions = batch.predictions
    text_names = sorted({name for p in predictions for name in p.text_features})
    numeric = _numeric_names(batch, set(text_names), reference)
    for p in predictions:
        if len(p.features) != len(numeric):
            raise InvalidMessage(f"prediction {p.request_id!r} has {len(p.features)} features, "
                                 f"feature_names has {len(numeric)}")
    matrix = np.asarray([list(p.features) for p in predictions], dtype=float).reshape(len(predictions), len(numeric))
    text = {name: [p.text_features.get(name, "") for p in predictions] for name in text_names}
    attribute_names = sorted({name for p in predictions for name in p.attributes})
    widths = {len(p.probabilities) for p in predictions}
    probabilities = np.asarray([list(p.probabilities) for p in predictions], dtype=float) if len(widths) == 1 \
        else np.zeros((len(predictions), 0))
    labels = [p.label for p in predictions]
    values = [p.value for p in predictions]
    return LiveBatch(
        size=len(predictions), inputs=_inputs(reference, numeric, matrix, text),
        outputs=values if reference.task == "regression" else labels,
        attributes={name: [p.attributes.get(name, "") for p in predictions] for name in attribute_names},
        request_ids=[p.request_id for p in predictions], request_rows=[p.row for p in predictions],
        timestamps_ms=[p.timestamp_ms for p in predictions], labels=labels, values=values,
        probabilities=probabilities,
    )


def _exactly(name: str, length: int, rows: int) -> None:
    if length != rows:
        raise InvalidMessage(f"PredictionColumns.{name} has {length} entries for {rows} rows")
