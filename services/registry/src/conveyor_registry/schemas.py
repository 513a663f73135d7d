"""What the REST API reads and returns. Built from the table models' bases, never the tables themselves."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from conveyor_kernel import BIGINT_MAX

from .tables import DecisionBase, ModelVersionBase


class ModelPublic(BaseModel):
    name: str
    task: str
    created_at: datetime
    champion_version: int | None = Field(description="null until a version has been promoted")
    latest_version: int | None


class ModelVersionPublic(ModelVersionBase):
    pass


class DecisionPublic(DecisionBase):
    id: int


class ChangeRequest(BaseModel):
    """Why a manual champion change is asked for; who asks is the bearer token's subject (both end up in the
    audit trail)."""

    user: str | None = Field(default=None, max_length=200, deprecated=True,
                             description="ignored: the acting user is the subject of your bearer token")
    reason: str = Field(min_length=1, max_length=2000, description="why, in a sentence")


class TrafficRequest(ChangeRequest):
    """A canary or shadow split of a model's traffic to one candidate version."""

    mode: Literal["canary", "shadow"]
    version: int = Field(ge=1, le=BIGINT_MAX, description="the candidate version")
    weight: float = Field(default=0.1, ge=0, le=1, description="share of requests the candidate answers (canary)")


class TrafficPublic(BaseModel):
    model_name: str
    mode: str = Field(description='"canary", "shadow", or "none" after a rollback')
    champion_version: int
    candidate_version: int | None
    canary_weight: float


class PromotionAsk(BaseModel):
    """Ask for a version to move a protected alias; who asks is the bearer token's subject."""

    version: int = Field(ge=1, description="the version to promote")
    alias: str = Field(default="production", min_length=1, max_length=64,
                       description='an alias the policy governs: "production" (what serves; "champion" means it), '
                                   '"staging", or one the policy names')
    reason: str = Field(min_length=1, max_length=2000, description="why, in a sentence")


class Verdict(BaseModel):
    comment: str = Field(default="", max_length=2000, description="what the approver looked at (optional)")


class Rejection(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="why not, in a sentence")


class GatePublic(BaseModel):
    rule: str
    mode: str
    passed: bool
    message: str


class ApprovalPublic(BaseModel):
    approver: str
    role: str
    comment: str
    at: datetime


class EvidencePublic(BaseModel):
    """What the approver is shown: champion and challenger on the same data, fairness per group, each gate."""

    policy_version: int
    policy_digest: str
    input_digest: str
    evidence_digest: str = Field(description="sha256 of {input, gates, policy_digest}, canonical JSON")
    passed: bool = Field(description="every enforced gate passed")
    gates: list[GatePublic]
    comparison: dict = Field(description="the primary metric of champion and challenger, on the same holdout "
                                         "when the run judged both on its fresh rows")
    fairness: list[dict] = Field(description="per sensitive attribute: the gaps, and the selection rate per group")
    input: dict = Field(description="the typed input every rule read (docs/approvals.md)")


class PromotionPublic(BaseModel):
    id: str
    model_name: str
    version: int
    alias: str
    state: str = Field(description="requested | pending | approved | rejected | expired")
    requested_by: str
    reason: str
    champion_version: int | None
    risk_tier: str
    policy_version: int | None
    policy_digest: str
    approvals_required: int
    required_roles: list[str]
    quorum: str = Field(description="where the quorum stands, in a sentence")
    approvals: list[ApprovalPublic]
    created_at: datetime
    expires_at: datetime
    closed_at: datetime | None
    closed_by: str
    close_reasons: list[str]
    evidence: EvidencePublic | None
    event_ids: list[str] = Field(description="the events this request's changes published (ledger entries)")


class RiskTierRequest(BaseModel):
    tier: Literal["low", "medium", "high"]
    reason: str = Field(min_length=1, max_length=2000)


class RiskTierPublic(BaseModel):
    model_name: str
    risk_tier: str


class PolicyPublish(BaseModel):
    document: dict = Field(description="the policy document as JSON (the CLI reads TOML and sends this)")
    note: str = Field(default="", max_length=2000, description="what changed, in a sentence")


class PolicyDraft(BaseModel):
    document: dict = Field(description="a draft policy document, not published")


class PolicyPublic(BaseModel):
    version: int
    digest: str
    published_by: str
    published_at: datetime
    note: str
    event_id: str
    document: dict


class FlipPublic(BaseModel):
    request_id: str
    model_name: str
    version: int
    alias: str
    policy_version: int
    recorded_passed: bool
    draft_passed: bool
    flipped: bool
    rules: list[dict] = Field(description="rules whose result differs: {rule, recorded, draft, message}")


class ReplayPublic(BaseModel):
    draft_digest: str
    evaluations: int
    flips: int
    results: list[FlipPublic]


class ServedPublic(BaseModel):
    """Which version served an alias at a time, and the record behind it."""

    model_name: str
    alias: str
    at: datetime
    version: int | None = Field(description="null: the alias pointed at nothing then")
    since: datetime | None
    action: str | None
    decided_by: str | None
    requested_by: str | None
    approvers: list[str]
    policy_version: int | None
    policy_digest: str | None
    reasons: list[str]
    request_id: str | None
    event_ids: list[str] = Field(description="ledger entries backing it: the move, its request's events, and the "
                                             "policy version's publication; fetch their inclusion proofs from audit")
