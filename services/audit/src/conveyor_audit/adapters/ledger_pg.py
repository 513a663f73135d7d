"""The ledger in PostgreSQL (schema `audit`), with the SQLite ledger's guarantees.

The same tables, the same one transaction per batch (entries, subtree hashes, the tree head and the consumer's
next offsets commit together or not at all: exactly once with respect to the log), and the database itself
refuses what the code never does: a trigger function rejects UPDATE, DELETE and TRUNCATE on the ledger's tables,
and a tree head whose batch left a gap or a repeat in the leaf indexes (the SQLite schema's density check).

A batch is still a handful of parameters: the columns as one JSON array expanded by jsonb_array_elements and
the leaves and hashes as byte strings cut with substring, so an append is one statement per table whatever the
batch size, as in SQLite. Statements shared with the SQLite ledger are written with `?` placeholders there;
`_Connection` hands them to psycopg as `%s`.
"""

import logging
import threading
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from .ledger_db import Ledger

logger = logging.getLogger(__name__)
SCHEMA = "audit"

TABLES = """
CREATE TABLE IF NOT EXISTS entries (
    idx          BIGINT PRIMARY KEY,
    event_id     TEXT NOT NULL UNIQUE,
    type         TEXT NOT NULL,
    source       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    time         TEXT NOT NULL,
    topic        TEXT NOT NULL,
    partition    INTEGER NOT NULL,
    "offset"     BIGINT NOT NULL,
    leaf_bytes   BYTEA NOT NULL,
    leaf_hash    BYTEA NOT NULL,
    chain_hash   BYTEA NOT NULL,
    recorded_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_by_subject ON entries(subject, idx);
CREATE INDEX IF NOT EXISTS entries_by_type ON entries(type, idx);
CREATE TABLE IF NOT EXISTS subtree (
    level  INTEGER NOT NULL,
    idx    BIGINT NOT NULL,
    hash   BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);
CREATE TABLE IF NOT EXISTS tree_head (size BIGINT PRIMARY KEY, root BYTEA NOT NULL, recorded_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoint (
    size BIGINT PRIMARY KEY, root BYTEA NOT NULL, note TEXT NOT NULL, issued_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS checkpoint_by_time ON checkpoint(issued_at);
CREATE TABLE IF NOT EXISTS consumer_offset (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset BIGINT NOT NULL, PRIMARY KEY (topic, partition)
);

CREATE OR REPLACE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger % are append-only: % refused', TG_TABLE_NAME, TG_OP;
END $$;

-- See the SQLite schema: each batch's tree head checks that the batch's entries are exactly
-- [previous size, new size), so leaf indexes stay dense.
CREATE OR REPLACE FUNCTION ledger_tree_head_dense() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    previous BIGINT;
    top BIGINT;
    lowest BIGINT;
    added BIGINT;
BEGIN
    SELECT COALESCE(MAX(size), 0) INTO previous FROM tree_head;
    SELECT COALESCE(MAX(idx), -1) + 1, MIN(idx) INTO top, lowest FROM entries;
    SELECT COUNT(*) INTO added FROM entries WHERE idx >= previous;
    IF NEW.size <> top OR lowest < 0 OR NEW.size - previous <> added THEN
        RAISE EXCEPTION 'ledger entries: indexes must be dense, 0 to tree size - 1';
    END IF;
    RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER tree_head_dense BEFORE INSERT ON tree_head
    FOR EACH ROW EXECUTE FUNCTION ledger_tree_head_dense();
"""
APPEND_ONLY = "".join(
    f"CREATE OR REPLACE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
    f"FOR EACH ROW EXECUTE FUNCTION ledger_append_only();\n"
    f"CREATE OR REPLACE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
    f"FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();\n"
    for table in ("entries", "subtree", "tree_head", "checkpoint")
)

INSERT_ENTRIES = (
    'INSERT INTO entries (idx, event_id, type, source, subject, time, topic, partition, "offset", '
    "leaf_bytes, leaf_hash, chain_hash, recorded_at) "
    "SELECT %(base)s + j.n - 1, j.v ->> 0, j.v ->> 1, j.v ->> 2, j.v ->> 3, j.v ->> 4, j.v ->> 5, "
    "(j.v ->> 6)::int, (j.v ->> 7)::bigint, "
    "substring(%(leaves)s::bytea FROM (j.v ->> 8)::int FOR (j.v ->> 9)::int), "
    "substring(%(hashes)s::bytea FROM ((j.n - 1) * 64 + 1)::int FOR 32), "
    "substring(%(hashes)s::bytea FROM ((j.n - 1) * 64 + 33)::int FOR 32), %(recorded_at)s "
    "FROM jsonb_array_elements(convert_from(%(columns)s::bytea, 'UTF8')::jsonb) WITH ORDINALITY AS j(v, n) "
    "ORDER BY j.n"
)
INSERT_NODES = (  # parameters (positions, hashes), as the SQLite statement takes them
    "WITH j AS (SELECT v, n FROM jsonb_array_elements(convert_from(%s::bytea, 'UTF8')::jsonb) WITH ORDINALITY "
    "AS t(v, n)), b AS (SELECT %s::bytea AS hashes) "
    "INSERT INTO subtree (level, idx, hash) "
    "SELECT (j.v ->> 0)::int, (j.v ->> 1)::bigint, substring(b.hashes FROM ((j.n - 1) * 32 + 1)::int FOR 32) "
    "FROM j, b"
)


class _Connection:
    """A psycopg connection that speaks the sqlite3 calls the shared Ledger code makes (`?` placeholders)."""

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self.connection = connection

    @staticmethod
    def _sql(statement: str, params: Any) -> str:
        return statement.replace("?", "%s") if params is not None and not isinstance(params, dict) else statement

    def execute(self, statement: str, params: Any = None) -> Any:
        return self.connection.execute(self._sql(statement, params), params)  # type: ignore[arg-type]

    def executemany(self, statement: str, rows: Any) -> None:
        with self.connection.cursor() as cursor:
            cursor.executemany(self._sql(statement, ()), rows)

    def close(self) -> None:
        self.connection.close()


def _connect(url: str, read_only: bool = False) -> _Connection:
    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    options = f"-c search_path={SCHEMA}" + (" -c default_transaction_read_only=on" if read_only else "")
    # autocommit: the Ledger issues BEGIN and COMMIT itself, so a batch is exactly one transaction
    return _Connection(psycopg.connect(libpq, autocommit=True, options=options))


class PostgresLedger(Ledger):
    # SERIALIZABLE for the batch: with the writer lease there is one writer; if a second one slipped in
    # (a lost lease), one of the two transactions fails instead of interleaving with the other.
    BEGIN_WRITE = "BEGIN ISOLATION LEVEL SERIALIZABLE"
    BEGIN_SNAPSHOT = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
    insert_entries, insert_nodes = INSERT_ENTRIES, INSERT_NODES

    def __init__(self, url: str) -> None:  # not super().__init__: that opens SQLite files, this opens sessions
        self.url = url
        self.path = make_url(url).render_as_string(hide_password=True)  # type: ignore[assignment]
        admin = _connect(url)
        admin.execute(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"')
        admin.execute("SET search_path TO " + SCHEMA)
        admin.connection.execute(TABLES + APPEND_ONLY)
        self._conn = admin
        self._lock = threading.Lock()
        self._reader = _connect(url, read_only=True)
        self._reader_lock = threading.Lock()
        self._range, self._chain = self._load_tip()
        logger.info("ledger in PostgreSQL %s (schema %s): %d entries", self.path, SCHEMA, self._range.size)
