"""The in-memory bus: a broker in a list, for unit tests of handlers and the bus contract suite.

Never for a test that claims a flow works: those run on the real broker. Topics carry their base names.
"""

import asyncio
from collections.abc import Iterable
from typing import Any

from google.protobuf.message import Message

from ._bus import Dispatcher, Record, build_record
from ._envelope import Envelope, decode_event
from .topics import named, type_name

__all__ = ["InMemoryBus", "build_record"]


class InMemoryBus:
    def __init__(self, source: str = "test") -> None:
        self.source = source
        self.records: list[Record] = []
        self.lineage: list[dict[str, Any]] = []  # OpenLineage run events (JSON), as the Kafka transport sends them
        self._offsets: dict[str, int] = {}

    def topic(self, topic: str | type[Message]) -> str:
        """Full topic names on this bus are the base names."""
        return named(topic)

    async def publish(self, event: Message, subject: str, *, event_id: str | None = None,
                      time: str | None = None, source: str | None = None) -> Envelope:
        """`source`: the publishing service (an EventRuntime on this bus passes its own); else the bus's."""
        record, envelope = build_record(event, subject, source or self.source, event_id=event_id, time=time)
        await self.send(record)
        return envelope

    async def send(self, record: Record) -> None:
        offset = self._offsets.get(record.topic, 0)
        self._offsets[record.topic] = offset + 1
        self.records.append(
            Record(record.topic, record.key, record.value, list(record.headers), 0, offset)
        )

    def on(self, topic: str) -> list[Record]:
        return [r for r in self.records if r.topic == topic]

    def events(self, message_cls: type[Message]) -> list[Message]:
        wanted = type_name(message_cls)
        found = []
        for record in self.records:
            envelope = Envelope.from_headers(record.headers)
            if envelope.type == wanted:
                found.append(decode_event(envelope, record.value))
        return found

    async def drain(self, dispatcher: Dispatcher, topics: Iterable[str], start: int = 0) -> int:
        """Deliver every record on `topics` from index `start`, as a consumer would; return the new index."""
        topics = set(topics)
        index = start
        while index < len(self.records):
            record = self.records[index]
            index += 1
            if record.topic in topics:
                failed = await dispatcher.dispatch(record)
                if failed is not None:
                    await self.send(failed)
            await asyncio.sleep(0)
        return index
