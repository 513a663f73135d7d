"""Reading stored complete-subtree hashes: everything a proof or root needs, in one query.

Level 0 (a leaf hash) is read from entries, every higher level from subtree (see schema.py)."""

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
        leaves = [idx for level, idx in chunk if level == 0]
        nodes = [number for position in chunk if position[0] for number in position]
        parts = []
        if nodes:
            parts.append(f"SELECT s.level, s.idx, s.hash FROM (VALUES {','.join(['(?, ?)'] * (len(nodes) // 2))}) "
                         "AS v JOIN subtree AS s ON s.level = v.column1 AND s.idx = v.column2")
        if leaves:
            parts.append(f"SELECT 0, e.idx, e.leaf_hash FROM (VALUES {','.join(['(?)'] * len(leaves))}) "
                         "AS w JOIN entries AS e ON e.idx = w.column1")
        found.update(((level, idx), h) for level, idx, h in conn.execute(" UNION ALL ".join(parts), nodes + leaves))
    missing = [position for position in positions if position not in found]
    if missing:
        raise LookupError(f"subtree(s) {missing[:5]} missing from the ledger")
    return found
