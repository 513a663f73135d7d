import pytest

from conveyor_kernel import EventRuntime, KafkaSettings, Record, ServiceSettings, topics
from conveyor_kernel.memory import InMemoryBus

from .contract import PUBLISHES, BusContract


class MemoryTransport:
    def __init__(self) -> None:
        self.bus = InMemoryBus(source="test")
        self.settings = ServiceSettings(kafka=KafkaSettings(max_retries=1, retry_wait=0))
        self.runtime = EventRuntime(self.settings, source="test", publishes=PUBLISHES, transport=self.bus)

    def topic(self, name: str) -> str:
        return self.runtime.topic(name)

    async def publish(self, event, subject):
        return await self.runtime.publisher.publish(event, subject)

    async def send_raw(self, record: Record) -> None:
        await self.bus.send(record)

    async def consume(self, handlers, topic_names, count):
        consumer = EventRuntime(self.settings, source="test", transport=self.bus)
        consumer.subscribe(handlers, group="contract")
        assert consumer.subscribed == tuple(sorted(topic_names))
        await consumer.start()
        await consumer.deliver()

    async def dead_letters(self):
        return self.bus.on(topics.DEAD_LETTER)


@pytest.fixture
def bus():
    return MemoryTransport()


class TestInMemoryBus(BusContract):
    pass
