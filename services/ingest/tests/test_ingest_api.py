"""The REST edge with an in-memory bus: what is stored, what is announced, what the client is told."""

import hashlib
import io
import json
import sqlite3

import numpy as np
import pytest
from fastapi.testclient import TestClient

from conveyor.events.v1 import events_pb2 as ev
from conveyor_ingest.settings import IngestSettings
from conveyor_ingest.wiring import create_app
from conveyor_kernel import Envelope, TransientError, topics
from conveyor_kernel.callers import bearer, signed, token_for
from conveyor_kernel.identity import DATA_SCIENTIST
from conveyor_kernel.memory import InMemoryBus

OWNER = "data-science@conveyor.example"  # as in the conftest spec


@pytest.fixture
def settings(tmp_path) -> IngestSettings:
    return IngestSettings(data_dir=tmp_path)


@pytest.fixture
def bus() -> InMemoryBus:
    return InMemoryBus(source="ingest")


@pytest.fixture
def client(settings, bus):
    with signed(TestClient(create_app(settings, transport=bus))) as test_client:
        yield test_client


def post(client, data: bytes, spec: dict, filename: str = "cancer.csv", **form):
    return client.post(
        "/datasets",
        files={"file": (filename, data, "text/csv")},
        data={"spec": json.dumps(spec), **form},
        # the uploader is the token's subject; a typed X-Conveyor-User is ignored
        headers={**bearer(token_for(client.app, "alice", DATA_SCIENTIST)), "X-Conveyor-User": "ceo@corp.example"},
    )


def csv_of(frame) -> bytes:
    return frame.to_csv(index=False).encode()


def stored_files(settings) -> list[str]:
    return sorted(p.name for p in (settings.data_dir / "artifacts").rglob("*") if p.is_file())


def catalog_rows(settings) -> int:
    with sqlite3.connect(settings.state_dir("ingest") / "catalog.db") as db:
        return db.execute("SELECT count(*) FROM datasets").fetchone()[0]


def test_accepted_upload_is_stored_announced_and_catalogued(client, bus, settings, frame, spec_dict):
    data = csv_of(frame)
    response = post(client, data, spec_dict)

    assert response.status_code == 201, response.text
    body = response.json()
    # the subject ids were replaced by references before storing: the id is the hash of the stored bytes
    stored = (settings.data_dir / "artifacts").joinpath("datasets", f"{body['dataset_id']}.csv").read_bytes()
    sha = hashlib.sha256(stored).hexdigest()
    assert (body["dataset_id"], body["rows"], body["duplicate"]) == (sha, 40, False)
    assert b"p0000" not in stored and stored.count(b"subj-") == 40
    assert stored.replace(b"\r", b"").split(b"\n")[0] == data.split(b"\n")[0]  # same header, same columns

    [record] = bus.on(topics.DATASETS)
    assert Envelope.from_headers(record.headers).subject == sha
    [event] = bus.events(ev.DatasetArrived)
    assert (event.dataset_id, event.name, event.uri, event.row_count) == (sha, "breast-cancer", body["uri"], 40)
    assert (event.target, event.task, event.source_format) == ("diagnosis", ev.TASK_CLASSIFICATION, "csv")
    assert [f.name for f in event.features] == ["mean_radius", "mean_texture", "mean_area", "texture_band"]
    assert list(event.sensitive_attributes) == ["size_group"]
    assert (event.subject_id_column, event.consent_basis) == ("patient_id", "public_task")
    assert event.owner == "data-science@conveyor.example"
    assert event.profile_uri == body["profile_uri"]
    assert (event.principal.subject, event.principal.role, event.principal.kind) == (
        "alice", DATA_SCIENTIST, ev.PRINCIPAL_KIND_USER)
    assert (event.training.model_name, event.training.estimator) == ("breast-cancer", "random_forest")
    assert (event.training.holdout_fraction, event.training.seed) == (0.25, 42)
    assert event.training.primary_metric == "roc_auc"

    detail = client.get(f"/datasets/{sha}").json()
    assert detail["provenance"]["uploader"] == "alice"
    assert detail["provenance"]["original_filename"] == "cancer.csv"
    assert detail["spec"]["training"]["params"] == {"n_estimators": 20, "max_depth": None}
    assert detail["profile"]["target_distribution"] == {"0": 20, "1": 20}
    assert detail["consent_basis"] == "public_task"


