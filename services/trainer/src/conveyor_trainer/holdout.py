"""Holdout metrics and per-attribute fairness gaps, from a model's predictions on held-out rows.

Metrics are computed from predictions (labels and probabilities, or values), not from a fitted
estimator, so the same functions judge a pipeline, the champion's ONNX file and a notebook's model.
The metric names are the ones ingest accepts as primary metrics (its `recipes.METRICS`).

Fairness (fairlearn's MetricFrame per group of each sensitive attribute):
  - binary classification: demographic parity and equalized odds differences of the positive class
    (classes[1]); selection_rate is the positive rate per group.
  - multiclass: the same one class against the rest, for every class; the largest gap of each kind is
    reported and selection_rate is that of the class with the largest parity gap.
  - regression: standardized differences (Cohen's d style, in holdout target standard deviations, so the
    registry's one limit reads the same for any unit): "demographic parity" is the spread of the groups'
    mean predictions, "equalized odds" the spread of their mean absolute errors; selection_rate holds each
    group's mean prediction.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    equalized_odds_difference,
    selection_rate,
)
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)

from conveyor.events.v1 import events_pb2 as ev

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Predictions:
    """What a model said about the holdout rows."""

    labels: np.ndarray  # classification: predicted classes; regression: predicted values
    probabilities: np.ndarray | None = None  # rows x classes, in `classes` order
    classes: np.ndarray | None = None


def predictions_of(pipeline: object, x: pd.DataFrame, task: int) -> Predictions:
    if task == ev.TASK_CLASSIFICATION:
        return Predictions(pipeline.predict(x), pipeline.predict_proba(x), pipeline.classes_)  # type: ignore[attr-defined]
    return Predictions(pipeline.predict(x))  # type: ignore[attr-defined]


def metrics_of(task: int, y: np.ndarray, predicted: Predictions) -> dict[str, float]:
    if task == ev.TASK_CLASSIFICATION:
        return classification_metrics(y, predicted)
    return regression_metrics(y, predicted.labels)


def classification_metrics(y: np.ndarray, predicted: Predictions) -> dict[str, float]:
    classes, proba, labels = predicted.classes, predicted.probabilities, predicted.labels
    assert classes is not None and proba is not None
    binary = len(classes) == 2
    metrics = {
        "accuracy": float(accuracy_score(y, labels)),
        "balanced_accuracy": float(balanced_accuracy_score(y, labels)),
        "f1": float(f1_score(y, labels, pos_label=classes[1]) if binary
                    else f1_score(y, labels, average="weighted")),
    }
    for name, compute in _PROBABILISTIC.items():
        try:
            metrics[name] = float(compute(y, proba, classes))
        except ValueError as exc:  # e.g. a holdout missing a class has no defined AUC: report the rest
            logger.warning("%s left out: %s", name, exc)
    return metrics


def _roc_auc(y: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> float:
    if len(classes) == 2:
        return roc_auc_score(y == classes[1], proba[:, 1])
    return roc_auc_score(y, proba, multi_class="ovr", labels=classes)


_PROBABILISTIC: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], float]] = {
    "roc_auc": _roc_auc,
    # float32 probabilities (an ONNX model's) sum to one only up to rounding: renormalize, as log_loss asks
    "log_loss": lambda y, proba, classes: log_loss(y, proba / proba.sum(axis=1, keepdims=True), labels=classes),
}


def regression_metrics(y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    return {
        "rmse": float(np.sqrt(mean_squared_error(y, predicted))),
        "mae": float(mean_absolute_error(y, predicted)),
        "r2": float(r2_score(y, predicted)),
        "mape": float(mean_absolute_percentage_error(y, predicted)),
    }


def fairness_gaps(task: int, y: np.ndarray, predicted: Predictions, sensitive: pd.DataFrame) -> list[ev.FairnessGap]:
    """One FairnessGap per sensitive attribute (see the module docstring for what each task reports)."""
    if sensitive.empty or not len(y):
        return []
    gaps = []
    for attribute in sensitive.columns:
        groups = sensitive[attribute].astype(str).to_numpy()
        if task == ev.TASK_REGRESSION:
            gaps.append(_regression_gap(attribute, y, predicted.labels, groups))
        else:
            assert predicted.classes is not None
            gaps.append(_classification_gap(attribute, y, predicted.labels, predicted.classes, groups))
    return gaps


def _classification_gap(attribute: str, y: np.ndarray, labels: np.ndarray, classes: np.ndarray,
                        groups: np.ndarray) -> ev.FairnessGap:
    positives = [classes[1]] if len(classes) == 2 else list(classes)
    parities, odds = [], []
    for positive in positives:
        y_true, y_pred = (y == positive).astype(int), (labels == positive).astype(int)
        parities.append(float(demographic_parity_difference(y_true, y_pred, sensitive_features=groups)))
        odds.append(float(equalized_odds_difference(y_true, y_pred, sensitive_features=groups)))
    worst = positives[int(np.nanargmax(parities))] if not np.all(np.isnan(parities)) else positives[0]
    y_true, y_pred = (y == worst).astype(int), (labels == worst).astype(int)
    rates = MetricFrame(metrics=selection_rate, y_true=y_true, y_pred=y_pred, sensitive_features=groups)
    return ev.FairnessGap(
        attribute=attribute,
        demographic_parity_difference=float(np.max(parities)),  # NaN stays NaN: an unmeasured gap
        equalized_odds_difference=float(np.max(odds)),
        selection_rate={str(g): float(r) for g, r in rates.by_group.items()},
    )


def _regression_gap(attribute: str, y: np.ndarray, predicted: np.ndarray, groups: np.ndarray) -> ev.FairnessGap:
    scale = float(np.std(y)) or 1.0
    means = MetricFrame(metrics=lambda _t, p: float(np.mean(p)), y_true=y, y_pred=predicted, sensitive_features=groups)
    errors = MetricFrame(metrics=mean_absolute_error, y_true=y, y_pred=predicted, sensitive_features=groups)
    return ev.FairnessGap(
        attribute=attribute,
        demographic_parity_difference=float(means.difference()) / scale,
        equalized_odds_difference=float(errors.difference()) / scale,
        selection_rate={str(g): float(m) for g, m in means.by_group.items()},
    )
