"""Traffic splits between a model's champion and one candidate: canary (a weighted share answers) or shadow
(the candidate sees every request; its answers are logged, never returned).

The split is not stored here: it is the latest TrafficSplitSet on the registry topic (which the audit ledger
records). Serving applies it on arrival and shows it in GET /v2/models/{name}. A new champion ends a split.
Rollback is one call that publishes mode "": the champion answers everything again.

These are the rules and the events; `Registry.set_split` / `clear_split` run them inside its one-writer lock.
"""

from conveyor.events.v1 import events_pb2 as ev

from . import mapping
from .errors import Conflict
from .tables import ModelVersion, RegisteredModel

MODES = ("canary", "shadow")


def split_event(model: RegisteredModel, candidate: ModelVersion, champion: ModelVersion | None, mode: str,
                weight: float, user: str, reason: str) -> ev.TrafficSplitSet:
    """The split to announce, or Conflict when the model has no champion or the candidate is it."""
    if champion is None:
        raise Conflict(f"{model.name} has no champion to split traffic with; promote a version first")
    if champion.version == candidate.version:
        raise Conflict(f"v{candidate.version} is the champion of {model.name}; pick another version as candidate")
    return ev.TrafficSplitSet(
        model_name=model.name, mode=mode, champion_version=champion.version, candidate_version=candidate.version,
        candidate_artifact_uri=candidate.artifact_uri, canary_weight=weight if mode == "canary" else 0.0,
        feature_names=candidate.feature_names, task=mapping.task_enum(model.task), set_by=user, reason=reason,
    )


def cleared_event(champion: ModelVersion, user: str, reason: str) -> ev.TrafficSplitSet:
    return ev.TrafficSplitSet(model_name=champion.model_name, mode="", champion_version=champion.version,
                              set_by=user, reason=reason)
