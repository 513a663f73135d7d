"""What the ledger stores and returns, as plain values."""

from dataclasses import dataclass, field
from typing import NamedTuple

from conveyor_kernel import Envelope

TopicPartitionKey = tuple[str, int]


class Pending(NamedTuple):
    """A decoded record on its way into the ledger (a tuple: one is built per event on the hot path)."""

    envelope: Envelope
    value: bytes
    topic: str
    partition: int
    offset: int


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
    entries: list[Entry]
    nodes: dict[tuple[int, int], bytes]
    tree_heads: list[tuple[int, bytes]]
    checkpoints: list[StoredCheckpoint] = field(default_factory=list)
