"""What every view module shares: templates, the per-request client, and the page's common context."""

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from conveyor_cli.client import Conveyor

from .session import HOME, Session
from .upstream import client_for

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
NAV = [("/scientist", "Data scientist"), ("/manager", "Manager"), ("/leader", "Technology leader"),
       ("/auditor", "Auditor"), ("/models", "Models"), ("/events", "Live events"), ("/ops", "Service figures")]


def conveyor(request: Request, session: Session) -> Conveyor:
    return client_for(session, request.app.state.settings.urls())


def page(request: Request, session: Session | None, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    own = HOME.get(session.principal.role) if session else None
    return templates.TemplateResponse(request, template, {"session": session, "nav": NAV, "own": own, **context},
                                      status_code=status)


def short(value: Any, width: int = 12) -> str:
    text = str(value or "")
    return text if len(text) <= width else text[:width]


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


templates.env.filters.update(short=short, percent=percent, number=number)
