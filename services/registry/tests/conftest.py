"""Registry test fixtures: a migrated SQLite file per test, an in-memory bus, ModelTrained factories."""

import pytest

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import InMemoryBus
from conveyor_registry.adapters.db import make_engine, migrate
from conveyor_registry.policy import Limits
from conveyor_registry.service import Registry


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def bus():
    return InMemoryBus(source="registry")


@pytest.fixture
def registry(engine, bus):
    return Registry(engine, Limits(metric_tolerance=0.01, max_fairness_gap=0.2), publisher=bus)


def trained(
    run_id: str,
    metrics: dict[str, float],
    *,
    model_name: str = "churn",
    primary_metric: str = "roc_auc",
    task: int = ev.TASK_CLASSIFICATION,
    parity_gap: float = 0.05,
    odds_gap: float = 0.05,
) -> ev.ModelTrained:
    """A ModelTrained as the trainer sends it; gaps are for the one sensitive attribute 'sex'."""
    return ev.ModelTrained(
        model_name=model_name,
        run_id=run_id,
        dataset_id="d" * 64,
        artifact_uri=f"file:///artifacts/models/{run_id}.onnx",
        reference_uri=f"file:///artifacts/references/{run_id}.json",
        metrics=metrics,
        fairness=[
            ev.FairnessGap(attribute="sex", demographic_parity_difference=parity_gap,
                           equalized_odds_difference=odds_gap, selection_rate={"F": 0.4, "M": 0.45})
        ],
        training=ev.TrainingSpec(model_name=model_name, estimator="logistic_regression",
                                 params={"C": "1.0"}, holdout_fraction=0.2, seed=7,
                                 primary_metric=primary_metric),
        code_version="abc123",
        task=task,
        feature_names=["age", "tenure"],
        class_labels=["0", "1"] if task == ev.TASK_CLASSIFICATION else [],
        sensitive_attributes=["sex"],
        trigger="dataset_arrived",
    )


@pytest.fixture
def make_trained():
    return trained