def test_parquet_upload_and_newest_first_listing(client, bus, frame, spec_dict):
    first = post(client, csv_of(frame), spec_dict).json()
    buffer = io.BytesIO()
    frame.head(30).to_parquet(buffer)
    response = post(client, buffer.getvalue(), spec_dict, filename="upload.bin", format="parquet")
    assert response.status_code == 201, response.text
    assert response.json()["uri"].endswith(".parquet")
    assert bus.events(ev.DatasetArrived)[-1].source_format == "parquet"

    listed = [d["dataset_id"] for d in client.get("/datasets").json()["datasets"]]
    assert listed == [response.json()["dataset_id"], first["dataset_id"]]


def test_identical_reupload_returns_the_existing_dataset_without_announcing(client, bus, frame, spec_dict):
    first = post(client, csv_of(frame), spec_dict)
    second = post(client, csv_of(frame), spec_dict)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == {**first.json(), "duplicate": True}
    assert len(bus.events(ev.DatasetArrived)) == 1
    assert "conveyor_ingest_datasets_duplicate_total 1.0" in client.get("/metrics").text


def test_same_bytes_with_another_spec_is_a_conflict(client, bus, frame, spec_dict):
    post(client, csv_of(frame), spec_dict)
    spec_dict["training"]["seed"] = 7
    response = post(client, csv_of(frame), spec_dict)
    assert response.status_code == 409
    assert "different spec" in response.json()["detail"]
    assert len(bus.events(ev.DatasetArrived)) == 1


def _fractional_category(frame):
    frame["texture_band"] = frame["texture_band"] + 0.5


def _gap_in_feature(frame):
    frame.loc[3, "mean_radius"] = np.nan  # the conftest spec says missing: reject for this one


def _gap_in_target(frame):
    frame["diagnosis"] = frame["diagnosis"].astype(float)
    frame.loc[3, "diagnosis"] = np.nan


def _infinite(frame):
    frame.loc[3, "mean_radius"] = np.inf


def _duplicate_subject(frame):
    frame.loc[3, "patient_id"] = "p0000"


def _text_in_numeric(frame):
    frame["mean_radius"] = frame["mean_radius"].astype(object)
    frame.loc[3, "mean_radius"] = "n/a?"


def _one_class(frame):
    frame["diagnosis"] = 0


BAD_FRAMES = {
    "missing column": (lambda f: f.drop(columns=["mean_texture"], inplace=True), "mean_texture", "missing"),
    "extra column": (lambda f: f.insert(0, "postcode", "x"), "postcode", "not declared"),
    "non-numeric feature": (_text_in_numeric, "mean_radius", "non-numeric"),
    "fractional category": (_fractional_category, "texture_band", "fractional value"),
    "gap where the policy rejects": (_gap_in_feature, "mean_radius", "missing: reject"),
    "missing target": (_gap_in_target, "diagnosis", "no target value"),
    "one class": (_one_class, "diagnosis", "at least 2 classes"),
    "infinite value": (_infinite, "mean_radius", "non-finite"),
    "duplicate subject": (_duplicate_subject, "patient_id", "more than once"),
    "too few rows": (lambda f: f.drop(index=range(25), inplace=True), "", "at least 20"),
}


@pytest.mark.parametrize("case", list(BAD_FRAMES))
def test_each_bad_dataset_is_rejected_announced_and_not_stored(client, bus, settings, frame, spec_dict, case):
    spoil, column, reason = BAD_FRAMES[case]
    spoil(frame)
    data = csv_of(frame)
    response = post(client, data, spec_dict)
    assert response.status_code == 422, response.text
    assert any(e["column"] == column and reason in e["reason"] for e in response.json()["errors"])
    assert_rejection_announced(bus, column, reason, hashlib.sha256(data).hexdigest())
    assert stored_files(settings) == []
    assert catalog_rows(settings) == 0


