"""The training reference the monitor compares live traffic against (cross-service JSON agreement).

Keys: feature_names, kinds (feature -> "numeric" | "categorical" | "boolean"), columns (feature -> raw
values of a sample of training rows: numbers; text categories as strings and whole-number categories as
ints; booleans as 1/0; a missing value is null), predictions (the model's on those rows: class labels as
strings, or regression values), task, class_labels; and since named columns: inputs (feature -> the ONNX
input's datatype, "BYTES" or "FP32", as serving logs it), target (the dataset's target column, which the
monitor names the label column of production feedback), sensitive_attributes.
"""

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from conveyor.events.v1 import events_pb2 as ev

from .columns import Column, raw_value


def build_reference(
    predict: Callable[[pd.DataFrame], np.ndarray],
    class_labels: Sequence[str],
    columns: list[Column],
    task: int,
    x_train: pd.DataFrame,
    target: str,
    sensitive_attributes: list[str],
    rows: int,
    seed: int,
) -> dict[str, Any]:
    """Sample up to `rows` training rows with the spec's seed (so a rerun writes the same reference)."""
    rng = np.random.default_rng(seed)
    count = min(rows, len(x_train))
    picked = np.sort(rng.choice(len(x_train), size=count, replace=False))
    sample = x_train.iloc[picked]
    predicted = predict(sample)
    classification = task == ev.TASK_CLASSIFICATION
    return {
        "feature_names": [c.name for c in columns],
        "kinds": {c.name: c.kind_name for c in columns},
        "inputs": {c.name: c.datatype for c in columns},
        "columns": {c.name: [raw_value(v, c) for v in sample[c.name].tolist()] for c in columns},
        "predictions": [str(p) for p in predicted] if classification else [float(p) for p in predicted],
        "task": "classification" if classification else "regression",
        "class_labels": list(class_labels),
        "target": target,
        "sensitive_attributes": sensitive_attributes,
    }
