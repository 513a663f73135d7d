"""Sign-in, the pages everyone has (models and their charts, the live event stream, service figures), and the
JSON the browser code reads (chart series, the ledger's checkpoint and proofs for in-page verification)."""

from typing import Any

import httpx
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from conveyor_cli.client import ApiError
from conveyor_cli.platform import SERVICES
from conveyor_cli.tail_cmd import sentence
from conveyor_kernel.identity import ROLES, TokenRefused

from . import ops_figures, series
from .session import COOKIE, SameOrigin, SessionDep
from .upstream import attempt
from .web import conveyor, page

router = APIRouter()
SERIES_KINDS = ("drift", "fairness", "performance")


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, reason: str = "") -> HTMLResponse:
    settings = request.app.state.settings
    return page(request, None, "login.html", roles=ROLES, reason=reason,
                dev=settings.mode == "dev" and not settings.auth.issuer)


@router.post("/login", dependencies=[SameOrigin])
async def login(request: Request, token: str = Form(""), user: str = Form(""), role: str = Form("")) -> Any:
    sessions = request.app.state.sessions
    try:
        if not token.strip():
            if not user.strip() or role not in ROLES:
                raise TokenRefused("give a token, or (dev mode) a user name and one of the roles")
            token = sessions.mint(user.strip(), role)
        session = await sessions.open(token)
    except (TokenRefused, PermissionError) as exc:
        return page(request, None, "login.html", status=401, roles=ROLES, reason=str(exc),
                    dev=request.app.state.settings.mode == "dev")
    response = RedirectResponse(session.home, status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https",
                        max_age=int(request.app.state.settings.session_hours * 3600))
    return response


@router.post("/logout", dependencies=[SameOrigin])
def logout() -> RedirectResponse:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/")
def home(session: SessionDep) -> RedirectResponse:
    return RedirectResponse(session.home, status_code=303)


@router.get("/models", response_class=HTMLResponse)
def models(request: Request, session: SessionDep) -> HTMLResponse:
    with conveyor(request, session) as client:
        listed = attempt(client.models)
    return page(request, session, "models.html", models=listed)


@router.get("/models/{name}", response_class=HTMLResponse)
def model(request: Request, session: SessionDep, name: str) -> HTMLResponse:
    with conveyor(request, session) as client:
        found, versions, decisions = attempt(lambda: client.model(name)), attempt(lambda: client.versions(name)), \
            attempt(lambda: client.decisions(name))
        drift = attempt(lambda: client.drift(name))
    return page(request, session, "model.html", name=name, model=found, versions=versions, decisions=decisions,
                drift=drift, kinds=SERIES_KINDS)


@router.get("/api/series/{name}/{kind}")
def series_json(request: Request, session: SessionDep, name: str, kind: str) -> JSONResponse:
    if kind not in SERIES_KINDS:
        return JSONResponse({"detail": f"kind {kind!r}: use one of {', '.join(SERIES_KINDS)}"}, status_code=404)
    with conveyor(request, session) as client:
        try:
            points = client.series(name, kind)
            threshold = None
            if kind == "drift":
                evaluations = client.drift(name).get("evaluations") or []
                threshold = evaluations[0].get("share_threshold") if evaluations else None
        except ApiError as exc:  # e.g. a model the monitor has not seen: an empty chart, saying why (not a 404 the
            # browser would log as an error)
            return JSONResponse({**series.chart(kind, []), "detail": exc.detail})
    return JSONResponse(series.chart(kind, points, threshold))


@router.get("/events", response_class=HTMLResponse)
def events(request: Request, session: SessionDep) -> HTMLResponse:
    rows, after, error = _events_after(request, session, None)
    return page(request, session, "events.html", rows=rows, after=after, error=error)


@router.get("/events/rows", response_class=HTMLResponse)
def event_rows(request: Request, session: SessionDep, after: int) -> HTMLResponse:
    """New events since `after`, as table rows for htmx to add at the top (and the next cursor)."""
    rows, cursor, error = _events_after(request, session, after)
    return page(request, session, "event_rows.html", rows=rows, after=cursor, error=error)


def _events_after(request: Request, session: SessionDep, after: int | None) -> tuple[list[dict], int, str | None]:
    size = request.app.state.settings.events_page
    with conveyor(request, session) as client:
        try:
            total = client.ledger(limit=1)["total"]
            start = max(0, total - size) if after is None else after
            entries = client.ledger(limit=size, offset=start)["entries"] if total > start else []
        except ApiError as exc:
            return [], after or 0, str(exc)
    rows = [{"index": e["index"], "time": e["time"], "type": e["type"].rsplit(".", 1)[-1], "subject": e["subject"],
             "text": sentence(e), "by": ((e.get("event") or {}).get("principal") or {}).get("subject", "")}
            for e in reversed(entries)]
    return rows, start + len(entries), None


@router.get("/ops", response_class=HTMLResponse)
def ops(request: Request, session: SessionDep) -> HTMLResponse:
    return page(request, session, "ops.html", figures=_figures(request))


@router.get("/ops/figures", response_class=HTMLResponse)
def ops_rows(request: Request, session: SessionDep) -> HTMLResponse:
    return page(request, session, "ops_rows.html", figures=_figures(request))


def _figures(request: Request) -> ops_figures.Figures:
    settings = request.app.state.settings
    jobs = [*SERVICES, "console"]
    urls = settings.urls()
    with httpx.Client(timeout=5.0) as client:
        prometheus = settings.prometheus_url()
        if prometheus:
            try:
                return ops_figures.from_prometheus(prometheus, jobs, client)
            except httpx.HTTPError:
                pass  # Prometheus down: the services' own /metrics still answer
        return ops_figures.from_metrics(urls, jobs, client)
