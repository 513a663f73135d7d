"""Finding 7 of issue 15 on the real broker: the registry skipped a record of an unknown type, or of a type
that travels on another topic, silently; a producer that is broken or hostile went unnoticed. Each is now a
dead letter naming the type, and the stream keeps moving: a good record after them is registered."""

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import Envelope, topics
from conveyor_kernel.callers import AllowedCaller
from conveyor_kernel.kafka import KafkaPublisher, ensure_topics
from conveyor_registry.settings import RegistrySettings
from conveyor_registry.wiring import create_app

from .test_registry_kafka import until

pytestmark = pytest.mark.integration


async def _send_raw(kafka_settings, topic: str, records: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(**kafka_settings.client_options())
    await producer.start()
    try:
        for type_, value in records:
            headers = Envelope(type=type_, source="intruder", subject="churn").to_headers()
            await producer.send_and_wait(topic, value=value, key=b"churn", headers=list(headers))
    finally:
        await producer.stop()


async def _dead_letter_headers(kafka_settings) -> list[dict[str, str]]:
    """The headers of every dead letter so far (their values are the refused bytes: not decoded)."""
    partition = TopicPartition(kafka_settings.topic(topics.DEAD_LETTER), 0)
    consumer = AIOKafkaConsumer(**kafka_settings.client_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        end = (await consumer.end_offsets([partition]))[partition]
        found: list[dict[str, str]] = []
        while await consumer.position(partition) < end:
            for messages in (await consumer.getmany(partition, timeout_ms=200)).values():
                found += [{k: v.decode() for k, v in m.headers} for m in messages]
        return found
    finally:
        await consumer.stop()


async def test_unknown_misplaced_and_undecodable_records_are_dead_lettered(kafka_settings, tmp_path, make_trained):
    settings = RegistrySettings(data_dir=tmp_path, kafka=kafka_settings)
    models_topic = kafka_settings.topic(topics.MODELS)
    await ensure_topics(kafka_settings, [topics.REGISTRY, topics.MODELS, topics.DEAD_LETTER])
    app = create_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t", auth=AllowedCaller.of(app)
    ) as http:
        async def ready():
            return (await http.get("/readyz")).status_code == 200

        await until(ready, "readiness")
        await _send_raw(kafka_settings, models_topic, [
            ("conveyor.events.v1.ModelBaked", b"\x01\x02"),  # no contract has this type
            ("conveyor.events.v1.ModelPromoted", ev.ModelPromoted(model_name="churn", version=7).SerializeToString()),
            ("conveyor.events.v1.ModelTrained", b"\xff\xff\xff"),  # the right type, bytes that are not one
            # another consumer's event on this topic: not the registry's to refuse
            ("conveyor.events.v1.ModelTrainingFailed", ev.ModelTrainingFailed(model_name="churn").SerializeToString()),
        ])
        trainer = KafkaPublisher(kafka_settings, source="trainer")
        await trainer.start()
        try:
            good = make_trained("run-after-refusals", {"roc_auc": 0.9})
            await trainer.publish(good, good.model_name)
        finally:
            await trainer.stop()

        async def registered():
            return (await http.get("/models/churn")).status_code == 200

        await until(registered, "the good record after the refused ones registered")
    letters = await _dead_letter_headers(kafka_settings)
    assert [(h["dlq_group"], h["dlq_topic"]) for h in letters] == [("registry", models_topic)] * 3
    reasons = [h["dlq_reason"] for h in letters]
    assert reasons[0] == "unknown event type 'conveyor.events.v1.ModelBaked': no contract in conveyor.events.v1 has it"
    assert reasons[1] == (f"conveyor.events.v1.ModelPromoted belongs on {kafka_settings.topic(topics.REGISTRY)}, "
                          f"not on {models_topic}")
    assert reasons[2].startswith("value is not a valid conveyor.events.v1.ModelTrained"), reasons[2]
