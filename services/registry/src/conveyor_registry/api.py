"""REST routes: parse, call the registry, answer with what it did. Nothing else lives here.

Errors are the domain's; ERRORS below is the one place that turns them into statuses.
"""

from typing import Annotated

from fastapi import APIRouter, Path

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import BIGINT_MAX, PrincipalDep, tracer

from . import governance_queries, queries
from .deps import DbSession, RegistryDep
from .errors import ChangeNotMade, Conflict, Forbidden, NotFound, PolicyInvalid, UnknownAlias
from .schemas import (
    ChangeRequest,
    DecisionPublic,
    ModelPublic,
    ModelVersionPublic,
    PromotionPublic,
    TrafficPublic,
    TrafficRequest,
)
from .tables import PRODUCTION, Decision

ERRORS: dict[type[Exception], int] = {NotFound: 404, Conflict: 409, Forbidden: 403, UnknownAlias: 422,
                                     PolicyInvalid: 422, ChangeNotMade: 503}
router = APIRouter(prefix="/models", tags=["registry"])

# What each kind of route answers besides 200, 401/403 and 422 (the kernel declares those), for its OpenAPI
READ = {404: {"description": "no model of that name, or no such version"}}
CHANGE = {**READ, 409: {"description": "the change contradicts the model's state (the message says which)"},
          503: {"description": "the broker did not take the change: nothing changed; retry after Retry-After"}}

ModelName = Annotated[str, Path(min_length=1, max_length=200, description="registered model name")]
Version = Annotated[int, Path(ge=1, le=BIGINT_MAX, description="version number, 1 and up")]


@router.get("", response_model=list[ModelPublic])
def list_models(db: DbSession) -> list[ModelPublic]:
    return queries.list_models(db)


@router.get("/{name}", response_model=ModelPublic, responses=READ)
def get_model(name: ModelName, db: DbSession) -> ModelPublic:
    return queries.get_model(db, name)


@router.get("/{name}/versions", response_model=list[ModelVersionPublic], responses=READ)
def list_versions(name: ModelName, db: DbSession) -> list[ModelVersionPublic]:
    return queries.list_versions(db, name)


@router.get("/{name}/versions/{version}", response_model=ModelVersionPublic, responses=READ)
def get_version(name: ModelName, version: Version, db: DbSession) -> ModelVersionPublic:
    return queries.get_version(db, name, version)


@router.get("/{name}/decisions", response_model=list[DecisionPublic], responses=READ)
def list_decisions(name: ModelName, db: DbSession) -> list[DecisionPublic]:
    return queries.list_decisions(db, name)


@router.post("/{name}/versions/{version}/promote", response_model=PromotionPublic, status_code=201,
             responses=CHANGE)
async def promote(name: ModelName, version: Version, body: ChangeRequest, registry: RegistryDep,
                  principal: PrincipalDep, db: DbSession) -> PromotionPublic:
    """Ask for `version` to become production: the same promotion request as POST /models/{name}/promotions
    (gates, then the quorum the policy asks for; it moves nothing by itself)."""
    with tracer.start_as_current_span("request promotion", attributes={"model": name, "version": version}):
        request = await registry.request(name, version, PRODUCTION, principal, body.reason)
    return governance_queries.get_promotion(db, name, request.id)


@router.post("/{name}/rollback", response_model=DecisionPublic, responses=CHANGE)
async def rollback(name: ModelName, body: ChangeRequest, registry: RegistryDep,
                   principal: PrincipalDep) -> DecisionPublic:
    with tracer.start_as_current_span("rollback", attributes={"model": name}):
        return _decision(await registry.rollback(name, principal.subject, body.reason))


@router.post("/{name}/traffic", response_model=TrafficPublic, responses=CHANGE)
async def set_traffic(name: ModelName, body: TrafficRequest, registry: RegistryDep,
                      principal: PrincipalDep) -> TrafficPublic:
    """Canary or shadow: split traffic between the champion and one candidate version."""
    with tracer.start_as_current_span("set traffic split", attributes={"model": name, "mode": body.mode}):
        event = await registry.set_split(name, body.mode, body.version, body.weight, principal.subject,
                                         body.reason)
    return _traffic(event)


@router.post("/{name}/traffic/rollback", response_model=TrafficPublic, responses=CHANGE)
async def rollback_traffic(name: ModelName, body: ChangeRequest, registry: RegistryDep,
                           principal: PrincipalDep) -> TrafficPublic:
    """End the split: the champion answers everything again."""
    with tracer.start_as_current_span("rollback traffic split", attributes={"model": name}):
        return _traffic(await registry.clear_split(name, principal.subject, body.reason))


def _decision(decision: Decision) -> DecisionPublic:
    return DecisionPublic.model_validate(decision, from_attributes=True)


def _traffic(event: ev.TrafficSplitSet) -> TrafficPublic:
    return TrafficPublic(model_name=event.model_name, mode=event.mode or "none",
                         champion_version=event.champion_version,
                         candidate_version=event.candidate_version or None, canary_weight=event.canary_weight)
