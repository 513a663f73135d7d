"""Services share no code, only events: where two of them must agree on names, a test says they do.

Ingest refuses at upload what the trainer cannot train or measure; if the lists drifted apart, a spec would
pass ingest and fail an hour later in the trainer or the registry, which is what the upload check is for.
"""

import numpy as np

from conveyor.events.v1 import events_pb2 as ev
from conveyor_ingest.recipes import ESTIMATORS as INGEST_ESTIMATORS
from conveyor_ingest.recipes import METRICS
from conveyor_registry.policy import lower_is_better
from conveyor_trainer.holdout import Predictions, metrics_of
from conveyor_trainer.recipe import ESTIMATORS as TRAINER_ESTIMATORS

TASKS = {"classification": ev.TASK_CLASSIFICATION, "regression": ev.TASK_REGRESSION}


def test_ingest_accepts_exactly_the_families_the_trainer_builds():
    accepted = {(name, TASKS[task]) for name, tasks in INGEST_ESTIMATORS.items() for task in tasks}
    built = {(name, task) for name, tasks in TRAINER_ESTIMATORS.items() for task in tasks}
    assert accepted == built
    for name, tasks in INGEST_ESTIMATORS.items():
        for task, cls in tasks.items():
            assert type(TRAINER_ESTIMATORS[name][TASKS[task]].factory()) is cls


def test_ingest_accepts_exactly_the_metrics_the_trainer_measures():
    y = np.array(["a", "b", "a", "b", "a", "b"], dtype=object)
    proba = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.4, 0.6], [0.9, 0.1], [0.2, 0.8]])
    classes = np.array(["a", "b"], dtype=object)
    measured = metrics_of(ev.TASK_CLASSIFICATION, y, Predictions(classes[proba.argmax(axis=1)], proba, classes))
    assert set(METRICS["classification"]) == set(measured)
    values = np.array([1.0, 2.0, 3.0, 4.0])
    assert set(METRICS["regression"]) == set(metrics_of(ev.TASK_REGRESSION, values, Predictions(values + 0.1)))


def test_the_registry_knows_which_way_each_metric_improves():
    assert {m for task in METRICS.values() for m in task if lower_is_better(m)} == {"log_loss", "mae", "mape", "rmse"}
