"""Trainer test fixtures: a small breast-cancer dataset in a real artifact store, and the ports around it."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi import FastAPI
from sklearn.datasets import load_breast_cancer

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import ArtifactStore, KafkaSettings
from conveyor_kernel.memory import InMemoryBus
from conveyor_trainer.handlers import TrainerPorts
from conveyor_trainer.settings import TrainerSettings
from conveyor_trainer.wiring import create_app

ROWS = 200


def breast_cancer_frame(rows: int = ROWS) -> pd.DataFrame:
    """The first `rows` rows, plus a sensitive attribute derived from tumour size (not a model input)."""
    data = load_breast_cancer(as_frame=True)
    frame = data.frame.iloc[:rows].copy()
    frame["size_group"] = np.where(frame["mean area"] > frame["mean area"].median(), "large", "small")
    return frame


@pytest.fixture
def settings(tmp_path: Path) -> TrainerSettings:
    return TrainerSettings(data_dir=tmp_path / "data", kafka=KafkaSettings(topic_prefix="unit."))


@pytest.fixture
def store(settings: TrainerSettings) -> ArtifactStore:
    return settings.artifacts()


@pytest.fixture
def bus() -> InMemoryBus:
    return InMemoryBus(source="trainer-test")


@pytest.fixture
def app(settings: TrainerSettings, bus: InMemoryBus) -> FastAPI:
    return create_app(settings, transport=bus)


@pytest.fixture
def ports(app: FastAPI) -> TrainerPorts:
    return app.state.ports


def dataset_event(
    store: ArtifactStore,
    frame: pd.DataFrame | None = None,
    estimator: str = "logistic_regression",
    params: dict[str, str] | None = None,
    model_name: str = "cancer",
    task: int = ev.TASK_CLASSIFICATION,
    target: str = "target",
) -> ev.DatasetArrived:
    frame = breast_cancer_frame() if frame is None else frame
    dataset_id, uri = store.put("datasets", frame.to_csv(index=False).encode(), ".csv")
    features = [c for c in frame.columns if c not in (target, "size_group")]
    return ev.DatasetArrived(
        dataset_id=dataset_id,
        name="breast-cancer",
        uri=uri,
        row_count=len(frame),
        target=target,
        features=[ev.Feature(name=f, kind=ev.COLUMN_KIND_NUMERIC) for f in features],
        sensitive_attributes=["size_group"],
        task=task,
        source_format="csv",
        training=ev.TrainingSpec(
            model_name=model_name, estimator=estimator, params=params or {}, holdout_fraction=0.3, seed=7
        ),
    )


FAIR_NUMERIC = ("rate_marriage", "age", "yrs_married", "children", "religious", "educ")


def fair_features(encoding: int = ev.ENCODING_ONE_HOT) -> list[ev.Feature]:
    """statsmodels' fair table as ingest announces it: numbers, a text category, an integer-coded one."""
    return [
        *(ev.Feature(name=n, kind=ev.COLUMN_KIND_NUMERIC, dtype="float64") for n in FAIR_NUMERIC),
        ev.Feature(name="occupation", kind=ev.COLUMN_KIND_CATEGORICAL, dtype="string", encoding=encoding),
        ev.Feature(name="occupation_husb", kind=ev.COLUMN_KIND_CATEGORICAL, dtype="int64", encoding=encoding),
    ]


def table_event(
    store: ArtifactStore,
    frame: pd.DataFrame,
    features: list[ev.Feature],
    target: str,
    name: str = "fair",
    estimator: str = "logistic_regression",
    params: dict[str, str] | None = None,
    task: int = ev.TASK_CLASSIFICATION,
    version: int = 1,
    sensitive: tuple[str, ...] = (),
    fmt: str = "csv",
    **training: object,
) -> ev.DatasetArrived:
    """A DatasetArrived for `frame`, stored as ingest would store it."""
    data = frame.to_csv(index=False).encode() if fmt == "csv" else frame.to_parquet()
    dataset_id, uri = store.put("datasets", data, f".{fmt}")
    return ev.DatasetArrived(
        dataset_id=dataset_id, name=name, uri=uri, row_count=len(frame), target=target, features=features,
        sensitive_attributes=list(sensitive), task=task, source_format=fmt, version=version,
        provenance=ev.DatasetProvenance(kind="upload"),
        training=ev.TrainingSpec(model_name=name, estimator=estimator, params=params or {}, holdout_fraction=0.25,
                                 seed=3, **training),  # type: ignore[arg-type]
    )


@pytest.fixture
def make_dataset(store: ArtifactStore):  # type: ignore[no-untyped-def]
    def make(**kwargs):  # type: ignore[no-untyped-def]
        return dataset_event(store, **kwargs)

    return make


@pytest.fixture
def cancer_frame() -> pd.DataFrame:
    return breast_cancer_frame()
