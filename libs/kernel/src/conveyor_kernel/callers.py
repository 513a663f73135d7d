"""Dev-mode callers: sign each request as someone the access table lets call its route.

For tests, benchmarks and scripts on a dev platform (never for production: it needs the dev issuer's
private key). A test that is about who may do what names the caller itself (`token_for`); every other
test uses `AllowedCaller`, so it exercises the route, not the table (tests/security checks the table).

    client = TestClient(app); client.auth = AllowedCaller.of(app)
    httpx.AsyncClient(..., auth=AllowedCaller(issuer_dir, "registry"))
"""

import re
from collections.abc import Generator
from pathlib import Path
from typing import Any

import httpx
from starlette.routing import compile_path

from ._access import AccessTable, Gate, Rule
from ._identity import Kind
from ._tokens import DevIssuer


class AllowedCaller(httpx.Auth):
    """An httpx auth that mints, per request, a dev token for the first role the route's rule admits
    (a service-account token where only service accounts may call). Public and inference routes get none."""

    def __init__(self, issuer_dir: Path, service: str, subject: str = "tester",
                 table: AccessTable | None = None) -> None:
        self.issuer = DevIssuer.ensure(issuer_dir)
        self.subject = subject
        rules = (table or AccessTable.load()).for_service(service)
        self._routes: list[tuple[str, re.Pattern[str], Rule]] = [
            (method, compile_path(path)[0], rule) for (method, path), rule in rules.items()]

    @classmethod
    def of(cls, app: Any, subject: str = "tester") -> "AllowedCaller":
        """For a service app built by create_service_app (it keeps what this needs in app.state.access)."""
        access = app.state.access
        return cls(access.issuer_dir, access.service, subject, access.table)

    def rule(self, method: str, path: str) -> Rule | None:
        return next((rule for m, pattern, rule in self._routes if m == method and pattern.match(path)), None)

    def token(self, method: str, path: str) -> str | None:
        rule = self.rule(method, path)
        if rule is None or rule.gate is not Gate.ROLES:
            return None
        roles = rule.allowed_roles()
        if roles:
            return self.issuer.mint(self.subject, roles[0])
        return self.issuer.mint(self.subject, kind=Kind.SERVICE)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if "authorization" not in request.headers:
            token = self.token(request.method, request.url.path)
            if token is not None:
                request.headers["Authorization"] = f"Bearer {token}"
        yield request


def token_for(app: Any, subject: str, role: str = "", kind: Kind = Kind.USER, **claims: Any) -> str:
    """A dev token for a service app's own issuer: `Authorization: Bearer <this>`."""
    return DevIssuer.ensure(app.state.access.issuer_dir).mint(subject, role, kind, **claims)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def signed(client: Any) -> Any:
    """A TestClient (or an httpx client on an ASGITransport) whose requests are signed by `AllowedCaller`."""
    app = getattr(client, "app", None) or client._transport.app
    client.auth = AllowedCaller.of(app)
    return client
