"""The ledger's SQLite schema. Append-only is enforced by the database itself, not only by our code."""

import sqlite3

TABLES = """
CREATE TABLE IF NOT EXISTS entries (
    idx          INTEGER PRIMARY KEY,          -- 0-based, dense: the leaf index in the Merkle tree
    event_id     TEXT NOT NULL UNIQUE,         -- ce_id: a redelivered event is stored once
    type         TEXT NOT NULL,
    source       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    time         TEXT NOT NULL,
    topic        TEXT NOT NULL,
    partition    INTEGER NOT NULL,
    "offset"     INTEGER NOT NULL,
    leaf_bytes   BLOB NOT NULL,
    leaf_hash    BLOB NOT NULL,
    chain_hash   BLOB NOT NULL,
    recorded_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_by_subject ON entries(subject, idx);
CREATE INDEX IF NOT EXISTS entries_by_type ON entries(type, idx);

-- Hashes of complete subtrees (level, index): roots and audit paths without rehashing every leaf.
CREATE TABLE IF NOT EXISTS subtree (
    level  INTEGER NOT NULL,
    idx    INTEGER NOT NULL,
    hash   BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

-- The root after each appended batch: what /ledger/root has ever answered stays checkable.
CREATE TABLE IF NOT EXISTS tree_head (
    size         INTEGER PRIMARY KEY,
    root         BLOB NOT NULL,
    recorded_at  TEXT NOT NULL
);

-- Signed checkpoints (C2SP signed notes), kept verbatim: what verifiers were ever shown stays checkable.
CREATE TABLE IF NOT EXISTS checkpoint (
    size       INTEGER PRIMARY KEY,
    root       BLOB NOT NULL,
    note       TEXT NOT NULL,
    issued_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS checkpoint_by_time ON checkpoint(issued_at);

CREATE TABLE IF NOT EXISTS consumer_offset (
    topic        TEXT NOT NULL,
    partition    INTEGER NOT NULL,
    next_offset  INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
);

-- Leaf indexes must stay dense: a gap would silently shift every later proof.
CREATE TRIGGER IF NOT EXISTS entries_dense BEFORE INSERT ON entries
WHEN NEW.idx != (SELECT COALESCE(MAX(idx) + 1, 0) FROM entries)
BEGIN SELECT RAISE(ABORT, 'ledger entries: idx must be the next index'); END;
"""

APPEND_ONLY_TABLES = ("entries", "subtree", "tree_head", "checkpoint")


def _append_only_triggers() -> str:
    statements = []
    for table in APPEND_ONLY_TABLES:
        for action in ("UPDATE", "DELETE"):
            statements.append(
                f"CREATE TRIGGER IF NOT EXISTS {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'ledger {table} are append-only: {action} refused'); END;"
            )
    return "\n".join(statements)


def connect(path: str) -> sqlite3.Connection:
    """Open (creating if needed) a ledger database with durable settings."""
    # isolation_level=None: we issue BEGIN/COMMIT ourselves so a batch is exactly one transaction.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")  # a committed batch survives power loss
    conn.executescript(TABLES + _append_only_triggers())
    return conn
