"""Consent and erasure over REST with an in-memory bus: pseudonymous subjects, records, withdrawals, erasure."""

import json

import pytest
from fastapi.testclient import TestClient

from conveyor.events.v1 import events_pb2 as ev
from conveyor_ingest.settings import IngestSettings
from conveyor_ingest.wiring import create_app
from conveyor_kernel import Envelope, TransientError, topics
from conveyor_kernel.callers import bearer, signed, token_for
from conveyor_kernel.identity import DATA_SCIENTIST, PRIVACY_OFFICER
from conveyor_kernel.memory import InMemoryBus


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


def as_(client, subject: str, role: str) -> dict[str, str]:
    return bearer(token_for(client.app, subject, role))


def upload(client, frame, spec) -> dict:
    response = client.post("/datasets", files={"file": ("cancer.csv", frame.to_csv(index=False).encode(), "text/csv")},
                           data={"spec": json.dumps(spec)}, headers=as_(client, "alice", DATA_SCIENTIST))
    assert response.status_code == 201, response.text
    return response.json()


def every_byte(settings, bus, vault: bool = False) -> bytes:
    """Everything the platform wrote: stored artifacts, the consent and catalog databases, every record (and
    the vault's file, the one place a raw id may be, while the subject is not erased)."""
    files = [p.read_bytes() for p in settings.data_dir.rglob("*")
             if p.is_file() and (vault or p.name != "subjects.db")]
    records = [r.value + b"".join(v for _, v in r.headers) for r in bus.records]
    return b"\n".join(files + records)


def test_an_upload_stores_references_and_gives_consent_for_its_subjects(client, bus, settings, frame, spec_dict):
    upload(client, frame, spec_dict)
    given = bus.events(ev.ConsentChanged)
    assert len(given) == 40
    assert {(e.purpose, e.state, e.basis, e.source) for e in given} == {
        ("training", ev.CONSENT_STATE_GIVEN, "public_task", "dataset upload")}
    keys = {r.key.decode() for r in bus.on(topics.CONSENT)}
    assert keys == {f"{e.subject_ref}/training" for e in given}
    assert b"p0007" not in every_byte(settings, bus)  # no raw id outside the vault

    again = client.post("/datasets", files={"file": ("c.csv", frame.to_csv(index=False).encode(), "text/csv")},
                        data={"spec": json.dumps(spec_dict)}, headers=as_(client, "alice", DATA_SCIENTIST))
    assert (again.status_code, again.json()["duplicate"]) == (200, True)  # the same upload is still recognized


def test_withdrawal_names_subjects_by_reference_and_refuses_unknowns_whole(client, bus, frame, spec_dict):
    upload(client, frame, spec_dict)
    officer = as_(client, "pat", PRIVACY_OFFICER)
    resolved = client.post("/subjects/resolve", json={"subject_id": "p0003"}, headers=officer).json()
    [subject] = resolved["subjects"]
    assert subject["consent"] == {"training": "given"} and len(subject["dataset_ids"]) == 1

    withdrawn = client.post("/consent/withdraw", json={"subject_id": "p0003"}, headers=officer)
    assert withdrawn.status_code == 201, withdrawn.text
    [event] = bus.events(ev.ConsentChanged)[40:]
    assert (event.subject_ref, event.state, event.principal.subject) == (
        subject["subject_ref"], ev.CONSENT_STATE_WITHDRAWN, "pat")
    state = client.get(f"/subjects/{subject['subject_ref']}/consent", headers=officer).json()
    assert state["current"]["training"]["state"] == "withdrawn" and len(state["history"]) == 2

    unknown = client.post("/consent/withdraw", json={"subject_ids": ["p0004", "nobody-42"]}, headers=officer)
    assert unknown.status_code == 404 and "nobody-42" in unknown.json()["detail"]
    bad_purpose = client.post("/consent/withdraw", json={"subject_id": "p0004", "purpose": "marketing"},
                              headers=officer)
    assert bad_purpose.status_code == 422 and "marketing" in bad_purpose.json()["detail"]
    assert len(bus.events(ev.ConsentChanged)) == 41  # neither refusal recorded anything

    scientist = client.post("/consent/withdraw", json={"subject_id": "p0004"},
                            headers=as_(client, "bo", DATA_SCIENTIST))
    assert scientist.status_code == 403


