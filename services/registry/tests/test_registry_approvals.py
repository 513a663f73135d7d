"""Promotion requests over REST with real tokens: quorum per risk tier, separation of duties, final states,
bad input (409 closed, 422 unknown alias), expiry, policy publication, replay and what served when."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel.callers import bearer, token_for
from conveyor_kernel.identity import ADMIN, DATA_SCIENTIST, MANAGER, TECH_LEADER
from conveyor_registry.policy_doc import default_policy


@pytest.fixture
async def http(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        yield client


@pytest.fixture
def as_(app):
    def as_(subject: str, role: str) -> dict[str, str]:
        return bearer(token_for(app, subject, role))
    return as_


@pytest.fixture
async def medium(registry, make_trained, http, as_):
    """churn v1 in production (low risk, by the policy), then medium risk, and v2 trained by dana."""
    await registry.register(make_trained("run-1", {"roc_auc": 0.90}))
    response = await http.put("/models/churn/risk-tier", json={"tier": "medium", "reason": "credit decisions"},
                              headers=as_("tess", TECH_LEADER))
    assert response.status_code == 200, response.text
    event = make_trained("run-2", {"roc_auc": 0.95})
    event.author.CopyFrom(ev.Principal(subject="dana", role=DATA_SCIENTIST, kind=ev.PRINCIPAL_KIND_USER))
    await registry.register(event)
    [request] = (await http.get("/models/churn/promotions", params={"state": "pending"},
                                headers=as_("mia", MANAGER))).json()
    return request


async def production(http, as_) -> int:
    return (await http.get("/models/churn", headers=as_("mia", MANAGER))).json()["champion_version"]


async def test_low_risk_promotes_without_a_meeting_and_says_which_policy_allowed_it(registry, make_trained, bus):
    await registry.register(make_trained("run-1", {"roc_auc": 0.9}))
    [promoted] = bus.events(ev.ModelPromoted)
    [published] = bus.events(ev.PolicyPublished)
    assert (promoted.alias, promoted.approved_by, promoted.policy_digest) == ("production", "policy", published.digest)
    assert promoted.reasons[-1].startswith(f"allowed by policy v1 ({published.digest[:12]}), risk tier low")
    closed = bus.events(ev.PromotionClosed)[-1]
    assert (closed.state, closed.closed_by, closed.request_id) == ("approved", "policy", promoted.request_id)


async def test_medium_risk_waits_for_a_manager_other_than_the_author(medium, http, as_, bus):
    assert medium["approvals_required"] == 1 and medium["quorum"] == "0 of 1 approval(s)"
    assert await production(http, as_) == 1
    url = f"/models/churn/promotions/{medium['id']}/approve"
    refused = await http.post(url, json={}, headers=as_("dana", MANAGER))  # dana wrote the model
    assert refused.status_code == 403 and "author of churn v2" in refused.json()["detail"]
    for who, role in [("ada", ADMIN), ("sam", DATA_SCIENTIST)]:
        assert (await http.post(url, json={}, headers=as_(who, role))).status_code == 403
    approved = await http.post(url, json={"comment": "same holdout, better"}, headers=as_("mia", MANAGER))
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert (body["state"], body["closed_by"], [a["approver"] for a in body["approvals"]]) == ("approved", "mia",
                                                                                              ["mia"])
    assert await production(http, as_) == 2
    promoted = bus.events(ev.ModelPromoted)[-1]
    assert (promoted.version, promoted.approvers, promoted.principal.subject) == (2, ["mia"], "mia")


async def test_a_closed_request_is_409_and_a_new_try_is_a_new_request(medium, http, as_):
    url = f"/models/churn/promotions/{medium['id']}"
    rejected = await http.post(f"{url}/reject", json={"reason": "wait for the audit"}, headers=as_("mia", MANAGER))
    assert rejected.json()["state"] == "rejected"
    again = await http.post(f"{url}/approve", json={}, headers=as_("max", MANAGER))
    assert again.status_code == 409 and "rejected" in again.json()["detail"]
    retry = await http.post("/models/churn/promotions", json={"version": 2, "reason": "audited now"},
                            headers=as_("sam", DATA_SCIENTIST))
    assert retry.status_code == 201 and retry.json()["id"] != medium["id"] and retry.json()["state"] == "pending"
    self_approval = await http.post(f"/models/churn/promotions/{retry.json()['id']}/approve", json={},
                                    headers=as_("sam", MANAGER))
    assert self_approval.status_code == 403 and "requested this promotion" in self_approval.json()["detail"]


async def test_an_alias_the_policy_does_not_know_is_422_naming_it(medium, http, as_):
    response = await http.post("/models/churn/promotions", json={"version": 2, "alias": "canary", "reason": "x"},
                               headers=as_("sam", DATA_SCIENTIST))
    assert response.status_code == 422
    assert "'canary'" in response.json()["detail"] and "production, staging" in response.json()["detail"]


async def test_staging_moves_with_an_alias_moved_event_and_never_touches_production(medium, http, as_, bus):
    response = await http.post("/models/churn/promotions", json={"version": 2, "alias": "staging", "reason": "try"},
                               headers=as_("sam", DATA_SCIENTIST))
    assert response.json()["state"] == "approved"  # staging needs no approval at medium risk by default
    [moved] = bus.events(ev.AliasMoved)
    assert (moved.alias, moved.version) == ("staging", 2)
    assert await production(http, as_) == 1


async def test_a_custom_alias_a_published_policy_names_is_protected_like_the_others(medium, http, as_, bus):
    document = default_policy().as_json()
    document["aliases"]["canary"] = {"expires_after_hours": 24, "quorum": {
        "low": {"approvals": 1}, "medium": {"approvals": 1}, "high": {"approvals": 2}}}
    published = await http.post("/policy", json={"document": document, "note": "canary"},
                                headers=as_("tess", TECH_LEADER))
    assert published.status_code == 201, published.text
    filed = await http.post("/models/churn/promotions", json={"version": 2, "alias": "canary", "reason": "try"},
                            headers=as_("sam", DATA_SCIENTIST))
    assert filed.status_code == 201 and filed.json()["state"] == "pending", filed.text
    assert bus.events(ev.AliasMoved) == []
    approved = await http.post(f"/models/churn/promotions/{filed.json()['id']}/approve", json={},
                               headers=as_("mia", MANAGER))
    assert approved.json()["state"] == "approved" and approved.json()["policy_version"] == 2
    [moved] = bus.events(ev.AliasMoved)
    assert (moved.alias, moved.version, moved.policy_digest) == ("canary", 2, published.json()["digest"])
    assert await production(http, as_) == 1


async def test_high_risk_needs_a_manager_and_a_tech_leader_and_the_publisher_is_never_alone(
        registry, make_trained, http, as_):
    document = default_policy().as_json()
    document["description"] = "tess's"
    published = await http.post("/policy", json={"document": document, "note": "mine"},
                                headers=as_("tess", TECH_LEADER))
    assert published.status_code == 201 and published.json()["version"] == 2
    assert (await http.post("/policy", json={"document": document}, headers=as_("mia", MANAGER))).status_code == 403
    await registry.register(make_trained("run-1", {"roc_auc": 0.90}))
    await http.put("/models/churn/risk-tier", json={"tier": "high", "reason": "x"}, headers=as_("tom", TECH_LEADER))
    await registry.register(make_trained("run-2", {"roc_auc": 0.95}))
    [request] = (await http.get("/models/churn/promotions", params={"state": "pending"},
                                headers=as_("mia", MANAGER))).json()
    url = f"/models/churn/promotions/{request['id']}/approve"
    first = (await http.post(url, json={}, headers=as_("max", MANAGER))).json()
    assert first["state"] == "pending" and first["quorum"] == "1 of 2 approval(s)"
    another_manager = (await http.post(url, json={}, headers=as_("mia", MANAGER))).json()
    assert another_manager["state"] == "pending" and "still needs a tech_leader" in another_manager["quorum"]
    second = (await http.post(url, json={}, headers=as_("tess", TECH_LEADER))).json()
    assert second["state"] == "approved" and await production(http, as_) == 2
    twice = await http.post(url, json={}, headers=as_("max", MANAGER))
    assert twice.status_code == 409


async def test_the_publisher_alone_does_not_complete_a_quorum(registry, make_trained, http, as_):
    document = default_policy().as_json()
    document["description"] = "tess's"
    await http.post("/policy", json={"document": document}, headers=as_("tess", TECH_LEADER))
    await registry.register(make_trained("run-1", {"roc_auc": 0.90}))
    await http.put("/models/churn/risk-tier", json={"tier": "medium", "reason": "x"}, headers=as_("tess", TECH_LEADER))
    await registry.register(make_trained("run-2", {"roc_auc": 0.95}))
    [request] = (await http.get("/models/churn/promotions", params={"state": "pending"},
                                headers=as_("mia", MANAGER))).json()
    url = f"/models/churn/promotions/{request['id']}/approve"
    alone = (await http.post(url, json={}, headers=as_("tess", TECH_LEADER))).json()
    assert alone["state"] == "pending" and "never the sole approver" in alone["quorum"]
    assert (await http.post(url, json={}, headers=as_("mia", MANAGER))).json()["state"] == "approved"


async def test_an_unanswered_request_expires_and_cannot_be_approved(medium, registry, http, as_, bus):
    registry.clock = lambda: datetime.now(UTC) + timedelta(days=8)
    response = await http.post(f"/models/churn/promotions/{medium['id']}/approve", json={},
                               headers=as_("mia", MANAGER))
    assert response.status_code == 409 and "expired" in response.json()["detail"]
    assert bus.events(ev.PromotionClosed)[-1].state == "expired"
    assert await production(http, as_) == 1


async def test_each_request_shows_the_evidence_and_its_digest(medium, http, as_):
    evidence = medium["evidence"]
    assert evidence["comparison"]["champion"] == 0.9 and evidence["comparison"]["challenger"] == 0.95
    assert evidence["fairness"][0]["selection_rate"] == {"F": 0.4, "M": 0.45}
    assert {g["rule"] for g in evidence["gates"]} >= {"no_worse_than_champion", "fair_across_groups"}
    assert len(evidence["evidence_digest"]) == 64 and len(evidence["input_digest"]) == 64
    assert len(medium["event_ids"]) == 2  # PromotionRequested, PromotionGatesEvaluated


async def test_every_recorded_evaluation_replays_to_the_same_result_and_a_draft_shows_what_flips(medium, http, as_):
    replay = (await http.post("/policy/replay", headers=as_("ann", "auditor"))).json()
    assert replay["evaluations"] == 2 and replay["flips"] == 0
    assert all(r["rules"] == [] for r in replay["results"])
    strict = default_policy().as_json()
    strict["params"]["metric_tolerance"] = 0.0
    strict["rules"][0]["expr"] = "!has_champion || metric.candidate >= metric.champion + 0.1"
    draft = (await http.post("/policy/test", json={"document": strict}, headers=as_("sam", DATA_SCIENTIST))).json()
    assert draft["flips"] == 1
    [flip] = [r for r in draft["results"] if r["flipped"]]
    assert (flip["version"], flip["recorded_passed"], flip["draft_passed"]) == (2, True, False)


async def test_what_served_when_names_the_version_the_people_the_policy_and_the_ledger_entries(
        medium, http, as_, registry):
    before = datetime.now(UTC)
    await http.post(f"/models/churn/promotions/{medium['id']}/approve", json={}, headers=as_("mia", MANAGER))
    after = datetime.now(UTC)
    then = (await http.get("/models/churn/aliases/production/served", params={"at": before.isoformat()},
                           headers=as_("ann", "auditor"))).json()
    now = (await http.get("/models/churn/aliases/champion/served", params={"at": after.isoformat()},
                          headers=as_("ann", "auditor"))).json()
    assert (then["version"], then["requested_by"], then["approvers"]) == (1, "registry", [])
    assert (now["version"], now["requested_by"], now["approvers"], now["policy_version"]) == (2, "registry", ["mia"], 1)
    assert now["event_ids"][0] != then["event_ids"][0] and len(now["event_ids"]) >= 5
    rolled = await http.post("/models/churn/rollback", json={"reason": "latency"}, headers=as_("mia", MANAGER))
    assert rolled.status_code == 200
    later = (await http.get("/models/churn/aliases/production/served",
                            params={"at": datetime.now(UTC).isoformat()}, headers=as_("ann", "auditor"))).json()
    assert (later["version"], later["action"], later["decided_by"]) == (1, "rollback", "mia")
