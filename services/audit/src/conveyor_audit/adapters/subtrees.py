"""Reading stored complete-subtree hashes: everything a proof or root needs, in one query."""

import sqlite3
from collections.abc import Sequence

from ..merkle import Position

CHUNK = 400  # positions per query, under SQLite's bound-parameter limit (a proof needs < 130)


def read_subtrees(conn: sqlite3.Connection, positions: Sequence[Position]) -> dict[Position, bytes]:
    """Hashes of the given complete subtrees: one round trip for a proof, not O(log² n) lookups.

    A join on a VALUES table, because SQLite plans `(level, idx) IN (VALUES ...)` as a full scan
    while the join searches the primary key once per position.
    """
    found: dict[Position, bytes] = {}
    for start in range(0, len(positions), CHUNK):
        chunk = positions[start:start + CHUNK]
        values = ",".join(["(?, ?)"] * len(chunk))
        found.update(((level, idx), h) for level, idx, h in conn.execute(
            f"SELECT s.level, s.idx, s.hash FROM (VALUES {values}) AS v "
            "JOIN subtree AS s ON s.level = v.column1 AND s.idx = v.column2",
            [number for position in chunk for number in position],
        ))
    missing = [position for position in positions if position not in found]
    if missing:
        raise LookupError(f"subtree(s) {missing[:5]} missing from the ledger")
    return found
