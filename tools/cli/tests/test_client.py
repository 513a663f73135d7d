"""log_model from a notebook: a scikit-learn pipeline with its own preprocessing, converted on the client,
parity-checked, uploaded, measured by the trainer and announced on the real broker."""

import asyncio
import json
import time

import httpx
import numpy as np
import pytest
from aiokafka import AIOKafkaConsumer
from fastapi.testclient import TestClient
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from conveyor.events.v1 import events_pb2 as ev
from conveyor_cli.client import ConveyorClient, feature_columns, log_model, model_rows, synthetic_sample
from conveyor_ingest.settings import IngestSettings
from conveyor_ingest.wiring import create_app as create_ingest
from conveyor_kernel import Envelope, decode_event, topics
from conveyor_kernel.callers import signed
from conveyor_trainer.settings import TrainerSettings
from conveyor_trainer.wiring import create_app as create_trainer

NUMBERS = ["rate_marriage", "age", "yrs_married", "children", "religious", "educ"]
SPEC = {
    "name": "fair", "target": "had_affair", "ignore": ["affairs"],
    "features": [*({"name": n, "kind": "numeric"} for n in NUMBERS), {"name": "occupation", "kind": "categorical"},
                 {"name": "occupation_husb", "kind": "categorical"}],
    "consent_basis": "public_task", "owner": "survey@conveyor.example",
}


def notebook_pipeline(frame) -> Pipeline:  # type: ignore[no-untyped-def]
    """Fitted as the client's docstring says the served model is fed: a missing text is ""."""
    prepare = ColumnTransformer([
        ("numbers", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), NUMBERS),
        ("occupation", make_pipeline(SimpleImputer(missing_values="", strategy="most_frequent"),
                                     OneHotEncoder(handle_unknown="ignore")), ["occupation"]),
        ("husband", OneHotEncoder(handle_unknown="ignore"), ["occupation_husb"]),
    ])
    pipeline = Pipeline([("prepare", prepare), ("model", LogisticRegression(max_iter=500, C=0.3))])
    columns = [(n, False) for n in NUMBERS] + [("occupation", True), ("occupation_husb", False)]
    return pipeline.fit(model_rows(frame, columns), frame["had_affair"])


def wait_for(what: str, probe, seconds: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not (found := probe()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return found


async def notebook_event(kafka, seconds: float = 30.0) -> ev.ModelTrained:  # type: ignore[no-untyped-def]
    consumer = AIOKafkaConsumer(kafka.topic(topics.MODELS), **kafka.client_options(), auto_offset_reset="earliest")
    await consumer.start()
    try:
        async with asyncio.timeout(seconds):
            while True:
                for messages in (await consumer.getmany(timeout_ms=500)).values():
                    for m in messages:
                        event = decode_event(Envelope.from_headers(list(m.headers)), m.value)
                        if isinstance(event, ev.ModelTrained) and event.source == "notebook":
                            return event
    finally:
        await consumer.stop()


@pytest.mark.integration
def test_log_model_registers_a_notebook_pipeline_that_the_platform_measures(kafka_settings, tmp_path, fair_frame):
    ingest_app = create_ingest(IngestSettings(data_dir=tmp_path, kafka=kafka_settings))
    trainer_app = create_trainer(TrainerSettings(data_dir=tmp_path, kafka=kafka_settings))
    with signed(TestClient(ingest_app)) as ingest, signed(TestClient(trainer_app)) as trainer:
        for client in (ingest, trainer):
            wait_for("readiness", lambda c=client: c.get("/readyz").status_code == 200)
        body = fair_frame.to_csv(index=False).encode()
        uploaded = ingest.post("/datasets", files={"file": ("fair.csv", body, "text/csv")},
                               data={"spec": json.dumps(SPEC)}).json()
        dataset_id = uploaded["dataset_id"]
        wait_for("the trainer to learn of the dataset", lambda: trainer_app.state.ports.state.dataset(dataset_id))
        answer = log_model(notebook_pipeline(fair_frame), name="fair-notebook", dataset=dataset_id,
                           client=ConveyorClient(ingest=ingest, trainer=trainer))
    trained = asyncio.run(notebook_event(kafka_settings))
    assert (trained.model_name, trained.trigger, trained.dataset_id) == ("fair-notebook", "notebook", dataset_id)
    assert trained.run_id == answer["run_id"] and 0.6 < answer["metrics"]["roc_auc"] == trained.metrics["roc_auc"]
    assert {i.name: i.datatype for i in trained.inputs}["occupation"] == "BYTES"
    assert 0 <= trained.parity_max_abs_diff <= 1e-4  # the client's own check, on rows drawn from the profile


def test_the_synthetic_sample_follows_the_profile():
    described = {
        "spec": {"features": [{"name": "age", "kind": "numeric"}, {"name": "job", "kind": "categorical"},
                              {"name": "grade", "kind": "categorical"}]},
        "dtypes": {"age": "float64", "job": "string", "grade": "int64"},
        "profile": {"columns": {"age": {"mean": 40.0, "std": 5.0, "min": 18.0, "max": 90.0},
                                "job": {"values": {"nurse": 3, "pilot": 1}}, "grade": {"values": {"1": 2, "3": 5}}}},
    }
    sample = synthetic_sample(described, rows=300)
    assert sample["age"].between(18, 90).all() and abs(sample["age"].mean() - 40) < 2
    assert set(sample["job"]) == {"nurse", "pilot"} and set(sample["grade"]) == {1.0, 3.0}
    assert feature_columns(described) == [("age", False), ("job", True), ("grade", False)]
    rows = model_rows(sample.assign(job=sample["job"].where(sample.index > 0, None)), feature_columns(described))
    assert rows["job"].iloc[0] == "" and rows["age"].dtype == np.float32


def test_an_error_from_the_platform_names_the_fix():
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"detail": "no dataset with id 'x'; GET /datasets lists the known ones"})

    client = ConveyorClient(ingest=httpx.Client(transport=httpx.MockTransport(answer), base_url="http://ingest"))
    with pytest.raises(httpx.HTTPStatusError, match="GET /datasets lists the known ones"):
        client.dataset("x")
