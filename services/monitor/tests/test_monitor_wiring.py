"""The app as wiring builds it, on the in-memory bus, and the agents' dead-letter rule (no broker)."""

from types import SimpleNamespace

import httpx

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import Dispatcher, Envelope, TransientError, topics
from conveyor_kernel.callers import AllowedCaller
from conveyor_kernel.memory import InMemoryBus, build_record
from conveyor_monitor.adapters.agents import _consumer
from conveyor_monitor.settings import MonitorSettings
from conveyor_monitor.wiring import create_app

WINDOW = 200


async def test_the_in_memory_app_consumes_its_table_and_alarms_once_per_shift(tmp_path, samples):
    settings = MonitorSettings(data_dir=tmp_path, window_size=WINDOW)
    bus = InMemoryBus(source="serving")
    app = create_app(settings, transport=bus)
    runtime = app.state.runtime
    assert runtime.subscribed == topics.subscribed_by(app.state.handlers) and app.state.stream is None
    _, uri = settings.artifacts().put_json("references", samples.reference())
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://monitor", auth=AllowedCaller.of(app)
    ) as client:
        assert (await client.get("/readyz")).json() == {"ready": True}
        await bus.publish(ev.ModelPromoted(model_name="churn", version=1, reference_uri=uri, dataset_id="d1"), "churn")
        for _ in range(3 * WINDOW // 50):
            await bus.publish(samples.batch("churn", 1, 50, shifted=True), "churn")
        await runtime.deliver()
        report = (await client.get("/models/churn/drift")).json()
    assert [e["published"] for e in report["evaluations"]] == [False, True, False]  # newest first
    assert report["evaluations"][1]["retrain"] == "deferred: waiting for labelled data: 0 of 200 labels"
    assert report["open_window_rows"] == 0
    assert len(bus.events(ev.DriftDetected)) == 1 and len(bus.events(ev.RetrainDeferred)) == 1


async def test_a_dead_letter_the_broker_refuses_is_logged_and_dropped(caplog):
    async def refuse(letter):
        raise TransientError("broker unavailable")

    record, _ = build_record(ev.ModelPromoted(model_name="churn", version=1), "churn", "registry")

    async def handle(event, envelope: Envelope) -> None:
        raise AssertionError("not reached: the value below is not protobuf")

    async def events():
        for _ in range(2):  # the stream goes on after the first refusal
            yield SimpleNamespace(message=SimpleNamespace(topic=record.topic, key=record.key, value=b"\xff",
                                                          headers=record.headers, partition=0, offset=7))

    consume = _consumer(Dispatcher({ev.ModelPromoted: handle}, group="monitor"), refuse)
    await consume(SimpleNamespace(events=events))
    dropped = [r for r in caplog.records if "record dropped" in r.getMessage()]
    assert len(dropped) == 2 and "conveyor.registry@7" in dropped[0].getMessage()
