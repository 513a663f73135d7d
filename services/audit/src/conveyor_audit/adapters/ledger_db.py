"""The ledger in SQLite: entries, complete-subtree hashes, tree heads and consumer offsets, together.
(`ledger_pg.PostgresLedger` is the same ledger on PostgreSQL: it swaps the connections and the few statements
that differ, everything else here is shared.)

A batch is one transaction: new entries, their subtree hashes, the new tree head and the consumer's
next offsets commit together or not at all, so the ledger is exactly-once with respect to the log.
There is no UPDATE or DELETE of entries anywhere in this code, and triggers refuse them anyway.
"""

import logging
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..consistency import consistency_proof
from ..leaf import CHAIN_SEED
from ..merkle import CompactRange, Position, inclusion_proof, resolve, root_plan
from .prepare import Prepared, prepare_rows
from .rows import AppendResult, Entry, Pending, Snapshot, StoredCheckpoint, TopicPartitionKey
from .schema import ENTRY_COLUMNS, INSERT_ENTRIES, INSERT_NODES, connect
from .subtrees import read_subtrees

logger = logging.getLogger(__name__)



class Ledger:
    BEGIN_WRITE = "BEGIN IMMEDIATE"
    BEGIN_SNAPSHOT = "BEGIN"  # SQLite: a read transaction sees one committed state
    insert_entries, insert_nodes = INSERT_ENTRIES, INSERT_NODES

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: Any = connect(str(path))
        self._lock = threading.Lock()  # one connection, shared by the consumer and REST threads
        # WAL lets a second connection read committed rows while a batch is being written.
        self._reader: Any = connect(str(path), reader=True)
        self._reader_lock = threading.Lock()
        self._range, self._chain = self._load_tip()

    def close(self) -> None:
        self._reader.close()
        self._conn.close()

    def _load_tip(self) -> tuple[CompactRange, bytes]:
        row = self._conn.execute("SELECT idx, chain_hash FROM entries ORDER BY idx DESC LIMIT 1").fetchone()
        if row is None:
            return CompactRange(), CHAIN_SEED
        size = row[0] + 1
        positions = CompactRange.peak_positions(size)
        found = self._nodes(positions)
        return CompactRange(size, [found[position] for position in positions]), row[1]

    # --- writing ----------------------------------------------------------------------------------

    def append_batch(
        self, pending: Sequence[Pending], offsets: Mapping[TopicPartitionKey, int]
    ) -> AppendResult:
        """Append new events (skipping known event ids) and store offsets, in one transaction."""
        return self.commit(self.prepare(pending), offsets)

    def prepare(self, pending: Sequence[Pending], after: Prepared | None = None) -> Prepared:
        """Rows for `pending` on top of the committed tip, or of `after`: a batch prepared but not yet
        committed (its ids count as known, so a duplicate across in-flight batches is still caught)."""
        known = self._known_leaves([item.id for item in pending])
        if after is None:
            return prepare_rows(pending, self._range, self._chain, known)
        # Committed meanwhile or not, `after` ends where this batch starts, and its ids are known.
        known.update(after.leaves)
        return prepare_rows(pending, after.tree, after.chain, known)

    def commit(self, prepared: Prepared, offsets: Mapping[TopicPartitionKey, int]) -> AppendResult:
        """One transaction: the prepared rows, the new tree head, the offsets. Only then moves the tip."""
        with self._lock:
            if prepared.base_size != self._range.size:  # a bug upstream; the dense trigger would refuse too
                raise RuntimeError(f"batch prepared for tree size {prepared.base_size}, "
                                   f"the ledger has {self._range.size}: refusing a gap or a repeat")
            tree = prepared.tree
            self._conn.execute(self.BEGIN_WRITE)
            try:
                self._conn.execute(self.insert_entries, {
                    "base": prepared.base_size, "columns": prepared.entry_columns, "leaves": prepared.leaf_blob,
                    "hashes": prepared.hash_blob, "recorded_at": prepared.recorded_at,
                })
                self._conn.execute(self.insert_nodes, (prepared.node_positions, prepared.node_blob))
                self._store_offsets(offsets)
                if prepared.appended:
                    self._conn.execute(
                        "INSERT INTO tree_head (size, root, recorded_at) VALUES (?, ?, ?)",
                        (tree.size, tree.root(), _now()),
                    )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            # Only a committed batch moves the in-memory tip.
            self._range, self._chain = tree, prepared.chain
            return AppendResult(prepared.appended, prepared.duplicates, tree.size, tree.root())

    def _known_leaves(self, event_ids: list[str]) -> dict[str, bytes]:
        """Stored leaves of these ids, on the reader connection: it never waits for a write in progress."""
        found: dict[str, bytes] = {}
        with self._reader_lock:
            for start in range(0, len(event_ids), 900):  # under SQLite's bound-parameter limit
                chunk = event_ids[start:start + 900]
                marks = ",".join("?" * len(chunk))
                found.update(self._reader.execute(
                    f"SELECT event_id, leaf_bytes FROM entries WHERE event_id IN ({marks})", chunk
                ).fetchall())
        return found

    def _store_offsets(self, offsets: Mapping[TopicPartitionKey, int]) -> None:
        self._conn.executemany(
            "INSERT INTO consumer_offset (topic, partition, next_offset) VALUES (?, ?, ?) "
            "ON CONFLICT (topic, partition) DO UPDATE SET next_offset = CASE WHEN excluded.next_offset > "
            "consumer_offset.next_offset THEN excluded.next_offset ELSE consumer_offset.next_offset END",
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
            return inclusion_proof(index, size, self._nodes)

    def consistency(self, first: int, second: int) -> list[bytes]:
        with self._lock:
            return consistency_proof(first, second, self._nodes)

    # --- checkpoints ------------------------------------------------------------------------------

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO checkpoint (size, root, note, issued_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
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
            return resolve(root_plan(size), self._nodes)[0]

    def _nodes(self, positions: Sequence[Position]) -> dict[Position, bytes]:
        return read_subtrees(self._conn, positions)

    def snapshot(self) -> Snapshot:
        """Everything verification needs, read in one transaction so it is mutually consistent."""
        with self._lock:
            self._conn.execute(self.BEGIN_SNAPSHOT)
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


def open_ledger(state_dir: Path, database_url: str = "") -> Ledger:
    """The ledger in PostgreSQL (schema `audit`) when the platform has a database URL, else a SQLite file."""
    if database_url:
        from .ledger_pg import PostgresLedger

        return PostgresLedger(database_url)
    state_dir.mkdir(parents=True, exist_ok=True)
    return Ledger(state_dir / "ledger.db")

