"""What the client sends for the approval routes (the registry's issue 12 part B routes, w/approvals'
governance_api) and how a refusal reaches a person: against a recording transport, since these routes are not on
this registry yet (the e2e test in tests/e2e/test_console.py drives the rest of the client on real services)."""

import json

import httpx
import pytest

from conveyor_cli.client import ApiError, Conveyor

URLS = {"registry": "http://registry.test"}


def recording(answers: dict[tuple[str, str], tuple[int, object]]):
    sent: list[tuple[str, str, dict]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else {}
        sent.append((request.method, request.url.path, body))
        status, answer = answers.get((request.method, request.url.path), (404, {"detail": "Not Found"}))
        return httpx.Response(status, json=answer)

    return sent, httpx.MockTransport(handle)


def test_a_promotion_request_approval_and_rejection_go_to_the_models_promotions():
    sent, transport = recording({
        ("POST", "/models/m/promotions"): (201, {"id": "r1", "state": "pending"}),
        ("POST", "/models/m/promotions/r1/approve"): (200, {"id": "r1", "state": "approved"}),
        ("POST", "/models/m/promotions/r2/reject"): (200, {"id": "r2", "state": "rejected"}),
    })
    with Conveyor(URLS, "t", transport=transport) as client:
        assert client.request_promotion("m", 3, "fresher labels")["state"] == "pending"
        assert client.approve("m", "r1", "checked the gaps")["state"] == "approved"
        assert client.reject("m", "r2", "worse on the south clinic")["state"] == "rejected"
    assert sent == [
        ("POST", "/models/m/promotions", {"version": 3, "alias": "production", "reason": "fresher labels"}),
        ("POST", "/models/m/promotions/r1/approve", {"comment": "checked the gaps"}),
        ("POST", "/models/m/promotions/r2/reject", {"reason": "worse on the south clinic"}),
    ]


def test_the_inbox_gathers_every_models_requests_newest_first():
    sent, transport = recording({
        ("GET", "/models"): (200, [{"name": "a"}, {"name": "b"}]),
        ("GET", "/models/a/promotions"): (200, [{"id": "a1", "created_at": "2026-12-01T10:00:00Z"}]),
        ("GET", "/models/b/promotions"): (200, [{"id": "b1", "created_at": "2026-12-01T11:00:00Z"}]),
    })
    with Conveyor(URLS, "t", transport=transport) as client:
        assert [r["id"] for r in client.every_promotion_request("pending")] == ["b1", "a1"]
    assert [path for _, path, _ in sent] == ["/models", "/models/a/promotions", "/models/b/promotions"]


def test_a_policy_versions_what_if_replays_its_document_over_the_recorded_decisions():
    document = {"gates": [{"rule": "metric", "expr": "challenger >= champion"}]}
    sent, transport = recording({
        ("GET", "/policy/versions/2"): (200, {"version": 2, "document": document}),
        ("POST", "/policy/test"): (200, {"replayed": 7, "flips": []}),
    })
    with Conveyor(URLS, "t", transport=transport) as client:
        assert client.policy_what_if(2) == {"replayed": 7, "flips": []}
    assert sent[-1] == ("POST", "/policy/test", {"document": document})


def test_a_refusal_carries_the_servers_message_and_its_fields():
    _, transport = recording({
        ("POST", "/models/m/promotions"): (422, {"detail": [{"loc": ["body", "reason"], "msg": "Field required"}]}),
    })
    with Conveyor(URLS, "t", transport=transport) as client, pytest.raises(ApiError) as refused:
        client.request_promotion("m", 1, "")
    assert refused.value.status == 422
    assert "body.reason: Field required" in str(refused.value)
    assert refused.value.errors == [{"field": "body.reason", "reason": "Field required"}]


def test_an_upload_streams_the_file_and_reports_its_progress_to_the_last_byte(tmp_path):
    data = tmp_path / "big.csv"
    data.write_bytes(b"a,b\n" + b"1,2\n" * 600_000)  # 2.4 MB: the CLI draws a bar from 1 MB
    received = {}

    def handle(request: httpx.Request) -> httpx.Response:
        received["length"] = int(request.headers["content-length"])
        received["body"] = request.read()
        return httpx.Response(201, json={"dataset_id": "d", "version": 1})

    seen: list[tuple[int, int]] = []
    with Conveyor({"ingest": "http://ingest.test"}, "t", transport=httpx.MockTransport(handle)) as client:
        client.upload_dataset(data, {"name": "big"}, progress=lambda sent, total: seen.append((sent, total)))
    assert seen[-1] == (data.stat().st_size, data.stat().st_size)
    assert [sent for sent, _ in seen] == sorted(sent for sent, _ in seen) and len(seen) > 2
    assert received["length"] == len(received["body"]) and data.read_bytes() in received["body"]


def test_consent_changes_carry_raw_subject_ids_in_the_body_never_in_a_path():
    sent, transport = recording({
        ("POST", "/consent/withdraw"): (201, {"recorded": 2, "records": []}),
        ("POST", "/consent"): (201, {"recorded": 1, "records": []}),
        ("GET", "/subjects/ref-1/consent"): (200, {"subject_ref": "ref-1", "current": {}, "history": []}),
    })
    with Conveyor({"ingest": "http://ingest.test"}, "t", transport=transport) as client:
        assert client.withdraw_consent(["p-17", "p-18"])["recorded"] == 2
        assert client.record_consent(["p-19"], "training", "given")["recorded"] == 1
        assert client.consent_of("ref-1")["subject_ref"] == "ref-1"
    assert sent[0] == ("POST", "/consent/withdraw", {"subject_ids": ["p-17", "p-18"], "purpose": "training"})
    assert sent[1] == ("POST", "/consent", {"subject_ids": ["p-19"], "purpose": "training", "state": "given",
                                            "basis": "consent"})
    assert all("p-1" not in path for _, path, _ in sent)
