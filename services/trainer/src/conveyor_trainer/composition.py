"""Which rows a run learns from and which it is judged on: the declared RetrainPolicy, applied.

An uploaded version trains alone, on a seeded split of its rows. A production-feedback version (the
monitor's logged predictions joined with their labels) trains on
  - the labelled production rows of the name's feedback versions, newest last, within the window
    (feedback whose window ended in the last `window_days` days; then the newest `window_rows` rows),
  - plus, with `include_original`, every row of the newest uploaded version,
and is judged on the FRESH HOLDOUT: the newest `fresh_holdout_fraction` of the rows of the version that
triggered the run. Those rows were served by the version named in its provenance and were seen by
neither model, so champion and challenger are compared on them (see `comparison.py`).
Never on the champion's dataset alone: without new labelled rows there is nothing to run.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from conveyor.events.v1 import events_pb2 as ev

from .dataset import Table, concat, seeded_split
from .failures import TrainingFailure

FEEDBACK = "production_feedback"
_DAY_MS = 86_400_000
# What RetrainPolicy means when the spec left it empty (an event from before the policy existed).
DEFAULT_POLICY = ev.RetrainPolicy(include_original=True, min_labels=200, fresh_holdout_fraction=0.3)


@dataclass(frozen=True)
class Fresh:
    """The run judges this version on the fresh holdout too."""

    champion_version: int
    champion_artifact_uri: str
    description: str


@dataclass(frozen=True)
class Rows:
    train: Table
    holdout: Table
    dataset_ids: list[str]  # every version the rows came from, oldest first
    fresh: Fresh | None


def is_feedback(dataset: ev.DatasetArrived) -> bool:
    return dataset.provenance.kind == FEEDBACK


def policy_of(dataset: ev.DatasetArrived) -> ev.RetrainPolicy:
    declared = dataset.training.retrain
    return declared if declared.fresh_holdout_fraction > 0 else DEFAULT_POLICY


def compose(dataset: ev.DatasetArrived, versions: Sequence[ev.DatasetArrived],
            read: Callable[[ev.DatasetArrived], Table], holdout_fraction: float, seed: int,
            classification: bool) -> Rows:
    """`versions`: every version of the dataset's name the trainer knows (any order); `read` loads one."""
    if not is_feedback(dataset):
        train, holdout = seeded_split(read(dataset), holdout_fraction, seed, classification)
        return Rows(train, holdout, [dataset.dataset_id], None)
    policy = policy_of(dataset)
    feedback = _window(dataset, [v for v in versions if is_feedback(v) and v.version < dataset.version], policy)
    tables = [read(v) for v in feedback] + [read(dataset)]
    production = concat(tables)
    if policy.window_rows:
        production = production.rows(max(0, len(production.y) - int(policy.window_rows)))
    newest = min(len(tables[-1].y), len(production.y))  # the window may keep fewer rows than the newest version has
    fresh_rows = min(newest, max(1, math.ceil(newest * policy.fresh_holdout_fraction)))
    if len(production.y) - fresh_rows < 1 and not policy.include_original:
        raise TrainingFailure("data", f"{len(production.y)} labelled production row(s) are too few to train on "
                                      f"and hold out {fresh_rows}; wait for more labels or set include_original")
    learn, holdout = production.rows(0, len(production.y) - fresh_rows), production.rows(len(production.y) - fresh_rows)
    sources = [v.dataset_id for v in feedback] + [dataset.dataset_id]
    original = _original(dataset, versions) if policy.include_original else None
    if original is not None:
        learn = concat([read(original), learn])
        sources.insert(0, original.dataset_id)
    served = dataset.provenance
    description = (f"the newest {fresh_rows} labelled production rows (of {newest} in {dataset.name} "
                   f"v{dataset.version}) that v{served.model_version} served")
    fresh = Fresh(served.model_version, served.model_artifact_uri, description) if served.model_artifact_uri else None
    return Rows(learn, holdout, sources, fresh)


def _window(dataset: ev.DatasetArrived, feedback: list[ev.DatasetArrived],
            policy: ev.RetrainPolicy) -> list[ev.DatasetArrived]:
    ordered = sorted(feedback, key=lambda v: v.version)
    if not policy.window_days:
        return ordered
    horizon = dataset.provenance.window_end_ms - int(policy.window_days) * _DAY_MS
    return [v for v in ordered if v.provenance.window_end_ms >= horizon]


def _original(dataset: ev.DatasetArrived, versions: Sequence[ev.DatasetArrived]) -> ev.DatasetArrived | None:
    uploads = [v for v in versions if not is_feedback(v) and v.version < dataset.version]
    return max(uploads, key=lambda v: v.version) if uploads else None
