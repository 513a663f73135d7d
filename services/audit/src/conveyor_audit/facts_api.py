"""Declared facts: what a model's owner states and no event can evidence (intended use, limitations,
mitigations, ...). Each declaration is published as FactsDeclared on the reports topic, so the ledger
records it (who, when) and reports cite it with its index."""

from fastapi import APIRouter
from pydantic import BaseModel, Field, field_validator

from conveyor.events.v1 import events_pb2 as ev

from .coverage import SECTIONS
from .deps import ReportEntriesDep

router = APIRouter(tags=["reports"])


class Declaration(BaseModel):
    section: str = Field(description=" | ".join(SECTIONS))
    text: str = Field(min_length=1, max_length=20_000)

    @field_validator("section")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in SECTIONS:
            raise ValueError(f"section {value!r} is not a declared fact; use one of {', '.join(SECTIONS)}")
        return value


class Unrecordable(Exception):  # noqa: N818
    """Read-only: nothing can be published."""


@router.post("/models/{model}/facts", status_code=202, responses={503: {}})
async def declare(model: str, body: Declaration, entries: ReportEntriesDep) -> dict[str, str]:
    """Accepted: the ledger records it once the audit consumer reads it back (a second or so)."""
    if entries.publisher is None:
        raise Unrecordable("the audit service runs read-only: declarations cannot be recorded here")
    await entries.publisher.publish(ev.FactsDeclared(model_name=model, section=body.section, text=body.text),
                                    model)
    return {"model": model, "section": body.section, "status": "published; the ledger records it"}
