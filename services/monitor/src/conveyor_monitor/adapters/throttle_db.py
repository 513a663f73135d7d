"""The alarm cooldowns and retrain grants in SQLite, so that a restart forgets neither (issue 15, finding 8:
a restarted monitor could alarm again at once and exceed its hourly retrain cap).

Times are wall-clock seconds (time.time): a monotonic clock restarts with the process. Every change is one
autocommitted statement; the tables are tiny (a row per alarm key, a row per retrain grant in the last hour).
"""

import sqlite3
import threading
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS alarm_fired (key TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS retrain_granted (model TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS retrain_granted_model ON retrain_granted (model, at);
"""


class ThrottleStore:
    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def fired(self) -> dict[str, float]:
        with self._lock:
            return dict(self._db.execute("SELECT key, at FROM alarm_fired").fetchall())

    def fire(self, key: str, at: float) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO alarm_fired (key, at) VALUES (?, ?)", (key, at))

    def forget(self, keys: list[str]) -> None:
        with self._lock:
            self._db.executemany("DELETE FROM alarm_fired WHERE key = ?", [(k,) for k in keys])

    def grants(self, since: float) -> dict[str, list[float]]:
        found: dict[str, list[float]] = {}
        with self._lock:
            self._db.execute("DELETE FROM retrain_granted WHERE at < ?", (since,))
            for model, at in self._db.execute("SELECT model, at FROM retrain_granted ORDER BY at"):
                found.setdefault(model, []).append(at)
        return found

    def grant(self, model: str, at: float) -> None:
        with self._lock:
            self._db.execute("INSERT INTO retrain_granted (model, at) VALUES (?, ?)", (model, at))

    def revoke(self, model: str, at: float) -> None:
        with self._lock:
            self._db.execute("DELETE FROM retrain_granted WHERE model = ? AND at = ?", (model, at))

    def close(self) -> None:
        self._db.close()
