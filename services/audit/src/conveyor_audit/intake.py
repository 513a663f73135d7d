"""Sorting a polled batch of Kafka records: what goes into the ledger, what goes to the dead letter."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from conveyor_kernel import Envelope, InvalidMessage, Record, dead_letter, decode_event

from .adapters.rows import Pending, TopicPartitionKey

GROUP = "audit"  # named in dead-letter records so operators know who refused them


@dataclass
class Batch:
    pending: list[Pending] = field(default_factory=list)
    dead: list[Record] = field(default_factory=list)
    next_offsets: dict[TopicPartitionKey, int] = field(default_factory=dict)


def sort_records(records: Iterable[Record]) -> Batch:
    """Every record advances its partition's offset, whether it is stored or dead-lettered."""
    batch = Batch()
    for record in records:
        key = (record.topic, record.partition)
        batch.next_offsets[key] = max(batch.next_offsets.get(key, 0), record.offset + 1)
        try:
            envelope = Envelope.from_headers(record.headers)
            decode_event(envelope, record.value)  # only well-formed events become evidence
        except InvalidMessage as exc:
            batch.dead.append(dead_letter(record, f"audit cannot record it: {exc}", GROUP))
            continue
        assert record.value is not None  # decode_event refuses a missing value
        batch.pending.append(Pending(envelope, record.value, record.topic, record.partition, record.offset))
    return batch
