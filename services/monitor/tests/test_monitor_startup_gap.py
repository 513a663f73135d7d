"""A backlog waiting at start-up is consumed whole: faust's recovery gap (rewind.py) loses no batch.

faust clears its stream queues when recovery ends; records it fetched while looking up committed offsets are
dropped and, on a partition without a committed offset, never fetched again. The test makes that gap
certain instead of occasional: the first batch's handler is held while faust finishes recovery, so the rest
of the backlog sits in the queue that faust clears.
"""

import asyncio
import time

import faust.transport.consumer
import pytest

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel.kafka import KafkaPublisher
from conveyor_monitor import handlers
from conveyor_monitor.settings import MonitorSettings
from conveyor_monitor.wiring import create_app

pytestmark = pytest.mark.integration

WINDOW = 200
BATCH = 25


async def until(check, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def test_a_backlog_at_start_up_is_consumed_without_a_gap(kafka_settings, tmp_path, samples, monkeypatch):
    settings = MonitorSettings(kafka=kafka_settings, data_dir=tmp_path, window_size=WINDOW)
    _, uri = settings.artifacts().put_json("references", samples.reference())
    first = create_app(settings)
    async with first.router.lifespan_context(first):  # learn the champion, then stop: nothing consumed yet
        monitor, stream = first.state.monitor, first.state.stream
        await until(lambda: not stream.problems(), "the first monitor to be ready")
        registry = KafkaPublisher(kafka_settings, source="registry")
        await registry.start()
        await registry.publish(ev.ModelPromoted(model_name="churn", version=1, reference_uri=uri), "churn")
        await registry.stop()
        await until(lambda: monitor.champions.get("churn") is not None, "the champion")
    serving = KafkaPublisher(kafka_settings, source="serving")
    await serving.start()
    for _ in range(WINDOW // BATCH):
        await serving.publish(samples.batch("churn", 1, BATCH), "churn")
    await serving.stop()

    entered, release = asyncio.Event(), asyncio.Event()
    consume = handlers.Monitor.on_predictions

    async def held(self, event, envelope):
        entered.set()
        await release.wait()
        await consume(self, event, envelope)

    seek = faust.transport.consumer.Consumer.perform_seek

    async def seek_once_a_batch_is_held(self):
        try:  # the backlog is fetched and queued meanwhile; faust clears the queue right after this
            await asyncio.wait_for(entered.wait(), timeout=10)
        except TimeoutError:
            pass
        await seek(self)

    monkeypatch.setattr(handlers.Monitor, "on_predictions", held)
    monkeypatch.setattr(faust.transport.consumer.Consumer, "perform_seek", seek_once_a_batch_is_held)
    second = create_app(settings)
    async with second.router.lifespan_context(second):
        monitor, stream = second.state.monitor, second.state.stream
        await until(lambda: not stream.problems(), "the second monitor to be ready")
        assert entered.is_set(), "the gap was not provoked: no batch reached the handler during recovery"
        release.set()
        consumed = monitor.metrics.predictions_consumed.labels("churn")
        await until(lambda: consumed._value.get() >= WINDOW, f"{WINDOW} predictions (a lost batch stops short)",
                    timeout=30)
        assert monitor.history.report("churn")["evaluations"][0]["window_size"] == WINDOW
        assert monitor.windows.pending("churn") == 0  # replayed batches were not counted twice
        assert consumed._value.get() == WINDOW
