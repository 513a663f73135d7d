"""Registry test fixtures: the app as wiring builds it on an in-memory bus, started (so its SQLite file
is migrated) per test, and ModelTrained factories."""

import pytest

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import KafkaSettings
from conveyor_kernel.memory import InMemoryBus
from conveyor_registry.settings import RegistrySettings
from conveyor_registry.wiring import create_app


@pytest.fixture
def bus():
    return InMemoryBus(source="registry")


@pytest.fixture
async def app(tmp_path, bus):
    settings = RegistrySettings(data_dir=tmp_path, metric_tolerance=0.01, max_fairness_gap=0.2,
                                kafka=KafkaSettings(max_retries=2, retry_wait=0))
    app = create_app(settings, transport=bus)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
def registry(app):
    return app.state.registry


@pytest.fixture
def engine(registry):
    return registry.engine


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
