"""Loading a dataset an ingest announced, and cutting it into a seeded train/holdout split."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import ArtifactStore, InvalidMessage

from .recipe import TrainingFailure


@dataclass(frozen=True)
class Split:
    feature_names: list[str]
    x_train: np.ndarray
    x_holdout: np.ndarray
    y_train: np.ndarray
    y_holdout: np.ndarray
    sensitive_holdout: pd.DataFrame  # one column per sensitive attribute, aligned with x_holdout


def read_frame(store: ArtifactStore, dataset: ev.DatasetArrived) -> pd.DataFrame:
    """Read the stored bytes; every problem here is a 'load' failure."""
    try:
        path = store.path_of(dataset.uri)
    except InvalidMessage as exc:
        raise TrainingFailure("load", str(exc)) from exc
    fmt = dataset.source_format or Path(path).suffix.lstrip(".")
    try:
        if fmt == "parquet":
            return pd.read_parquet(path)
        if fmt == "csv":
            return pd.read_csv(path)
    except FileNotFoundError as exc:
        raise TrainingFailure("load", f"dataset file {path} does not exist") from exc
    except Exception as exc:  # noqa: BLE001 - any parser error means the file cannot be used
        raise TrainingFailure("load", f"cannot read {path} as {fmt}: {type(exc).__name__}: {exc}") from exc
    raise TrainingFailure("load", f"unsupported source_format {fmt!r}; expected 'csv' or 'parquet'")


def _numeric(frame: pd.DataFrame, columns: list[str], what: str) -> np.ndarray:
    bad = [c for c in columns if not pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])]
    if bad:
        raise TrainingFailure("load", f"{what} column(s) {bad} are not numeric; integer-code them before upload")
    return frame[columns].to_numpy(dtype=np.float64)


def split(frame: pd.DataFrame, dataset: ev.DatasetArrived, spec: ev.TrainingSpec) -> Split:
    features = [f.name for f in dataset.features]
    sensitive = list(dataset.sensitive_attributes)
    if not features:
        raise TrainingFailure("load", "the dataset declares no features")
    missing = [c for c in [*features, dataset.target, *sensitive] if c not in frame.columns]
    if missing:
        raise TrainingFailure("load", f"column(s) {missing} are declared but absent from the file")
    x = _numeric(frame, features, "feature")
    target = frame[dataset.target]
    if target.isna().any():
        raise TrainingFailure("load", f"target {dataset.target!r} has missing values")
    if dataset.task == ev.TASK_CLASSIFICATION:
        if not pd.api.types.is_integer_dtype(target):
            raise TrainingFailure("load", f"target {dataset.target!r} must be integer-coded for classification")
        y = target.to_numpy(dtype=np.int64)
    else:
        y = _numeric(frame, [dataset.target], "target")[:, 0]
    stratify = y if dataset.task == ev.TASK_CLASSIFICATION else None
    try:
        train_idx, holdout_idx = train_test_split(
            np.arange(len(frame)), test_size=spec.holdout_fraction, random_state=int(spec.seed), stratify=stratify
        )
    except ValueError as exc:
        raise TrainingFailure("train", f"cannot split {len(frame)} rows: {exc}") from exc
    return Split(
        feature_names=features,
        x_train=x[train_idx],
        x_holdout=x[holdout_idx],
        y_train=y[train_idx],
        y_holdout=y[holdout_idx],
        sensitive_holdout=frame[sensitive].iloc[holdout_idx].reset_index(drop=True),
    )
