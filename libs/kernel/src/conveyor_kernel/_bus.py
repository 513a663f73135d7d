"""Publishing and consuming lifecycle events: one dispatch rule, two transports (Kafka and memory).

A handler is `async def handle(event, envelope) -> None`. The consumer loop owns every decision about
failure: InvalidMessage → dead letter at once; TransientError → bounded retries, then dead letter;
anything else is a bug and is dead-lettered with its type and text, so the stream keeps moving and
nothing is lost silently.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from google.protobuf.message import Message
from opentelemetry import trace
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from ._envelope import Envelope, Headers, decode_event
from ._errors import InvalidMessage, TransientError
from ._telemetry import context_of, current_trace_headers, tracer
from ._topics import DEAD_LETTER, topic_for, type_name

logger = logging.getLogger(__name__)

Handler = Callable[[Any, Envelope], Awaitable[None]]
HandlerTable = Mapping[type[Message], Handler]


@dataclass(frozen=True)
class Record:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers
    partition: int = 0
    offset: int = 0


class Publisher(Protocol):
    async def publish(self, event: Message, subject: str) -> Envelope: ...


def build_record(event: Message, subject: str, source: str, prefix: str = "") -> tuple[Record, Envelope]:
    """Wrap an event in its envelope, carrying the current trace context."""
    trace_headers = current_trace_headers()
    envelope = Envelope(
        type=type_name(type(event)),
        source=source,
        subject=subject,
        traceparent=trace_headers.get("traceparent", ""),
        tracestate=trace_headers.get("tracestate", ""),
    )
    record = Record(
        topic=topic_for(type(event), prefix),
        key=subject.encode(),
        value=event.SerializeToString(),
        headers=envelope.to_headers(),
    )
    return record, envelope


def dead_letter(record: Record, reason: str, group: str) -> Record:
    headers = [h for h in record.headers if not h[0].startswith("dlq_")]
    headers += [
        ("dlq_reason", reason.encode()),
        ("dlq_topic", record.topic.encode()),
        ("dlq_partition", str(record.partition).encode()),
        ("dlq_offset", str(record.offset).encode()),
        ("dlq_group", group.encode()),
    ]
    return Record(topic=DEAD_LETTER, key=record.key, value=record.value, headers=headers)


@dataclass
class Dispatcher:
    """Decodes one record, finds its handler, runs it under the failure rules above."""

    handlers: HandlerTable
    group: str
    max_retries: int = 3
    retry_wait: float = 0.2
    _by_type: dict[str, Handler] = field(init=False)

    def __post_init__(self) -> None:
        self._by_type = {type_name(cls): handler for cls, handler in self.handlers.items()}

    async def dispatch(self, record: Record) -> Record | None:
        """Handle the record; return a dead-letter record if it must go to the dead-letter topic."""
        try:
            envelope = Envelope.from_headers(record.headers)
        except InvalidMessage as exc:
            return dead_letter(record, f"invalid envelope: {exc}", self.group)
        handler = self._by_type.get(envelope.type)
        if handler is None:
            return None  # another consumer's event on a shared topic
        try:
            event = decode_event(envelope, record.value)
        except InvalidMessage as exc:
            return dead_letter(record, str(exc), self.group)
        span_name = f"consume {envelope.type.rsplit('.', 1)[-1]}"
        with tracer.start_as_current_span(
            span_name, context=context_of(envelope), kind=trace.SpanKind.CONSUMER
        ) as span:
            span.set_attribute("messaging.destination.name", record.topic)
            span.set_attribute("cloudevents.event_id", envelope.id)
            span.set_attribute("cloudevents.event_subject", envelope.subject)
            try:
                async for attempt in AsyncRetrying(
                    retry=retry_if_exception_type(TransientError),
                    stop=stop_after_attempt(self.max_retries + 1),
                    wait=wait_exponential(multiplier=self.retry_wait, max=5),
                    reraise=True,
                ):
                    with attempt:
                        await handler(event, envelope)
            except InvalidMessage as exc:
                span.set_status(trace.StatusCode.ERROR, str(exc))
                return dead_letter(record, str(exc), self.group)
            except TransientError as exc:
                span.set_status(trace.StatusCode.ERROR, str(exc))
                return dead_letter(record, f"gave up after {self.max_retries + 1} attempts: {exc}", self.group)
            except Exception as exc:  # noqa: BLE001 - a handler bug must not stall the partition
                logger.exception("handler for %s failed on event %s", envelope.type, envelope.id)
                span.record_exception(exc)
                span.set_status(trace.StatusCode.ERROR, str(exc))
                return dead_letter(record, f"unhandled {type(exc).__name__}: {exc}", self.group)
        return None


class InMemoryBus:
    """A broker in a list: for unit tests of handlers and the contract suite. Never for flow tests."""

    def __init__(self, source: str = "test", prefix: str = "") -> None:
        self.source = source
        self.prefix = prefix
        self.records: list[Record] = []
        self._offsets: dict[str, int] = {}

    async def publish(self, event: Message, subject: str) -> Envelope:
        record, envelope = build_record(event, subject, self.source, self.prefix)
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
