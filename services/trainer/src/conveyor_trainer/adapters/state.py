"""The trainer's private state: datasets it was told about, and the record of its runs.

SQLite in the state dir by default, or the platform's PostgreSQL (schema `trainer`); every trainer instance of
a consumer group shares it, so a retrain handled by one finds the datasets another was told about, and a run
taken over after a crash finds the outcome of the first attempt. Each call is one short transaction, safe
from the event loop's worker threads and the training thread alike.
"""

import json
import time
from typing import Any

from google.protobuf.message import Message
from sqlalchemy import (
    Column,
    Engine,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from conveyor.events.v1 import events_pb2 as ev

_OUTCOME_TYPES: dict[str, type[Message]] = {
    cls.DESCRIPTOR.full_name: cls for cls in (ev.ModelTrained, ev.ModelTrainingFailed)
}

metadata = MetaData()
datasets = Table(
    "datasets", metadata,
    Column("dataset_id", Text, primary_key=True),
    Column("model_name", Text, nullable=False),
    Column("event", LargeBinary, nullable=False),  # the DatasetArrived as received (protobuf bytes)
    Column("received_at", Float, nullable=False),
    Column("name", Text, nullable=False, server_default=""),
    Column("version", Integer, nullable=False, server_default="0"),
    Index("datasets_by_model", "model_name", "received_at"),
    Index("datasets_by_name", "name", "version"),
)
runs = Table(
    "runs", metadata,
    Column("run_id", Text, primary_key=True),
    Column("model_name", Text, nullable=False),
    Column("dataset_id", Text, nullable=False),
    Column("trigger", Text, nullable=False),
    Column("status", Text, nullable=False),  # running | trained | failed
    Column("stage", Text, nullable=False, server_default=""),
    Column("reason", Text, nullable=False, server_default=""),
    Column("metrics", Text, nullable=False, server_default="{}"),
    Column("artifact_uri", Text, nullable=False, server_default=""),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float),
    Column("details", Text, nullable=False, server_default="{}"),  # trials, training rows and versions, comparison
)
outcomes = Table(
    "outcomes", metadata,
    Column("run_id", Text, primary_key=True),  # derived from the triggering event's id
    Column("event_type", Text, nullable=False),  # the outcome's protobuf full name
    Column("event", LargeBinary, nullable=False),  # ModelTrained or ModelTrainingFailed, exactly as published
)
# Columns added after the first schema, applied to older SQLite state files on open: (table, column, declaration).
_ADDED = (
    ("datasets", "name", "TEXT NOT NULL DEFAULT ''"),
    ("datasets", "version", "INTEGER NOT NULL DEFAULT 0"),
    ("runs", "details", "TEXT NOT NULL DEFAULT '{}'"),
)


def _upsert(engine: Engine, table: Table, key: str, values: dict[str, Any]) -> Any:
    """INSERT ... ON CONFLICT (key) DO UPDATE: the last write for a key wins, on either database."""
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(**values)
    return statement.on_conflict_do_update(index_elements=[key],
                                           set_={k: statement.excluded[k] for k in values if k != key})


