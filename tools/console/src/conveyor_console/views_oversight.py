"""The technology leader's view (the portfolio, the policy's versions and what-if) and the auditor's (a ledger
browser that verifies in the page, what served at time T, reports; consent and erasure records come with
issue 13's routes)."""

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from conveyor_cli.client import ApiError, Conveyor

from . import series
from .served_at import parse_time, served_at
from .session import SessionDep
from .upstream import Outcome, attempt
from .web import conveyor, page

router = APIRouter()
LEDGER_PAGE = 25


@router.get("/leader", response_class=HTMLResponse)
def leader(request: Request, session: SessionDep) -> HTMLResponse:
    with conveyor(request, session) as client:
        portfolio = attempt(lambda: [_standing(client, m) for m in client.models()])
        policies = attempt(client.policies)
    return page(request, session, "leader.html", portfolio=portfolio, policies=policies)


def _standing(client: Conveyor, model: dict[str, Any]) -> dict[str, Any]:
    """One portfolio row: the champion's metric, and the monitor's latest drift, fairness gap and performance."""
    name = model["name"]
    champion = attempt(lambda: client.version(name, model["champion_version"])) if model.get("champion_version") \
        else Outcome()
    figures: dict[str, Any] = {}
    for kind in ("drift", "fairness", "performance"):
        points = attempt(lambda k=kind: client.series(name, k))
        figures[kind] = series.latest(points.value or [], kind)
    version = champion.value or {}
    metric = version.get("primary_metric")
    dataset = attempt(lambda: client.dataset(version["dataset_id"])) if version.get("dataset_id") else Outcome()
    return {"name": name, "champion": model.get("champion_version"), "metric": metric,
            "metric_value": (version.get("metrics") or {}).get(metric), **figures,
            "consent_basis": (dataset.value or {}).get("consent_basis")}


@router.get("/leader/what-if/{version}", response_class=HTMLResponse)
def what_if(request: Request, session: SessionDep, version: int) -> HTMLResponse:
    with conveyor(request, session) as client:
        result = attempt(lambda: client.policy_what_if(version))
    return page(request, session, "what_if.html", version=version, result=result)


@router.get("/auditor", response_class=HTMLResponse)
def auditor(request: Request, session: SessionDep, subject: str = "", type: str = "", offset: int | None = None,
            at: str = "") -> HTMLResponse:
    with conveyor(request, session) as client:
        total = attempt(lambda: client.ledger(subject=subject or None, type=type or None, limit=1)["total"])
        start = offset if offset is not None else max(0, (total.value or 0) - LEDGER_PAGE)
        entries = attempt(lambda: client.ledger(subject=subject or None, type=type or None, limit=LEDGER_PAGE,
                                                offset=start)["entries"])
        key = attempt(client.public_key)
        served = _served(client, at) if at else None
        models = attempt(lambda: [{**m, "versions": client.versions(m["name"])} for m in client.models()])
    return page(request, session, "auditor.html", entries=entries, total=total, start=start, page_size=LEDGER_PAGE,
                subject=subject, type=type, key=key, at=at, served=served, models=models,
                month=datetime.now(UTC).strftime("%Y-%m"))


def _served(client: Conveyor, at: str) -> Outcome:
    try:
        moment = parse_time(at)
    except ValueError as exc:
        return Outcome(error=str(exc))
    return attempt(lambda: served_at(client.ledger(type="ModelDeployed", limit=1000)["entries"], moment))


@router.get("/auditor/checkpoint")
def checkpoint(request: Request, session: SessionDep) -> JSONResponse:
    with conveyor(request, session) as client:
        return _json(lambda: client.checkpoint())


@router.get("/auditor/proof/{index}")
def proof(request: Request, session: SessionDep, index: int, size: int) -> JSONResponse:
    with conveyor(request, session) as client:
        return _json(lambda: client.inclusion_proof(index, size))


@router.get("/auditor/reports/monthly/{month}")
def monthly(request: Request, session: SessionDep, month: str) -> Response:
    """The audit service's HTML report, produced as the auditor (its hash goes into the ledger)."""
    with conveyor(request, session) as client:
        try:
            return HTMLResponse(str(client.monthly_report(month, format="html")))
        except ApiError as exc:
            return page(request, session, "action_result.html", status=exc.status, outcome=Outcome(error=str(exc)),
                        done="")


@router.get("/auditor/model-card/{name}/{version}")
def model_card(request: Request, session: SessionDep, name: str, version: int) -> Response:
    with conveyor(request, session) as client:
        try:
            return HTMLResponse(str(client.model_card(name, version, format="html")))
        except ApiError as exc:
            return page(request, session, "action_result.html", status=exc.status, outcome=Outcome(error=str(exc)),
                        done="")


def _json(call: Any) -> JSONResponse:
    try:
        return JSONResponse(call())
    except ApiError as exc:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)
