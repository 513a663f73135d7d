"""What the REST API reads and returns. Built from the table models' bases, never the tables themselves."""

from datetime import datetime

from pydantic import BaseModel, Field

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
    """Who asks for a manual champion change, and why (both end up in the audit trail)."""

    user: str = Field(min_length=1, max_length=200, description="who asks; e.g. an e-mail address")
    reason: str = Field(min_length=1, max_length=2000, description="why, in a sentence")
