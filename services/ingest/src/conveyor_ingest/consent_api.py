"""REST edge of consent and erasure. Raw subject ids travel only in request bodies (never in a path, which
access logs keep); answers name subjects by their pseudonymous reference."""

import asyncio
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field, model_validator

from conveyor_kernel import PrincipalDep

from .consent.book import PURPOSES, Change, SubjectUnknown
from .consent.erasure import public
from .deps import ConsentDep, ErasuresDep

router = APIRouter(tags=["consent"])


class Subjects(BaseModel):
    subject_id: str | None = Field(default=None, description="one subject, as its id column held it")
    subject_ids: list[str] = Field(default_factory=list, description="several subjects (a bulk change)")

    @model_validator(mode="after")
    def _some(self) -> "Subjects":
        if self.subject_id is None and not self.subject_ids:
            raise ValueError("name the subject: subject_id, or subject_ids for several")
        return self

    def ids(self) -> list[str]:
        return ([self.subject_id] if self.subject_id is not None else []) + self.subject_ids


class ConsentChange(Subjects):
    purpose: str = Field(description=f"one of {', '.join(PURPOSES)}")
    state: Literal["given", "withdrawn"]
    basis: str = Field(default="consent", description="GDPR Art. 6 basis (dpv): consent, contract, ...")
    source: str = Field(default="rest", description="how the record was collected")
    expires_at: datetime | None = Field(default=None, description="consent given until then (ISO 8601 with zone)")


class Withdrawal(Subjects):
    purpose: str = Field(default="training", description=f"one of {', '.join(PURPOSES)}")
    source: str = Field(default="rest")


class ErasureRequest(BaseModel):
    subject_id: str
    reason: str = Field(min_length=1, description="why, for the record (e.g. 'the subject's request of 2026-11-30')")


@router.post("/consent", status_code=201, responses={404: {}, 422: {}, 503: {}})
async def record_consent(body: ConsentChange, book: ConsentDep, principal: PrincipalDep) -> dict[str, Any]:
    expires = int(body.expires_at.timestamp() * 1000) if body.expires_at else 0
    records = await book.change(body.ids(), Change(body.purpose, body.state, body.basis, body.source, expires),
                                principal.subject)
    return {"recorded": len(records), "records": [r.public() for r in records]}


@router.post("/consent/withdraw", status_code=201, responses={404: {}, 422: {}, 503: {}})
async def withdraw(body: Withdrawal, book: ConsentDep, principal: PrincipalDep) -> dict[str, Any]:
    """Withdraw consent for a purpose (default training): the trainer flags the models that learned from
    the subjects and retrains them without their rows."""
    records = await book.change(body.ids(), Change(body.purpose, "withdrawn", "consent", body.source),
                                principal.subject)
    return {"recorded": len(records), "records": [r.public() for r in records]}


@router.post("/subjects/resolve", responses={404: {}})
async def resolve(body: Subjects, book: ConsentDep) -> dict[str, Any]:
    """raw id -> reference, with the dataset versions holding the subject and its current consent."""
    refs = await asyncio.to_thread(book.refs_of, body.ids())
    return {"subjects": [await _subject(book, raw, ref) for raw, ref in refs.items()]}


@router.get("/subjects/{subject_ref}/consent", responses={404: {}})
async def consent_of(subject_ref: str, book: ConsentDep) -> dict[str, Any]:
    history = await asyncio.to_thread(book.store.history, subject_ref)
    if not history:
        raise SubjectUnknown([subject_ref])
    current = await asyncio.to_thread(book.store.current, subject_ref)
    return {"subject_ref": subject_ref, "current": {p: r.public() for p, r in current.items()},
            "history": [r.public() for r in history]}


async def _subject(book: Any, raw: str, ref: str) -> dict[str, Any]:
    current = await asyncio.to_thread(book.store.current, ref)
    return {"subject_id": raw, "subject_ref": ref,
            "dataset_ids": await asyncio.to_thread(book.store.datasets_of, ref),
            "consent": {p: r.state for p, r in current.items()}}


@router.post("/erasures", status_code=201, responses={404: {}})
async def request_erasure(body: ErasureRequest, erasures: ErasuresDep, principal: PrincipalDep) -> dict[str, Any]:
    """The controller asks; a privacy officer approves (POST /erasures/{id}/approve), which runs it."""
    return public(await erasures.request(body.subject_id, body.reason, principal))


@router.get("/erasures/{erasure_id}", responses={404: {}})
async def get_erasure(erasure_id: str, erasures: ErasuresDep) -> dict[str, Any]:
    return public(await erasures.get(erasure_id))


@router.post("/erasures/{erasure_id}/approve", responses={403: {}, 404: {}, 503: {}})
async def approve_erasure(erasure_id: str, erasures: ErasuresDep, principal: PrincipalDep) -> dict[str, Any]:
    return (await erasures.approve(erasure_id, principal)).public()


@router.post("/erasures/{erasure_id}/run", responses={403: {}, 404: {}, 503: {}})
async def run_erasure(erasure_id: str, erasures: ErasuresDep) -> dict[str, Any]:
    """Continue an approved erasure that stopped part-way (`resumed` says so); 403 while not approved."""
    return (await erasures.run(erasure_id)).public()