@pytest.mark.parametrize(("data", "filename", "reason"), [
    (b"", "empty.csv", "empty"),
    (b'a,b\n1,2\n3,"4\n', "broken.csv", "could not parse"),
    (b"PAR1 not really", "broken.parquet", "could not parse"),
    (b"a,b\n1,2\n", "data.xlsx", "cannot tell the format"),
])
def test_unreadable_files_are_rejected(client, bus, settings, spec_dict, data, filename, reason):
    response = post(client, data, spec_dict, filename=filename)
    assert response.status_code == 422, response.text
    assert reason in response.json()["errors"][0]["reason"]
    assert_rejection_announced(bus, "", reason, hashlib.sha256(data).hexdigest())
    assert stored_files(settings) == []


def assert_rejection_announced(bus, column, reason, sha):
    [event] = bus.events(ev.DatasetRejected)
    assert (event.name, event.owner, event.content_sha256) == ("breast-cancer", OWNER, sha)
    assert any(e.column == column and reason in e.reason for e in event.errors)
    assert Envelope.from_headers(bus.on(topics.DATASETS)[0].headers).subject == "breast-cancer"
    assert bus.events(ev.DatasetArrived) == []


def test_a_malformed_spec_names_the_field(client, bus, frame, spec_dict):
    spec_dict["training"]["holdout_fraction"] = 2
    del spec_dict["consent_basis"]
    response = post(client, csv_of(frame), spec_dict)
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"training.holdout_fraction", "consent_basis"}
    assert bus.records == []


def test_spec_that_is_not_json(client, frame):
    response = client.post("/datasets", files={"file": ("a.csv", csv_of(frame))}, data={"spec": "{name:"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "spec"


def test_missing_file_part(client, spec_dict):
    response = client.post("/datasets", data={"spec": json.dumps(spec_dict)})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "file"


def test_an_upload_over_the_limit_is_413_and_announced(tmp_path, bus, frame, spec_dict):
    settings = IngestSettings(data_dir=tmp_path, max_upload_bytes=1000)
    with signed(TestClient(create_app(settings, transport=bus))) as client:
        data = csv_of(frame)
        response = post(client, data, spec_dict)
        assert response.status_code == 413
        assert "limit is 1000 bytes" in response.json()["errors"][0]["reason"]
        assert "conveyor_ingest_datasets_rejected_total{reason=\"too_large\"} 1.0" in client.get("/metrics").text
    assert_rejection_announced(bus, "", "limit is 1000 bytes", hashlib.sha256(data).hexdigest())
    assert stored_files(settings) == []


def test_unknown_dataset_is_404(client):
    response = client.get("/datasets/" + "0" * 64)
    assert response.status_code == 404
    assert "no dataset" in response.json()["detail"]


class FlakyBus:
    """Refuses the first publish as a down broker would, then behaves."""

    def __init__(self, bus: InMemoryBus) -> None:
        self.bus, self.failures = bus, 1
        self.topic, self.send = bus.topic, bus.send

    async def publish(self, event, subject, **stamps):
        if self.failures:
            self.failures -= 1
            raise TransientError("broker unreachable")
        return await self.bus.publish(event, subject, **stamps)


def test_broker_down_is_503_with_nothing_catalogued_and_a_retry_succeeds(settings, bus, frame, spec_dict):
    with signed(TestClient(create_app(settings, transport=FlakyBus(bus)))) as client:
        failed = post(client, csv_of(frame), spec_dict)
        assert failed.status_code == 503
        assert failed.headers["Retry-After"]
        assert catalog_rows(settings) == 0
        assert client.get("/datasets").json() == {"datasets": []}

        retried = post(client, csv_of(frame), spec_dict)
        assert retried.status_code == 201
        assert catalog_rows(settings) == 1
        assert len(bus.events(ev.DatasetArrived)) == 1
        assert "conveyor_ingest_datasets_accepted_total 1.0" in client.get("/metrics").text


def test_an_upload_announcing_too_many_bytes_is_refused_before_it_is_read(tmp_path, bus, frame, spec_dict):
    settings = IngestSettings(data_dir=tmp_path, max_upload_bytes=1000)
    with signed(TestClient(create_app(settings, transport=bus))) as client:
        response = post(client, csv_of(frame) * 50, spec_dict)  # far beyond limit + form overhead
        assert response.status_code == 413
        assert "exceeds the limit of 1000 bytes" in response.json()["detail"]
    assert stored_files(settings) == []
    assert bus.records == []
