"""The dataset catalog: one row per accepted dataset version, written only after it was announced. A dataset
name has versions 1, 2, ...; each version's id is the sha256 of its stored bytes.

SQLite in the state dir by default, or the platform's PostgreSQL (schema `ingest`). Several ingest instances
may share it: a version number is claimed for a dataset id before DatasetArrived is announced (`claim_version`),
in one transaction serialized per name, so two instances never announce the same number for two tables, and a
retry of the same table after a failed publish gets the number it claimed before.
"""

import json
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError

from conveyor_kernel.database import serialize

metadata = MetaData()
datasets = Table(
    "datasets", metadata,
    Column("dataset_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("uri", Text, nullable=False),
    Column("profile_uri", Text, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("source_format", Text, nullable=False),
    Column("spec_json", Text, nullable=False),
    Column("owner", Text, nullable=False),
    Column("consent_basis", Text, nullable=False),
    Column("uploader", Text, nullable=False),
    Column("original_filename", Text, nullable=False),
    Column("received_at", Text, nullable=False),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("provenance_json", Text, nullable=False, server_default="{}"),
    Column("dtypes_json", Text, nullable=False, server_default="{}"),
    Index("datasets_by_name", "name", "version"),
)
# A version number, once claimed by a dataset id, is that dataset's (announced or about to be).
claims = Table(
    "version_claims", metadata,
    Column("dataset_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("version", Integer, nullable=False),
    UniqueConstraint("name", "version", name="one_dataset_per_version"),
)
# Columns added after the first schema: (name, declaration), applied to older SQLite catalogs on open.
_ADDED = (
    ("version", "INTEGER NOT NULL DEFAULT 1"),
    ("provenance_json", "TEXT NOT NULL DEFAULT '{}'"),
    ("dtypes_json", "TEXT NOT NULL DEFAULT '{}'"),
)
_ORDER = ("dataset_id", "name", "uri", "profile_uri", "rows", "source_format", "spec_json", "owner",
          "consent_basis", "uploader", "original_filename", "received_at", "version", "provenance_json",
          "dtypes_json")


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
    """Callers run in worker threads; the engine's pool hands each call a connection of its own."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        with engine.begin() as db:
            if inspect(db).has_table("datasets"):
                have = {column["name"] for column in inspect(db).get_columns("datasets")}
                for column, declaration in _ADDED:
                    if column not in have:
                        db.execute(text(f"ALTER TABLE datasets ADD COLUMN {column} {declaration}"))
            metadata.create_all(db)

    def add(self, entry: CatalogEntry) -> bool:
        """Insert the entry; False if a dataset with this id is already there (a concurrent twin won)."""
        try:
            with self.engine.begin() as db:
                db.execute(insert(datasets).values(**asdict(entry)))
        except IntegrityError:
            return False
        return True

    def get(self, dataset_id: str) -> CatalogEntry | None:
        with self.engine.connect() as db:
            row = db.execute(select(datasets).where(datasets.c.dataset_id == dataset_id)).mappings().first()
        return _entry(row) if row else None

    def claim_version(self, name: str, dataset_id: str) -> int:
        """The version `dataset_id` gets as a version of `name`: the one it claimed before, else the next free."""
        with self.engine.begin() as db:
            serialize(db, f"ingest-version:{name}")
            claimed = db.execute(select(claims.c.version).where(claims.c.dataset_id == dataset_id)).scalar()
            if claimed is not None:
                return int(claimed)
            latest = db.execute(select(func.max(claims.c.version)).where(claims.c.name == name)).scalar()
            catalogued = db.execute(select(func.max(datasets.c.version)).where(datasets.c.name == name)).scalar()
            version = max(latest or 0, catalogued or 0) + 1  # catalogs older than claims start after their rows
            db.execute(insert(claims).values(dataset_id=dataset_id, name=name, version=version))
        return version

    def list(self, limit: int = 100, name: str | None = None) -> list[CatalogEntry]:
        """Newest first; with `name`, that dataset's versions only."""
        query = select(datasets)
        if name is None:
            query = query.order_by(datasets.c.received_at.desc(), datasets.c.dataset_id)
        else:
            query = query.where(datasets.c.name == name).order_by(datasets.c.version.desc())
        with self.engine.connect() as db:
            rows = db.execute(query.limit(limit)).mappings().all()
        return [_entry(row) for row in rows]


def _entry(row: Any) -> CatalogEntry:
    return CatalogEntry(**{key: row[key] for key in _ORDER})
