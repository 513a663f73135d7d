"""A consistent read of the whole ledger that never holds it in memory: entries come in pages, subtree hashes
are looked up a page at a time, repeated ids are found by the database (issue 15, finding 8: GET /ledger/verify
loaded every entry and every subtree hash at once).

It is one read transaction on its own connection (WAL: appends go on meanwhile, and are not seen).
"""

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..merkle import Position
from .rows import Entry, StoredCheckpoint
from .schema import ENTRY_COLUMNS, connect

PAGE = 4096  # entries per query


class StoredView:
    """Over a sqlite3 connection, or the PostgreSQL ledger's `_Connection` (which speaks the same calls)."""

    def __init__(self, conn: sqlite3.Connection | Any, postgres: bool = False) -> None:
        self._conn = conn
        self._indexes = "string_agg(idx::text, ',')" if postgres else "group_concat(idx)"

    def entries(self) -> Iterator[Entry]:
        after = -1
        while True:
            rows = self._conn.execute(f"SELECT {ENTRY_COLUMNS} FROM entries WHERE idx > ? ORDER BY idx LIMIT ?",
                                      (after, PAGE)).fetchall()
            if not rows:
                return
            for row in rows:
                yield Entry(*row)
            after = rows[-1][0]

    def nodes(self, positions: Sequence[Position]) -> dict[Position, bytes]:
        """The stored hashes of these subtrees (level >= 1); a missing one is left out."""
        found: dict[Position, bytes] = {}
        for start in range(0, len(positions), 400):  # under SQLite's bound-parameter limit
            chunk = [number for position in positions[start:start + 400] for number in position]
            values = ",".join(["(?, ?)"] * (len(chunk) // 2))
            found.update(((level, idx), h) for level, idx, h in self._conn.execute(
                f"SELECT s.level, s.idx, s.hash FROM (VALUES {values}) AS v "
                "JOIN subtree AS s ON s.level = v.column1 AND s.idx = v.column2", chunk))
        return found

    def node_count(self) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM subtree").fetchone()[0]

    def tree_heads(self) -> list[tuple[int, bytes]]:
        return [(size, root) for size, root in self._conn.execute("SELECT size, root FROM tree_head ORDER BY size")]

    def checkpoints(self) -> list[StoredCheckpoint]:
        return [StoredCheckpoint(*row) for row in self._conn.execute(
            "SELECT size, root, note, issued_at FROM checkpoint ORDER BY size")]

    def repeated_ids(self) -> list[tuple[str, list[int]]]:
        """Event ids stored more than once (only possible if the unique index was dropped), with their indexes."""
        rows = self._conn.execute(f"SELECT event_id, {self._indexes} FROM entries GROUP BY event_id "
                                  "HAVING COUNT(*) > 1 ORDER BY MIN(idx) LIMIT 100").fetchall()
        return [(event_id, sorted(int(i) for i in indexes.split(","))) for event_id, indexes in rows]


@contextmanager
def read_view(path: Path) -> Iterator[StoredView]:
    conn = connect(str(path), reader=True)
    try:
        conn.execute("BEGIN")  # one snapshot of the database for the whole read
        yield StoredView(conn)
        conn.execute("COMMIT")
    finally:
        conn.close()
