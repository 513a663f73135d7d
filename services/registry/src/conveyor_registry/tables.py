"""What the registry stores. Table models never leave the service: the API speaks `schemas`.

The tables use their own SQLAlchemy registry (and so their own MetaData): another service's SQLModel
tables in the same process can never collide with these names, and Alembic sees only ours.
"""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKeyConstraint, TypeDecorator, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

CHAMPION = "champion"  # the one alias v1 knows


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
    MANUAL_PROMOTE = "manual_promote"


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
    stage: str = Field(default=Stage.CANDIDATE, description=" | ".join(STAGES))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class ModelVersion(RegistryTable, ModelVersionBase, table=True):
    __tablename__ = "model_version"
    __table_args__ = (UniqueConstraint("model_name", "version", name="uq_model_version"),)
    id: int | None = Field(default=None, primary_key=True)


class Alias(RegistryTable, table=True):
    """A named pointer to a version; v1 knows one alias, "champion"."""

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
