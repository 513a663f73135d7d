"""Late-label state in a database (SQLite in the state dir, or the platform's PostgreSQL, schema `monitor`):
logged predictions awaiting labels, the labelled rows (production feedback), the labelled windows, holdout
baselines, and retrains waiting for labels.

POST /labels is REST, and faust forbids table writes outside a stream, so this state lives in a small
database instead of a changelog. Every monitor instance shares it: a label posted to any of them finds the
prediction another one remembered. Every change is one transaction:
- a PredictionsLogged batch is remembered with ON CONFLICT DO NOTHING on (request_id, row): a batch redelivered
  after a crash changes nothing, even when some of its rows were labelled meanwhile;
- a join moves one row from pending to its model version's labelled window (serialized per model version
  across instances), and when that completes the window, the window's rows are marked scored and returned in
  the same transaction;
- a labelled row keeps the input row it was predicted from until a feedback table carried it (`collected`
  names that table); only then, and once scored, its payload is dropped;
- scored rows stay as tombstones so that a late redelivery cannot make them pending again.
Pending rows and scored rows are each bounded; the oldest are forgotten first.
A SQLite file of the first format (no input rows) is replaced at start: it held nothing a feedback table needs.
The champion of each model is kept here too (`champions`), for the REST side: faust's champions table holds
only the models of the partitions this instance consumes.
"""

import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    func,
    select,
    text,
)

from conveyor_kernel.database import is_postgres, serialize

from .performance import Logged, Scored, score

logger = logging.getLogger(__name__)

PENDING, LABELLED, SCORED = "pending", "labelled", "scored"
FORMAT = 2  # PRAGMA user_version of this schema (SQLite)

