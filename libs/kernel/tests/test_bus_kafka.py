"""The contract suite on the real broker: fresh topics and group per test."""

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from conveyor_kernel import Dispatcher, KafkaConsumerLoop, KafkaPublisher, Record, ensure_topics, topics

from .contract import BusContract

pytestmark = pytest.mark.integration


class KafkaTransport:
    def __init__(self, settings) -> None:
        self.settings = settings
        self.publisher = KafkaPublisher(settings, source="test")

    def topic(self, name: str) -> str:
        return self.settings.topic_prefix + name

    async def publish(self, event, subject):
        return await self.publisher.publish(event, subject)

    async def send_raw(self, record: Record) -> None:
        await self.publisher.send(record)

    async def consume(self, handlers, topic_names, count):
        dispatcher = Dispatcher(handlers, group="contract", max_retries=1, retry_wait=0)
        loop = KafkaConsumerLoop(self.settings, topic_names, "contract", dispatcher, self.publisher)
        await loop.start()
        try:
            for _ in range(600):
                if loop.handled >= count:
                    break
                await asyncio.sleep(0.1)
            assert loop.handled >= count, f"handled {loop.handled} of {count} records within 60 s"
        finally:
            await loop.stop()

    async def dead_letters(self):
        partition = TopicPartition(self.topic(topics.DEAD_LETTER), 0)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.bootstrap_servers, enable_auto_commit=False)
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
    await ensure_topics(kafka_settings, [kafka_settings.topic_prefix + t for t in topics.TOPIC_OF.values()])
    transport = KafkaTransport(kafka_settings)
    await transport.publisher.start()
    yield transport
    await transport.publisher.stop()


class TestKafkaBus(BusContract):
    pass
