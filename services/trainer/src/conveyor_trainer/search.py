"""The optional hyperparameter search: cross-validated on the training rows, within the declared budget.

Grid search fits every candidate (ingest refuses a grid larger than the budget, and so does this); random
search samples `budget` candidates with the run's seed. Candidates are scored on the primary metric, and
every trial is kept for the run's record and ModelTrained.trials, scores in the metric's own sense
(an rmse trial reads as an rmse, not as scikit-learn's negated score).
"""

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score, make_scorer
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import Pipeline

from conveyor.events.v1 import events_pb2 as ev

from .failures import TrainingFailure
from .recipe import decode_json

# primary metric -> (scikit-learn scoring name, sign that turns the score back into the metric)
_SCORING = {"accuracy": ("accuracy", 1), "balanced_accuracy": ("balanced_accuracy", 1),
            "log_loss": ("neg_log_loss", -1), "rmse": ("neg_root_mean_squared_error", -1),
            "mae": ("neg_mean_absolute_error", -1), "r2": ("r2", 1),
            "mape": ("neg_mean_absolute_percentage_error", -1)}


@dataclass(frozen=True)
class Searched:
    pipeline: Pipeline  # refitted on all training rows with the best parameters
    trials: list[ev.SearchTrial]
    best_params: dict[str, object]


def search(pipeline: Pipeline, spec: ev.TrainingSpec, x: pd.DataFrame, y: np.ndarray) -> Searched:
    declared = spec.search
    space = {f"model__{name}": values for name, values in decode_json(declared.space, "search space").items()}
    bad = [name for name, values in space.items() if not isinstance(values, list) or not values]
    if bad:
        raise TrainingFailure("train", f"search space entries {bad} must be non-empty JSON lists of candidates")
    budget = max(1, declared.budget or 10)
    grid_size = int(np.prod([len(v) for v in space.values()]))  # type: ignore[arg-type]
    scoring, sign = _scoring(spec.primary_metric, y)
    common = {"scoring": scoring, "cv": declared.cv or 3, "refit": True, "error_score": "raise"}
    if declared.method == "grid":
        if grid_size > budget:
            raise TrainingFailure("train", f"the grid has {grid_size} candidates, over the budget of {budget}")
        searcher: GridSearchCV | RandomizedSearchCV = GridSearchCV(pipeline, space, **common)
    elif declared.method == "random":
        searcher = RandomizedSearchCV(pipeline, space, n_iter=min(budget, grid_size), random_state=int(spec.seed),
                                      **common)
    else:
        raise TrainingFailure("train", f"search method {declared.method!r}: use 'grid' or 'random'")
    try:
        searcher.fit(x, y)
    except (ValueError, TypeError) as exc:
        raise TrainingFailure("train", f"the search failed: {exc}") from exc
    results = searcher.cv_results_
    trials = [
        ev.SearchTrial(
            params={k.removeprefix("model__"): json.dumps(_plain(v)) for k, v in params.items()},
            mean_score=float(sign * mean), std_score=float(std), rank=int(rank),
        )
        for params, mean, std, rank in zip(results["params"], results["mean_test_score"], results["std_test_score"],
                                           results["rank_test_score"], strict=True)
    ]
    best = {k.removeprefix("model__"): _plain(v) for k, v in searcher.best_params_.items()}
    return Searched(searcher.best_estimator_, sorted(trials, key=lambda t: t.rank), best)


def _scoring(metric: str, y: np.ndarray) -> tuple[object, int]:
    if metric in _SCORING:
        return _SCORING[metric]
    classes = np.unique(y)
    if metric == "roc_auc":
        return ("roc_auc" if len(classes) == 2 else "roc_auc_ovr"), 1
    if metric == "f1":
        if len(classes) == 2:
            return make_scorer(f1_score, pos_label=classes[1]), 1
        return make_scorer(f1_score, average="weighted"), 1
    raise TrainingFailure("train", f"no search scoring for primary metric {metric!r}")


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value
