"""The trainer's view of consent, and which run learned from which subject, in its own SQLite file.

`consent` is the compacted topic's current state as the trainer applied it: one row per subject and purpose,
a newer record replacing an older one (records arrive at least once, and a replayed older one must not win).
`run_subjects` is the index behind "which model versions were trained on subject S?" and behind flagging:
written when a run finishes, from the rows it actually learned from. `run_versions` maps runs to the registry's
version numbers (from ModelRegistered). `pending_retrains` coalesces withdrawals: a bulk withdrawal of a
thousand subjects retrains each affected model once, after the records stop arriving.
"""

import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS consent (
    subject_ref    TEXT NOT NULL,
    purpose        TEXT NOT NULL,
    state          INTEGER NOT NULL,   -- ev.ConsentState
    expires_at_ms  INTEGER NOT NULL,
    recorded_at_ms INTEGER NOT NULL,
    PRIMARY KEY (subject_ref, purpose)
);
CREATE TABLE IF NOT EXISTS run_subjects (
    run_id      TEXT NOT NULL,
    subject_ref TEXT NOT NULL,
    PRIMARY KEY (subject_ref, run_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS run_versions (
    run_id     TEXT PRIMARY KEY,
    model_name TEXT NOT NULL,
    version    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS pending_retrains (
    model_name   TEXT PRIMARY KEY,
    request_id   TEXT NOT NULL,        -- names the retrain's run: a restart resumes the same run
    reason       TEXT NOT NULL,
    generation   INTEGER NOT NULL,     -- bumped by each new cause; the retrain clears only the one it served
    touched_at   REAL NOT NULL
);
"""


class ConsentState:
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

    def apply(self, subject_ref: str, purpose: str, state: int, expires_at_ms: int, recorded_at_ms: int) -> bool:
        """Record a change unless a newer one is already applied; True if it took effect."""
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO consent VALUES (?, ?, ?, ?, ?) ON CONFLICT (subject_ref, purpose) DO UPDATE SET "
                "state = excluded.state, expires_at_ms = excluded.expires_at_ms, "
                "recorded_at_ms = excluded.recorded_at_ms WHERE excluded.recorded_at_ms >= consent.recorded_at_ms",
                (subject_ref, purpose, state, expires_at_ms, recorded_at_ms))
            return cursor.rowcount == 1

    def states(self, subject_refs: Iterable[str], purpose: str) -> dict[str, tuple[int, int, int]]:
        """ref -> (state, expires_at_ms, recorded_at_ms) for the refs that have a record."""
        refs = list(subject_refs)
        found: dict[str, tuple[int, int, int]] = {}
        with self._connect() as db:
            for start in range(0, len(refs), 500):
                chunk = refs[start:start + 500]
                marks = ",".join("?" * len(chunk))
                for row in db.execute(f"SELECT * FROM consent WHERE purpose = ? AND subject_ref IN ({marks})",
                                      [purpose, *chunk]):
                    found[row["subject_ref"]] = (row["state"], row["expires_at_ms"], row["recorded_at_ms"])
        return found

    def record_run(self, run_id: str, subject_refs: Iterable[str]) -> None:
        with self._connect() as db:
            db.executemany("INSERT OR IGNORE INTO run_subjects (run_id, subject_ref) VALUES (?, ?)",
                           [(run_id, ref) for ref in subject_refs])

    def runs_of(self, subject_ref: str) -> list[str]:
        with self._connect() as db:
            return [r for (r,) in db.execute("SELECT run_id FROM run_subjects WHERE subject_ref = ?", (subject_ref,))]

    def learned_from(self, run_id: str, subject_ref: str) -> bool:
        with self._connect() as db:
            return db.execute("SELECT 1 FROM run_subjects WHERE subject_ref = ? AND run_id = ?",
                              (subject_ref, run_id)).fetchone() is not None

    def registered(self, run_id: str, model_name: str, version: int) -> None:
        with self._connect() as db:
            db.execute("INSERT OR REPLACE INTO run_versions VALUES (?, ?, ?)", (run_id, model_name, version))

    def versions_of(self, run_ids: Iterable[str]) -> dict[str, int]:
        ids = list(run_ids)
        with self._connect() as db:
            marks = ",".join("?" * len(ids))
            return {r["run_id"]: r["version"] for r in db.execute(
                f"SELECT run_id, version FROM run_versions WHERE run_id IN ({marks})", ids)} if ids else {}

    # --- retrains waiting for withdrawals to settle -----------------------------------------------

    def want_retrain(self, model_name: str, request_id: str, reason: str) -> None:
        with self._connect() as db:
            db.execute("INSERT INTO pending_retrains VALUES (?, ?, ?, 1, ?) ON CONFLICT (model_name) DO UPDATE SET "
                       "generation = generation + 1, touched_at = excluded.touched_at, reason = excluded.reason",
                       (model_name, request_id, reason, time.time()))

    def settled_retrains(self, quiet_seconds: float) -> list[dict[str, Any]]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM pending_retrains WHERE touched_at <= ?",
                              (time.time() - quiet_seconds,)).fetchall()
        return [dict(r) for r in rows]

    def retrain_done(self, model_name: str, generation: int) -> None:
        """Clear the request the retrain served; a cause that arrived meanwhile keeps it (a newer generation),
        under a new request id so the next retrain is a run of its own."""
        with self._connect() as db:
            db.execute("DELETE FROM pending_retrains WHERE model_name = ? AND generation = ?", (model_name, generation))
            db.execute("UPDATE pending_retrains SET request_id = request_id || '+' || generation "
                       "WHERE model_name = ?", (model_name,))
