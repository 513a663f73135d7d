"""What a spec asks of scikit-learn, checked at upload so a run never fails on a typo an hour later.

The estimator families and metrics listed here are the trainer's (services share no code, only events):
a family the trainer does not build, or a metric it does not measure, would train and then be refused by
the registry, which is exactly what this check is for. `test_ingest_recipes` pins both lists.
"""

import itertools
from dataclasses import dataclass
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

from .spec import DatasetSpec

# family -> task -> the scikit-learn class the trainer fits
ESTIMATORS: dict[str, dict[str, type[BaseEstimator]]] = {
    "logistic_regression": {"classification": LogisticRegression},
    "linear_regression": {"regression": LinearRegression},
    "ridge": {"regression": Ridge},
    "random_forest": {"classification": RandomForestClassifier, "regression": RandomForestRegressor},
    "gradient_boosting": {"classification": HistGradientBoostingClassifier,
                          "regression": HistGradientBoostingRegressor},
}
METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("accuracy", "balanced_accuracy", "f1", "log_loss", "roc_auc"),
    "regression": ("mae", "mape", "r2", "rmse"),
}


@dataclass(frozen=True)
class SpecProblem:
    field: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


def spec_problems(spec: DatasetSpec) -> list[SpecProblem]:
    """Every way the training section cannot run as written, each naming its field and the fix."""
    options = spec.training
    problems = _metric_problems(spec.task, options.primary_metric or "")
    by_task = ESTIMATORS[options.estimator or ""]
    estimator_class = by_task.get(spec.task)
    if estimator_class is None:
        fitting = [name for name, tasks in ESTIMATORS.items() if spec.task in tasks]
        return [*problems, SpecProblem("training.estimator", (
            f"{options.estimator} does not do {spec.task}; use one of {', '.join(fitting)}"))]
    problems += _param_problems(estimator_class, options.params, "training.params")
    if options.search is not None:
        search = options.search
        for name, candidates in search.space.items():
            problems += _candidate_problems(estimator_class, options.params, name, candidates)
        if search.method == "grid" and search.grid_size > search.budget:
            problems.append(SpecProblem("training.search.budget", (
                f"the grid has {search.grid_size} candidates but the budget is {search.budget}; raise the "
                "budget, shrink the space, or use method 'random' (which samples budget candidates)")))
    return problems


def _metric_problems(task: str, metric: str) -> list[SpecProblem]:
    if metric in METRICS[task]:
        return []
    other = next(t for t in METRICS if t != task)
    hint = f" ({metric} is a {other} metric)" if metric in METRICS[other] else ""
    return [SpecProblem("training.primary_metric", (
        f"{metric!r} is not measured for {task}{hint}; use one of {', '.join(METRICS[task])}"))]


def _param_problems(estimator_class: type[BaseEstimator], params: dict[str, Any], field: str) -> list[SpecProblem]:
    known = estimator_class().get_params()
    unknown = sorted(set(params) - set(known))
    if unknown:
        return [SpecProblem(f"{field}.{name}", (
            f"{estimator_class.__name__} takes no parameter {name!r}; it takes "
            f"{', '.join(sorted(known))}")) for name in unknown]
    reason = _invalid_values(estimator_class, params)
    return [SpecProblem(field, reason)] if reason else []


def _candidate_problems(estimator_class: type[BaseEstimator], params: dict[str, Any], name: str,
                        candidates: list[Any]) -> list[SpecProblem]:
    field = f"training.search.space.{name}"
    known = estimator_class().get_params()
    if name not in known:
        return [SpecProblem(field, f"{estimator_class.__name__} takes no parameter {name!r}; it takes "
                                   f"{', '.join(sorted(known))}")]
    for value in itertools.islice(candidates, 50):
        reason = _invalid_values(estimator_class, {**params, name: value})
        if reason:
            return [SpecProblem(field, f"candidate {value!r}: {reason}")]
    return []


def _invalid_values(estimator_class: type[BaseEstimator], params: dict[str, Any]) -> str:
    """scikit-learn's own parameter constraints (types and ranges), without fitting anything."""
    estimator = estimator_class(**params)
    try:
        # `_validate_params` is what fit() calls first; there is no public way to ask before fitting.
        estimator._validate_params()
    except (ValueError, TypeError) as exc:
        return str(exc)
    return ""
