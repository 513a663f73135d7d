"""The ledger in SQLite: entries, complete-subtree hashes, tree heads and consumer offsets, together.

A batch is one transaction: new entries, their subtree hashes, the new tree head and the consumer's
next offsets commit together or not at all, so the ledger is exactly-once with respect to the log.
There is no UPDATE or DELETE of entries anywhere in this code, and triggers refuse them anyway.
"""

import logging
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from ..consistency import consistency_proof
from ..leaf import CHAIN_SEED, encode_leaf, leaf_hash_of, next_chain
from ..merkle import CompactRange, inclusion_proof, subtree_root
from .rows import AppendResult, Entry, Pending, Snapshot, StoredCheckpoint, TopicPartitionKey
from .schema import connect

logger = logging.getLogger(__name__)

ENTRY_COLUMNS = (
    'idx, event_id, type, source, subject, time, topic, partition, "offset", '
    "leaf_bytes, leaf_hash, chain_hash, recorded_at"
)


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = connect(str(path))
        self._lock = threading.Lock()  # one connection, shared by the consumer and REST threads
        self._range, self._chain = self._load_tip()

    def close(self) -> None:
        self._conn.close()

    def _load_tip(self) -> tuple[CompactRange, bytes]:
        row = self._conn.execute("SELECT idx, chain_hash FROM entries ORDER BY idx DESC LIMIT 1").fetchone()
        if row is None:
            return CompactRange(), CHAIN_SEED
        size = row[0] + 1
        peaks = [self._node(level, index) for level, index in CompactRange.peak_positions(size)]
        return CompactRange(size, peaks), row[1]

    # --- writing ----------------------------------------------------------------------------------

    def append_batch(
        self, pending: Sequence[Pending], offsets: Mapping[TopicPartitionKey, int]
    ) -> AppendResult:
        """Append new events (skipping known event ids) and store offsets, in one transaction."""
        with self._lock:
            tree = self._range.copy()
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                appended, duplicates, chain = self._insert_entries(pending, tree, self._chain)
                self._store_offsets(offsets)
                if appended:
                    self._conn.execute(
                        "INSERT INTO tree_head (size, root, recorded_at) VALUES (?, ?, ?)",
                        (tree.size, tree.root(), _now()),
                    )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            # Only a committed batch moves the in-memory tip.
            self._range, self._chain = tree, chain
            return AppendResult(appended, duplicates, tree.size, tree.root())

    def _insert_entries(
        self, pending: Sequence[Pending], tree: CompactRange, chain: bytes
    ) -> tuple[int, int, bytes]:
        """One duplicate lookup and two executemany per batch: per-row statements cost more than hashing."""
        recorded_at = _now()
        known = self._known_leaves([item.envelope.id for item in pending])
        entry_rows: list[tuple[object, ...]] = []
        node_rows: list[tuple[int, int, bytes]] = []
        duplicates = 0
        for item in pending:
            env = item.envelope
            leaf_bytes = encode_leaf(env, item.value)
            if env.id in known:  # stored before, or earlier in this very batch
                duplicates += 1
                if known[env.id] != leaf_bytes:
                    logger.warning("event id %s seen again with different content; first one kept", env.id)
                continue
            known[env.id] = leaf_bytes
            leaf_hash = leaf_hash_of(leaf_bytes)
            chain = next_chain(chain, leaf_hash)
            entry_rows.append((tree.size, env.id, env.type, env.source, env.subject, env.time, item.topic,
                               item.partition, item.offset, leaf_bytes, leaf_hash, chain, recorded_at))
            node_rows.extend(tree.append(leaf_hash))
        self._conn.executemany(
            f"INSERT INTO entries ({ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", entry_rows
        )
        self._conn.executemany("INSERT INTO subtree (level, idx, hash) VALUES (?, ?, ?)", node_rows)
        return len(entry_rows), duplicates, chain

    def _known_leaves(self, event_ids: list[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for start in range(0, len(event_ids), 900):  # under SQLite's bound-parameter limit
            chunk = event_ids[start:start + 900]
            marks = ",".join("?" * len(chunk))
            found.update(self._conn.execute(
                f"SELECT event_id, leaf_bytes FROM entries WHERE event_id IN ({marks})", chunk
            ).fetchall())
        return found

    def _store_offsets(self, offsets: Mapping[TopicPartitionKey, int]) -> None:
        self._conn.executemany(
            "INSERT INTO consumer_offset (topic, partition, next_offset) VALUES (?, ?, ?) "
            "ON CONFLICT (topic, partition) DO UPDATE SET "
            "next_offset = MAX(next_offset, excluded.next_offset)",
            [(topic, partition, offset) for (topic, partition), offset in offsets.items()],
        )

    # --- reading ----------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        return self._range.size

    def root(self) -> bytes:
        return self._range.root()

    def tip(self) -> tuple[int, bytes]:
        """Size and root of the same committed state (one read of the tip, never a mix of two batches)."""
        tree = self._range
        return tree.size, tree.root()

    def offsets(self) -> dict[TopicPartitionKey, int]:
        with self._lock:
            rows = self._conn.execute("SELECT topic, partition, next_offset FROM consumer_offset").fetchall()
        return {(topic, partition): offset for topic, partition, offset in rows}

    def entry(self, index: int) -> Entry | None:
        with self._lock:
            row = self._conn.execute(f"SELECT {ENTRY_COLUMNS} FROM entries WHERE idx = ?", (index,)).fetchone()
        return Entry(*row) if row else None

    def find(self, subject: str | None, event_type: str | None, limit: int, offset: int) -> tuple[int, list[Entry]]:
        """Entries matching the filters in ledger order, and how many match in total."""
        where, params = [], []
        if subject is not None:
            where.append("subject = ?")
            params.append(subject)
        if event_type is not None:
            where.append("type = ?")
            params.append(event_type)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._lock:
            total = self._conn.execute(f"SELECT COUNT(*) FROM entries {clause}", params).fetchone()[0]
            rows = self._conn.execute(
                f"SELECT {ENTRY_COLUMNS} FROM entries {clause} ORDER BY idx LIMIT ? OFFSET ?",
                [*params, limit, offset],
            ).fetchall()
        return total, [Entry(*row) for row in rows]

    def between(self, start: str, end: str) -> list[Entry]:
        """Entries whose event time (ce_time, ISO 8601 UTC) is in [start, end), in ledger order."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {ENTRY_COLUMNS} FROM entries WHERE time >= ? AND time < ? ORDER BY idx", (start, end)
            ).fetchall()
        return [Entry(*row) for row in rows]

    def proof(self, index: int, size: int) -> list[bytes]:
        with self._lock:
            return inclusion_proof(index, size, self._node)

    def consistency(self, first: int, second: int) -> list[bytes]:
        with self._lock:
            return consistency_proof(first, second, self._node)

    # --- checkpoints ------------------------------------------------------------------------------

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR IGNORE INTO checkpoint (size, root, note, issued_at) VALUES (?, ?, ?, ?)",
                (checkpoint.size, checkpoint.root, checkpoint.note, checkpoint.issued_at),
            )

    def checkpoints(self, issued_before: str | None = None, limit: int = 1) -> list[StoredCheckpoint]:
        """The latest checkpoints (newest first), optionally only those issued before an ISO time."""
        clause, params = ("WHERE issued_at < ?", [issued_before]) if issued_before else ("", [])
        with self._lock:
            rows = self._conn.execute(
                f"SELECT size, root, note, issued_at FROM checkpoint {clause} ORDER BY size DESC LIMIT ?",
                [*params, limit],
            ).fetchall()
        return [StoredCheckpoint(*row) for row in rows]

    def root_at(self, size: int) -> bytes:
        """MTH of the first `size` entries, from stored subtree hashes."""
        with self._lock:
            return subtree_root(self._node, 0, size)

    def _node(self, level: int, index: int) -> bytes:
        row = self._conn.execute("SELECT hash FROM subtree WHERE level = ? AND idx = ?", (level, index)).fetchone()
        if row is None:
            raise LookupError(f"subtree ({level}, {index}) is missing from the ledger")
        return row[0]

    def snapshot(self) -> Snapshot:
        """Everything verification needs, read in one transaction so it is mutually consistent."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                entries = [Entry(*row) for row in
                           self._conn.execute(f"SELECT {ENTRY_COLUMNS} FROM entries ORDER BY idx")]
                nodes = {(level, idx): h for level, idx, h in
                         self._conn.execute("SELECT level, idx, hash FROM subtree")}
                heads = self._conn.execute("SELECT size, root FROM tree_head ORDER BY size").fetchall()
                checkpoints = [StoredCheckpoint(*row) for row in self._conn.execute(
                    "SELECT size, root, note, issued_at FROM checkpoint ORDER BY size")]
            finally:
                self._conn.execute("COMMIT")
        return Snapshot(entries, nodes, [(size, root) for size, root in heads], checkpoints)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def open_ledger(state_dir: Path) -> Ledger:
    state_dir.mkdir(parents=True, exist_ok=True)
    return Ledger(state_dir / "ledger.db")

