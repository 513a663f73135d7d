"""The trainer's private SQLite state: datasets it was told about, and the record of its runs.

A connection per call keeps it safe to use from the event loop and from the training thread alike.
"""

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from google.protobuf.message import Message

from conveyor.events.v1 import events_pb2 as ev

_OUTCOME_TYPES: dict[str, type[Message]] = {
    cls.DESCRIPTOR.full_name: cls for cls in (ev.ModelTrained, ev.ModelTrainingFailed)
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets (
    dataset_id TEXT PRIMARY KEY,
    model_name TEXT NOT NULL,
    event BLOB NOT NULL,          -- the DatasetArrived as received (protobuf bytes)
    received_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS datasets_by_model ON datasets (model_name, received_at);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    model_name TEXT NOT NULL,
    dataset_id TEXT NOT NULL,
    trigger TEXT NOT NULL,
    status TEXT NOT NULL,         -- running | trained | failed
    stage TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    metrics TEXT NOT NULL DEFAULT '{}',
    artifact_uri TEXT NOT NULL DEFAULT '',
    started_at REAL NOT NULL,
    finished_at REAL
);
CREATE TABLE IF NOT EXISTS outcomes (
    run_id TEXT PRIMARY KEY,      -- derived from the triggering event's id
    event_type TEXT NOT NULL,     -- the outcome's protobuf full name
    event BLOB NOT NULL           -- ModelTrained or ModelTrainingFailed, exactly as published
);
"""
# Columns added after the first schema, applied to older state files on open: (table, column, declaration).
_ADDED = (
    ("datasets", "name", "TEXT NOT NULL DEFAULT ''"),
    ("datasets", "version", "INTEGER NOT NULL DEFAULT 0"),
    ("runs", "details", "TEXT NOT NULL DEFAULT '{}'"),  # trials, training rows and versions, comparison
)


class TrainerState:
    def __init__(self, path: Path) -> None:
        self.path = path
        with self._connect() as db:
            db.executescript(_SCHEMA)
            for table, column, declaration in _ADDED:
                if column not in {row["name"] for row in db.execute(f"PRAGMA table_info({table})")}:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
            db.execute("CREATE INDEX IF NOT EXISTS datasets_by_name ON datasets (name, version)")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10)
        db.row_factory = sqlite3.Row
        try:
            with db:  # one transaction: committed on success, rolled back on error
                yield db
        finally:
            db.close()

    # --- datasets -----------------------------------------------------------------------------

    def remember_dataset(self, dataset: ev.DatasetArrived, model_name: str) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO datasets (dataset_id, model_name, event, received_at, name, version)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (dataset.dataset_id, model_name, dataset.SerializeToString(), time.time(), dataset.name,
                 dataset.version),
            )

    def replace_dataset(self, old_id: str, dataset: ev.DatasetArrived, model_name: str) -> None:
        """An erasure rewrote a version: the new one takes its place (same name and number)."""
        with self._connect() as db:
            db.execute("DELETE FROM datasets WHERE dataset_id = ?", (old_id,))
            db.execute(
                "INSERT OR REPLACE INTO datasets (dataset_id, model_name, event, received_at, name, version)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (dataset.dataset_id, model_name, dataset.SerializeToString(), time.time(), dataset.name,
                 dataset.version))

    def versions(self, name: str) -> list[ev.DatasetArrived]:
        """Every version of a dataset name seen so far, oldest first."""
        with self._connect() as db:
            rows = db.execute("SELECT event FROM datasets WHERE name = ? ORDER BY version, received_at",
                              (name,)).fetchall()
        return [ev.DatasetArrived.FromString(row["event"]) for row in rows]

    def dataset(self, dataset_id: str) -> ev.DatasetArrived | None:
        with self._connect() as db:
            row = db.execute("SELECT event FROM datasets WHERE dataset_id = ?", (dataset_id,)).fetchone()
        return ev.DatasetArrived.FromString(row["event"]) if row else None

    def latest_dataset(self, model_name: str) -> ev.DatasetArrived | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT event FROM datasets WHERE model_name = ? ORDER BY version DESC, received_at DESC, rowid DESC"
                " LIMIT 1",
                (model_name,),
            ).fetchone()
        return ev.DatasetArrived.FromString(row["event"]) if row else None

    # --- runs ---------------------------------------------------------------------------------

    def outcome(self, run_id: str) -> Message | None:
        """The event a finished run published, to publish again when its trigger is redelivered."""
        with self._connect() as db:
            row = db.execute("SELECT event_type, event FROM outcomes WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            return None
        return _OUTCOME_TYPES[row["event_type"]].FromString(row["event"])

    def record_outcome(self, run_id: str, event: Message) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO outcomes (run_id, event_type, event) VALUES (?, ?, ?)",
                (run_id, event.DESCRIPTOR.full_name, event.SerializeToString()),
            )

    def run_started(self, run_id: str, model_name: str, dataset_id: str, trigger: str) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO runs (run_id, model_name, dataset_id, trigger, status, started_at)"
                " VALUES (?, ?, ?, ?, 'running', ?)",
                (run_id, model_name, dataset_id, trigger, time.time()),
            )

    def run_trained(self, run_id: str, metrics: dict[str, float], artifact_uri: str,
                    details: dict[str, Any] | None = None) -> None:
        with self._connect() as db:
            db.execute(
                "UPDATE runs SET status = 'trained', metrics = ?, artifact_uri = ?, finished_at = ?, details = ?"
                " WHERE run_id = ?",
                (json.dumps(metrics, sort_keys=True), artifact_uri, time.time(),
                 json.dumps(details or {}, sort_keys=True), run_id),
            )

    def trained_on(self, model_name: str, dataset_id: str) -> bool:
        """Did a run of this model already train on that dataset version (and succeed)?"""
        with self._connect() as db:
            row = db.execute("SELECT 1 FROM runs WHERE model_name = ? AND dataset_id = ? AND status = 'trained'",
                             (model_name, dataset_id)).fetchone()
        return row is not None

    def newest_trained_run(self, model_name: str) -> str | None:
        with self._connect() as db:
            row = db.execute("SELECT run_id FROM runs WHERE model_name = ? AND status = 'trained' "
                             "ORDER BY finished_at DESC LIMIT 1", (model_name,)).fetchone()
        return row["run_id"] if row else None

    def run_failed(self, run_id: str, stage: str, reason: str) -> None:
        with self._connect() as db:
            db.execute(
                "UPDATE runs SET status = 'failed', stage = ?, reason = ?, finished_at = ? WHERE run_id = ?",
                (stage, reason, time.time(), run_id),
            )

    def recent_runs(self, limit: int) -> list[dict[str, Any]]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM runs ORDER BY started_at DESC LIMIT ?", (limit,)).fetchall()
        return [_run(row) for row in rows]

    def run(self, run_id: str) -> dict[str, Any] | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return _run(row) if row else None


def _run(row: sqlite3.Row) -> dict[str, Any]:
    record = dict(row)
    record["metrics"] = json.loads(record["metrics"])
    record.update(json.loads(record.pop("details", "{}") or "{}"))
    return record
