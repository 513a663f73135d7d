"""What the ledger stores and returns, as plain values."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from conveyor_kernel import Envelope

TopicPartitionKey = tuple[str, int]


class Pending(NamedTuple):
    """A decoded record on its way into the ledger: its CloudEvents attributes as plain strings, not an
    Envelope, and a tuple, not a dataclass (one is built per event on the hot path). The first seven
    fields are the kernel's EnvelopeFields, in its order: intake extends that tuple into a Pending."""

    id: str
    type: str
    source: str
    subject: str
    time: str
    traceparent: str
    tracestate: str
    value: bytes
    topic: str
    partition: int
    offset: int

    @classmethod
    def of(cls, envelope: Envelope, value: bytes, topic: str, partition: int, offset: int) -> "Pending":
        return cls(envelope.id, envelope.type, envelope.source, envelope.subject, envelope.time,
                   envelope.traceparent, envelope.tracestate, value, topic, partition, offset)

    @property
    def envelope(self) -> Envelope:
        return Envelope(self.type, self.source, self.subject, self.id, self.time, self.traceparent, self.tracestate)


@dataclass(frozen=True)
class Entry:
    idx: int
    event_id: str
    type: str
    source: str
    subject: str
    time: str
    topic: str
    partition: int
    offset: int
    leaf_bytes: bytes
    leaf_hash: bytes
    chain_hash: bytes
    recorded_at: str


@dataclass(frozen=True)
class AppendResult:
    appended: int
    duplicates: int
    size: int
    root: bytes


@dataclass(frozen=True)
class StoredCheckpoint:
    size: int
    root: bytes
    note: str
    issued_at: str


@dataclass(frozen=True)
class Snapshot:
    """The ledger in memory: for tests and small ledgers. verify_snapshot reads it, or a StoredView of the
    database (adapters/ledger_view.py), through the same methods."""

    entry_list: list[Entry]
    node_map: dict[tuple[int, int], bytes]
    head_list: list[tuple[int, bytes]]
    checkpoint_list: list[StoredCheckpoint] = field(default_factory=list)

    def entries(self) -> list[Entry]:
        return self.entry_list

    def nodes(self, positions: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        return {p: self.node_map[p] for p in positions if p in self.node_map}

    def node_count(self) -> int:
        return len(self.node_map)

    def tree_heads(self) -> list[tuple[int, bytes]]:
        return self.head_list

    def checkpoints(self) -> list[StoredCheckpoint]:
        return self.checkpoint_list

    def repeated_ids(self) -> list[tuple[str, list[int]]]:
        seen: dict[str, list[int]] = {}
        for entry in self.entry_list:
            seen.setdefault(entry.event_id, []).append(entry.idx)
        return [(event_id, indexes) for event_id, indexes in seen.items() if len(indexes) > 1]
