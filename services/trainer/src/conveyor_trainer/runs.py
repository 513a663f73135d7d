"""The record of training runs as the API reads it: the most recent ones, or one by its id."""

from dataclasses import dataclass
from typing import Any

from .adapters.state import TrainerState


class RunNotFound(LookupError):
    """No run has that id."""


@dataclass(frozen=True)
class RunHistory:
    state: TrainerState
    recent: int  # how many runs `latest()` lists

    def latest(self) -> list[dict[str, Any]]:
        """Newest first, with status (running | trained | failed) and metrics."""
        return self.state.recent_runs(self.recent)

    def get(self, run_id: str) -> dict[str, Any]:
        run = self.state.run(run_id)
        if run is None:
            raise RunNotFound(f"no run with run_id {run_id!r}; GET /runs lists the known runs")
        return run
