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
