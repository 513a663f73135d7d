"""Traffic splits between a model's champion and one candidate: canary (a weighted share answers) or shadow
(the candidate sees every request; its answers are logged, never returned).

The split is not stored here: it is the latest TrafficSplitSet on the registry topic (which the audit ledger
records). Serving applies it on arrival and shows it in GET /v2/models/{name}. A new champion ends a split.
Rollback is one call that publishes mode "": the champion answers everything again.
"""

import logging

from sqlmodel import Session

from conveyor.events.v1 import events_pb2 as ev

from . import mapping
from .service import Conflict, NotFound, Registry, champion_of

logger = logging.getLogger(__name__)

MODES = ("canary", "shadow")


async def set_split(registry: Registry, model_name: str, mode: str, version: int, weight: float, user: str,
                    reason: str) -> ev.TrafficSplitSet:
    async with registry._lock:  # noqa: SLF001 - one change at a time, like promotions
        with Session(registry.engine) as session:
            model, row = Registry._locate(session, model_name, version)  # noqa: SLF001
            champion = champion_of(session, model_name)
            if champion is None:
                raise Conflict(f"{model_name} has no champion to split traffic with; promote a version first")
            if champion.version == version:
                raise Conflict(f"v{version} is the champion of {model_name}; pick another version as candidate")
            event = ev.TrafficSplitSet(
                model_name=model_name, mode=mode, champion_version=champion.version, candidate_version=version,
                candidate_artifact_uri=row.artifact_uri, canary_weight=weight if mode == "canary" else 0.0,
                feature_names=row.feature_names, task=mapping.task_enum(model.task), set_by=user, reason=reason,
            )
            await registry._publish(event, model_name)  # noqa: SLF001
    logger.info("%s set %s traffic of %s: v%d (weight %.2f)", user, mode, model_name, version, weight)
    return event


async def clear_split(registry: Registry, model_name: str, user: str, reason: str) -> ev.TrafficSplitSet:
    async with registry._lock:  # noqa: SLF001
        with Session(registry.engine) as session:
            champion = champion_of(session, model_name)
            if champion is None:
                raise NotFound(f"model {model_name!r} has no champion")
            event = ev.TrafficSplitSet(model_name=model_name, mode="", champion_version=champion.version,
                                       set_by=user, reason=reason)
            await registry._publish(event, model_name)  # noqa: SLF001
    logger.info("%s cleared the traffic split of %s", user, model_name)
    return event
