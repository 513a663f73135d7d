"""Canary/shadow splits: the registry checks the request and publishes TrafficSplitSet; rollback is one call."""

import httpx
import pytest

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel.callers import AllowedCaller


@pytest.fixture
async def client(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                 auth=AllowedCaller.of(app, subject="alice@example.com")) as client:
        yield client


# The token (AllowedCaller) says alice; a `user` typed in the body is ignored.
WHO = {"user": "ceo@corp.example", "reason": "try v2 on live traffic"}


async def _seed(registry, make_trained, *aucs: float) -> None:
    for i, value in enumerate(aucs, start=1):
        await registry.register(make_trained(f"run-{i}", {"roc_auc": value}))


async def test_canary_publishes_the_candidate_and_rollback_clears_it(client, registry, bus, make_trained):
    await _seed(registry, make_trained, 0.9, 0.8)  # v1 champion, v2 declined: a candidate

    answer = await client.post("/models/churn/traffic", json={**WHO, "mode": "canary", "version": 2, "weight": 0.25})

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"model_name": "churn", "mode": "canary", "champion_version": 1,
                             "candidate_version": 2, "canary_weight": 0.25}
    [split] = bus.events(ev.TrafficSplitSet)
    assert (split.mode, split.champion_version, split.candidate_version, split.canary_weight) == ("canary", 1, 2, 0.25)
    assert split.candidate_artifact_uri == "file:///artifacts/models/run-2.onnx"
    assert list(split.feature_names) == ["age", "tenure"] and split.task == ev.TASK_CLASSIFICATION
    assert (split.set_by, split.reason) == ("alice@example.com", WHO["reason"])

    rolled = await client.post("/models/churn/traffic/rollback", json=WHO)

    assert rolled.json()["mode"] == "none"
    cleared = bus.events(ev.TrafficSplitSet)[-1]
    assert (cleared.mode, cleared.candidate_version) == ("", 0)


async def test_shadow_has_no_weight(client, registry, bus, make_trained):
    await _seed(registry, make_trained, 0.9, 0.8)
    answer = await client.post("/models/churn/traffic", json={**WHO, "mode": "shadow", "version": 2, "weight": 0.5})
    assert answer.json()["mode"] == "shadow" and answer.json()["canary_weight"] == 0.0


@pytest.mark.parametrize("body, status, detail", [
    ({"mode": "canary", "version": 1}, 409, "v1 is the champion"),
    ({"mode": "canary", "version": 9}, 404, "no version 9"),
    ({"mode": "blue", "version": 2}, 422, "canary"),
    ({"mode": "canary", "version": 2, "weight": 2}, 422, "less than or equal to 1"),
])
async def test_bad_splits_are_refused(client, registry, bus, make_trained, body, status, detail):
    await _seed(registry, make_trained, 0.9, 0.8)
    answer = await client.post("/models/churn/traffic", json={**WHO, **body})
    assert answer.status_code == status
    assert detail in answer.text
    assert bus.events(ev.TrafficSplitSet) == []


async def test_no_split_without_a_champion(client, registry, make_trained):
    assert (await client.post("/models/ghost/traffic/rollback", json=WHO)).status_code == 404
    assert (await client.post("/models/ghost/traffic", json={**WHO, "mode": "canary", "version": 1})).status_code == 404
