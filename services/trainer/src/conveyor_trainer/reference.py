"""The training reference the monitor compares live traffic against (cross-service JSON agreement)."""

import math
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from conveyor.events.v1 import events_pb2 as ev


def _plain(value: float, categorical: bool) -> Any:
    if math.isnan(value):
        return None  # JSON has no NaN
    return int(value) if categorical else float(value)


def build_reference(
    pipeline: Pipeline,
    features: list[ev.Feature],
    task: int,
    x_train: np.ndarray,
    class_labels: list[str],
    rows: int,
    seed: int,
) -> dict[str, Any]:
    """Sample up to `rows` training rows with the spec's seed (so a rerun writes the same reference).

    Classification predictions are strings, like ModelTrained.class_labels and Prediction.label.
    """
    rng = np.random.default_rng(seed)
    count = min(rows, len(x_train))
    picked = np.sort(rng.choice(len(x_train), size=count, replace=False))
    sample = x_train[picked]
    kinds = {f.name: "categorical" if f.kind == ev.COLUMN_KIND_CATEGORICAL else "numeric" for f in features}
    columns = {
        f.name: [_plain(v, kinds[f.name] == "categorical") for v in sample[:, i]] for i, f in enumerate(features)
    }
    predicted = pipeline.predict(sample)
    if task == ev.TASK_CLASSIFICATION:
        predictions: list[Any] = [str(int(p)) for p in predicted]
    else:
        predictions = [float(p) for p in predicted]
    return {
        "feature_names": [f.name for f in features],
        "kinds": kinds,
        "columns": columns,
        "predictions": predictions,
        "task": "classification" if task == ev.TASK_CLASSIFICATION else "regression",
        "class_labels": class_labels,
    }