def test_erasure_needs_approval_then_rewrites_every_version_and_destroys_the_mapping(
        client, bus, settings, frame, spec_dict):
    first = upload(client, frame, spec_dict)
    second = upload(client, frame.head(30), spec_dict)
    officer, other = as_(client, "pat", PRIVACY_OFFICER), as_(client, "quinn", PRIVACY_OFFICER)
    requested = client.post("/erasures", json={"subject_id": "p0001", "reason": "the subject asked"},
                            headers=as_(client, "alice", DATA_SCIENTIST))
    assert requested.status_code == 201, requested.text
    erasure_id = requested.json()["erasure_id"]
    assert client.post(f"/erasures/{erasure_id}/run", headers=officer).status_code == 403  # not approved

    done = client.post(f"/erasures/{erasure_id}/approve", headers=other)
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["status"], body["resumed"], body["approved_by"]) == ("completed", False, "quinn")
    receipt = body["receipt"]
    assert set(receipt["replaced_dataset_versions"]) == {first["dataset_id"], second["dataset_id"]}
    assert receipt["rows_removed"] == 2 and receipt["mapping_destroyed"]

    erased = bus.events(ev.DatasetErased)
    assert {e.old_dataset_id for e in erased} == {first["dataset_id"], second["dataset_id"]}
    assert {e.dataset.row_count for e in erased} == {39, 29}
    for e in erased:
        assert not (settings.data_dir / "artifacts").joinpath("datasets", f"{e.old_dataset_id}.csv").exists()
        assert client.get(f"/datasets/{e.dataset.dataset_id}").json()["version"] == e.dataset.version
    [completed] = bus.events(ev.ErasureCompleted)
    assert completed.receipt_sha256 == receipt["sha256"]
    gone = client.post("/subjects/resolve", json={"subject_id": "p0001"}, headers=officer)
    assert gone.status_code == 404  # the mapping is destroyed: nobody can find the subject again
    assert b"p0001" not in every_byte(settings, bus, vault=True)
    assert b"p0002" in every_byte(settings, bus, vault=True)  # the scan does see raw ids that are still held


def test_an_erasure_that_stopped_resumes_where_it_stopped_and_says_so(client, bus, frame, spec_dict, monkeypatch):
    upload(client, frame, spec_dict)
    officer = as_(client, "pat", PRIVACY_OFFICER)
    erasure_id = client.post("/erasures", json={"subject_id": "p0002", "reason": "asked"},
                             headers=as_(client, "alice", DATA_SCIENTIST)).json()["erasure_id"]
    real = bus.publish

    async def broker_down_for_receipts(event, subject, **kw):
        if isinstance(event, ev.ErasureCompleted):
            raise TransientError("broker unreachable")
        return await real(event, subject, **kw)

    monkeypatch.setattr(bus, "publish", broker_down_for_receipts)
    stopped = client.post(f"/erasures/{erasure_id}/approve", headers=officer)
    assert stopped.status_code == 503
    partway = client.get(f"/erasures/{erasure_id}", headers=officer).json()
    assert partway["status"] == "running" and "mapping destroyed" in partway["steps_done"]
    monkeypatch.setattr(bus, "publish", real)
    resumed = client.post(f"/erasures/{erasure_id}/run", headers=officer).json()
    assert (resumed["status"], resumed["resumed"]) == ("completed", True)
    assert len(bus.events(ev.DatasetErased)) == 1  # the version was not rewritten twice
    assert Envelope.from_headers(bus.on(topics.CONSENT)[-1].headers).type == "conveyor.events.v1.ErasureCompleted"


def test_requester_cannot_approve_their_own_erasure(client, frame, spec_dict):
    upload(client, frame, spec_dict)
    officer = as_(client, "pat", PRIVACY_OFFICER)
    erasure_id = client.post("/erasures", json={"subject_id": "p0005", "reason": "asked"},
                             headers=officer).json()["erasure_id"]
    refused = client.post(f"/erasures/{erasure_id}/approve", headers=officer)
    assert refused.status_code == 403 and "separation of duties" in refused.json()["detail"]
