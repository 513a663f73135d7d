"""Sorting a polled batch of Kafka records: what goes into the ledger, what goes to the dead letter.

Headers are read with the kernel's own envelope parser (`Envelope.read_fields`, the one the dispatcher
uses through `Envelope.from_headers`), so the ledger refuses exactly what every other consumer refuses,
for the same reasons, without building an Envelope per event.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Message

from conveyor_kernel import DeadLetters, Envelope, InvalidMessage, Record, decode_event

from .adapters.rows import Pending, TopicPartitionKey

GROUP = "audit"  # named in dead-letter records so operators know who refused them


@dataclass
class Batch:
    pending: list[Pending] = field(default_factory=list)
    dead: list[Record] = field(default_factory=list)  # dead letters, ready to forward
    next_offsets: dict[TopicPartitionKey, int] = field(default_factory=dict)


def sort_records(records: Iterable[Record], dead_letters: DeadLetters) -> Batch:
    """Every record advances its partition's offset, whether it is stored or dead-lettered."""
    return _sort(((r.topic, r.partition, r.offset, r.value, r.headers, r) for r in records), _same, dead_letters)


def sort_messages(messages: Iterable[Message], dead_letters: DeadLetters) -> Batch:
    """sort_records for confluent-kafka messages, read directly: a kernel Record is made only for
    the rare dead letter, not for each of the thousands of events a second."""
    return _sort(((m.topic(), m.partition(), m.offset(), m.value(), m.headers() or (), m) for m in messages),
                 _record_of, dead_letters)


def _same(record: Record) -> Record:
    return record


def _record_of(message: Message) -> Record:
    return Record(message.topic(), message.key(), message.value(), list(message.headers() or ()),
                  message.partition(), message.offset())


def _sort(items: Iterable[tuple[Any, ...]], record_of: Callable[[Any], Record], dead_letters: DeadLetters) -> Batch:
    """items: (topic, partition, offset, value, headers, the original record or message)."""
    batch = Batch()
    next_offsets, pending = batch.next_offsets, batch.pending
    # Pending(*fields, value, ...) without a second NamedTuple __new__ (the parser built one already):
    # this loop runs for every event, and the Python-level __new__ would cost it ~0.2 us each.
    new_pending, read_fields = tuple.__new__, Envelope.read_fields
    for topic, partition, offset, value, headers, original in items:
        key = (topic, partition)
        if next_offsets.get(key, 0) <= offset:
            next_offsets[key] = offset + 1
        try:
            event = new_pending(Pending, read_fields(headers) + (value, topic, partition, offset))
            decode_event(event, value)  # only well-formed events become evidence
        except InvalidMessage as exc:
            batch.dead.append(dead_letters.letter(record_of(original), f"audit cannot record it: {exc}", GROUP))
            continue
        pending.append(event)
    return batch
