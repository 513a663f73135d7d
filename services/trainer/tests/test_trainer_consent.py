"""Training uses only consented rows; a withdrawal flags the runs that learned from the subject and retrains."""

import time

from fastapi.testclient import TestClient

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import Dispatcher, topics
from conveyor_kernel.callers import signed
from conveyor_kernel.memory import InMemoryBus
from conveyor_trainer.handlers import TrainerPorts, handlers

from .conftest import breast_cancer_frame, dataset_event


async def deliver(bus: InMemoryBus, ports: TrainerPorts, event, subject: str = "s") -> None:  # type: ignore[no-untyped-def]
    start = len(bus.records)
    await bus.publish(event, subject)
    table = handlers(ports)
    await bus.drain(Dispatcher(table, group="trainer", max_retries=0), topics.subscribed_by(table), start=start)


def refs(n: int) -> list[str]:
    return [f"subj-{i:032x}" for i in range(n)]


def with_subjects(store):  # type: ignore[no-untyped-def]
    frame = breast_cancer_frame()
    frame.insert(0, "person", refs(len(frame)))
    event = dataset_event(store, frame)
    event.subject_id_column = "person"
    del event.features[0]  # "person" is not a feature: the conftest took every column but the target
    return event


def changed(ref: str, state: int, at_ms: int | None = None) -> ev.ConsentChanged:
    return ev.ConsentChanged(subject_ref=ref, purpose="training", state=state,  # type: ignore[arg-type]
                             recorded_at_ms=at_ms or int(time.time() * 1000))


async def test_rows_without_valid_consent_are_left_out_and_the_run_records_a_snapshot(bus, ports, store):  # type: ignore[no-untyped-def]
    subjects = refs(200)
    await deliver(bus, ports, changed(subjects[0], ev.CONSENT_STATE_WITHDRAWN))
    await deliver(bus, ports, changed(subjects[1], ev.CONSENT_STATE_EXPIRED))
    expired_given = changed(subjects[2], ev.CONSENT_STATE_GIVEN)
    expired_given.expires_at_ms = int(time.time() * 1000) - 1000  # given, but only until a second ago
    await deliver(bus, ports, expired_given)
    await deliver(bus, ports, changed(subjects[3], ev.CONSENT_STATE_GIVEN))
    await deliver(bus, ports, with_subjects(store))
    [trained] = bus.events(ev.ModelTrained)
    snapshot = trained.consent
    assert (snapshot.subjects, snapshot.included_rows, snapshot.excluded_rows, snapshot.excluded_subjects) == (
        200, 197, 3, 3)
    assert len(snapshot.digest) == 64 and snapshot.purpose == "training"
    assert ports.consent.runs_of(subjects[0]) == [] and ports.consent.runs_of(subjects[3]) == [trained.run_id]
    assert ports.state.run(trained.run_id)["consent"]["excluded_rows"] == "3"  # int64 as JSON text


async def test_withdrawal_flags_the_runs_then_one_retrain_leaves_the_subjects_out(bus, ports, store, app):  # type: ignore[no-untyped-def]
    subjects = refs(200)
    await deliver(bus, ports, with_subjects(store))
    [first] = bus.events(ev.ModelTrained)
    await deliver(bus, ports, ev.ModelRegistered(model_name="cancer", version=1, run_id=first.run_id))

    for ref in subjects[10:15]:  # a bulk withdrawal: five records
        await deliver(bus, ports, changed(ref, ev.CONSENT_STATE_WITHDRAWN))
    flagged = bus.events(ev.TrainingRunsFlagged)
    assert len(flagged) == 5
    assert [(r.model_name, r.run_id) for r in flagged[0].runs] == [("cancer", first.run_id)]
    assert list(flagged[0].retrain_models) == ["cancer"]
    assert [r.key for r in bus.on(topics.MODELS)][-1] == subjects[14].encode()

    app.state.retrainer.settle_seconds = 0
    assert await app.state.retrainer.run_settled() == 1  # five withdrawals, one retrain
    assert await app.state.retrainer.run_settled() == 0
    _, retrained = bus.events(ev.ModelTrained)
    assert retrained.trigger == "consent_withdrawn" and retrained.consent.excluded_rows == 5
    assert retrained.training_rows < first.training_rows
    assert ports.consent.runs_of(subjects[12]) == [first.run_id]  # the retrain did not learn from them

    with signed(TestClient(app)) as client:
        answer = client.get(f"/subjects/{subjects[12]}/models")
        assert answer.status_code == 200, answer.text
        assert [(m["model_name"], m["version"]) for m in answer.json()["models"]] == [("cancer", 1)]
        other = client.get(f"/subjects/{subjects[50]}/models").json()["models"]
        assert sorted(m["run_id"] for m in other) == sorted([first.run_id, retrained.run_id])


async def test_an_older_record_never_overrides_a_newer_one(bus, ports):  # type: ignore[no-untyped-def]
    ref = refs(1)[0]
    now = int(time.time() * 1000)
    await deliver(bus, ports, changed(ref, ev.CONSENT_STATE_WITHDRAWN, now))
    await deliver(bus, ports, changed(ref, ev.CONSENT_STATE_GIVEN, now - 5000))  # a replayed older record
    assert ports.consent.states([ref], "training")[ref][0] == ev.CONSENT_STATE_WITHDRAWN
