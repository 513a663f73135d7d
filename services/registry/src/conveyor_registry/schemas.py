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
