"""What the registry stores. Table models never leave the service: the API speaks `schemas`.

The tables use their own SQLAlchemy registry (and so their own MetaData): another service's SQLModel
tables in the same process can never collide with these names, and Alembic sees only ours.
"""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKeyConstraint, LargeBinary, TypeDecorator, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

# The alias serving follows. The version it points at is the model's champion (stage "champion", the API's
# champion_version); "champion" is accepted as another name for it (see aliases.canonical).
PRODUCTION = "production"


class _Stored(StrEnum):
    def __repr__(self) -> str:
        # as the column holds it: SQL errors (REST details, dead-letter reasons) quote parameters by repr
        return repr(self.value)


class Stage(_Stored):
    """Where a version stands. Stored as its value: the strings are part of the schema."""

    CANDIDATE = "candidate"
    CHAMPION = "champion"
    ARCHIVED = "archived"
    DECLINED = "declined"


class Action(_Stored):
    """What a decision did. Stored, and sent as ModelPromoted.action, as its value: part of the contract."""

    PROMOTE = "promote"
    DECLINE = "decline"
    ROLLBACK = "rollback"
    MANUAL_PROMOTE = "manual_promote"  # before approvals (migration 0003): a person moved the champion at once


class State(_Stored):
    """Where a promotion request stands. REQUESTED and PENDING are open; the others are final."""

    REQUESTED = "requested"  # filed, gates not evaluated yet (never committed in this state)
    PENDING = "pending"  # gates passed, waiting for approvals
    APPROVED = "approved"  # quorum met and applied, in the same transaction
    REJECTED = "rejected"  # by an approver, or by an enforced gate
    EXPIRED = "expired"  # unanswered in time, or superseded by another move of the alias


OPEN_STATES = (State.REQUESTED, State.PENDING)


STAGES = tuple(Stage)
ACTIONS = tuple(Action)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Stores UTC and always reads back an aware datetime (SQLite would hand back a naive one)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.astimezone(UTC) if value is not None and value.tzinfo else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class RegistryTable(SQLModel, registry=registry()):
    """Abstract base: every registry table hangs off this registry's metadata."""


class RegisteredModelBase(SQLModel):
    name: str = Field(primary_key=True, max_length=200)
    task: str = Field(description="classification | regression")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class RegisteredModel(RegistryTable, RegisteredModelBase, table=True):
    __tablename__ = "model"
    risk_tier: str | None = Field(default=None, description="low | medium | high; null: the policy's default")


class ModelVersionBase(SQLModel):
    model_name: str = Field(foreign_key="model.name", index=True)
    version: int = Field(description="1, 2, ... per model")
    run_id: str = Field(unique=True, description="the trainer's run; registering it twice is a no-op")
    dataset_id: str
    artifact_uri: str
    reference_uri: str = ""
    metrics: dict[str, float] = Field(default_factory=dict, sa_type=JSON)
    fairness: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    training: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    code_version: str = ""
    feature_names: list[str] = Field(default_factory=list, sa_type=JSON)
    class_labels: list[str] = Field(default_factory=list, sa_type=JSON)
    sensitive_attributes: list[str] = Field(default_factory=list, sa_type=JSON)
    inputs: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON,
                                         description="the ONNX inputs: name, datatype (OIP), kind")
    comparison: dict[str, Any] = Field(default_factory=dict, sa_type=JSON,
                                       description="champion and this version on the same fresh rows; {} if none")
    source: str = Field(default="platform", description="platform | notebook: who built the pipeline")
    trigger: str = Field(default="", description="what started the run")
    training_dataset_ids: list[str] = Field(default_factory=list, sa_type=JSON)
    training_rows: int = 0
    primary_metric: str
    author: str = Field(default="", description="who the model is by (the data's uploader); never its approver")
    stage: str = Field(default=Stage.CANDIDATE, description=" | ".join(STAGES))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class ModelVersion(RegistryTable, ModelVersionBase, table=True):
    __tablename__ = "model_version"
    __table_args__ = (UniqueConstraint("model_name", "version", name="uq_model_version"),)
    id: int | None = Field(default=None, primary_key=True)


