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

-- Leaf indexes must stay dense: a gap would silently shift every later proof. With the primary key's
-- uniqueness, "the previous index exists" is enough (an existing idx is refused by the key), and it is
-- one primary-key probe, where the MAX(idx) of the first version of this trigger cost a third of an
-- append's time.
DROP TRIGGER IF EXISTS entries_dense;
CREATE TRIGGER IF NOT EXISTS entries_dense_v2 BEFORE INSERT ON entries
WHEN NEW.idx != 0 AND NOT EXISTS (SELECT 1 FROM entries WHERE idx = NEW.idx - 1)
BEGIN SELECT RAISE(ABORT, 'ledger entries: idx must be the next index'); END;
"""

ENTRY_COLUMNS = (
    'idx, event_id, type, source, subject, time, topic, partition, "offset", '
    "leaf_bytes, leaf_hash, chain_hash, recorded_at"
)
# A whole prepared batch per statement (see prepare.py), in index order for the dense trigger.
INSERT_ENTRIES = (
    f"INSERT INTO entries ({ENTRY_COLUMNS}) "
    "SELECT :base + j.key, j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4, "
    "j.value ->> 5, j.value ->> 6, j.value ->> 7, substr(:leaves, j.value ->> 8, j.value ->> 9), "
    "substr(:hashes, j.key * 64 + 1, 32), substr(:hashes, j.key * 64 + 33, 32), :recorded_at "
    "FROM json_each(:columns) AS j ORDER BY j.key"
)
INSERT_NODES = (
    "INSERT INTO subtree (level, idx, hash) "
    "SELECT j.value ->> 0, j.value ->> 1, substr(?2, j.key * 32 + 1, 32) FROM json_each(?1) AS j"
)

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


def connect(path: str, reader: bool = False) -> sqlite3.Connection:
    """Open (creating if needed) a ledger database with durable settings; `reader`: an existing one, read-only."""
    # isolation_level=None: we issue BEGIN/COMMIT ourselves so a batch is exactly one transaction.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    if reader:
        conn.execute("PRAGMA query_only=ON")
        return conn
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")  # a committed batch survives power loss
    # Room for the event-id index's hot pages, and fewer WAL checkpoints: a page rewritten by many
    # batches (index pages are) is copied back to the database once per checkpoint, not once per batch.
    conn.execute("PRAGMA cache_size=-65536")
    conn.execute("PRAGMA wal_autocheckpoint=10000")
    conn.executescript(TABLES + _append_only_triggers())
    return conn