class TrainerState:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        with engine.begin() as db:
            for table, column, declaration in _ADDED:
                if inspect(db).has_table(table) and column not in {
                        c["name"] for c in inspect(db).get_columns(table)}:
                    db.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}"))
            metadata.create_all(db)

    # --- datasets -----------------------------------------------------------------------------

    def remember_dataset(self, dataset: ev.DatasetArrived, model_name: str) -> None:
        with self.engine.begin() as db:
            db.execute(_upsert(self.engine, datasets, "dataset_id", {
                "dataset_id": dataset.dataset_id, "model_name": model_name, "event": dataset.SerializeToString(),
                "received_at": time.time(), "name": dataset.name, "version": dataset.version}))

    def versions(self, name: str) -> list[ev.DatasetArrived]:
        """Every version of a dataset name seen so far, oldest first."""
        query = select(datasets.c.event).where(datasets.c.name == name).order_by(datasets.c.version,
                                                                                  datasets.c.received_at)
        with self.engine.connect() as db:
            return [ev.DatasetArrived.FromString(event) for event in db.execute(query).scalars()]

    def dataset(self, dataset_id: str) -> ev.DatasetArrived | None:
        with self.engine.connect() as db:
            event = db.execute(select(datasets.c.event).where(datasets.c.dataset_id == dataset_id)).scalar()
        return ev.DatasetArrived.FromString(event) if event is not None else None

    def latest_dataset(self, model_name: str) -> ev.DatasetArrived | None:
        query = (select(datasets.c.event).where(datasets.c.model_name == model_name)
                 .order_by(datasets.c.version.desc(), datasets.c.received_at.desc(), datasets.c.dataset_id.desc())
                 .limit(1))
        with self.engine.connect() as db:
            event = db.execute(query).scalar()
        return ev.DatasetArrived.FromString(event) if event is not None else None

    # --- runs ---------------------------------------------------------------------------------

    def outcome(self, run_id: str) -> Message | None:
        """The event a finished run published, to publish again when its trigger is redelivered."""
        with self.engine.connect() as db:
            row = db.execute(select(outcomes.c.event_type, outcomes.c.event)
                             .where(outcomes.c.run_id == run_id)).first()
        if row is None:
            return None
        return _OUTCOME_TYPES[row.event_type].FromString(row.event)

    def record_outcome(self, run_id: str, event: Message) -> None:
        with self.engine.begin() as db:
            db.execute(_upsert(self.engine, outcomes, "run_id", {
                "run_id": run_id, "event_type": event.DESCRIPTOR.full_name, "event": event.SerializeToString()}))

    def run_started(self, run_id: str, model_name: str, dataset_id: str, trigger: str) -> None:
        with self.engine.begin() as db:
            db.execute(_upsert(self.engine, runs, "run_id", {
                "run_id": run_id, "model_name": model_name, "dataset_id": dataset_id, "trigger": trigger,
                "status": "running", "started_at": time.time(), "stage": "", "reason": "", "metrics": "{}",
                "artifact_uri": "", "finished_at": None, "details": "{}"}))  # a new attempt starts clean

    def run_trained(self, run_id: str, metrics: dict[str, float], artifact_uri: str,
                    details: dict[str, Any] | None = None) -> None:
        with self.engine.begin() as db:
            db.execute(update(runs).where(runs.c.run_id == run_id).values(
                status="trained", metrics=json.dumps(metrics, sort_keys=True), artifact_uri=artifact_uri,
                finished_at=time.time(), details=json.dumps(details or {}, sort_keys=True)))

    def trained_on(self, model_name: str, dataset_id: str) -> bool:
        """Did a run of this model already train on that dataset version (and succeed)?"""
        query = select(runs.c.run_id).where(runs.c.model_name == model_name, runs.c.dataset_id == dataset_id,
                                            runs.c.status == "trained").limit(1)
        with self.engine.connect() as db:
            return db.execute(query).first() is not None

    def run_failed(self, run_id: str, stage: str, reason: str) -> None:
        with self.engine.begin() as db:
            db.execute(update(runs).where(runs.c.run_id == run_id).values(
                status="failed", stage=stage, reason=reason, finished_at=time.time()))

    def recent_runs(self, limit: int) -> list[dict[str, Any]]:
        with self.engine.connect() as db:
            rows = db.execute(select(runs).order_by(runs.c.started_at.desc()).limit(limit)).mappings().all()
        return [_run(row) for row in rows]

    def run(self, run_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as db:
            row = db.execute(select(runs).where(runs.c.run_id == run_id)).mappings().first()
        return _run(row) if row else None


def _run(row: Any) -> dict[str, Any]:
    record = dict(row)
    record["metrics"] = json.loads(record["metrics"])
    record.update(json.loads(record.pop("details", "{}") or "{}"))
    return record