class Alias(RegistryTable, table=True):
    """A named pointer to a version: "production" (what serves), "staging", or one the policy names. Only
    `Registry._move_alias` writes it, after `duties.authorize_move`."""

    __tablename__ = "alias"
    __table_args__ = (
        ForeignKeyConstraint(
            ["model_name", "version"], ["model_version.model_name", "model_version.version"],
            name="fk_alias_version",
        ),
    )
    model_name: str = Field(primary_key=True, foreign_key="model.name")
    alias: str = Field(primary_key=True)
    version: int


class DecisionBase(SQLModel):
    model_name: str = Field(foreign_key="model.name", index=True)
    version: int
    action: str = Field(description=" | ".join(ACTIONS))
    previous_version: int | None = Field(default=None, description="the champion before this decision")
    reasons: list[str] = Field(default_factory=list, sa_type=JSON)
    decided_by: str
    at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    alias: str = Field(default=PRODUCTION, description="the alias this decision is about")
    request_id: str | None = Field(default=None, description="the promotion request behind it; null for a rollback")
    policy_version: int | None = None
    policy_digest: str = ""
    event_id: str = Field(default="", description="the ModelPromoted / AliasMoved / PromotionDeclined it announced")


class Decision(RegistryTable, DecisionBase, table=True):
    __tablename__ = "decision"
    __table_args__ = (
        ForeignKeyConstraint(
            ["model_name", "version"], ["model_version.model_name", "model_version.version"],
            name="fk_decision_version",
        ),
    )
    id: int | None = Field(default=None, primary_key=True)


class ConsentFlag(RegistryTable, table=True):
    """A run learned from a subject whose consent for training is no longer valid (withdrawn, expired,
    erased). Keyed by run, so a flag that arrives before its run is registered still holds the version."""

    __tablename__ = "consent_flag"
    run_id: str = Field(primary_key=True)
    subject_ref: str = Field(primary_key=True)
    model_name: str = Field(index=True)
    state: str = Field(description="withdrawn | expired | erased")
    at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
class PolicyVersion(RegistryTable, table=True):
    """A published version of the promotion policy; the newest is in force."""

    __tablename__ = "policy_version"
    version: int = Field(primary_key=True)
    digest: str = Field(unique=True)
    document: dict[str, Any] = Field(sa_type=JSON)
    published_by: str
    published_role: str = ""
    note: str = ""
    published_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    event_id: str = ""


class PromotionRequest(RegistryTable, table=True):
    __tablename__ = "promotion_request"
    id: str = Field(primary_key=True)
    model_name: str = Field(foreign_key="model.name", index=True)
    version: int
    alias: str
    state: str = Field(default=State.REQUESTED, description=" | ".join(State))
    requested_by: str
    requested_role: str = ""
    reason: str = ""
    champion_version: int | None = Field(default=None, description="what the alias pointed at when asked")
    risk_tier: str = ""
    policy_version: int | None = None
    policy_digest: str = ""
    approvals_required: int = 0
    required_roles: list[str] = Field(default_factory=list, sa_type=JSON)
    policy_publisher: str = Field(default="", description="who published the policy in force: never the sole approver")
    author: str = ""
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    closed_by: str = ""
    close_reasons: list[str] = Field(default_factory=list, sa_type=JSON)


class Evaluation(RegistryTable, table=True):
    """One run of the policy's gates: what a replay re-evaluates from `input` under the policy `policy_digest`."""

    __tablename__ = "evaluation"
    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(foreign_key="promotion_request.id", index=True)
    policy_version: int
    policy_digest: str
    input: dict[str, Any] = Field(sa_type=JSON)
    input_digest: str
    results: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    passed: bool
    evidence_digest: str
    at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class Approval(RegistryTable, table=True):
    __tablename__ = "approval"
    __table_args__ = (UniqueConstraint("request_id", "approver", name="uq_approval_once"),)
    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(foreign_key="promotion_request.id", index=True)
    approver: str
    role: str
    comment: str = ""
    at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class OutboxEvent(RegistryTable, table=True):
    """An event written in the transaction that made it true, published from here by `outbox.Relay`."""

    __tablename__ = "outbox"
    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(unique=True)
    event_type: str
    subject: str
    payload: bytes = Field(sa_type=LargeBinary)
    time: str
    traceparent: str = ""
    tracestate: str = ""
    request_id: str | None = Field(default=None, index=True)
    published_at: datetime | None = Field(default=None, sa_type=UtcDateTime, index=True)
