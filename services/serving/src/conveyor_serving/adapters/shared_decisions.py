"""Load and unload decisions shared by the worker processes of one server, in a small JSON file.

A repository call (POST /v2/repository/models/{m}/load|unload) reaches one worker on the shared port. That
worker acts and records the decision here; every worker polls the file and converges on it, so the others
follow within a poll interval. Writes hold an exclusive flock and replace the file atomically.
"""

import fcntl
import json
import os
from pathlib import Path


class SharedDecisions:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = path.with_name(path.name + ".lock")

    def record(self, name: str, loaded: bool) -> None:
        with self._lock.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            decisions = self.read()
            decisions[name] = loaded
            scratch = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            scratch.write_text(json.dumps(decisions, sort_keys=True))
            os.replace(scratch, self.path)

    def read(self) -> dict[str, bool]:
        """model name -> should be loaded; empty before the first decision."""
        try:
            return {str(k): bool(v) for k, v in json.loads(self.path.read_text()).items()}
        except FileNotFoundError:
            return {}

    def stamp(self) -> int:
        """Changes whenever a decision is recorded (each one replaces the file)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return 0
        return stat.st_ino ^ stat.st_mtime_ns
