"""The record of training runs as the API reads it: the most recent ones, or one by its id."""

from dataclasses import dataclass
from typing import Any

from google.protobuf.json_format import MessageToDict

from conveyor.events.v1 import events_pb2 as ev

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


def run_details(trained: ev.ModelTrained) -> dict[str, Any]:
    """What GET /runs/{id} shows beyond status and metrics: where the rows came from, the search, the
    fresh comparison."""
    details: dict[str, Any] = {
        "training_rows": trained.training_rows,
        "training_dataset_ids": list(trained.training_dataset_ids),
        "source": trained.source,
        "parity_max_abs_diff": trained.parity_max_abs_diff,
        "trials": [MessageToDict(t, preserving_proto_field_name=True) for t in trained.trials],
    }
    if trained.HasField("consent"):
        details["consent"] = MessageToDict(trained.consent, preserving_proto_field_name=True)
    if trained.HasField("comparison"):
        details["comparison"] = MessageToDict(trained.comparison, preserving_proto_field_name=True)
    return details
