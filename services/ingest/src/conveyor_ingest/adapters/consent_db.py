"""Consent records and the subject index: which dataset versions hold rows of which subject.

One SQLite file (`consent.db`). Records are append-only: a change of state is a new record, and a subject's
current state for a purpose is its newest record. No raw subject id is ever written here (see vault.py).
"""

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id      TEXT NOT NULL UNIQUE,
    subject_ref    TEXT NOT NULL,
    purpose        TEXT NOT NULL,
    state          TEXT NOT NULL,      -- given | withdrawn | expired | erased
    basis          TEXT NOT NULL,
    source         TEXT NOT NULL,
    recorded_at_ms INTEGER NOT NULL,
    expires_at_ms  INTEGER NOT NULL DEFAULT 0,
    dataset_id     TEXT NOT NULL DEFAULT '',
    recorded_by    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS records_by_subject ON records (subject_ref, purpose, seq);
CREATE TABLE IF NOT EXISTS dataset_subjects (
    dataset_id  TEXT NOT NULL,
    subject_ref TEXT NOT NULL,
    rows        INTEGER NOT NULL,
    PRIMARY KEY (dataset_id, subject_ref)
);
CREATE INDEX IF NOT EXISTS dataset_subjects_by_subject ON dataset_subjects (subject_ref);
CREATE TABLE IF NOT EXISTS erasures (
    erasure_id   TEXT PRIMARY KEY,
    subject_ref  TEXT NOT NULL,
    reason       TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    approved_by  TEXT NOT NULL DEFAULT '',
    approved_at  TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL,        -- requested | approved | running | completed
    progress     TEXT NOT NULL DEFAULT '{}',
    receipt      TEXT NOT NULL DEFAULT ''
);
"""


@dataclass(frozen=True)
class ConsentRecord:
    record_id: str
    subject_ref: str
    purpose: str
    state: str
    basis: str
    source: str
    recorded_at_ms: int
    expires_at_ms: int = 0
    dataset_id: str = ""
    recorded_by: str = ""

    def public(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Erasure:
    erasure_id: str
    subject_ref: str
    reason: str
    requested_by: str
    requested_at: str
    status: str
    approved_by: str = ""
    approved_at: str = ""
    progress: dict[str, Any] | None = None
    receipt: dict[str, Any] | None = None


class ConsentStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        with self._connect() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10)
        db.row_factory = sqlite3.Row
        try:
            with db:
                yield db
        finally:
            db.close()

    # --- records ----------------------------------------------------------------------------------

    def add(self, records: Iterable[ConsentRecord]) -> int:
        """Append records; one already stored (same record_id: a retried upload) is skipped."""
        rows = [asdict(r) for r in records]
        if not rows:
            return 0
        columns = ", ".join(rows[0])
        marks = ", ".join(f":{c}" for c in rows[0])
        with self._connect() as db:
            before = db.total_changes
            db.executemany(f"INSERT OR IGNORE INTO records ({columns}) VALUES ({marks})", rows)
            return db.total_changes - before

    def current(self, subject_ref: str) -> dict[str, ConsentRecord]:
        """purpose -> the newest record."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM records WHERE seq IN (SELECT max(seq) FROM records WHERE subject_ref = ? "
                "GROUP BY purpose)", (subject_ref,)).fetchall()
        return {row["purpose"]: _record(row) for row in rows}

    def history(self, subject_ref: str) -> list[ConsentRecord]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM records WHERE subject_ref = ? ORDER BY seq", (subject_ref,)).fetchall()
        return [_record(row) for row in rows]

    def with_records(self, subject_refs: Iterable[str], purpose: str) -> set[str]:
        refs = list(subject_refs)
        found: set[str] = set()
        with self._connect() as db:
            for start in range(0, len(refs), 500):
                chunk = refs[start:start + 500]
                marks = ",".join("?" * len(chunk))
                found.update(r for (r,) in db.execute(
                    f"SELECT DISTINCT subject_ref FROM records WHERE purpose = ? AND subject_ref IN ({marks})",
                    [purpose, *chunk]))
        return found

    # --- which dataset versions hold which subject ------------------------------------------------

    def index_dataset(self, dataset_id: str, rows_per_subject: dict[str, int]) -> None:
        with self._connect() as db:
            db.executemany("INSERT OR REPLACE INTO dataset_subjects (dataset_id, subject_ref, rows) VALUES (?, ?, ?)",
                           [(dataset_id, ref, n) for ref, n in rows_per_subject.items()])

    def datasets_of(self, subject_ref: str) -> list[str]:
        with self._connect() as db:
            return [r for (r,) in db.execute(
                "SELECT dataset_id FROM dataset_subjects WHERE subject_ref = ? ORDER BY rowid", (subject_ref,))]

    def move_dataset(self, old_id: str, new_id: str, dropped: Iterable[str]) -> None:
        """A version was rewritten: its other subjects now live in the new version; the dropped ones nowhere."""
        gone = list(dropped)
        with self._connect() as db:
            db.execute("UPDATE OR IGNORE dataset_subjects SET dataset_id = ? WHERE dataset_id = ?", (new_id, old_id))
            db.execute("DELETE FROM dataset_subjects WHERE dataset_id = ?", (old_id,))
            db.executemany("DELETE FROM dataset_subjects WHERE dataset_id = ? AND subject_ref = ?",
                           [(new_id, ref) for ref in gone])

    # --- erasures ---------------------------------------------------------------------------------

    def add_erasure(self, erasure: Erasure) -> None:
        with self._connect() as db:
            db.execute("INSERT INTO erasures (erasure_id, subject_ref, reason, requested_by, requested_at, status)"
                       " VALUES (?, ?, ?, ?, ?, ?)", (erasure.erasure_id, erasure.subject_ref, erasure.reason,
                                                      erasure.requested_by, erasure.requested_at, erasure.status))

    def save_erasure(self, erasure: Erasure) -> None:
        with self._connect() as db:
            db.execute("UPDATE erasures SET approved_by = ?, approved_at = ?, status = ?, progress = ?, receipt = ?"
                       " WHERE erasure_id = ?",
                       (erasure.approved_by, erasure.approved_at, erasure.status,
                        json.dumps(erasure.progress or {}, sort_keys=True),
                        json.dumps(erasure.receipt, sort_keys=True) if erasure.receipt else "", erasure.erasure_id))

    def erasure(self, erasure_id: str) -> Erasure | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM erasures WHERE erasure_id = ?", (erasure_id,)).fetchone()
        if row is None:
            return None
        fields = dict(row)
        fields["progress"] = json.loads(fields["progress"] or "{}")
        fields["receipt"] = json.loads(fields["receipt"]) if fields["receipt"] else None
        return Erasure(**fields)

    def open_erasure_of(self, subject_ref: str) -> Erasure | None:
        with self._connect() as db:
            row = db.execute("SELECT erasure_id FROM erasures WHERE subject_ref = ? AND status != 'completed'",
                             (subject_ref,)).fetchone()
        return self.erasure(row["erasure_id"]) if row else None


def _record(row: sqlite3.Row) -> ConsentRecord:
    return ConsentRecord(**{k: row[k] for k in row.keys() if k != "seq"})
