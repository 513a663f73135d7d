"""The registry as deployed: real EventRuntime, real broker, real SQLite file, migrations at start-up."""

import asyncio

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import Envelope, KafkaSettings, decode_event, topics
from conveyor_kernel.callers import AllowedCaller
from conveyor_kernel.kafka import KafkaPublisher, ensure_topics
from conveyor_registry.settings import RegistrySettings
from conveyor_registry.wiring import create_app

pytestmark = pytest.mark.integration


async def until(condition, what: str, seconds: float = 60) -> None:
    for _ in range(int(seconds * 10)):
        if await condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {seconds} s")


class TopicReader:
    """Reads a topic from its start without a group, so it never disturbs the service's offsets."""

    def __init__(self, kafka: KafkaSettings, topic: str) -> None:
        self.partition = TopicPartition(topic, 0)
        self.consumer = AIOKafkaConsumer(**kafka.client_options(), enable_auto_commit=False)
        self.events: list[tuple[Envelope, object]] = []

    async def __aenter__(self) -> "TopicReader":
        await self.consumer.start()
        self.consumer.assign([self.partition])
        await self.consumer.seek_to_beginning(self.partition)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.consumer.stop()

    async def poll(self) -> list[tuple[Envelope, object]]:
        for messages in (await self.consumer.getmany(self.partition, timeout_ms=200)).values():
            for m in messages:
                envelope = Envelope.from_headers(list(m.headers))
                self.events.append((envelope, decode_event(envelope, m.value)))
        return self.events

    async def read_to_end(self) -> list[tuple[Envelope, object]]:
        end = (await self.consumer.end_offsets([self.partition]))[self.partition]
        while await self.consumer.position(self.partition) < end:
            await self.poll()
        return self.events


async def test_model_trained_on_kafka_is_registered_promoted_and_deduplicated(
    kafka_settings, backend, tmp_path, make_trained
):
    settings = RegistrySettings(data_dir=tmp_path, kafka=kafka_settings, **backend.settings)
    registry_topic = kafka_settings.topic(topics.REGISTRY)
    await ensure_topics(kafka_settings, [topics.REGISTRY, topics.MODELS])
    app = create_app(settings)
    trainer = KafkaPublisher(kafka_settings, source="trainer")
    await trainer.start()
    try:
        async with app.router.lifespan_context(app), TopicReader(
            kafka_settings, registry_topic
        ) as reader, httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                       auth=AllowedCaller.of(app)) as http:
            runtime = app.state.runtime

            async def ready():
                return (await http.get("/readyz")).status_code == 200

            await until(ready, "readiness (producer, consumer, partition assignment)")
            event = make_trained("run-kafka-1", {"roc_auc": 0.91})
            await trainer.publish(event, event.model_name)
            await trainer.publish(event, event.model_name)  # redelivery of the same run

            async def both_handled():
                return runtime.consumers[0].handled >= 2

            await until(both_handled, "the registry consuming both deliveries")

            # a handled record's events were acknowledged by the broker before its offset was committed,
            # so everything both deliveries produced is below the end offset now
            kinds = [type(e).__name__ for _, e in await reader.read_to_end()]
            assert kinds == ["ModelRegistered", "ModelPromoted"]
            envelope, promoted = reader.events[1]
            assert isinstance(promoted, ev.ModelPromoted)
            assert (promoted.model_name, promoted.version, promoted.action, promoted.approved_by) == (
                "churn", 1, "promote", "policy")
            assert envelope.source == "registry" and envelope.subject == "churn"
            model = (await http.get("/models/churn")).json()
            assert (model["champion_version"], model["latest_version"]) == (1, 1)
    finally:
        await trainer.stop()
    assert (tmp_path / "registry" / "registry.db").exists() is not backend.distributed  # PostgreSQL: no file


async def test_a_retrain_on_kafka_is_promoted_on_its_fresh_comparison(kafka_settings, backend, tmp_path, make_trained):
    from .test_registry_handlers import with_comparison

    settings = RegistrySettings(data_dir=tmp_path, kafka=kafka_settings, **backend.settings)
    await ensure_topics(kafka_settings, [topics.REGISTRY, topics.MODELS])
    app = create_app(settings)
    trainer = KafkaPublisher(kafka_settings, source="trainer")
    await trainer.start()
    try:
        async with app.router.lifespan_context(app), TopicReader(
            kafka_settings, kafka_settings.topic(topics.REGISTRY)
        ) as reader, httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                       auth=AllowedCaller.of(app)) as http:
            async def ready():
                return (await http.get("/readyz")).status_code == 200

            await until(ready, "readiness")
            first = make_trained("run-k1", {"roc_auc": 0.90})
            first.training.retrain.CopyFrom(ev.RetrainPolicy(include_original=True, min_labels=100,
                                                             fresh_holdout_fraction=0.3))
            first.inputs.append(ev.ModelInput(name="age", datatype="FP32", kind=ev.COLUMN_KIND_NUMERIC))
            retrained = with_comparison(make_trained("run-k2", {}), champion=0.6, challenger=0.75)
            retrained.training.retrain.CopyFrom(first.training.retrain)
            retrained.inputs.extend(first.inputs)
            await trainer.publish(first, first.model_name)
            await trainer.publish(retrained, retrained.model_name)

            async def both_promoted():
                return sum(isinstance(e, ev.ModelPromoted) for _, e in await reader.poll()) >= 2

            await until(both_promoted, "both versions promoted")
    finally:
        await trainer.stop()
    promoted = [e for _, e in reader.events if isinstance(e, ev.ModelPromoted)][-1]
    assert (promoted.version, promoted.previous_version) == (2, 1)
    assert "roc_auc 0.750 >= champion v1 0.600 - 0.01 on the newest 240" in promoted.reasons[0]
    assert promoted.retrain.min_labels == 100 and [i.name for i in promoted.inputs] == ["age"]