metadata = MetaData()
predictions = Table(
    "predictions", metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),  # arrival order: the oldest are forgotten first
    Column("request_id", Text, nullable=False),
    Column("row", Integer, nullable=False),
    Column("model", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("state", Text, nullable=False),  # pending | labelled | scored
    Column("logged", LargeBinary),  # JSON of Logged; NULL once scored and collected
    Column("truth", Text),  # JSON of the true label once joined
    Column("joined", Integer),  # join order within the labelled window
    Column("collected", Text),  # sha256 of the feedback table that carried the row
    UniqueConstraint("request_id", "row"),
    Index("predictions_state", "state", "seq"),
    Index("predictions_window", "model", "version", "state", "joined"),
    Index("predictions_feedback", "model", "collected", "state"),
    sqlite_autoincrement=True,
)
deferred = Table(
    "deferred", metadata,
    Column("model", Text, primary_key=True),  # one waiting retrain per model
    Column("version", Integer, nullable=False),
    Column("trigger", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("needed", Integer, nullable=False),
)
baselines = Table(
    "baselines", metadata,
    Column("model", Text, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("metrics", Text, nullable=False),
)
champions = Table(
    "champions", metadata,
    Column("model", Text, primary_key=True),
    Column("entry", Text, nullable=False),  # JSON: the faust champions table's value for the model
)


class LabelJoin:
    def __init__(self, engine: Engine, window_size: int, max_pending: int = 200_000) -> None:
        self.engine = engine
        self.window_size = window_size
        self.max_pending = max_pending
        self._postgres = is_postgres(engine)
        with engine.begin() as db:
            if not self._postgres:
                self._replace_first_format(db)
            metadata.create_all(db)
            # Counting pending rows on every batch would cost the hot path a scan; this instance keeps an estimate
            # (exact at start, then its own additions and joins) and counts exactly once it passes the bound.
            self._pending = self._count(db, PENDING)

    def _replace_first_format(self, db: Connection) -> None:
        if db.exec_driver_sql("PRAGMA user_version").scalar() == FORMAT:
            return
        if db.exec_driver_sql("SELECT name FROM sqlite_master WHERE name = 'predictions'").first():
            logger.warning("label store %s is of an older format; its pending predictions are dropped",
                           self.engine.url.database)
        db.exec_driver_sql("DROP TABLE IF EXISTS predictions")
        db.exec_driver_sql("DROP TABLE IF EXISTS deferred")
        db.exec_driver_sql(f"PRAGMA user_version = {FORMAT}")

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """One transaction: committed on success, rolled back on any error: nothing half-written."""
        with self.engine.begin() as db:
            yield db

    def remember(self, request_id: str, row: int, logged: Logged) -> None:
        self.remember_batch([(request_id, row, logged)])

    def remember_batch(self, items: Iterable[tuple[str, int, Logged]]) -> int:
        """Keep each prediction until its label arrives; returns how many were new."""
        rows = [{"request_id": r, "row": n, "model": logged.model, "version": logged.version, "state": PENDING,
                 "logged": _encode(logged)} for r, n, logged in items]
        if not rows:
            return 0
        with self._transaction() as db:
            added = db.execute(text(
                "INSERT INTO predictions (request_id, row, model, version, state, logged) "
                "VALUES (:request_id, :row, :model, :version, :state, :logged) "
                "ON CONFLICT (request_id, row) DO NOTHING"), rows).rowcount
            added = max(added, 0)
            pending = self._pending + added
            if pending > self.max_pending:
                self._forget_oldest(db, PENDING)
                pending = self._count(db, PENDING)
        self._pending = pending
        return added

    def pending(self) -> int:
        """This instance's count of predictions waiting for labels (exact with one instance)."""
        return self._pending

    @staticmethod
    def _count(db: Connection, state: str) -> int:
        return int(db.execute(select(func.count()).select_from(predictions)
                              .where(predictions.c.state == state)).scalar() or 0)

    def join(self, request_id: str, row: int, truth: Any) -> list[Scored] | None:
        """None when no pending prediction has this (request_id, row); else the windows it completed."""
        with self._transaction() as db:
            found = db.execute(text(
                "SELECT seq, model, version FROM predictions WHERE request_id = :r AND row = :n AND state = :s"),
                {"r": request_id, "n": row, "s": PENDING}).first()
            if found is None:
                return None
            seq, model, version = found
            # Two instances joining labels of one model version must not both complete its window.
            serialize(db, f"monitor-window:{model}:{version}")
            if db.execute(text("SELECT state FROM predictions WHERE seq = :seq"), {"seq": seq}).scalar() != PENDING:
                return None  # another instance joined this very row meanwhile
            db.execute(text(
                "UPDATE predictions SET state = :labelled, truth = :truth, "
                "joined = (SELECT COALESCE(MAX(joined), 0) + 1 FROM predictions "
                "WHERE model = :model AND version = :version AND state = :labelled) WHERE seq = :seq"),
                {"labelled": LABELLED, "truth": json.dumps(truth), "model": model, "version": version, "seq": seq})
            labelled = db.execute(text(
                "SELECT COUNT(*) FROM predictions WHERE model = :model AND version = :version AND state = :labelled"),
                {"model": model, "version": version, "labelled": LABELLED}).scalar() or 0
            full = labelled >= self.window_size
            if full:  # the window leaves with the row that completed it; rows stay for feedback until collected
                window = db.execute(text(
                    "SELECT seq, logged, truth FROM predictions WHERE model = :model AND version = :version "
                    "AND state = :labelled ORDER BY joined"),
                    {"model": model, "version": version, "labelled": LABELLED}).all()
                db.execute(text("UPDATE predictions SET state = :scored, joined = NULL WHERE seq = :seq"),
                           [{"scored": SCORED, "seq": s} for s, _, _ in window])
                self._forget_oldest(db, SCORED)
        self._pending = max(0, self._pending - 1)
        if not full:
            return []
        rows = [(_decode(model, version, bytes(logged)), json.loads(truth)) for _, logged, truth in window]
        return [score(model, version, rows)]

    # --- production feedback: labelled rows no feedback table has carried yet ---

    def uncollected(self, model: str) -> int:
        """Labelled rows of `model` (any version) that no feedback table has carried yet."""
        with self.engine.connect() as db:
            return int(db.execute(text(
                "SELECT COUNT(*) FROM predictions WHERE model = :model AND collected IS NULL "
                "AND state IN (:labelled, :scored)"), {"model": model, "labelled": LABELLED, "scored": SCORED},
            ).scalar() or 0)

    def feedback(self, model: str) -> list["Labelled"]:
        """Those rows, oldest first, with their inputs and true labels."""
        with self.engine.connect() as db:
            found = db.execute(text(
                "SELECT seq, version, logged, truth FROM predictions WHERE model = :model AND collected IS NULL "
                "AND state IN (:labelled, :scored) ORDER BY seq"),
                {"model": model, "labelled": LABELLED, "scored": SCORED}).all()
        return [Labelled(seq, _decode(model, version, bytes(logged)), json.loads(truth))
                for seq, version, logged, truth in found]

    def collected(self, seqs: Iterable[int], table_sha256: str) -> None:
        """The rows went out in that table (published): never again; scored ones drop their payload now."""
        rows = [{"sha": table_sha256, "scored": SCORED, "seq": s} for s in seqs]
        if not rows:
            return
        with self._transaction() as db:
            db.execute(text(
                "UPDATE predictions SET collected = :sha, logged = CASE WHEN state = :scored THEN NULL ELSE logged "
                "END, truth = CASE WHEN state = :scored THEN NULL ELSE truth END WHERE seq = :seq"), rows)

    def defer(self, waiting: "Waiting") -> None:
        with self._transaction() as db:
            db.execute(text(
                "INSERT INTO deferred (model, version, trigger, reason, needed) "
                "VALUES (:model, :version, :trigger, :reason, :needed) ON CONFLICT (model) DO UPDATE SET "
                "version = excluded.version, trigger = excluded.trigger, reason = excluded.reason, "
                "needed = excluded.needed"), waiting.__dict__)

    def waiting(self) -> list["Waiting"]:
        """Retrains that wait for labels, one per model at most."""
        with self.engine.connect() as db:
            return [Waiting(*row) for row in db.execute(text(
                "SELECT model, version, trigger, reason, needed FROM deferred ORDER BY model"))]

    def stop_waiting(self, model: str) -> None:
        with self._transaction() as db:
            db.execute(text("DELETE FROM deferred WHERE model = :model"), {"model": model})

    def set_baseline(self, model: str, version: int, metrics: dict[str, float]) -> None:
        with self._transaction() as db:
            db.execute(text(
                "INSERT INTO baselines (model, version, metrics) VALUES (:model, :version, :metrics) "
                "ON CONFLICT (model, version) DO UPDATE SET metrics = excluded.metrics"),
                {"model": model, "version": version, "metrics": json.dumps(metrics)})

    def baseline(self, model: str, version: int) -> dict[str, float]:
        with self.engine.connect() as db:
            found = db.execute(text("SELECT metrics FROM baselines WHERE model = :model AND version = :version"),
                               {"model": model, "version": version}).scalar()
        return json.loads(found) if found else {}

    def set_champion(self, model: str, entry: dict[str, Any]) -> None:
        with self._transaction() as db:
            db.execute(text("INSERT INTO champions (model, entry) VALUES (:model, :entry) "
                            "ON CONFLICT (model) DO UPDATE SET entry = excluded.entry"),
                       {"model": model, "entry": json.dumps(entry, sort_keys=True)})

    def champion(self, model: str) -> dict[str, Any] | None:
        with self.engine.connect() as db:
            found = db.execute(text("SELECT entry FROM champions WHERE model = :model"), {"model": model}).scalar()
        return json.loads(found) if found else None

    def _forget_oldest(self, db: Connection, state: str) -> int:
        """Beyond `max_pending` rows of `state`, the oldest go (unlabelled ones, or scored ones even when no
        feedback table carried them yet: the store stays bounded under any label rate)."""
        rest = "OFFSET :keep" if self._postgres else "LIMIT -1 OFFSET :keep"
        return db.execute(text(
            "DELETE FROM predictions WHERE seq IN (SELECT seq FROM predictions WHERE state = :state "
            f"ORDER BY seq DESC {rest})"), {"state": state, "keep": self.max_pending}).rowcount


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
