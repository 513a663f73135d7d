"""Sorting a polled batch of Kafka records: what goes into the ledger, what goes to the dead letter."""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Message

from conveyor_kernel import CONTENT_TYPE, InvalidMessage, Record, dead_letter, decode_event

from .adapters.rows import Pending, TopicPartitionKey
from .leaf import SPEC_VERSION

SPEC_VERSION_BYTES, CONTENT_TYPE_BYTES = SPEC_VERSION.encode(), CONTENT_TYPE.encode()
GROUP = "audit"  # named in dead-letter records so operators know who refused them
# The headers an envelope is made of; any other header is only checked to be UTF-8.
ENVELOPE_HEADERS = frozenset(
    ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject", "content-type",
     "traceparent", "tracestate")
)


@dataclass
class Batch:
    pending: list[Pending] = field(default_factory=list)
    dead: list[Record] = field(default_factory=list)
    next_offsets: dict[TopicPartitionKey, int] = field(default_factory=dict)


def attributes_of(headers: Sequence[tuple[str, bytes | None]]) -> tuple[str, str, str, str, str, str, str]:
    """(id, type, source, subject, time, traceparent, tracestate): Envelope.from_headers' rules and
    messages, at a fraction of its cost on the ledger's hot path, and no Envelope built.

    The headers become a dict in C and only the envelope's own are decoded. Any other header (or a
    repeated one) sends the record down the slow path that decodes every value, so non-UTF-8 is refused
    exactly as from_headers refuses it. A header without a value counts as empty (a missing ce_id, not
    a crash).
    """
    raw = dict(headers)
    get = raw.get
    try:
        if len(raw) != len(headers) or not raw.keys() <= ENVELOPE_HEADERS:
            for _, value in headers:
                if value is not None:
                    value.decode()
        ce_id, ce_type, ce_source = (get("ce_id") or b"").decode(), (get("ce_type") or b"").decode(), \
            (get("ce_source") or b"").decode()
        if not (ce_id and ce_type and ce_source):
            missing = [k for k, v in (("ce_id", ce_id), ("ce_type", ce_type), ("ce_source", ce_source)) if not v]
            raise InvalidMessage(f"missing CloudEvents header(s): {', '.join(missing)}")
        spec = get("ce_specversion")
        if spec is not None and spec != SPEC_VERSION_BYTES:
            raise InvalidMessage(f"unsupported ce_specversion {spec.decode()!r}")
        content_type = get("content-type")
        if content_type is not None and content_type != CONTENT_TYPE_BYTES:
            raise InvalidMessage(f"unsupported content-type {content_type.decode()!r}, expected {CONTENT_TYPE}")
        return (ce_id, ce_type, ce_source, (get("ce_subject") or b"").decode(), (get("ce_time") or b"").decode(),
                (get("traceparent") or b"").decode(), (get("tracestate") or b"").decode())
    except UnicodeDecodeError as exc:
        raise InvalidMessage(f"a header is not UTF-8: {exc}") from exc


def sort_records(records: Iterable[Record]) -> Batch:
    """Every record advances its partition's offset, whether it is stored or dead-lettered."""
    return _sort(((r.topic, r.partition, r.offset, r.value, r.headers, r) for r in records), _same)


def sort_messages(messages: Iterable[Message]) -> Batch:
    """sort_records for confluent-kafka messages, read directly: a kernel Record is made only for
    the rare dead letter, not for each of the thousands of events a second."""
    return _sort(((m.topic(), m.partition(), m.offset(), m.value(), m.headers() or (), m) for m in messages),
                 _record_of)


def _same(record: Record) -> Record:
    return record


def _record_of(message: Message) -> Record:
    return Record(message.topic(), message.key(), message.value(), list(message.headers() or ()),
                  message.partition(), message.offset())


def _sort(items: Iterable[tuple[Any, ...]], record_of: Callable[[Any], Record]) -> Batch:
    """items: (topic, partition, offset, value, headers, the original record or message)."""
    batch = Batch()
    next_offsets, pending = batch.next_offsets, batch.pending
    for topic, partition, offset, value, headers, original in items:
        key = (topic, partition)
        if next_offsets.get(key, 0) <= offset:
            next_offsets[key] = offset + 1
        try:
            event = Pending(*attributes_of(headers), value, topic, partition, offset)
            decode_event(event, value)  # only well-formed events become evidence
        except InvalidMessage as exc:
            batch.dead.append(dead_letter(record_of(original), f"audit cannot record it: {exc}", GROUP))
            continue
        pending.append(event)
    return batch
