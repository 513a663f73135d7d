"""REST: reads, manual promotion, rollback, and the error codes, against a real SQLite file."""

from datetime import datetime, timedelta

import httpx
import pytest

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import TransientError
from conveyor_kernel.callers import AllowedCaller


@pytest.fixture
async def client(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                 auth=AllowedCaller.of(app, subject="alice@example.com")) as client:
        yield client


@pytest.fixture
def seed(registry, make_trained):
    """Register runs with the given roc_auc values, in order, through the policy."""

    async def seed(*aucs: float) -> None:
        for i, value in enumerate(aucs, start=1):
            await registry.register(make_trained(f"run-{i}", {"roc_auc": value}))

    return seed


# The token (AllowedCaller) says alice; a `user` typed in the body is ignored.
ALICE = {"user": "ceo@corp.example", "reason": "v2 wins on the fresh holdout"}


async def champion(client) -> int | None:
    return (await client.get("/models/churn")).json()["champion_version"]


async def test_reads_show_models_versions_and_decisions(client, seed):
    assert (await client.get("/models")).json() == []
    await seed(0.9, 0.8)

    [model] = (await client.get("/models")).json()
    assert (model["name"], model["task"], model["champion_version"], model["latest_version"]) == (
        "churn", "classification", 1, 2)
    assert datetime.fromisoformat(model["created_at"]).utcoffset() == timedelta(0)
    listed = (await client.get("/models/churn/versions")).json()
    assert [(v["version"], v["stage"]) for v in listed] == [(1, "champion"), (2, "declined")]
    one = (await client.get("/models/churn/versions/2")).json()
    assert one["run_id"] == "run-2" and one["metrics"] == {"roc_auc": 0.8}
    assert one["fairness"][0]["attribute"] == "sex" and one["training"]["estimator"] == "logistic_regression"
    decisions = (await client.get("/models/churn/decisions")).json()
    assert [(d["version"], d["action"], d["decided_by"]) for d in decisions] == [
        (1, "promote", "policy"), (2, "decline", "policy")]
    assert decisions[1]["reasons"][0] == "roc_auc 0.800 < champion v1 0.900 - 0.01"


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/models/churn/versions/9223372036854775808", None),
    ("POST", "/models/churn/versions/9223372036854775808/promote", ALICE),
    ("POST", "/models/churn/traffic", {**ALICE, "mode": "canary", "version": 2**63, "weight": 0.1}),
])
async def test_a_version_past_the_largest_integer_is_422_naming_the_bound(client, seed, method, path, body):
    """Finding 5: these were 500s (SQLite cannot bind an integer >= 2**63)."""
    await seed(0.9)
    response = await client.request(method, path, json=body)
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"][-1] == "version" and "less than or equal to 9223372036854775807" in error["msg"]


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/models/nope", "model 'nope' is not registered"),
        ("/models/nope/versions", "model 'nope' is not registered"),
        ("/models/nope/decisions", "model 'nope' is not registered"),
        ("/models/churn/versions/9", "model 'churn' has no version 9"),
    ],
)
async def test_unknown_model_or_version_is_404(client, seed, path, detail):
    await seed(0.9)
    response = await client.get(path)
    assert response.status_code == 404
    assert response.json()["detail"] == detail


async def test_the_promote_route_files_a_request_that_the_gates_decide(client, seed, bus):
    await seed(0.9, 0.8)
    response = await client.post("/models/churn/versions/2/promote", json=ALICE)

    assert response.status_code == 201
    request = response.json()
    assert (request["state"], request["requested_by"], request["alias"]) == ("rejected", "alice@example.com",
                                                                             "production")
    assert request["close_reasons"] == ["roc_auc 0.800 < champion v1 0.900 - 0.01"]
    assert await champion(client) == 1  # a worse version never moves production, whoever asks
    assert [e.version for e in bus.events(ev.ModelPromoted)] == [1]


async def test_promoting_the_champion_is_409(client, seed, bus):
    await seed(0.9)
    response = await client.post("/models/churn/versions/1/promote", json=ALICE)
    assert response.status_code == 409
    assert response.json()["detail"] == "churn v1 is already production"
    assert len(bus.events(ev.ModelPromoted)) == 1


@pytest.mark.parametrize("path", ["/models/nope/versions/1/promote", "/models/churn/versions/5/promote",
                                  "/models/nope/rollback"])
async def test_changing_unknown_things_is_404(client, seed, path):
    await seed(0.9)
    assert (await client.post(path, json=ALICE)).status_code == 404


async def test_a_change_without_a_reason_is_422_naming_the_field(client, seed):
    await seed(0.9, 0.8)
    response = await client.post("/models/churn/versions/2/promote", json={"user": "alice@example.com"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "reason"]


async def test_rollback_walks_back_through_champions_then_409(client, seed, bus):
    await seed(0.80, 0.85, 0.90)  # each one promoted by the policy
    assert await champion(client) == 3

    first = await client.post("/models/churn/rollback", json=ALICE)
    assert first.status_code == 200 and first.json()["version"] == 2
    rolled = bus.events(ev.ModelPromoted)[-1]
    assert (rolled.version, rolled.previous_version, rolled.action, rolled.approved_by) == (
        2, 3, "rollback", "alice@example.com")
    assert rolled.reasons[0].startswith("rollback by alice@example.com from v3 to v2")
    assert (rolled.principal.subject, rolled.principal.role) == ("alice@example.com", "manager")

    assert (await client.post("/models/churn/rollback", json=ALICE)).json()["version"] == 1
    assert await champion(client) == 1
    last = await client.post("/models/churn/rollback", json=ALICE)
    assert last.status_code == 409
    assert last.json()["detail"] == "production of churn has no previous version to roll back to"
    stages = [(v["version"], v["stage"]) for v in (await client.get("/models/churn/versions")).json()]
    assert stages == [(1, "champion"), (2, "archived"), (3, "archived")]


async def test_a_broker_that_is_away_delays_the_events_never_the_decision(client, seed, registry, bus, make_trained):
    await seed(0.9)

    class Down:
        async def publish(self, event, subject, **stamps):
            raise TransientError("could not publish to conveyor.registry: broker down")

    registry.relay.publisher = Down()
    response = await client.post("/models/churn/rollback", json=ALICE)
    assert response.status_code == 409  # nothing to roll back to: refused before anything is staged
    await registry.register(make_trained("run-2", {"roc_auc": 0.95}))
    assert await champion(client) == 2  # the move and its decision committed together
    assert [e.version for e in bus.events(ev.ModelPromoted)] == [1]  # its event waits in the outbox

    registry.relay.publisher = bus  # the broker is back: the relay publishes what waited, in order
    await registry.relay.drain()
    assert [e.version for e in bus.events(ev.ModelPromoted)] == [1, 2]
    assert [e.version for e in bus.events(ev.ModelRegistered)] == [1, 2]
    assert await registry.relay.drain() == 0  # each once
