"""The contract suite on the real broker: fresh topics and group per test."""

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from conveyor_kernel import EventRuntime, Record, ServiceSettings, topics
from conveyor_kernel.kafka import ensure_topics

from .contract import PUBLISHES, BusContract

pytestmark = pytest.mark.integration


class KafkaTransport:
    def __init__(self, kafka_settings) -> None:
        self.kafka = kafka_settings.model_copy(update={"retry_wait": 0})
        self.settings = ServiceSettings(kafka=self.kafka)
        self.runtime = EventRuntime(self.settings, source="test", publishes=PUBLISHES)

    def topic(self, name: str) -> str:
        return self.runtime.topic(name)

    async def publish(self, event, subject):
        return await self.runtime.publisher.publish(event, subject)

    async def send_raw(self, record: Record) -> None:
        await self.runtime.publisher.send(record)

    async def consume(self, handlers, topic_names, count):
        consumer = EventRuntime(self.settings, source="test")
        consumer.subscribe(handlers, group="contract")
        assert consumer.subscribed == tuple(sorted(topic_names))
        await consumer.start()
        try:
            [loop] = consumer.consumers
            for _ in range(600):
                if loop.handled >= count:
                    break
                await asyncio.sleep(0.1)
            assert loop.handled >= count, f"handled {loop.handled} of {count} records within 60 s"
        finally:
            await consumer.stop()

    async def dead_letters(self):
        partition = TopicPartition(self.topic(topics.DEAD_LETTER), 0)
        consumer = AIOKafkaConsumer(**self.kafka.client_options(), enable_auto_commit=False)
        await consumer.start()
        try:
            consumer.assign([partition])
            await consumer.seek_to_beginning(partition)
            total = (await consumer.end_offsets([partition]))[partition]
            records: list[Record] = []
            while len(records) < total:
                for messages in (await consumer.getmany(partition, timeout_ms=1000)).values():
                    records += [Record(m.topic, m.key, m.value, list(m.headers), m.partition, m.offset)
                                for m in messages]
            return records
        finally:
            await consumer.stop()


@pytest.fixture
async def bus(kafka_settings):
    await ensure_topics(kafka_settings, [*topics.TOPIC_OF.values(), topics.DEAD_LETTER])
    transport = KafkaTransport(kafka_settings)
    await transport.runtime.start()
    yield transport
    await transport.runtime.stop()


class TestKafkaBus(BusContract):
    pass
