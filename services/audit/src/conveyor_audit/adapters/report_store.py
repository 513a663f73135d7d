"""Final reports, stored once: asking again for a closed month returns the same report (and the same hash)."""

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    kind       TEXT NOT NULL,
    scope      TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    document   TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    PRIMARY KEY (kind, scope)
);
CREATE TABLE IF NOT EXISTS renderings (
    sha256 TEXT NOT NULL,
    format TEXT NOT NULL,
    body   BLOB NOT NULL,
    PRIMARY KEY (sha256, format)
)
"""


class ReportStore:
    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._conn.executescript(_SCHEMA)

    def get(self, kind: str, scope: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute("SELECT document FROM reports WHERE kind = ? AND scope = ?",
                                     (kind, scope)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, kind: str, scope: str, report: dict[str, Any]) -> bool:
        """Store a final report; False (and nothing changed) if one was stored first."""
        with self._lock:
            cursor = self._conn.execute("INSERT OR IGNORE INTO reports (kind, scope, sha256, document) VALUES "
                                        "(?, ?, ?, ?)", (kind, scope, report["sha256"], json.dumps(report)))
        return cursor.rowcount == 1

    def rendering(self, sha256: str, fmt: str) -> bytes | None:
        """A stored report's rendering (its PDF takes WeasyPrint seconds to minutes: drawn once)."""
        with self._lock:
            row = self._conn.execute("SELECT body FROM renderings WHERE sha256 = ? AND format = ?",
                                     (sha256, fmt)).fetchone()
        return bytes(row[0]) if row else None

    def put_rendering(self, sha256: str, fmt: str, body: bytes) -> None:
        with self._lock:
            self._conn.execute("INSERT OR IGNORE INTO renderings (sha256, format, body) VALUES (?, ?, ?)",
                               (sha256, fmt, body))

    def close(self) -> None:
        self._conn.close()
