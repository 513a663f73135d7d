"""From the declarative TrainingSpec to an unfitted scikit-learn Pipeline that carries its preprocessing.

The pipeline is `prepare` (a ColumnTransformer: per group of columns, the imputer of their missing policy,
the encoder of categories, and scaling only for linear models) followed by `model`. Everything a client
would otherwise have to do to a raw row lives inside it, and so inside the exported ONNX file.

The recipe is a pure function of (spec, task, columns): a retrain on the same data and spec is
reproducible. Ingest checks the spec against the same families at upload (see its `recipes.py`).
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby

from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from conveyor.events.v1 import events_pb2 as ev

from .columns import MISSING_TEXT, Column
from .failures import TrainingFailure

DEFAULT_ESTIMATOR = {ev.TASK_CLASSIFICATION: "logistic_regression", ev.TASK_REGRESSION: "ridge"}
DEFAULT_HOLDOUT = 0.2
DEFAULT_PRIMARY = {ev.TASK_CLASSIFICATION: "roc_auc", ev.TASK_REGRESSION: "rmse"}


@dataclass(frozen=True)
class Family:
    factory: Callable[[], BaseEstimator]
    linear: bool  # linear models need scaled numbers; trees split on raw ones


# family name → task → how to build it
ESTIMATORS: dict[str, dict[int, Family]] = {
    "logistic_regression": {ev.TASK_CLASSIFICATION: Family(lambda: LogisticRegression(max_iter=1000), True)},
    "linear_regression": {ev.TASK_REGRESSION: Family(LinearRegression, True)},
    "ridge": {ev.TASK_REGRESSION: Family(Ridge, True)},
    "random_forest": {
        ev.TASK_CLASSIFICATION: Family(lambda: RandomForestClassifier(n_estimators=100), False),
        ev.TASK_REGRESSION: Family(lambda: RandomForestRegressor(n_estimators=100), False),
    },
    "gradient_boosting": {  # scikit-learn's HistGradientBoosting: it exports with parity (see onnx_export)
        ev.TASK_CLASSIFICATION: Family(HistGradientBoostingClassifier, False),
        ev.TASK_REGRESSION: Family(HistGradientBoostingRegressor, False),
    },
}
_STRATEGY = {ev.MISSING_POLICY_MEDIAN: "median", ev.MISSING_POLICY_MEAN: "mean",
             ev.MISSING_POLICY_MOST_FREQUENT: "most_frequent", ev.MISSING_POLICY_CONSTANT: "constant"}


def resolve_spec(spec: ev.TrainingSpec, task: int, fallback_name: str) -> ev.TrainingSpec:
    """Fill the spec's blanks with the documented defaults, so the published spec is the one that ran."""
    resolved = ev.TrainingSpec()
    resolved.CopyFrom(spec)
    resolved.model_name = spec.model_name or fallback_name
    resolved.estimator = spec.estimator or DEFAULT_ESTIMATOR.get(task, "")
    if not spec.holdout_fraction:
        resolved.holdout_fraction = DEFAULT_HOLDOUT
    resolved.primary_metric = spec.primary_metric or DEFAULT_PRIMARY.get(task, "")
    return resolved


def decode_json(values: dict[str, str] | object, what: str) -> dict[str, object]:
    decoded: dict[str, object] = {}
    for key, raw in sorted(dict(values).items()):  # type: ignore[call-overload]
        try:
            decoded[key] = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise TrainingFailure(
                "train", f'{what} {key!r}={raw!r} is not JSON-encoded ({exc.msg}); write e.g. "0.5" or \'"l2"\''
            ) from exc
    return decoded


def decode_params(spec: ev.TrainingSpec) -> dict[str, object]:
    return decode_json(spec.params, "param")


def family_of(spec: ev.TrainingSpec, task: int) -> Family:
    by_task = ESTIMATORS.get(spec.estimator)
    if by_task is None:
        known = ", ".join(sorted(ESTIMATORS))
        raise TrainingFailure("train", f"unknown estimator {spec.estimator!r}; use one of: {known}")
    if task not in (ev.TASK_CLASSIFICATION, ev.TASK_REGRESSION):
        raise TrainingFailure("train", f"task {ev.Task.Name(task)} cannot be trained; use classification or regression")
    if task not in by_task:
        fitting = ", ".join(name for name, tasks in ESTIMATORS.items() if task in tasks)
        task_name = ev.Task.Name(task).removeprefix("TASK_").lower()
        raise TrainingFailure("train", f"{spec.estimator} does not do {task_name}; use one of: {fitting}")
    return by_task[task]


def build_pipeline(spec: ev.TrainingSpec, task: int, columns: list[Column]) -> Pipeline:
    """An unfitted Pipeline [prepare, model]; the model's random_state comes from spec.seed."""
    family = family_of(spec, task)
    estimator = family.factory()
    params = decode_params(spec)
    if "random_state" in estimator.get_params() and "random_state" not in params:
        params["random_state"] = int(spec.seed)
    try:
        estimator.set_params(**params)
    except (ValueError, TypeError) as exc:
        raise TrainingFailure("train", f"bad params for {spec.estimator}: {exc}") from exc
    return Pipeline([("prepare", preparation(columns, family.linear)), ("model", estimator)])


def preparation(columns: list[Column], linear: bool) -> ColumnTransformer:
    """One transformer per group of columns that are prepared alike, in the order the columns came."""
    def recipe_key(column: Column) -> tuple[object, ...]:
        return (column.text, column.kind, column.missing, column.fill_value, column.encoding)

    transformers = []
    ordered = sorted(enumerate(columns), key=lambda pair: (recipe_key(pair[1]), pair[0]))
    for index, (_key, group) in enumerate(groupby(ordered, key=lambda pair: recipe_key(pair[1]))):
        members = [column for _, column in group]
        steps = _steps(members[0], linear)
        name = f"{members[0].kind_name}_{index}"
        transformers.append((name, Pipeline(steps) if steps else "passthrough", [c.name for c in members]))
    # Dense output: HistGradientBoosting takes no sparse input, and the ONNX graph is dense anyway.
    return ColumnTransformer(transformers, sparse_threshold=0.0)


def _steps(column: Column, linear: bool) -> list[tuple[str, object]]:
    steps: list[tuple[str, object]] = []
    if column.missing != ev.MISSING_POLICY_REJECT:
        strategy = _STRATEGY[column.missing]
        imputer = SimpleImputer(strategy=strategy, missing_values=MISSING_TEXT) if column.text \
            else SimpleImputer(strategy=strategy)
        if strategy == "constant":
            imputer.set_params(fill_value=column.fill())
        steps.append(("impute", imputer))
    if column.kind == ev.COLUMN_KIND_CATEGORICAL:
        if column.encoding == ev.ENCODING_ORDINAL:
            steps.append(("encode", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)))
        else:
            steps.append(("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False)))
    elif column.kind == ev.COLUMN_KIND_NUMERIC and linear:
        steps.append(("scale", StandardScaler()))
    return steps
