"""From the declarative TrainingSpec to an unfitted scikit-learn Pipeline.

The recipe is a pure function of (spec, task): a retrain on the same data and spec is reproducible.
"""

import json
from collections.abc import Callable

from sklearn.base import BaseEstimator
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from conveyor.events.v1 import events_pb2 as ev

DEFAULT_ESTIMATOR = "logistic_regression"
DEFAULT_HOLDOUT = 0.2
DEFAULT_PRIMARY = {ev.TASK_CLASSIFICATION: "roc_auc", ev.TASK_REGRESSION: "rmse"}


class TrainingFailure(Exception):
    """A run cannot complete; becomes a ModelTrainingFailed fact at `stage`."""

    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(f"{stage}: {reason}")
        self.stage = stage
        self.reason = reason


# estimator name → task → (factory, scale the inputs first?)
_ESTIMATORS: dict[str, dict[int, tuple[Callable[[], BaseEstimator], bool]]] = {
    "logistic_regression": {
        ev.TASK_CLASSIFICATION: (lambda: LogisticRegression(max_iter=1000), True),
        ev.TASK_REGRESSION: (Ridge, True),  # the linear baseline for a numeric target
    },
    "random_forest": {
        ev.TASK_CLASSIFICATION: (lambda: RandomForestClassifier(n_estimators=100), False),
        ev.TASK_REGRESSION: (lambda: RandomForestRegressor(n_estimators=100), False),
    },
}


def resolve_spec(spec: ev.TrainingSpec, task: int, fallback_name: str) -> ev.TrainingSpec:
    """Fill the spec's blanks with the documented defaults, so the published spec is the one that ran."""
    resolved = ev.TrainingSpec()
    resolved.CopyFrom(spec)
    resolved.model_name = spec.model_name or fallback_name
    resolved.estimator = spec.estimator or DEFAULT_ESTIMATOR
    if not spec.holdout_fraction:
        resolved.holdout_fraction = DEFAULT_HOLDOUT
    resolved.primary_metric = spec.primary_metric or DEFAULT_PRIMARY.get(task, "")
    return resolved


def decode_params(spec: ev.TrainingSpec) -> dict[str, object]:
    params: dict[str, object] = {}
    for key, raw in sorted(spec.params.items()):
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise TrainingFailure(
                "train", f'param {key!r}={raw!r} is not JSON-encoded ({exc.msg}); write e.g. "0.5" or \'"l2"\''
            ) from exc
    return params


def build_pipeline(spec: ev.TrainingSpec, task: int) -> Pipeline:
    """An unfitted Pipeline whose last step is named "model"; random_state comes from spec.seed."""
    by_task = _ESTIMATORS.get(spec.estimator)
    if by_task is None:
        known = ", ".join(sorted(_ESTIMATORS))
        raise TrainingFailure("train", f"unknown estimator {spec.estimator!r}; use one of: {known}")
    if task not in by_task:
        raise TrainingFailure("train", f"task {ev.Task.Name(task)} cannot be trained; use classification or regression")
    factory, scale = by_task[task]
    estimator = factory()
    params = decode_params(spec)
    if "random_state" in estimator.get_params() and "random_state" not in params:
        params["random_state"] = int(spec.seed)
    try:
        estimator.set_params(**params)
    except (ValueError, TypeError) as exc:
        raise TrainingFailure("train", f"bad params for {spec.estimator}: {exc}") from exc
    steps = [("scale", StandardScaler())] if scale else []
    return Pipeline([*steps, ("model", estimator)])
