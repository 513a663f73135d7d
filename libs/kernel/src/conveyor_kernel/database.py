"""The database edge every stateful service shares: SQLite files by default, PostgreSQL when a URL says so.

`CONVEYOR_DATABASE_URL` empty: each service keeps SQLite files in its state dir (the embedded default; several
instances on one machine share them, SQLite locks across processes). A `postgresql://` URL: every service of
the platform uses that one database, each in a schema named after it (`ingest`, `trainer`, ...), so their
tables never collide and a role per service can be granted its own schema alone.

SQLite write transactions begin IMMEDIATE: a transaction that reads and then writes takes the write lock
first and waits for it (busy_timeout), where a deferred one would fail with SQLITE_BUSY when another process
wrote in between. `serialize(connection, key)` is the cross-instance critical section: PostgreSQL takes a
transaction-scoped advisory lock on the key, SQLite already holds its database's write lock.
"""

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url

from ._errors import ConfigurationError

logger = logging.getLogger(__name__)

POSTGRES = "postgresql"
SQLITE = "sqlite"


def resolve_url(configured: str, state_dir: Path, filename: str) -> URL:
    """The configured URL (postgresql:// gets the psycopg 3 driver), else a SQLite file in the state dir."""
    if not configured:
        return make_url(f"sqlite:///{state_dir / filename}")
    url = make_url(configured.replace("postgres://", "postgresql://", 1))
    if url.get_backend_name() == POSTGRES and url.get_driver_name() in ("", "psycopg2", POSTGRES):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in (POSTGRES, SQLITE):
        raise ConfigurationError(f"CONVEYOR_DATABASE_URL {url.render_as_string()!r}: use postgresql://... "
                                 "or leave it empty for SQLite files in the data dir")
    return url


def make_engine(url: URL | str, schema: str, sqlite_synchronous: str = "FULL") -> Engine:
    """An engine whose tables live in `schema` (PostgreSQL; created if missing) or in the SQLite file.

    `sqlite_synchronous`: FULL survives power loss; NORMAL (with WAL) survives a killed process, for state
    whose loss on power failure a redelivery repairs."""
    url = make_url(url) if isinstance(url, str) else url
    if url.get_backend_name() == SQLITE:
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        _tune_sqlite(engine, sqlite_synchronous)
        return engine
    engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10,
                           connect_args={"options": f"-c search_path={schema}"})
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    return engine


def _tune_sqlite(engine: Engine, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we say BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def serialize(connection: Connection, key: str) -> None:
    """Inside a transaction: no other instance runs a section with the same key until this one ends."""
    if connection.dialect.name == POSTGRES:
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})


def is_postgres(engine: Engine | Connection) -> bool:
    return engine.dialect.name == POSTGRES
