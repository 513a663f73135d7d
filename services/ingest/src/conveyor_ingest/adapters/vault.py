"""The subject vault: the only place a raw subject id and its pseudonymous reference sit side by side.

Its own SQLite file (`subjects.db`), apart from the catalog and the consent records, so it can be kept on
other storage, backed up under other rules, and destroyed row by row: erasing a subject deletes its row,
after which the reference in datasets, events, the ledger and reports names nobody. A reference is random
("subj-" and 32 hex digits from `secrets`), never derived from the raw id, so no key can recompute it.
Raw ids are stored as text exactly as the table held them (numbers as their CSV text).
"""

import secrets
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

PREFIX = "subj-"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS subjects (
    raw_id      TEXT PRIMARY KEY,
    subject_ref TEXT NOT NULL UNIQUE
)
"""


def new_ref() -> str:
    return PREFIX + secrets.token_hex(16)


def is_ref(value: str) -> bool:
    return value.startswith(PREFIX) and len(value) == len(PREFIX) + 32


class SubjectVault:
    def __init__(self, path: Path) -> None:
        self.path = path
        with self._connect() as db:
            db.execute(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10)
        db.execute("PRAGMA secure_delete = ON")  # a destroyed mapping is overwritten, not left in a free page
        try:
            with db:
                yield db
        finally:
            db.close()

    def assign(self, raw_ids: Iterable[str]) -> dict[str, str]:
        """raw id -> reference for every id given, minting references for ids seen for the first time."""
        wanted = list(dict.fromkeys(raw_ids))
        with self._connect() as db:
            known = self._lookup(db, wanted)
            fresh = [(raw, new_ref()) for raw in wanted if raw not in known]
            # OR IGNORE: a concurrent upload of the same subjects may have minted them first; read back theirs
            db.executemany("INSERT OR IGNORE INTO subjects (raw_id, subject_ref) VALUES (?, ?)", fresh)
            return {**known, **self._lookup(db, [raw for raw, _ in fresh])}

    def resolve(self, raw_id: str) -> str | None:
        with self._connect() as db:
            return self._lookup(db, [raw_id]).get(raw_id)

    def resolve_many(self, raw_ids: Iterable[str]) -> dict[str, str]:
        with self._connect() as db:
            return self._lookup(db, list(dict.fromkeys(raw_ids)))

    def knows_ref(self, subject_ref: str) -> bool:
        with self._connect() as db:
            return db.execute("SELECT 1 FROM subjects WHERE subject_ref = ?", (subject_ref,)).fetchone() is not None

    def destroy(self, subject_ref: str) -> bool:
        """Forget which raw id the reference stood for; True if a mapping was there to destroy."""
        with self._connect() as db:
            return db.execute("DELETE FROM subjects WHERE subject_ref = ?", (subject_ref,)).rowcount == 1

    @staticmethod
    def _lookup(db: sqlite3.Connection, raw_ids: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for start in range(0, len(raw_ids), 500):  # SQLite's bound-parameter limit
            chunk = raw_ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(db.execute(f"SELECT raw_id, subject_ref FROM subjects WHERE raw_id IN ({marks})", chunk))
        return found
