"""The handlers behind the dispatcher, on the in-memory bus: what is published for each input."""

import onnxruntime as ort
import pytest
from fastapi.testclient import TestClient

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import Dispatcher, topics
from conveyor_kernel.callers import signed
from conveyor_kernel.memory import InMemoryBus
from conveyor_trainer.handlers import TrainerPorts, handlers


async def deliver(bus: InMemoryBus, ports: TrainerPorts, event, subject: str = "s") -> None:  # type: ignore[no-untyped-def]
    start = len(bus.records)
    await bus.publish(event, subject)
    table = handlers(ports)
    await bus.drain(Dispatcher(table, group="trainer", max_retries=0), topics.subscribed_by(table), start=start)


def failures(bus: InMemoryBus) -> list[ev.ModelTrainingFailed]:
    return bus.events(ev.ModelTrainingFailed)  # type: ignore[return-value]


def dead_letter_reasons(bus: InMemoryBus) -> list[str]:
    return [dict(r.headers)["dlq_reason"].decode() for r in bus.on(topics.DEAD_LETTER)]


async def test_dataset_arrived_publishes_model_trained(bus, ports, make_dataset) -> None:  # type: ignore[no-untyped-def]
    dataset = make_dataset()
    await deliver(bus, ports, dataset)
    [trained] = bus.events(ev.ModelTrained)
    assert (trained.model_name, trained.dataset_id, trained.trigger) == (
        "cancer",
        dataset.dataset_id,
        "dataset_arrived",
    )
    assert len(trained.run_id) == 32
    [record] = bus.on(topics.MODELS)
    assert record.key == b"cancer"
    ort.InferenceSession(ports.store.get(trained.artifact_uri), providers=["CPUExecutionProvider"])
    run = ports.state.run(trained.run_id)
    assert run is not None and run["status"] == "trained" and run["metrics"] == dict(trained.metrics)


async def test_parity_failure_publishes_failed_not_trained(bus, ports, make_dataset) -> None:  # type: ignore[no-untyped-def]
    ports.settings.parity_tolerance = -1.0
    await deliver(bus, ports, make_dataset())
    assert bus.events(ev.ModelTrained) == []
    [failed] = failures(bus)
    assert (failed.model_name, failed.stage) == ("cancer", "parity")
    assert "tolerance" in failed.reason
    assert dead_letter_reasons(bus) == []


async def test_bad_estimator_publishes_failed_at_train(bus, ports, make_dataset) -> None:  # type: ignore[no-untyped-def]
    await deliver(bus, ports, make_dataset(estimator="gradient_magic"))
    [failed] = failures(bus)
    assert failed.stage == "train" and "unknown estimator 'gradient_magic'" in failed.reason
    [run] = ports.state.recent_runs(10)
    assert (run["status"], run["stage"]) == ("failed", "train")


async def test_missing_dataset_file_fails_at_load_without_crashing(bus, ports, make_dataset) -> None:  # type: ignore[no-untyped-def]
    dataset = make_dataset()
    ports.store.delete(dataset.uri)
    await deliver(bus, ports, dataset)
    [failed] = failures(bus)
    assert (failed.stage, failed.dataset_id) == ("load", dataset.dataset_id)
    assert "does not exist" in failed.reason
    assert dead_letter_reasons(bus) == []


async def test_unreadable_dataset_fails_at_load(bus, ports, make_dataset) -> None:  # type: ignore[no-untyped-def]
    dataset = make_dataset()
    dataset.source_format = "parquet"  # the bytes are CSV
    await deliver(bus, ports, dataset)
    [failed] = failures(bus)
    assert failed.stage == "load" and "cannot read" in failed.reason


@pytest.mark.parametrize(
    ("request_", "fragment"),
    [
        (ev.RetrainRequested(model_name="nobody", dataset_id="abc"), "no dataset seen for model 'nobody'"),
        (ev.RetrainRequested(), "names neither a known dataset_id nor a model_name"),
    ],
)
async def test_retrain_without_any_dataset_is_dead_lettered(bus, ports, request_, fragment) -> None:  # type: ignore[no-untyped-def]
    await deliver(bus, ports, request_)
    assert bus.on(topics.MODELS) == []
    [reason] = dead_letter_reasons(bus)
    assert fragment in reason


async def test_dataset_without_uri_is_dead_lettered(bus, ports, make_dataset) -> None:  # type: ignore[no-untyped-def]
    dataset = make_dataset()
    dataset.uri = ""
    await deliver(bus, ports, dataset)
    assert bus.on(topics.MODELS) == []
    [reason] = dead_letter_reasons(bus)
    assert "lacks uri" in reason


async def test_runs_api_lists_and_finds_runs(app, bus, ports, make_dataset) -> None:  # type: ignore[no-untyped-def]
    await deliver(bus, ports, make_dataset())
    await deliver(bus, ports, make_dataset(estimator="nope"))
    client = signed(TestClient(app))
    runs = client.get("/runs").json()
    assert [r["status"] for r in runs] == ["failed", "trained"]
    trained = bus.events(ev.ModelTrained)[0]
    one = client.get(f"/runs/{trained.run_id}").json()
    assert one["metrics"]["roc_auc"] == pytest.approx(trained.metrics["roc_auc"])
    missing = client.get("/runs/unknown")
    assert missing.status_code == 404 and "unknown" in missing.json()["detail"]


async def test_a_redelivered_trigger_republishes_the_same_run(bus, ports, make_dataset) -> None:  # type: ignore[no-untyped-def]
    dataset = make_dataset()
    await bus.publish(dataset, "s")
    record = bus.records[-1]
    dispatcher = Dispatcher(handlers(ports), group="trainer", max_retries=0)
    assert await dispatcher.dispatch(record) is None
    assert await dispatcher.dispatch(record) is None  # the same record again, as after a crash before commit
    first, second = bus.events(ev.ModelTrained)
    assert first == second  # same run id, same artifact: the registry registers it once
    assert len(ports.state.recent_runs(10)) == 1


async def test_the_run_record_shows_the_search_trials(app, bus, ports, make_dataset) -> None:  # type: ignore[no-untyped-def]
    dataset = make_dataset()
    dataset.training.search.CopyFrom(ev.SearchSpec(method="random", space={"C": "[0.1, 1.0, 10.0]"}, cv=2,
                                                   budget=2))
    await deliver(bus, ports, dataset)
    [trained] = bus.events(ev.ModelTrained)
    run = signed(TestClient(app)).get(f"/runs/{trained.run_id}").json()
    assert len(run["trials"]) == 2 == len(trained.trials)
    assert {t["rank"] for t in run["trials"]} == {1, 2}
    assert run["training_rows"] == trained.training_rows and run["source"] == "platform"
