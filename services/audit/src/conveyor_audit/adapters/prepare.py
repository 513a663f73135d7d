"""Turning decoded events into ledger rows, with no database access: the Python half of an append.

Kept apart from the SQL so the consumer can prepare batch n+1 (encode, hash, extend the tree) on the
event loop while batch n's transaction runs in a thread; sqlite3 releases the GIL while SQLite works,
so the two overlap. A prepared batch is built on top of a given tip and may only be committed there.
"""

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from ..leaf import encode_leaf
from ..merkle import LEAF_PREFIX, CompactRange
from .rows import Pending

logger = logging.getLogger(__name__)


@dataclass
class Prepared:
    """A batch as SQLite will take it: a few parameters, not a row of bindings per entry.

    Binding 13 columns per row through executemany holds the GIL for most of an insert's cost. Here
    the columns travel as one JSON array (read back by json_each) plus byte strings (leaves, hashes)
    sliced with substr, so the whole insert is one statement step that runs without the GIL.
    """

    base_size: int                # the committed tree size this batch continues
    tree: CompactRange            # the tree after it (owned: nobody appends to it afterwards)
    chain: bytes                  # the chain hash after it
    leaves: dict[str, bytes] = field(default_factory=dict)  # event id -> leaf bytes, of new entries
    duplicates: int = 0
    recorded_at: str = ""
    entry_columns: bytes = b"[]"  # [[id, type, source, subject, time, topic, partition, offset, leaf
    leaf_blob: bytes = b""        #   start (1-based in leaf_blob), leaf length], ...]
    hash_blob: bytes = b""        # leaf hash || chain hash, 64 bytes an entry
    node_positions: bytes = b"[]"  # [[level, index], ...] of the complete subtrees (level >= 1) it creates
    node_blob: bytes = b""        # their hashes, 32 bytes each

    @property
    def appended(self) -> int:
        return len(self.leaves)


def prepare_rows(
    pending: Sequence[Pending], tree: CompactRange, chain: bytes, known: Mapping[str, bytes]
) -> Prepared:
    """Rows for the new events in `pending`, skipping ids in `known` (stored or in flight) or repeated."""
    tree = tree.copy()
    prepared = Prepared(tree.size, tree, chain, recorded_at=datetime.now(UTC).isoformat(timespec="microseconds"))
    leaves = prepared.leaves
    columns: list[tuple[object, ...]] = []
    leaf_parts: list[bytes] = []
    hash_parts: list[bytes] = []
    positions: list[tuple[int, int]] = []
    node_hashes: list[bytes] = []
    position = 1  # substr() counts from 1
    sha256, append = hashlib.sha256, tree.append  # locals: this loop runs for every event
    for event in pending:
        event_id = event.id
        leaf_bytes = encode_leaf(event, event.value)
        seen = known.get(event_id) or leaves.get(event_id)
        if seen is not None:  # stored before, in flight, or earlier in this very batch
            prepared.duplicates += 1
            if seen != leaf_bytes:
                logger.warning("event id %s seen again with different content; first one kept", event_id)
            continue
        leaves[event_id] = leaf_bytes
        leaf_hash = sha256(LEAF_PREFIX + leaf_bytes).digest()
        chain = sha256(chain + leaf_hash).digest()
        columns.append((event_id, event.type, event.source, event.subject, event.time, event.topic,
                        event.partition, event.offset, position, len(leaf_bytes)))
        position += len(leaf_bytes)
        leaf_parts.append(leaf_bytes)
        hash_parts += (leaf_hash, chain)
        for level, index, node in append(leaf_hash):
            if level:  # level 0 is the leaf hash, stored with the entry
                positions.append((level, index))
                node_hashes.append(node)
    prepared.chain = chain
    prepared.entry_columns, prepared.node_positions = orjson.dumps(columns), orjson.dumps(positions)
    prepared.leaf_blob, prepared.hash_blob, prepared.node_blob = (
        b"".join(leaf_parts), b"".join(hash_parts), b"".join(node_hashes))
    return prepared
