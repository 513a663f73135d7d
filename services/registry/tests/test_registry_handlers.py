"""ModelTrained → register + policy, through the real Dispatcher, a real SQLite file and an InMemoryBus."""

import pytest
from sqlmodel import Session, select

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import TransientError, topics
from conveyor_registry.champions import champion_of
from conveyor_registry.tables import Decision, ModelVersion


class Delivery:
    """Publishes into the bus as the trainer would; the registry's runtime consumes it as its consumer would."""

    def __init__(self, bus, runtime) -> None:
        self.bus = bus
        self.runtime = runtime

    async def __call__(self, event: ev.ModelTrained) -> None:
        await self.bus.publish(event, event.model_name)
        await self.runtime.deliver()


@pytest.fixture
def deliver(bus, app):
    return Delivery(bus, app.state.runtime)


def versions(engine, model_name="churn"):
    with Session(engine) as session:
        rows = session.exec(select(ModelVersion).where(ModelVersion.model_name == model_name)
                            .order_by(ModelVersion.version)).all()
        return [(row.version, row.stage) for row in rows]


def champion_version(engine, model_name="churn"):
    with Session(engine) as session:
        champion = champion_of(session, model_name)
        return None if champion is None else champion.version


async def test_first_model_is_registered_and_promoted(deliver, bus, engine, make_trained):
    await deliver(make_trained("run-1", {"roc_auc": 0.9, "accuracy": 0.8}))

    [registered] = bus.events(ev.ModelRegistered)
    assert (registered.model_name, registered.version, registered.run_id) == ("churn", 1, "run-1")
    assert dict(registered.metrics) == pytest.approx({"roc_auc": 0.9, "accuracy": 0.8})
    [promoted] = bus.events(ev.ModelPromoted)
    assert (promoted.version, promoted.previous_version, promoted.action, promoted.approved_by) == (
        1, 0, "promote", "policy")
    assert promoted.artifact_uri == "file:///artifacts/models/run-1.onnx"
    assert promoted.reference_uri == "file:///artifacts/references/run-1.json"
    assert promoted.dataset_id == "d" * 64
    assert list(promoted.feature_names) == ["age", "tenure"]
    assert list(promoted.sensitive_attributes) == ["sex"]
    assert promoted.task == ev.TASK_CLASSIFICATION
    assert promoted.reasons[0] == "no champion yet: v1 becomes champion with roc_auc 0.900"
    assert [r.key for r in bus.on(topics.REGISTRY)] == [b"churn", b"churn"]
    assert versions(engine) == [(1, "champion")]
    assert champion_version(engine) == 1


async def test_better_model_replaces_the_champion(deliver, bus, engine, make_trained):
    await deliver(make_trained("run-1", {"roc_auc": 0.90}))
    await deliver(make_trained("run-2", {"roc_auc": 0.95}))

    promoted = bus.events(ev.ModelPromoted)[-1]
    assert (promoted.version, promoted.previous_version) == (2, 1)
    assert promoted.reasons[0] == "roc_auc 0.950 >= champion v1 0.900 - 0.01"
    assert versions(engine) == [(1, "archived"), (2, "champion")]
    assert champion_version(engine) == 2


async def test_worse_model_is_declined_and_the_champion_stays(deliver, bus, engine, make_trained):
    await deliver(make_trained("run-1", {"roc_auc": 0.90}))
    await deliver(make_trained("run-2", {"roc_auc": 0.80}))

    assert len(bus.events(ev.ModelRegistered)) == 2
    assert len(bus.events(ev.ModelPromoted)) == 1
    [declined] = bus.events(ev.PromotionDeclined)
    assert (declined.version, declined.champion_version) == (2, 1)
    assert declined.reasons[0] == "roc_auc 0.800 < champion v1 0.900 - 0.01"
    assert versions(engine) == [(1, "champion"), (2, "declined")]
    with Session(engine) as session:
        actions = [d.action for d in session.exec(select(Decision).order_by(Decision.id)).all()]
    assert actions == ["promote", "decline"]


async def test_slightly_worse_within_tolerance_is_promoted(deliver, bus, engine, make_trained):
    await deliver(make_trained("run-1", {"roc_auc": 0.900}))
    await deliver(make_trained("run-2", {"roc_auc": 0.895}))

    assert bus.events(ev.ModelPromoted)[-1].version == 2
    assert champion_version(engine) == 2


async def test_unfair_model_is_declined_even_when_more_accurate(deliver, bus, engine, make_trained):
    await deliver(make_trained("run-1", {"roc_auc": 0.90}))
    await deliver(make_trained("run-2", {"roc_auc": 0.99}, parity_gap=0.31))

    [declined] = bus.events(ev.PromotionDeclined)
    assert "fairness gap over max 0.2 (largest 0.310) or not measured for: sex" in declined.reasons
    assert champion_version(engine) == 1


async def test_regression_error_metric_lower_wins(deliver, bus, engine, make_trained):
    def reg(run_id, value):
        return make_trained(run_id, {"rmse": value}, model_name="price", primary_metric="rmse",
                            task=ev.TASK_REGRESSION)

    await deliver(reg("r-1", 3.0))
    await deliver(reg("r-2", 2.5))
    await deliver(reg("r-3", 4.0))

    assert [e.version for e in bus.events(ev.ModelPromoted)] == [1, 2]
    assert bus.events(ev.ModelPromoted)[-1].task == ev.TASK_REGRESSION
    assert bus.events(ev.PromotionDeclined)[0].reasons[0] == "rmse 4.000 > champion v2 2.500 + 0.01"
    assert champion_version(engine, "price") == 2


