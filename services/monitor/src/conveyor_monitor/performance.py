"""Late labels: ground truth joined to logged predictions by (request_id, row), scored per window.

Predictions are remembered (bounded, oldest forgotten first; labels.py keeps them durable) until their label
arrives; a joined row goes into its model version's labelled window, and a full window is scored against the
version's holdout metrics from the registry.
"""

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, mean_absolute_error, roc_auc_score

from .fairness import equalized_odds

HIGHER_IS_BETTER = {"accuracy", "roc_auc"}
LOWER_IS_BETTER = {"mae", "rmse"}


@dataclass(frozen=True)
class Logged:
    model: str
    version: int
    label: str
    score: float | None  # probability of the positive label (binary classification)
    value: float  # regression output
    attributes: dict[str, str]
    task: str
    positive: str
    inputs: dict[str, Any] = field(default_factory=dict)  # the row the model saw (None where missing)
    timestamp_ms: int = 0  # when it was predicted


@dataclass(frozen=True)
class Scored:
    model: str
    version: int
    metrics: dict[str, float]
    equalized_odds: dict[str, float]
    size: int


def score(model: str, version: int, rows: list[tuple[Logged, Any]]) -> Scored:
    first = rows[0][0]
    metrics: dict[str, float] = {}
    gaps: dict[str, float] = {}
    if first.task == "regression":
        truth = np.array([float(t) for _, t in rows])
        predicted = np.array([r.value for r, _ in rows])
        metrics["mae"] = float(mean_absolute_error(truth, predicted))
        metrics["rmse"] = float(np.sqrt(np.mean((truth - predicted) ** 2)))
    else:
        truth_labels = [_label(t) for _, t in rows]
        predicted_labels = [r.label for r, _ in rows]
        metrics["accuracy"] = float(accuracy_score(truth_labels, predicted_labels))
        positives = np.array([t == first.positive for t in truth_labels])
        scores = [r.score for r, _ in rows]
        if 0 < positives.sum() < len(positives) and all(s is not None for s in scores):
            metrics["roc_auc"] = float(roc_auc_score(positives, np.array(scores, dtype=float)))
        for attribute in sorted({a for r, _ in rows for a in r.attributes}):
            if all(attribute in r.attributes for r, _ in rows):
                groups = [r.attributes[attribute] for r, _ in rows]
                if len(set(groups)) > 1:
                    gaps[attribute] = equalized_odds(groups, truth_labels, predicted_labels, first.positive)
    return Scored(model, version, metrics, gaps, len(rows))


def degraded(live: dict[str, float], baseline: dict[str, float], tolerance: float) -> list[str]:
    """Metrics that fell by more than `tolerance` (absolute for scores, relative for errors)."""
    fell = []
    for name, value in live.items():
        if name not in baseline:
            continue
        if name in HIGHER_IS_BETTER and value < baseline[name] - tolerance:
            fell.append(name)
        elif name in LOWER_IS_BETTER and value > baseline[name] * (1 + tolerance):
            fell.append(name)
    return fell


def _label(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
