"""Loading a dataset version ingest announced, in the model's form, and cutting it into a seeded split."""

import io
import math
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from sklearn.model_selection import train_test_split

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import ArtifactStore, InvalidMessage

from .columns import Column, model_frame
from .failures import TrainingFailure


@dataclass(frozen=True)
class Table:
    """One dataset version: features as the model takes them, labels, and the sensitive attributes."""

    dataset_id: str
    x: pd.DataFrame
    y: np.ndarray  # classification: canonical label text (see `label_text`); regression: float64
    sensitive: pd.DataFrame

    def rows(self, start: int, stop: int | None = None) -> "Table":
        return Table(self.dataset_id, self.x.iloc[start:stop].reset_index(drop=True), self.y[start:stop],
                     self.sensitive.iloc[start:stop].reset_index(drop=True))


def read_frame(store: ArtifactStore, dataset: ev.DatasetArrived) -> pd.DataFrame:
    """Read the stored bytes (from the artifact store, never a path of ingest's); every problem is a 'load' failure."""
    try:
        data = store.get(dataset.uri)
    except InvalidMessage as exc:  # gone (erased, or never stored) or not in this platform's store
        raise TrainingFailure("load", str(exc)) from exc
    fmt = dataset.source_format or PurePosixPath(dataset.uri).suffix.lstrip(".")
    try:
        if fmt == "parquet":
            return pd.read_parquet(io.BytesIO(data))
        if fmt == "csv":
            return _read_csv(data, dataset)
    except Exception as exc:  # noqa: BLE001 - any parser error means the file cannot be used
        raise TrainingFailure("load", f"cannot read {dataset.uri} as {fmt}: {type(exc).__name__}: {exc}") from exc
    raise TrainingFailure("load", f"unsupported source_format {fmt!r}; expected 'csv' or 'parquet'")


def _read_csv(data: bytes, dataset: ev.DatasetArrived) -> pd.DataFrame:
    """Arrow's multithreaded parser reads a 50,000-row table about three times faster than pandas' own. Left
    to itself it would turn text that looks like a date into one ("2024-01-01 10:00" would come back as
    "2024-01-01 10:00:00", an unseen category) and type a column by its first rows, so every column that is
    text to the model (text categories, class labels, sensitive attributes) is read as text. Anything Arrow
    still refuses is read by pandas, as ingest read it."""
    text = [f.name for f in dataset.features if f.dtype == "string"] + list(dataset.sensitive_attributes)
    if dataset.task == ev.TASK_CLASSIFICATION:
        text.append(dataset.target)
    options = pacsv.ConvertOptions(column_types=dict.fromkeys(text, pa.string()), strings_can_be_null=True)
    try:
        return pacsv.read_csv(pa.BufferReader(data), convert_options=options).to_pandas()
    except pa.ArrowInvalid:
        return pd.read_csv(io.BytesIO(data), dtype=dict.fromkeys(text, str))


def load_table(store: ArtifactStore, dataset: ev.DatasetArrived, columns: list[Column]) -> Table:
    frame = read_frame(store, dataset).reset_index(drop=True)
    if not columns:
        raise TrainingFailure("load", "the dataset declares no features")
    missing = [c for c in [dataset.target, *dataset.sensitive_attributes] if c not in frame.columns]
    if missing:
        raise TrainingFailure("load", f"column(s) {missing} are declared but absent from the file")
    target = frame[dataset.target]
    if target.isna().any():
        raise TrainingFailure("load", f"target {dataset.target!r} has missing values")
    if dataset.task == ev.TASK_CLASSIFICATION:
        y = target.map(label_text).to_numpy(dtype=object)
    else:
        numbers = pd.to_numeric(target, errors="coerce")
        if numbers.isna().any() or pd.api.types.is_bool_dtype(target):
            raise TrainingFailure("load", f"regression target {dataset.target!r} must be numeric")
        y = numbers.to_numpy(dtype=np.float64)
    sensitive = frame[list(dataset.sensitive_attributes)].astype(str)
    return Table(dataset.dataset_id, model_frame(frame, columns), y, sensitive)


def label_text(value: Any) -> str:
    """Class labels compared across versions as text: 1, 1.0 and "1" are one class; "yes" stays "yes"."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def class_array(labels: np.ndarray) -> np.ndarray:
    """Whole-number labels train as int64 (the ONNX label output stays int64, as before); others as text."""
    try:
        as_int = np.array([int(v) for v in labels], dtype=np.int64)
    except ValueError:
        return labels.astype(str).astype(object)
    return as_int if all(str(i) == v for i, v in zip(as_int, labels, strict=True)) else labels.astype(object)


def concat(tables: list[Table]) -> Table:
    return Table(
        dataset_id=tables[-1].dataset_id,
        x=pd.concat([t.x for t in tables], ignore_index=True),
        y=np.concatenate([t.y for t in tables]),
        sensitive=pd.concat([t.sensitive for t in tables], ignore_index=True),
    )


def seeded_split(table: Table, holdout_fraction: float, seed: int, classification: bool) -> tuple[Table, Table]:
    """(train, holdout), stratified by class for classification."""
    stratify = table.y if classification else None
    try:
        train_idx, holdout_idx = train_test_split(
            np.arange(len(table.y)), test_size=holdout_fraction, random_state=seed, stratify=stratify
        )
    except ValueError as exc:
        raise TrainingFailure("train", f"cannot split {len(table.y)} rows: {exc}") from exc
    return _take(table, np.sort(train_idx)), _take(table, np.sort(holdout_idx))


def _take(table: Table, index: np.ndarray) -> Table:
    return Table(table.dataset_id, table.x.iloc[index].reset_index(drop=True), table.y[index],
                 table.sensitive.iloc[index].reset_index(drop=True))
