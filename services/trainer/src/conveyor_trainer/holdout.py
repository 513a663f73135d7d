"""Holdout metrics and per-attribute fairness gaps of a fitted pipeline."""

import logging

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
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)
from sklearn.pipeline import Pipeline

from conveyor.events.v1 import events_pb2 as ev

logger = logging.getLogger(__name__)


def classification_metrics(pipeline: Pipeline, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    classes = pipeline.classes_
    predicted = pipeline.predict(x)
    proba = pipeline.predict_proba(x)
    metrics = {"accuracy": float(accuracy_score(y, predicted))}
    binary = len(classes) == 2
    if binary:
        metrics["f1"] = float(f1_score(y, predicted, pos_label=classes[1]))
    else:
        metrics["f1"] = float(f1_score(y, predicted, average="weighted"))
    try:
        if binary:
            metrics["roc_auc"] = float(roc_auc_score(y == classes[1], proba[:, 1]))
        else:
            metrics["roc_auc"] = float(roc_auc_score(y, proba, multi_class="ovr", labels=classes))
    except ValueError as exc:  # a holdout missing a class has no defined AUC: report the rest, say why
        logger.warning("roc_auc left out: %s", exc)
    return metrics


def regression_metrics(pipeline: Pipeline, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    predicted = pipeline.predict(x)
    return {
        "rmse": float(np.sqrt(mean_squared_error(y, predicted))),
        "mae": float(mean_absolute_error(y, predicted)),
        "r2": float(r2_score(y, predicted)),
    }


def evaluate(pipeline: Pipeline, task: int, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    if task == ev.TASK_CLASSIFICATION:
        return classification_metrics(pipeline, x, y)
    return regression_metrics(pipeline, x, y)


def fairness_gaps(
    pipeline: Pipeline, task: int, x: np.ndarray, y: np.ndarray, sensitive: pd.DataFrame
) -> list[ev.FairnessGap]:
    """One FairnessGap per sensitive attribute, for binary classification (the positive class is classes_[1]).

    Gaps for multiclass or regression targets are not defined by these metrics, so none are reported.
    """
    if task != ev.TASK_CLASSIFICATION or len(pipeline.classes_) != 2 or sensitive.empty:
        return []
    positive = pipeline.classes_[1]
    y_true = (y == positive).astype(int)
    y_pred = (pipeline.predict(x) == positive).astype(int)
    gaps = []
    for attribute in sensitive.columns:
        groups = sensitive[attribute].astype(str).to_numpy()
        frame = MetricFrame(metrics=selection_rate, y_true=y_true, y_pred=y_pred, sensitive_features=groups)
        gaps.append(
            ev.FairnessGap(
                attribute=attribute,
                demographic_parity_difference=float(
                    demographic_parity_difference(y_true, y_pred, sensitive_features=groups)
                ),
                equalized_odds_difference=float(equalized_odds_difference(y_true, y_pred, sensitive_features=groups)),
                selection_rate={str(group): float(rate) for group, rate in frame.by_group.items()},
            )
        )
    return gaps
