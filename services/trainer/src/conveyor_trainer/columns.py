"""The model's inputs: one per feature column, and the one form every table is read into before training.

The exported model takes one ONNX input per column (name = column, shape [None, 1]) so clients send raw
values. Two input types exist:
  - text categories: a string tensor ("BYTES" in the Open Inference Protocol). A missing text is the
    empty string "": MISSING_TEXT is the marker the model's imputer replaces.
  - everything else: float32 ("FP32"). Numbers as they are, whole-number category codes as numbers, booleans
    as 1/0; a missing value is NaN.
`model_frame` turns any table (an upload, production feedback, a notebook's sample) into exactly those
values, so scikit-learn is fitted on what ONNX Runtime will later be fed and parity compares like with like.
"""

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from skl2onnx.common.data_types import FloatTensorType, StringTensorType

from conveyor.events.v1 import events_pb2 as ev

from .failures import TrainingFailure

MISSING_TEXT = ""
TEXT, NUMBER = "BYTES", "FP32"
_TRUE = ["true", "t", "yes", "y", "1", "1.0"]
_FALSE = ["false", "f", "no", "n", "0", "0.0"]
KIND_NAMES = {ev.COLUMN_KIND_NUMERIC: "numeric", ev.COLUMN_KIND_CATEGORICAL: "categorical",
              ev.COLUMN_KIND_BOOLEAN: "boolean"}


@dataclass(frozen=True)
class Column:
    """One feature as the model sees it."""

    name: str
    kind: int  # ev.ColumnKind
    text: bool  # a string input (text categories) rather than float32
    missing: int  # ev.MissingPolicy, defaults resolved
    fill_value: str
    encoding: int  # ev.Encoding, defaults resolved (categorical only)
    bits: bool = False  # read as 1/0: a boolean feature, or categories ingest read as booleans

    @property
    def datatype(self) -> str:
        return TEXT if self.text else NUMBER

    @property
    def kind_name(self) -> str:
        return KIND_NAMES.get(self.kind, "numeric")

    def model_input(self) -> ev.ModelInput:
        return ev.ModelInput(name=self.name, datatype=self.datatype, kind=self.kind)

    def onnx_type(self) -> FloatTensorType | StringTensorType:
        return StringTensorType([None, 1]) if self.text else FloatTensorType([None, 1])

    def fill(self) -> Any:
        """The constant for MISSING_POLICY_CONSTANT, read as this column's values are."""
        if self.text:
            return self.fill_value
        if self.bits:
            return 1.0 if self.fill_value.strip().lower() in _TRUE else 0.0
        return float(self.fill_value)


def columns_of(features: list[ev.Feature]) -> list[Column]:
    """Resolve the declared defaults: median for numbers, most frequent otherwise; one-hot encoding."""
    columns = []
    for feature in features:
        kind = feature.kind or ev.COLUMN_KIND_NUMERIC
        missing = feature.missing or (ev.MISSING_POLICY_MEDIAN if kind == ev.COLUMN_KIND_NUMERIC
                                      else ev.MISSING_POLICY_MOST_FREQUENT)
        if kind != ev.COLUMN_KIND_NUMERIC and missing in (ev.MISSING_POLICY_MEDIAN, ev.MISSING_POLICY_MEAN):
            raise TrainingFailure("load", f"feature {feature.name!r}: a {KIND_NAMES[kind]} feature cannot be "
                                          "imputed with a median or mean")
        # Text categories are whatever ingest did not read as numbers; an old event carries no dtype.
        text = kind == ev.COLUMN_KIND_CATEGORICAL and feature.dtype == "string"
        encoding = (feature.encoding or ev.ENCODING_ONE_HOT) if kind == ev.COLUMN_KIND_CATEGORICAL else 0
        bits = kind == ev.COLUMN_KIND_BOOLEAN or feature.dtype == "bool"
        columns.append(Column(feature.name, kind, text, missing, feature.fill_value, encoding, bits))
    return columns


def model_frame(frame: pd.DataFrame, columns: list[Column]) -> pd.DataFrame:
    """The table's feature columns as the model's inputs take them (see the module docstring)."""
    absent = [c.name for c in columns if c.name not in frame.columns]
    if absent:
        raise TrainingFailure("load", f"column(s) {absent} are declared but absent from the file")
    return pd.DataFrame({c.name: _as_input(frame[c.name], c) for c in columns}, index=frame.index)


def _as_input(values: pd.Series, column: Column) -> pd.Series:
    """Vectorized: a per-value Python function cost a quarter of a second on 50,000 rows of 5 text columns."""
    missing = values.isna()
    if column.text:
        if pd.api.types.is_float_dtype(values) and bool((values[~missing] % 1 == 0).all()):
            values = values.astype("Int64")  # a code that a Parquet writer turned into 3.0 is still "3"
        text = values.astype(str)
        text = text.map({value: value.strip() for value in text.unique()})  # once per category, not per cell
        text[missing] = MISSING_TEXT
        return text.astype(object)
    if column.bits:
        words = values.astype(str).str.strip().str.lower()
        bits = pd.Series(np.where(words.isin(_TRUE), 1.0, np.where(words.isin(_FALSE), 0.0, np.nan)),
                         index=values.index)
        return bits.where(~missing).astype(np.float32)
    numbers = pd.to_numeric(values, errors="coerce")
    return numbers.astype(np.float32)


def onnx_feed(x: pd.DataFrame, columns: list[Column]) -> dict[str, np.ndarray]:
    """One [rows, 1] array per input, typed as the ONNX graph declares it."""
    return {c.name: (x[c.name].to_numpy(dtype=object) if c.text else x[c.name].to_numpy(dtype=np.float32))
            .reshape(-1, 1) for c in columns}


def raw_value(value: Any, column: Column) -> Any:
    """A model-frame value as plain JSON: text or None, a whole-number code, 1/0, or a float (None for NaN)."""
    if column.text:
        return None if value == MISSING_TEXT else value
    number = float(value)
    if math.isnan(number):
        return None
    if column.kind == ev.COLUMN_KIND_NUMERIC:
        return number
    return int(number)
