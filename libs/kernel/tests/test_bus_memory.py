import pytest

from conveyor_kernel import Dispatcher, InMemoryBus, Record, topics

from .contract import BusContract


class MemoryTransport:
    def __init__(self) -> None:
        self.bus = InMemoryBus(source="test")
        self.position = 0

    def topic(self, name: str) -> str:
        return name

    async def publish(self, event, subject):
        return await self.bus.publish(event, subject)

    async def send_raw(self, record: Record) -> None:
        await self.bus.send(record)

    async def consume(self, handlers, topic_names, count):
        dispatcher = Dispatcher(handlers, group="test", max_retries=1, retry_wait=0)
        self.position = await self.bus.drain(dispatcher, topic_names, self.position)

    async def dead_letters(self):
        return self.bus.on(topics.DEAD_LETTER)


@pytest.fixture
def bus():
    return MemoryTransport()


class TestInMemoryBus(BusContract):
    pass
