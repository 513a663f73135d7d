"""The services, as the signed-in user: one client per request, carrying the user's token and the trace.

`attempt` runs one read for a page section: a refusal or an unreachable service becomes a sentence the section
shows (the server's own message), instead of a page that fails whole.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from conveyor_cli.client import ApiError, Conveyor

from .session import Session

T = TypeVar("T")


def client_for(session: Session, urls: dict[str, str]) -> Conveyor:
    return Conveyor(urls=urls, token=session.token, timeout=30.0, propagate_trace=True)


@dataclass
class Outcome:
    value: Any = None
    error: str | None = None
    status: int | None = None

    @property
    def missing(self) -> bool:
        """The service has no such route (yet): a 404 whose message is FastAPI's plain 'Not Found'."""
        return self.status == 404 and (self.error or "").endswith("Not Found")


def attempt(call: Callable[[], T]) -> Outcome:
    try:
        return Outcome(call())
    except ApiError as exc:
        return Outcome(error=str(exc), status=exc.status)
    except httpx.TransportError as exc:
        url = exc.request.url if exc.request else "?"
        return Outcome(error=f"cannot reach {url}: {exc}")
