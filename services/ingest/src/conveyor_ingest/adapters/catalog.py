"""The dataset catalog: one SQLite file, one row per accepted dataset version, written only after it was
announced. A dataset name has versions 1, 2, ...; each version's id is the sha256 of its stored bytes."""

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets (
    dataset_id        TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    uri               TEXT NOT NULL,
    profile_uri       TEXT NOT NULL,
    rows              INTEGER NOT NULL,
    source_format     TEXT NOT NULL,
    spec_json         TEXT NOT NULL,
    owner             TEXT NOT NULL,
    consent_basis     TEXT NOT NULL,
    uploader          TEXT NOT NULL,
    original_filename TEXT NOT NULL,
    received_at       TEXT NOT NULL
)
"""
# Columns added after the first schema: (name, declaration), applied to older catalogs on open.
_ADDED = (
    ("version", "INTEGER NOT NULL DEFAULT 1"),
    ("provenance_json", "TEXT NOT NULL DEFAULT '{}'"),
    ("dtypes_json", "TEXT NOT NULL DEFAULT '{}'"),
    # the hash of the bytes as uploaded, when ingest stored others (subject ids replaced by references)
    ("upload_sha256", "TEXT NOT NULL DEFAULT ''"),
)
_INDEX = "CREATE INDEX IF NOT EXISTS datasets_by_name ON datasets (name, version)"


@dataclass(frozen=True)
class CatalogEntry:
    dataset_id: str
    name: str
    uri: str
    profile_uri: str
    rows: int
    source_format: str
    spec_json: str
    owner: str
    consent_basis: str
    uploader: str
    original_filename: str
    received_at: str
    version: int = 1
    provenance_json: str = "{}"  # DatasetProvenance fields beyond the uploader (kind, model, window, ...)
    dtypes_json: str = "{}"  # feature -> how it was read ("float64" | "int64" | "string" | "bool")
    upload_sha256: str = ""

    @property
    def spec(self) -> dict[str, Any]:
        return json.loads(self.spec_json)

    @property
    def dtypes(self) -> dict[str, str]:
        return json.loads(self.dtypes_json)

    def summary(self) -> dict[str, Any]:
        return {
            "dataset_id": self.dataset_id, "name": self.name, "uri": self.uri, "profile_uri": self.profile_uri,
            "rows": self.rows, "source_format": self.source_format, "owner": self.owner,
            "consent_basis": self.consent_basis, "received_at": self.received_at, "version": self.version,
            "provenance_kind": json.loads(self.provenance_json).get("kind", "upload"),
        }

    def provenance(self) -> dict[str, Any]:
        return {"kind": "upload", **json.loads(self.provenance_json), "uploader": self.uploader,
                "original_filename": self.original_filename, "received_at": self.received_at}


class Catalog:
    """Short-lived connections: callers run in worker threads, and SQLite connections are per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with self._connect() as db:
            db.execute(_SCHEMA)
            have = {row["name"] for row in db.execute("PRAGMA table_info(datasets)")}
            for column, declaration in _ADDED:
                if column not in have:
                    db.execute(f"ALTER TABLE datasets ADD COLUMN {column} {declaration}")
            db.execute(_INDEX)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10)
        db.row_factory = sqlite3.Row
        try:
            with db:  # commits on success, rolls back on error
                yield db
        finally:
            db.close()

    def add(self, entry: CatalogEntry) -> bool:
        """Insert the entry; False if a dataset with this id is already there (a concurrent twin won)."""
        fields = asdict(entry)
        columns = ", ".join(fields)
        marks = ", ".join(f":{name}" for name in fields)
        with self._connect() as db:
            cursor = db.execute(f"INSERT OR IGNORE INTO datasets ({columns}) VALUES ({marks})", fields)
            return cursor.rowcount == 1

    def get(self, dataset_id: str) -> CatalogEntry | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM datasets WHERE dataset_id = ?", (dataset_id,)).fetchone()
        return CatalogEntry(**dict(row)) if row else None

    def by_upload(self, sha256: str) -> CatalogEntry | None:
        """The version stored for these uploaded bytes, when the stored bytes differ from them."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM datasets WHERE upload_sha256 = ? ORDER BY rowid DESC LIMIT 1",
                             (sha256,)).fetchone()
        return CatalogEntry(**dict(row)) if row else None

    def replace(self, old_id: str, entry: CatalogEntry) -> None:
        """An erasure rewrote `old_id` as `entry` (same name and version number): one transaction."""
        fields = asdict(entry)
        columns = ", ".join(fields)
        marks = ", ".join(f":{name}" for name in fields)
        with self._connect() as db:
            db.execute("DELETE FROM datasets WHERE dataset_id = ?", (old_id,))
            db.execute(f"INSERT OR REPLACE INTO datasets ({columns}) VALUES ({marks})", fields)

    def next_version(self, name: str) -> int:
        """The number the next version of `name` gets; callers hold the one-writer lock around it and add()."""
        with self._connect() as db:
            (latest,) = db.execute("SELECT max(version) FROM datasets WHERE name = ?", (name,)).fetchone()
        return (latest or 0) + 1

    def list(self, limit: int = 100, name: str | None = None) -> list[CatalogEntry]:
        """Newest first; with `name`, that dataset's versions only."""
        with self._connect() as db:
            if name is None:
                rows = db.execute("SELECT * FROM datasets ORDER BY rowid DESC LIMIT ?", (limit,)).fetchall()
            else:
                rows = db.execute("SELECT * FROM datasets WHERE name = ? ORDER BY version DESC LIMIT ?",
                                  (name, limit)).fetchall()
        return [CatalogEntry(**dict(row)) for row in rows]
