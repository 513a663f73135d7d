"""The consent rule: a version trained on withdrawn subjects is never newly promoted; a flagged champion is
replaced once its retrain passes the gates."""

import httpx
import pytest

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel.callers import AllowedCaller

REF = "subj-" + "a" * 32


def flagged(*run_ids: str, ref: str = REF) -> ev.TrainingRunsFlagged:
    return ev.TrainingRunsFlagged(subject_ref=ref, purpose="training", state=ev.CONSENT_STATE_WITHDRAWN,
                                  runs=[ev.RunRef(model_name="churn", run_id=r) for r in run_ids],
                                  retrain_models=["churn"])


@pytest.fixture
async def client(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                 auth=AllowedCaller.of(app, subject="alice@example.com")) as client:
        yield client


async def deliver(bus, app, event) -> None:
    await bus.publish(event, "churn")
    await app.state.runtime.deliver()


async def test_flagging_announces_each_version_once_and_marks_the_champion(bus, app, registry, make_trained):
    await registry.register(make_trained("run-1", {"roc_auc": 0.8}))
    await registry.register(make_trained("run-2", {"roc_auc": 0.7}))  # declined
    await deliver(bus, app, flagged("run-1", "run-2"))
    await deliver(bus, app, flagged("run-1", ref="subj-" + "b" * 32))  # a second subject: already flagged
    announced = bus.events(ev.ModelVersionFlagged)
    assert [(e.version, e.champion) for e in announced] == [(1, True), (2, False)]
    assert "withdrawn" in announced[0].reason and "keeps serving" in announced[0].reason


async def test_a_flagged_version_is_refused_by_the_policy_by_hand_and_by_rollback(
        bus, app, registry, make_trained, client):
    await registry.register(make_trained("run-1", {"roc_auc": 0.8}))
    await registry.register(make_trained("run-2", {"roc_auc": 0.7}))
    await deliver(bus, app, flagged("run-2"))
    refused = await client.post("/models/churn/versions/2/promote", json={"reason": "it is fine"})
    assert refused.status_code == 409 and "consent" in refused.json()["detail"]

    await deliver(bus, app, flagged("run-3"))  # flagged before it is registered (a run that raced the withdrawal)
    await registry.register(make_trained("run-3", {"roc_auc": 0.99}))
    [*_, declined] = bus.events(ev.PromotionDeclined)
    assert declined.version == 3 and declined.reasons[0].startswith("consent: v3 was trained on 1 subject(s)")
    assert (await client.get("/models/churn")).json()["champion_version"] == 1

    await registry.register(make_trained("run-4", {"roc_auc": 0.85}))  # beats v1: promoted
    await deliver(bus, app, flagged("run-1", ref="subj-" + "c" * 32))
    back = await client.post("/models/churn/rollback", json={"reason": "back to v1"})
    assert back.status_code == 409 and "v1" in back.json()["detail"]


async def test_a_flagged_champion_is_replaced_by_a_retrain_that_passes_the_gates(bus, app, registry, make_trained):
    await registry.register(make_trained("run-1", {"roc_auc": 0.9}))
    await deliver(bus, app, flagged("run-1"))
    await registry.register(make_trained("run-2", {"roc_auc": 0.7}, parity_gap=0.5))  # fails the fairness gate
    await registry.register(make_trained("run-3", {"roc_auc": 0.85}))  # worse than v1, but v1 is flagged
    promoted = bus.events(ev.ModelPromoted)
    assert [p.version for p in promoted] == [1, 3]
    assert promoted[-1].reasons[0].startswith("consent: champion v1 is flagged")
    [declined] = bus.events(ev.PromotionDeclined)
    assert declined.version == 2
