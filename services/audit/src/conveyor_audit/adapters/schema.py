"""The ledger's SQLite schema. Append-only is enforced by the database itself, not only by our code.

Format 2 (PRAGMA user_version = 2) is shaped by what an append costs, since every event pays it:
- leaf hashes live in `entries` only; `subtree` keeps levels 1 and up (level 0 repeated the leaf hash);
- density is checked once per batch, when its tree head is written, instead of once per row.
A format 1 ledger is migrated in place, in one transaction, when it is opened.

The unique index on event ids is the duplicate check. Conveyor's ids are UUIDv7 (time first), so it
grows at its right edge; random ids from other producers still work, each costing a page rewrite.
"""

import logging
import sqlite3

logger = logging.getLogger(__name__)
FORMAT = 2

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

-- Hashes of complete subtrees (level >= 1, index): roots and audit paths without rehashing every leaf.
-- Level 0, the leaves, is entries.leaf_hash.
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

-- Leaf indexes must stay dense: a gap would silently shift every later proof. Every batch writes its
-- tree head in the same transaction as its entries, so the head is where the batch is checked: the
-- entries from the previous head on are exactly the indexes [previous size, new size). Three lookups
-- on primary keys and a count of the batch's own rows, where a trigger on each entry cost a tenth of
-- an append.
CREATE TRIGGER IF NOT EXISTS tree_head_dense BEFORE INSERT ON tree_head
WHEN NEW.size != (SELECT COALESCE(MAX(idx), -1) + 1 FROM entries)
  OR (SELECT MIN(idx) FROM entries) < 0
  OR NEW.size - (SELECT COALESCE(MAX(size), 0) FROM tree_head)
     != (SELECT COUNT(*) FROM entries WHERE idx >= (SELECT COALESCE(MAX(size), 0) FROM tree_head))
BEGIN SELECT RAISE(ABORT, 'ledger entries: indexes must be dense, 0 to tree size - 1'); END;
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
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > FORMAT:
        conn.close()
        raise RuntimeError(f"ledger {path} is format {version}; this audit service reads format {FORMAT} and "
                           "earlier: upgrade the service rather than let it write an older format")
    if version < FORMAT and _has_entries_table(conn):
        _migrate_from_format_1(conn, path)
    conn.executescript(TABLES + _append_only_triggers() + f"PRAGMA user_version = {FORMAT};")
    return conn


def _has_entries_table(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'entries'").fetchone() is not None


def _migrate_from_format_1(conn: sqlite3.Connection, path: str) -> None:
    """Format 1 -> 2 in one transaction: drop the level-0 subtree rows (they repeat entries.leaf_hash) and
    swap the per-row density trigger for the per-batch one. The no-delete trigger steps aside only
    inside this transaction; the full verify at startup checks the result."""
    logger.warning("migrating ledger %s from format 1 to format %d", path, FORMAT)
    conn.execute("BEGIN IMMEDIATE")
    try:
        for trigger in ("subtree_no_delete", "entries_dense", "entries_dense_v2"):
            conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        conn.execute("DELETE FROM subtree WHERE level = 0")
        conn.execute(f"PRAGMA user_version = {FORMAT}")
        conn.execute("COMMIT")  # the triggers come back with the schema script, right after this
    except BaseException:
        conn.execute("ROLLBACK")
        raise
