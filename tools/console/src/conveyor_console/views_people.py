"""The data scientist's view (datasets with their validation, runs, models, promotion requests, upload) and the
manager's (the approval inbox; until the registry's approval routes exist, the candidates with the direct
promotion the access table gives managers today)."""

import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import HTMLResponse

from conveyor_cli.client import ApiError, Conveyor

from .session import SameOrigin, SessionDep
from .upstream import Outcome, attempt
from .web import conveyor, page

router = APIRouter()
RECENT = 20


def _ledger_entries(client: Conveyor, type: str, limit: int = 200) -> list[dict[str, Any]]:
    page_ = client.ledger(type=type, limit=1)
    total = page_["total"]
    return client.ledger(type=type, limit=limit, offset=max(0, total - limit))["entries"] if total else []


def _by(entry: dict[str, Any]) -> str:
    return ((entry.get("event") or {}).get("principal") or {}).get("subject", "")


@router.get("/scientist", response_class=HTMLResponse)
def scientist(request: Request, session: SessionDep) -> HTMLResponse:
    me = session.principal.subject
    with conveyor(request, session) as client:
        datasets = attempt(lambda: client.datasets(limit=RECENT))
        arrived = attempt(lambda: {(e.get("event") or {}).get("dataset_id"): _by(e)
                                   for e in _ledger_entries(client, "DatasetArrived")})
        rejected = attempt(lambda: [e for e in _ledger_entries(client, "DatasetRejected") if _by(e) == me])
        runs = attempt(lambda: client.runs()[:RECENT])
        models = attempt(lambda: [{**m, "versions": client.versions(m["name"])} for m in client.models()])
        requests = attempt(lambda: [r for r in client.every_promotion_request() if r.get("requested_by") == me])
    return page(request, session, "scientist.html", datasets=datasets, uploaders=arrived.value or {},
                rejected=rejected, runs=runs, models=models, requests=requests, me=me)


@router.post("/scientist/datasets", response_class=HTMLResponse, dependencies=[SameOrigin])
def upload(request: Request, session: SessionDep, file: UploadFile, spec: UploadFile | None = None,
           spec_text: str = Form("")) -> HTMLResponse:
    """Streams the browser's upload to ingest as the user; the answer, or ingest's reasons, as a fragment."""
    text = spec.file.read().decode("utf-8", "replace") if spec is not None and spec.filename else spec_text
    if not text.strip():
        return page(request, session, "upload_result.html",
                    error="the dataset spec is missing: choose its JSON file or paste it", problems=[])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(file.filename or "upload.csv").name
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out, 1024 * 1024)
        with conveyor(request, session) as client:
            try:
                answer = client.upload_dataset(path, text)
            except ApiError as exc:  # a fragment the page shows: answered 200, the refusal is its content
                return page(request, session, "upload_result.html", error=str(exc), problems=exc.errors)
    return page(request, session, "upload_result.html", answer=answer)


@router.post("/scientist/promotion-requests", response_class=HTMLResponse, dependencies=[SameOrigin])
def request_promotion(request: Request, session: SessionDep, model: str = Form(...), version: int = Form(...),
                      reason: str = Form(...)) -> HTMLResponse:
    with conveyor(request, session) as client:
        outcome = attempt(lambda: client.request_promotion(model, version, reason))
    return page(request, session, "action_result.html", outcome=outcome,
                done=f"promotion of {model} v{version} requested")


@router.get("/manager", response_class=HTMLResponse)
def manager(request: Request, session: SessionDep) -> HTMLResponse:
    with conveyor(request, session) as client:
        inbox = attempt(lambda: client.every_promotion_request(state="pending"))
        candidates = attempt(lambda: _candidates(client)) if inbox.missing else None
    return page(request, session, "manager.html", inbox=inbox, candidates=candidates)


def _candidates(client: Conveyor) -> list[dict[str, Any]]:
    """Versions newer than the champion that the policy did not promote: each with the champion beside it on
    the same data (the version's comparison), its fairness per group, and the policy's reasons."""
    found = []
    for model in client.models():
        versions = {v["version"]: v for v in client.versions(model["name"])}
        champion = versions.get(model.get("champion_version") or 0)
        decisions = client.decisions(model["name"])
        for version in versions.values():
            if version["stage"] in ("candidate", "declined") and (
                    champion is None or version["version"] > champion["version"]):
                reasons = [r for d in decisions if d.get("version") == version["version"] for r in d.get("reasons", [])]
                consent = attempt(lambda v=version: client.dataset(v["dataset_id"]).get("consent_basis"))
                found.append({"model": model, "version": version, "champion": champion, "reasons": reasons,
                              "consent": consent.value or consent.error})
    return found


@router.post("/manager/decide", response_class=HTMLResponse, dependencies=[SameOrigin])
def decide(request: Request, session: SessionDep, model: str = Form(...), request_id: str = Form(...),
           verdict: str = Form(...), comment: str = Form(...)) -> HTMLResponse:
    if not comment.strip():
        return page(request, session, "action_result.html",
                    outcome=Outcome(error="a decision needs a comment: say what you checked"), done="")
    with conveyor(request, session) as client:
        call = client.approve if verdict == "approve" else client.reject
        outcome = attempt(lambda: call(model, request_id, comment))
    done = f"{model} v{outcome.value.get('version', '?')} {verdict}d by {session.principal.subject}" if (
        outcome.value) else ""
    return page(request, session, "action_result.html", outcome=outcome, done=done)


@router.post("/manager/promote", response_class=HTMLResponse, dependencies=[SameOrigin])
def promote(request: Request, session: SessionDep, model: str = Form(...), version: int = Form(...),
            comment: str = Form(...)) -> HTMLResponse:
    """Today's direct promotion (the registry's route for managers), with the comment as its recorded reason."""
    with conveyor(request, session) as client:
        outcome = attempt(lambda: client.promote(model, version, comment))
    return page(request, session, "action_result.html", outcome=outcome, done=f"{model} v{version} promoted")


@router.post("/manager/rollback", response_class=HTMLResponse, dependencies=[SameOrigin])
def rollback(request: Request, session: SessionDep, model: str = Form(...), comment: str = Form(...)) -> HTMLResponse:
    with conveyor(request, session) as client:
        outcome = attempt(lambda: client.rollback(model, comment))
    return page(request, session, "action_result.html", outcome=outcome, done=f"{model} rolled back")
