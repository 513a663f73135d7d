"""The monitor against the real broker: faust agents, kernel publisher, REST, all in one event loop."""

import asyncio
import time

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import Envelope, KafkaSettings, _bus, decode_event, kafka, topics
from conveyor_kernel.callers import AllowedCaller
from conveyor_kernel.kafka import KafkaPublisher
from conveyor_monitor import handlers
from conveyor_monitor.settings import MonitorSettings
from conveyor_monitor.wiring import create_app

pytestmark = pytest.mark.integration

WINDOW = 200
BATCH = 50


async def eventually(check, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def read_topic(kafka: KafkaSettings, topic: str) -> list[tuple[Envelope, object, list]]:
    """Every record on a one-partition topic up to its current end."""
    consumer = AIOKafkaConsumer(
        **kafka.client_options(), enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        consumer.seek(tp, 0)  # topics are fresh per test: offset 0 is the beginning
        found = []
        while await consumer.position(tp) < end:
            for message in (await consumer.getmany(tp, timeout_ms=500)).get(tp, []):
                envelope = Envelope.from_headers(list(message.headers))
                headers = list(message.headers)
                value = decode_event(envelope, message.value) if "dlq_reason" not in dict(headers) else None
                found.append((envelope, value, headers))
        return found
    finally:
        await consumer.stop()


@pytest.fixture
def spans(monkeypatch):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()  # local: the process-wide provider other tests rely on stays untouched
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    for module in (_bus, kafka, handlers):
        monkeypatch.setattr(module, "tracer", tracer)
    return exporter


async def test_drift_is_detected_once_per_shift(kafka_settings, backend, tmp_path, samples, spans):
    settings = MonitorSettings(
        kafka=kafka_settings, data_dir=tmp_path, window_size=WINDOW, retrain_cooldown_seconds=300,
        **backend.settings,
    )
    app = create_app(settings)
    registry = KafkaPublisher(kafka_settings, source="registry")
    serving = KafkaPublisher(kafka_settings, source="serving")
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://monitor", auth=AllowedCaller.of(app)
    ) as client:
        await registry.start()
        await serving.start()
        try:
            async def ready():
                return (await client.get("/readyz")).status_code == 200

            await eventually(ready, "/readyz")
            assert (await client.get("/models/churn/drift")).status_code == 404

            _, uri = settings.artifacts().put_json("references", samples.reference())
            await registry.publish(
                ev.ModelPromoted(model_name="churn", version=1, reference_uri=uri, dataset_id="d1"), "churn"
            )

            async def evaluations(count: int):
                response = await client.get("/models/churn/drift")
                if response.status_code == 200 and len(response.json()["evaluations"]) >= count:
                    return response.json()["evaluations"]
                return None

            await eventually(lambda: evaluations(0), "the champion to be learned")

            for _ in range(2 * WINDOW // BATCH):
                await serving.publish(samples.batch("churn", 1, BATCH), "churn")
            calm = await eventually(lambda: evaluations(2), "two undrifted windows")
            assert not any(e["dataset_drifted"] for e in calm)

            # An undecodable record goes to the dead-letter topic and does not stall the stream.
            junk = AIOKafkaProducer(**kafka_settings.client_options())
            await junk.start()
            headers = Envelope("conveyor.events.v1.PredictionsLogged", "serving", "churn").to_headers()
            await junk.send_and_wait(kafka_settings.topic(topics.PREDICTIONS), b"\xff\xff not protobuf",
                                     headers=headers)
            await junk.stop()

            for _ in range(3 * WINDOW // BATCH):
                await serving.publish(samples.batch("churn", 1, BATCH, shifted=True), "churn")
            history = await eventually(lambda: evaluations(5), "three shifted windows")
        finally:
            await serving.stop()
            await registry.stop()

        assert [e["dataset_drifted"] for e in history] == [True, True, True, False, False]
        assert [e["published"] for e in history] == [False, True, False, False, False]  # confirmed on the 2nd
        assert history[0]["features"][0]["psi_reference_deciles"] > 0.1

        monitoring = await read_topic(kafka_settings, kafka_settings.topic(topics.MONITORING))
        # the fact, then the retrain it asked for, waiting: no label has been posted
        assert [type(value).__name__ for _, value, _ in monitoring] == ["DriftDetected", "RetrainDeferred"]
        envelope, drift, _ = monitoring[0]
        assert envelope.source == "monitor" and envelope.subject == "churn" and envelope.traceparent
        assert drift.version == 1 and drift.window_size == WINDOW and drift.drift_share == 1.0
        assert monitoring[1][1].trigger == "drift" and monitoring[1][1].labelled_rows == 0

        evaluations_spans = [s for s in spans.get_finished_spans() if s.name == "evaluate drift"]
        assert len(evaluations_spans) == 5
        assert all(len(s.links) == WINDOW // BATCH for s in evaluations_spans)  # fan-in: one link per batch
        # and a child of the batch that opened its window: the trace goes on where links are not shown
        assert all(s.parent is not None and s.parent.span_id == s.links[0].context.span_id
                   and s.context.trace_id == s.links[0].context.trace_id for s in evaluations_spans)
        alarm = next(s for s in evaluations_spans if s.context.trace_id == int(envelope.traceparent[3:35], 16))
        assert alarm.attributes["conveyor.drift_share"] == 1.0

        dead = await read_topic(kafka_settings, kafka_settings.topic(topics.DEAD_LETTER))
        assert len(dead) == 1 and b"not a valid" in dict(dead[0][2])["dlq_reason"]

        metrics = (await client.get("/metrics")).text
        assert 'conveyor_monitor_predictions_consumed_total{model="churn"} 1000.0' in metrics
        assert 'conveyor_monitor_drift_events_total{model="churn"} 1.0' in metrics
