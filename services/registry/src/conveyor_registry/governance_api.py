"""REST for governance: promotion requests and their approvals, risk tiers, policy versions, replays of the
recorded decisions, and "what served when". Parse, call the registry, answer; who may call each route is the
access table's (managers and technology leaders decide), and `duties` checks again who may decide what."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query

from conveyor_kernel import PrincipalDep, tracer

from . import aliases, governance_queries
from .deps import DbSession, RegistryDep
from .policy_doc import parse
from .schemas import (
    PolicyDraft,
    PolicyPublic,
    PolicyPublish,
    PromotionAsk,
    PromotionPublic,
    Rejection,
    ReplayPublic,
    RiskTierPublic,
    RiskTierRequest,
    ServedPublic,
    Verdict,
)

router = APIRouter(tags=["governance"])
ModelName = Annotated[str, Path(min_length=1, max_length=200, description="registered model name")]
RequestId = Annotated[str, Path(min_length=1, max_length=64, description="the promotion request's id")]
AliasName = Annotated[str, Path(min_length=1, max_length=64, description='e.g. "production" or "staging"')]


@router.post("/models/{name}/promotions", response_model=PromotionPublic, status_code=201)
async def request_promotion(name: ModelName, body: PromotionAsk, registry: RegistryDep, principal: PrincipalDep,
                            db: DbSession) -> PromotionPublic:
    """Ask for a version to move a protected alias: the gates run at once; where the policy needs no approval
    (low risk, by default) it is applied at once too."""
    with tracer.start_as_current_span("request promotion", attributes={"model": name, "version": body.version}):
        request = await registry.request(name, body.version, body.alias, principal, body.reason)
    return governance_queries.get_promotion(db, name, request.id)


@router.get("/models/{name}/promotions", response_model=list[PromotionPublic])
def list_promotions(name: ModelName, db: DbSession, state: str | None = Query(
        None, description="only requests in this state")) -> list[PromotionPublic]:
    return governance_queries.list_promotions(db, name, state)


@router.get("/models/{name}/promotions/{request_id}", response_model=PromotionPublic)
def get_promotion(name: ModelName, request_id: RequestId, db: DbSession) -> PromotionPublic:
    return governance_queries.get_promotion(db, name, request_id)


@router.post("/models/{name}/promotions/{request_id}/approve", response_model=PromotionPublic)
async def approve(name: ModelName, request_id: RequestId, body: Verdict, registry: RegistryDep,
                  principal: PrincipalDep, db: DbSession) -> PromotionPublic:
    """Approve as a manager or technology leader; the alias moves when this completes the quorum."""
    with tracer.start_as_current_span("approve promotion", attributes={"model": name, "request": request_id}):
        await registry.approve(name, request_id, principal, body.comment)
    return governance_queries.get_promotion(db, name, request_id)


@router.post("/models/{name}/promotions/{request_id}/reject", response_model=PromotionPublic)
async def reject(name: ModelName, request_id: RequestId, body: Rejection, registry: RegistryDep,
                 principal: PrincipalDep, db: DbSession) -> PromotionPublic:
    with tracer.start_as_current_span("reject promotion", attributes={"model": name, "request": request_id}):
        await registry.reject(name, request_id, principal, body.reason)
    return governance_queries.get_promotion(db, name, request_id)


@router.put("/models/{name}/risk-tier", response_model=RiskTierPublic)
async def set_risk_tier(name: ModelName, body: RiskTierRequest, registry: RegistryDep,
                        principal: PrincipalDep) -> RiskTierPublic:
    """A technology leader sets the tier, which decides the quorum of the model's next requests."""
    model = await registry.set_risk_tier(name, body.tier, principal, body.reason)
    return RiskTierPublic(model_name=model.name, risk_tier=body.tier)


@router.get("/models/{name}/aliases/{alias}/served", response_model=ServedPublic)
def served(name: ModelName, alias: AliasName, db: DbSession,
           at: datetime = Query(description="the moment asked about, RFC 3339 (e.g. 2026-12-01T22:00:00Z)")
           ) -> ServedPublic:
    """Which version served `alias` of the model at `at`: who requested and approved it, under which policy,
    and the ids of the ledger entries behind it (their inclusion proofs come from audit)."""
    return governance_queries.served_at(db, name, aliases.canonical(alias), at)


@router.get("/policy", response_model=PolicyPublic)
async def policy_in_force(registry: RegistryDep) -> PolicyPublic:
    return governance_queries.policy_public(await registry.ensure_policy())


@router.get("/policy/versions", response_model=list[PolicyPublic])
def policy_versions(db: DbSession) -> list[PolicyPublic]:
    return governance_queries.policy_versions(db)


@router.get("/policy/versions/{version}", response_model=PolicyPublic)
def policy_version(db: DbSession, registry: RegistryDep,
                   version: int = Path(ge=1, description="1, 2, ... in publication order")) -> PolicyPublic:
    return governance_queries.policy_public(registry.policies.get(db, version))


@router.post("/policy", response_model=PolicyPublic, status_code=201)
async def publish_policy(body: PolicyPublish, registry: RegistryDep, principal: PrincipalDep) -> PolicyPublic:
    """A technology leader publishes a new version; its digest and document go to the ledger."""
    row = await registry.publish_policy(parse(body.document), principal, body.note)
    return governance_queries.policy_public(row)


@router.post("/policy/test", response_model=ReplayPublic)
def test_policy(body: PolicyDraft, db: DbSession, registry: RegistryDep) -> ReplayPublic:
    """Replay every recorded decision under a draft (nothing is published or stored): which would flip."""
    return governance_queries.replay(db, registry.policies, governance_queries.draft(parse(body.document)))


@router.post("/policy/replay", response_model=ReplayPublic)
def replay_recorded(db: DbSession, registry: RegistryDep) -> ReplayPublic:
    """Replay every recorded decision under the policy it was made with: every result must come out the same."""
    return governance_queries.replay(db, registry.policies, None)