async def test_same_run_delivered_twice_registers_once(deliver, bus, engine, make_trained):
    event = make_trained("run-1", {"roc_auc": 0.9})
    await deliver(event)
    await deliver(event)

    assert len(bus.events(ev.ModelRegistered)) == 1
    assert len(bus.events(ev.ModelPromoted)) == 1
    assert versions(engine) == [(1, "champion")]


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda e: e.ClearField("run_id"), "ModelTrained.run_id is empty"),
        (lambda e: e.training.ClearField("primary_metric"), "ModelTrained.training.primary_metric is empty"),
        (lambda e: e.metrics.pop("roc_auc"), "lacks the primary metric 'roc_auc' (has: accuracy)"),
        (lambda e: e.ClearField("task"), "ModelTrained.task is TASK_UNSPECIFIED"),
    ],
)
async def test_invalid_model_trained_is_dead_lettered_and_nothing_written(
    deliver, bus, engine, make_trained, mutate, reason
):
    event = make_trained("run-1", {"roc_auc": 0.9, "accuracy": 0.8})
    mutate(event)
    await deliver(event)

    [dead] = bus.on(topics.DEAD_LETTER)
    assert reason in dict(dead.headers)["dlq_reason"].decode()
    assert bus.on(topics.REGISTRY) == []
    assert versions(engine) == []


async def test_task_changing_under_a_model_is_dead_lettered(deliver, bus, engine, make_trained):
    await deliver(make_trained("run-1", {"roc_auc": 0.9}))
    await deliver(make_trained("run-2", {"roc_auc": 0.9}, task=ev.TASK_REGRESSION))

    [dead] = bus.on(topics.DEAD_LETTER)
    assert "is a classification model" in dict(dead.headers)["dlq_reason"].decode()
    assert versions(engine) == [(1, "champion")]


class FailingOnce:
    """Lets the first `ok` publishes through, fails the next one, then works again."""

    def __init__(self, bus, ok: int) -> None:
        self.bus, self.ok, self.failed = bus, ok, False

    async def publish(self, event, subject, **stamps):
        if self.ok == 0 and not self.failed:
            self.failed = True
            raise TransientError("broker unavailable")
        self.ok -= 1
        return await self.bus.publish(event, subject, **stamps)


async def test_a_publish_failure_leaves_the_events_in_order_in_the_outbox_and_each_goes_out_once(
    bus, registry, deliver, engine, make_trained
):
    registry.relay.publisher = FailingOnce(bus, ok=1)  # ModelRegistered goes out, the next event fails
    await deliver(make_trained("run-1", {"roc_auc": 0.9}))

    assert registry.relay.publisher.failed
    assert bus.on(topics.DEAD_LETTER) == []  # the decision committed: nothing for the consumer to retry
    assert versions(engine) == [(1, "champion")]
    assert bus.events(ev.ModelPromoted) == []
    await registry.relay.drain()  # what the background relay does every second
    assert [e.version for e in bus.events(ev.ModelRegistered)] == [1]
    assert [e.version for e in bus.events(ev.ModelPromoted)] == [1]
    ids = [dict(r.headers)["ce_id"] for r in bus.records]
    assert len(ids) == len(set(ids))
    with Session(engine) as session:
        assert len(session.exec(select(Decision)).all()) == 1


def with_comparison(event: ev.ModelTrained, champion: float, challenger: float) -> ev.ModelTrained:
    event.trigger, event.training_rows = "production_feedback", 560
    event.comparison.CopyFrom(ev.HoldoutComparison(
        champion_version=1, champion_metrics={"roc_auc": champion}, challenger_metrics={"roc_auc": challenger},
        rows=240, description="the newest 240 labelled production rows (of 800 in churn v2) that v1 served"))
    event.metrics["roc_auc"] = challenger
    return event


async def test_a_retrain_is_judged_on_its_fresh_comparison(deliver, bus, engine, make_trained):
    await deliver(make_trained("run-1", {"roc_auc": 0.90}))
    await deliver(with_comparison(make_trained("run-2", {}), champion=0.61, challenger=0.74))

    promoted = bus.events(ev.ModelPromoted)[-1]
    assert promoted.version == 2  # 0.74 < the champion's old 0.90, but on the same newest rows it is better
    assert promoted.reasons[0] == ("roc_auc 0.740 >= champion v1 0.610 - 0.01 on the newest 240 labelled "
                                   "production rows (of 800 in churn v2) that v1 served")
    with Session(engine) as session:
        row = session.exec(select(ModelVersion).where(ModelVersion.version == 2)).one()
        assert row.comparison["champion_metrics"] == {"roc_auc": 0.61} and row.training_rows == 560


async def test_a_retrain_worse_on_the_fresh_rows_is_declined(deliver, bus, make_trained):
    await deliver(make_trained("run-1", {"roc_auc": 0.90}))
    await deliver(with_comparison(make_trained("run-2", {}), champion=0.80, challenger=0.70))
    [declined] = bus.events(ev.PromotionDeclined)
    assert declined.reasons[0].startswith("roc_auc 0.700 < champion v1 0.800 - 0.01 on the newest 240")


async def test_promotion_carries_the_retrain_policy_and_the_inputs(deliver, bus, make_trained):
    event = make_trained("run-1", {"roc_auc": 0.9})
    event.training.retrain.CopyFrom(ev.RetrainPolicy(window_rows=500, include_original=True, min_labels=150,
                                                     fresh_holdout_fraction=0.3))
    event.inputs.extend([ev.ModelInput(name="age", datatype="FP32", kind=ev.COLUMN_KIND_NUMERIC),
                         ev.ModelInput(name="tenure", datatype="BYTES", kind=ev.COLUMN_KIND_CATEGORICAL)])
    await deliver(event)
    [promoted] = bus.events(ev.ModelPromoted)
    assert promoted.retrain == event.training.retrain
    assert list(promoted.inputs) == list(event.inputs)
