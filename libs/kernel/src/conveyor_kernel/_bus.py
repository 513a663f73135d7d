"""Publishing and consuming lifecycle events: one dispatch rule and one dead-letter forwarder for every
transport (Kafka, faust, the audit ledger's own reader, and the in-memory bus of unit tests).

A handler is `async def handle(event, envelope) -> None`. The consumer loop owns every decision about
failure: InvalidMessage → dead letter at once; TransientError → bounded retries, then dead letter;
BrokerUnavailable → raised to the loop, which waits for the broker and hands it the record again (the
broker being away is not the record's fault); anything else is a bug and is dead-lettered with its type
and text, so the stream keeps moving and nothing is lost silently.
"""

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from google.protobuf.message import Message
from opentelemetry import trace
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from ._envelope import Envelope, Headers, decode_event
from ._errors import BrokerUnavailable, InvalidMessage, TransientError
from ._telemetry import context_of, current_trace_headers, tracer
from .topics import DEAD_LETTER, EVENT_TYPES, named, type_name

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
    """What ports that announce facts hold. `event_id`/`time` are for events whose id must be derived
    (so that copies deduplicate), such as the ledger's checkpoints."""

    async def publish(self, event: Message, subject: str, *, event_id: str | None = None,
                      time: str | None = None) -> Envelope: ...

    async def send(self, record: Record) -> None: ...


def build_record(event: Message, subject: str, source: str, prefix: str = "", *, event_id: str | None = None,
                 time: str | None = None) -> tuple[Record, Envelope]:
    """Wrap an event in its envelope, carrying the current trace context."""
    trace_headers = current_trace_headers()
    stamps = {k: v for k, v in (("id", event_id), ("time", time)) if v}
    envelope = Envelope(
        type=type_name(type(event)),
        source=source,
        subject=subject,
        traceparent=trace_headers.get("traceparent", ""),
        tracestate=trace_headers.get("tracestate", ""),
        **stamps,
    )
    record = Record(
        topic=named(type(event), prefix),
        key=subject.encode(),
        value=event.SerializeToString(),
        headers=envelope.to_headers(),
    )
    return record, envelope


def dead_letter(record: Record, reason: str, group: str, topic: str = DEAD_LETTER) -> Record:
    """The record as it goes to the dead-letter topic: its bytes unchanged, why and whence in headers."""
    headers = [h for h in record.headers if not h[0].startswith("dlq_")]
    headers += [
        ("dlq_reason", reason.encode()),
        ("dlq_topic", record.topic.encode()),
        ("dlq_partition", str(record.partition).encode()),
        ("dlq_offset", str(record.offset).encode()),
        ("dlq_group", group.encode()),
    ]
    return Record(topic=topic, key=record.key, value=record.value, headers=headers)


@dataclass(frozen=True)
class DeadLetters:
    """The one forwarder of refused records: logs the reason, sends the record to the dead-letter topic.

    A send that fails raises TransientError: the caller has not committed the record's offset, so it is
    read and refused again after a restart rather than lost.
    """

    send: Callable[[Record], Awaitable[None]]
    topic: str = DEAD_LETTER  # the full name, prefix included

    def letter(self, record: Record, reason: str, group: str) -> Record:
        return dead_letter(record, reason, group, self.topic)

    async def forward(self, letter: Record) -> None:
        headers = dict(letter.headers)
        logger.warning("dead-lettering %s[%s]@%s: %s", headers["dlq_topic"].decode(),
                       headers["dlq_partition"].decode(), headers["dlq_offset"].decode(),
                       headers["dlq_reason"].decode())
        await self.send(letter)


def _retried(exc: BaseException) -> bool:
    return isinstance(exc, TransientError) and not isinstance(exc, BrokerUnavailable)


@dataclass
class Dispatcher:
    """Decodes one record, finds its handler, runs it under the failure rules above."""

    handlers: HandlerTable
    group: str
    max_retries: int = 3
    retry_wait: float = 0.2
    dead_letter_topic: str = DEAD_LETTER
    prefix: str = ""  # the topic prefix, to tell whether a record's type belongs on its topic
    _by_type: dict[str, Handler] = field(init=False)

    def __post_init__(self) -> None:
        self._by_type = {type_name(cls): handler for cls, handler in self.handlers.items()}

    def _refuse(self, record: Record, reason: str) -> Record:
        return dead_letter(record, reason, self.group, self.dead_letter_topic)

    def _misplaced(self, record: Record, type_: str) -> Record | None:
        """A type this table does not handle: another consumer's event on a shared topic is skipped; a type no
        contract defines, or one that travels on another topic, is refused (a silent skip hides a bad producer)."""
        cls = EVENT_TYPES.get(type_)
        if cls is None:
            return self._refuse(record, f"unknown event type {type_!r}: no contract in conveyor.events.v1 has it")
        if named(cls, self.prefix) != record.topic:
            return self._refuse(record, f"{type_} belongs on {named(cls, self.prefix)}, not on {record.topic}")
        return None

    async def dispatch(self, record: Record) -> Record | None:
        """Handle the record; return a dead-letter record if it must go to the dead-letter topic. Raises
        BrokerUnavailable when the handler could not publish: the caller waits and dispatches it again."""
        try:
            envelope = Envelope.from_headers(record.headers)
        except InvalidMessage as exc:
            return self._refuse(record, f"invalid envelope: {exc}")
        handler = self._by_type.get(envelope.type)
        if handler is None:
            return self._misplaced(record, envelope.type)
        try:
            event = decode_event(envelope, record.value)
        except InvalidMessage as exc:
            return self._refuse(record, str(exc))
        span_name = f"consume {envelope.type.rsplit('.', 1)[-1]}"
        with tracer.start_as_current_span(
            span_name, context=context_of(envelope), kind=trace.SpanKind.CONSUMER
        ) as span:
            span.set_attribute("messaging.destination.name", record.topic)
            span.set_attribute("cloudevents.event_id", envelope.id)
            span.set_attribute("cloudevents.event_subject", envelope.subject)
            try:
                async for attempt in AsyncRetrying(
                    retry=retry_if_exception(_retried),
                    stop=stop_after_attempt(self.max_retries + 1),
                    wait=wait_exponential(multiplier=self.retry_wait, max=5),
                    reraise=True,
                ):
                    with attempt:
                        await handler(event, envelope)
            except BrokerUnavailable as exc:
                span.set_status(trace.StatusCode.ERROR, str(exc))
                raise
            except InvalidMessage as exc:
                span.set_status(trace.StatusCode.ERROR, str(exc))
                return self._refuse(record, str(exc))
            except TransientError as exc:
                span.set_status(trace.StatusCode.ERROR, str(exc))
                return self._refuse(record, f"gave up after {self.max_retries + 1} attempts: {exc}")
            except Exception as exc:  # noqa: BLE001 - a handler bug must not stall the partition
                logger.exception("handler for %s failed on event %s", envelope.type, envelope.id)
                span.record_exception(exc)
                span.set_status(trace.StatusCode.ERROR, str(exc))
                return self._refuse(record, f"unhandled {type(exc).__name__}: {exc}")
        return None
