"""Late-label state in SQLite: logged predictions awaiting labels, the labelled rows (production feedback),
the labelled windows, holdout baselines, and retrains waiting for labels.

POST /labels is REST, and faust forbids table writes outside a stream, so this state lives in a small
database in the monitor's state dir instead of a changelog. Every change is one transaction:
- a PredictionsLogged batch is remembered with INSERT OR IGNORE on (request_id, row): a batch redelivered
  after a crash changes nothing, even when some of its rows were labelled meanwhile;
- a join moves one row from pending to its model version's labelled window, and when that completes the
  window, the window's rows are marked scored and returned in the same transaction;
- a labelled row keeps the input row it was predicted from until a feedback table carried it (`collected`
  names that table); only then, and once scored, its payload is dropped;
- scored rows stay as tombstones so that a late redelivery cannot make them pending again.
Pending rows and scored rows are each bounded; the oldest are forgotten first.
A database of the first format (no input rows) is replaced at start: it held nothing a feedback table needs.
"""

import json
import logging
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from .performance import Logged, Scored, score

logger = logging.getLogger(__name__)

PENDING, LABELLED, SCORED = "pending", "labelled", "scored"
FORMAT = 2  # PRAGMA user_version of this schema

SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,          -- arrival order: the oldest are forgotten first
    request_id TEXT NOT NULL,
    row INTEGER NOT NULL,
    model TEXT NOT NULL,
    version INTEGER NOT NULL,
    state TEXT NOT NULL,                            -- pending | labelled | scored
    logged BLOB,                                    -- JSON of Logged; NULL once scored and collected
    truth TEXT,                                     -- JSON of the true label once joined
    joined INTEGER,                                 -- join order within the labelled window
    collected TEXT,                                 -- sha256 of the feedback table that carried the row
    UNIQUE (request_id, row)
);
CREATE INDEX IF NOT EXISTS predictions_state ON predictions (state, seq);
CREATE INDEX IF NOT EXISTS predictions_window ON predictions (model, version, state, joined);
CREATE INDEX IF NOT EXISTS predictions_feedback ON predictions (model, collected, state);
CREATE TABLE IF NOT EXISTS deferred (
    model TEXT PRIMARY KEY,                          -- one waiting retrain per model
    version INTEGER NOT NULL,
    trigger TEXT NOT NULL,
    reason TEXT NOT NULL,
    needed INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS baselines (
    model TEXT NOT NULL,
    version INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    PRIMARY KEY (model, version)
);
"""


class LabelJoin:
    def __init__(self, path: Path | str, window_size: int, max_pending: int = 200_000) -> None:
        self.window_size = window_size
        self.max_pending = max_pending
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a committed transaction survives SIGKILL
        if self._db.execute("PRAGMA user_version").fetchone()[0] != FORMAT:
            if self._db.execute("SELECT name FROM sqlite_master WHERE name = 'predictions'").fetchone():
                logger.warning("label store %s is of an older format; its pending predictions are dropped", path)
            self._db.executescript("DROP TABLE IF EXISTS predictions; DROP TABLE IF EXISTS deferred;")
            self._db.execute(f"PRAGMA user_version = {FORMAT}")
        self._db.executescript(SCHEMA)
        self._pending = self._count(PENDING)  # kept in step with the table: this process is its only writer

    def close(self) -> None:
        self._db.close()

    def remember(self, request_id: str, row: int, logged: Logged) -> None:
        self.remember_batch([(request_id, row, logged)])

    def remember_batch(self, items: Iterable[tuple[str, int, Logged]]) -> int:
        """Keep each prediction until its label arrives; returns how many were new."""
        rows = [(r, n, logged.model, logged.version, PENDING, _encode(logged)) for r, n, logged in items]
        with self._transaction() as db:
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO predictions (request_id, row, model, version, state, logged) "
                "VALUES (?, ?, ?, ?, ?, ?)", rows,
            )
            added = db.total_changes - before
            pending = self._pending + added
            if pending > self.max_pending:
                pending -= self._forget_oldest(db, PENDING)
        self._pending = pending
        return added

    def pending(self) -> int:
        return self._pending

    def _count(self, state: str) -> int:
        return self._db.execute("SELECT COUNT(*) FROM predictions WHERE state = ?", (state,)).fetchone()[0]

    def join(self, request_id: str, row: int, truth: Any) -> list[Scored] | None:
        """None when no pending prediction has this (request_id, row); else the windows it completed."""
        with self._transaction() as db:
            found = db.execute(
                "SELECT seq, model, version FROM predictions WHERE request_id = ? AND row = ? AND state = ?",
                (request_id, row, PENDING),
            ).fetchone()
            if found is None:
                return None
            seq, model, version = found
            db.execute(
                "UPDATE predictions SET state = ?, truth = ?, joined = (SELECT COALESCE(MAX(joined), 0) + 1 "
                "FROM predictions WHERE model = ? AND version = ? AND state = ?) WHERE seq = ?",
                (LABELLED, json.dumps(truth), model, version, LABELLED, seq),
            )
            labelled = db.execute(
                "SELECT COUNT(*) FROM predictions WHERE model = ? AND version = ? AND state = ?",
                (model, version, LABELLED),
            ).fetchone()[0]
            full = labelled >= self.window_size
            if full:  # the window leaves with the row that completed it; rows stay for feedback until collected
                window = db.execute(
                    "SELECT seq, logged, truth FROM predictions WHERE model = ? AND version = ? AND state = ? "
                    "ORDER BY joined", (model, version, LABELLED),
                ).fetchall()
                db.executemany("UPDATE predictions SET state = ?, joined = NULL WHERE seq = ?",
                               [(SCORED, s) for s, _, _ in window])
                self._forget_oldest(db, SCORED)
        self._pending -= 1
        if not full:
            return []
        rows = [(_decode(model, version, logged), json.loads(truth)) for _, logged, truth in window]
        return [score(model, version, rows)]

    # --- production feedback: labelled rows no feedback table has carried yet ---

    def uncollected(self, model: str) -> int:
        """Labelled rows of `model` (any version) that no feedback table has carried yet."""
        return self._db.execute(
            "SELECT COUNT(*) FROM predictions WHERE model = ? AND collected IS NULL AND state IN (?, ?)",
            (model, LABELLED, SCORED),
        ).fetchone()[0]

    def feedback(self, model: str) -> list["Labelled"]:
        """Those rows, oldest first, with their inputs and true labels."""
        found = self._db.execute(
            "SELECT seq, version, logged, truth FROM predictions WHERE model = ? AND collected IS NULL "
            "AND state IN (?, ?) ORDER BY seq", (model, LABELLED, SCORED),
        ).fetchall()
        return [Labelled(seq, _decode(model, version, logged), json.loads(truth))
                for seq, version, logged, truth in found]

    def collected(self, seqs: Iterable[int], table_sha256: str) -> None:
        """The rows went out in that table (published): never again; scored ones drop their payload now."""
        with self._transaction() as db:
            db.executemany("UPDATE predictions SET collected = ?, logged = CASE WHEN state = ? THEN NULL ELSE logged "
                           "END, truth = CASE WHEN state = ? THEN NULL ELSE truth END WHERE seq = ?",
                           [(table_sha256, SCORED, SCORED, s) for s in seqs])

    def defer(self, waiting: "Waiting") -> None:
        with self._transaction() as db:
            db.execute("INSERT INTO deferred (model, version, trigger, reason, needed) VALUES (?, ?, ?, ?, ?) "
                       "ON CONFLICT (model) DO UPDATE SET version = excluded.version, trigger = excluded.trigger, "
                       "reason = excluded.reason, needed = excluded.needed",
                       (waiting.model, waiting.version, waiting.trigger, waiting.reason, waiting.needed))

    def waiting(self) -> list["Waiting"]:
        """Retrains that wait for labels, one per model at most."""
        return [Waiting(*row) for row in self._db.execute(
            "SELECT model, version, trigger, reason, needed FROM deferred ORDER BY model")]

    def stop_waiting(self, model: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM deferred WHERE model = ?", (model,))

    def set_baseline(self, model: str, version: int, metrics: dict[str, float]) -> None:
        with self._transaction() as db:
            db.execute("INSERT INTO baselines (model, version, metrics) VALUES (?, ?, ?) "
                       "ON CONFLICT (model, version) DO UPDATE SET metrics = excluded.metrics",
                       (model, version, json.dumps(metrics)))

    def baseline(self, model: str, version: int) -> dict[str, float]:
        found = self._db.execute("SELECT metrics FROM baselines WHERE model = ? AND version = ?",
                                 (model, version)).fetchone()
        return json.loads(found[0]) if found else {}

    def _forget_oldest(self, db: sqlite3.Connection, state: str) -> int:
        """Beyond `max_pending` rows of `state`, the oldest go (unlabelled ones, or scored ones even when no
        feedback table carried them yet: the store stays bounded under any label rate)."""
        before = db.total_changes
        db.execute(
            "DELETE FROM predictions WHERE seq IN (SELECT seq FROM predictions WHERE state = ? ORDER BY seq DESC "
            "LIMIT -1 OFFSET ?)", (state, self.max_pending),
        )
        return db.total_changes - before

    def _transaction(self) -> "_Transaction":
        return _Transaction(self._db)


@dataclass(frozen=True)
class Labelled:
    seq: int
    logged: Logged
    truth: Any


@dataclass(frozen=True)
class Waiting:
    """A retrain an alarm asked for, waiting until `needed` labelled rows exist."""

    model: str
    version: int
    trigger: str
    reason: str
    needed: int


def _encode(logged: Logged) -> bytes:
    # orjson: ~10x json's speed on these rows, and NaN (a missing input) becomes null
    return orjson.dumps([logged.label, logged.score, logged.value, logged.attributes, logged.task, logged.positive,
                         logged.inputs, logged.timestamp_ms])


def _decode(model: str, version: int, data: bytes) -> Logged:
    label, score_, value, attributes, task, positive, inputs, timestamp_ms = orjson.loads(data)
    return Logged(model, version, label, score_, value, attributes, task, positive, inputs, timestamp_ms)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error: nothing half-written."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind: object, *_: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
