"""POST /models: a pipeline fitted in a notebook, uploaded as ONNX, measured by the platform on the
registered dataset's holdout and announced like any trained model. Pickles are refused."""

import json
import pickle

import numpy as np
import pytest
from fastapi.testclient import TestClient
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel.callers import signed

from .conftest import table_event

PIMA = ["npreg", "glu", "bp", "skin", "bmi", "ped", "age"]


@pytest.fixture
def pima_dataset(ports, store, pima_frame) -> ev.DatasetArrived:  # type: ignore[no-untyped-def]
    features = [ev.Feature(name=c, kind=ev.COLUMN_KIND_NUMERIC, dtype="float64") for c in PIMA]
    frame = pima_frame.assign(age_group=np.where(pima_frame["age"] > 30, "over 30", "30 or under"))
    dataset = table_event(store, frame, features, "type", name="pima", sensitive=("age_group",))
    ports.state.remember_dataset(dataset, "pima")
    return dataset


def notebook_pipeline(pima_frame):  # type: ignore[no-untyped-def]
    """What a data scientist might fit: their own choices, not the platform's recipe."""
    pipeline = Pipeline([
        ("prepare", ColumnTransformer([("numbers", SimpleImputer(strategy="mean"), PIMA)])),
        ("model", RandomForestClassifier(n_estimators=30, max_depth=5, random_state=0)),
    ])
    x = pima_frame[PIMA].astype(np.float32)
    return pipeline.fit(x, pima_frame["type"])


def to_onnx(pipeline, inputs=PIMA) -> bytes:  # type: ignore[no-untyped-def]
    model = convert_sklearn(pipeline, initial_types=[(c, FloatTensorType([None, 1])) for c in inputs],
                            options={id(pipeline[-1]): {"zipmap": False}}, target_opset={"": 21, "ai.onnx.ml": 3})
    return model.SerializeToString()


def post(client: TestClient, data: bytes, dataset_id: str, inputs=PIMA, filename="model.onnx", **signature):  # type: ignore[no-untyped-def]
    body = {"inputs": [{"name": c, "datatype": "FP32"} for c in inputs], "estimator": "RandomForestClassifier",
            "parity_max_abs_diff": 1e-7, **signature}
    return client.post("/models", files={"file": (filename, data, "application/octet-stream")},
                       data={"signature": json.dumps(body), "dataset_id": dataset_id, "model_name": "pima-notebook"})


def test_a_notebook_model_is_measured_by_the_platform_and_announced(app, bus, pima_dataset, pima_frame) -> None:  # type: ignore[no-untyped-def]
    pipeline = notebook_pipeline(pima_frame)
    with signed(TestClient(app)) as client:
        response = post(client, to_onnx(pipeline), pima_dataset.dataset_id, metrics={"roc_auc": 0.999})
    assert response.status_code == 201, response.text
    [trained] = bus.events(ev.ModelTrained)
    assert (trained.model_name, trained.source, trained.trigger) == ("pima-notebook", "notebook", "notebook")
    assert trained.run_id == response.json()["run_id"] and trained.dataset_id == pima_dataset.dataset_id
    assert trained.training.estimator == "notebook:RandomForestClassifier"
    assert trained.training.primary_metric == "roc_auc"
    # the platform's own number on the dataset's seeded holdout, not the 0.999 the signature claimed
    labels = pima_frame["type"].to_numpy()
    _, holdout = train_test_split(np.arange(len(labels)), test_size=0.25, random_state=3, stratify=labels)
    rows = pima_frame.iloc[np.sort(holdout)]
    expected = roc_auc_score(rows["type"] == "Yes", pipeline.predict_proba(rows[PIMA].astype(np.float32))[:, 1])
    assert trained.metrics["roc_auc"] == pytest.approx(expected, abs=1e-6)
    assert [gap.attribute for gap in trained.fairness] == ["age_group"]
    assert list(trained.class_labels) == ["No", "Yes"]
    assert [(i.name, i.datatype) for i in trained.inputs] == [(c, "FP32") for c in PIMA]
    reference = app.state.ports.store.get_json(trained.reference_uri)
    assert set(reference["predictions"]) <= {"No", "Yes"} and reference["target"] == "type"


def test_the_same_model_twice_is_one_run(app, bus, pima_dataset, pima_frame) -> None:  # type: ignore[no-untyped-def]
    data = to_onnx(notebook_pipeline(pima_frame))
    with signed(TestClient(app)) as client:
        first, second = (post(client, data, pima_dataset.dataset_id) for _ in range(2))
    assert first.json()["run_id"] == second.json()["run_id"]
    one, again = bus.events(ev.ModelTrained)
    assert one == again  # announced again, identically: the registry registers a run once


def test_a_pickle_is_refused(app, bus, pima_dataset, pima_frame) -> None:  # type: ignore[no-untyped-def]
    with signed(TestClient(app)) as client:
        response = post(client, pickle.dumps(notebook_pipeline(pima_frame)), pima_dataset.dataset_id,
                        filename="model.pkl")
    assert response.status_code == 415
    assert "pickles are never accepted" in response.json()["detail"]
    assert bus.events(ev.ModelTrained) == []


@pytest.mark.parametrize(("inputs", "signature_inputs", "status", "fragment"), [
    (PIMA[:-1], PIMA[:-1], 422, "missing ['age']"),
    (PIMA, PIMA[::-1], 422, "are not the model's inputs"),
])
def test_a_model_that_does_not_fit_the_dataset_is_refused(app, bus, pima_dataset, pima_frame, inputs,  # type: ignore[no-untyped-def]
                                                           signature_inputs, status, fragment) -> None:
    pipeline = Pipeline([("prepare", ColumnTransformer([("numbers", SimpleImputer(), inputs)])),
                         ("model", RandomForestClassifier(n_estimators=5, random_state=0))])
    pipeline.fit(pima_frame[inputs].astype(np.float32), pima_frame["type"])
    with signed(TestClient(app)) as client:
        response = post(client, to_onnx(pipeline, inputs), pima_dataset.dataset_id, inputs=signature_inputs)
    assert response.status_code == status
    assert fragment in response.json()["detail"]
    assert bus.events(ev.ModelTrained) == []


def test_an_unknown_dataset_is_404(app, pima_frame) -> None:  # type: ignore[no-untyped-def]
    with signed(TestClient(app)) as client:
        response = post(client, to_onnx(notebook_pipeline(pima_frame)), "f" * 64)
    assert response.status_code == 404 and "upload the table to ingest first" in response.json()["detail"]
