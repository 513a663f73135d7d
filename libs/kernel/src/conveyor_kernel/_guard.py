"""The access guard: an ASGI middleware that decides every request from the access table, before the app
reads a byte of its body.

Per request: find the route as the router will (its path template; decisions are cached by method and path),
look up its rule, then
- public / inference: pass through untouched (serving's infer routes cost a dict lookup, no token work);
- roles: verify the bearer token (401 naming the reason), check the role (403 naming who may), and run the
  app with the principal in `scope["conveyor.principal"]` and in `acting_principal()` for the publisher;
- no rule for a route the app has: 403 for everyone (deny by default) until the table names it.
A path no route matches passes through, so the router answers 404/405 as before.
"""

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route, compile_path, get_route_path
from starlette.types import ASGIApp, Receive, Scope, Send

from ._access import Gate, Rule
from ._errors import ConfigurationError
from ._identity import Principal, _acting
from ._tokens import TokenRefused, TokenVerifier

logger = logging.getLogger(__name__)
PRINCIPAL_KEY = "conveyor.principal"
_CACHE_SIZE = 4096  # (method, path) decisions kept


@dataclass(frozen=True)
class _Leaf:
    path: str  # the template, as the access table names it
    pattern: re.Pattern[str]
    methods: frozenset[str]  # empty: any method (a mount)


def _leaves(routes: Iterable[BaseRoute]) -> Iterator[_Leaf]:
    """Every route an app dispatches to, in order. FastAPI (0.16x) keeps an included router as one entry
    whose `effective_route_contexts()` are its routes with the prefix applied; a Mount matches any method
    below its path (it has no rule unless the table names it, so it is refused)."""
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            for context in contexts():
                yield _leaf(context.path, context.methods)
        elif isinstance(route, Mount):
            yield _Leaf(route.path, re.compile(re.escape(route.path) + "(/.*)?$"), frozenset())
        elif isinstance(route, Route):
            yield _leaf(route.path, route.methods or set())


def _leaf(path: str, methods: Iterable[str]) -> _Leaf:
    return _Leaf(path, compile_path(path)[0], frozenset(m for m in methods if m != "HEAD"))


ROUTE_KEY = "conveyor.route"


class AccessGuard:
    def __init__(self, app: ASGIApp, *, service: str, routes: Callable[[], Sequence[BaseRoute]],
                 rules: dict[tuple[str, str], Rule], verifier: TokenVerifier,
                 error_body: Callable[[Exception], dict[str, Any]]) -> None:
        self.app, self.service, self._routes_of, self.rules = app, service, routes, rules
        self.verifier, self.error_body = verifier, error_body
        self._table: list[_Leaf] | None = None
        self._decided: dict[tuple[str, str], tuple[str | None, Rule | None]] = {}

    def _compile(self) -> list[_Leaf]:
        """The app's routes in routing order (included routers flattened), each with its path template and
        methods; built on the first request, once every router is included."""
        leaves = list(_leaves(self._routes_of()))
        missing = sorted({f"{m} {leaf.path}" for leaf in leaves for m in leaf.methods
                          if (m, leaf.path) not in self.rules})
        if missing:
            logger.warning("%s: routes missing from the access table are refused for everyone: %s",
                           self.service, ", ".join(missing))
        self._table = leaves
        return leaves

    def _resolve(self, method: str, path: str) -> tuple[str | None, Rule | None]:
        """The route template a request reaches (None: no route, the router answers 404/405) and its rule."""
        table = self._table if self._table is not None else self._compile()
        for leaf in table:
            if leaf.pattern.match(path) and (method in leaf.methods or not leaf.methods):
                return leaf.path, self.rules.get((method, leaf.path))
        return None, None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = get_route_path(scope) if scope.get("root_path") else scope["path"]
        method = "GET" if scope["method"] == "HEAD" else scope["method"]
        # The path first: a request to a path seen before (an infer route, a probe) costs one dict lookup. The
        # cache is bounded: a caller inventing paths only makes the guard scan the routes again.
        key = (method, path)
        found = self._decided.get(key)
        if found is None:
            found = self._resolve(method, path)
            if len(self._decided) >= _CACHE_SIZE:
                self._decided.clear()
            self._decided[key] = found
        template, rule = found
        scope[ROUTE_KEY] = template  # the request metrics label a refused request by its route, too
        if template is None or (rule is not None and rule.gate is not Gate.ROLES):
            await self.app(scope, receive, send)  # no route (404/405 follow), or public, or serving's keys
            return
        if rule is None:
            await self._refuse(scope, receive, send, 403, f"{method} {template} is not in the access table, so no "
                               f"role may call it; add it to the table ({self.service})")
            return
        try:
            principal = await self.verifier.verify(_header(scope, b"authorization"))
        except TokenRefused as exc:
            await self._refuse(scope, receive, send, 401, str(exc))
            return
        if not rule.admits(principal):
            await self._refuse(scope, receive, send, 403, f"{method} {template} needs the role {rule.needs()}; "
                               f"your token ({principal.subject}) carries {principal.role or 'no role'}")
            return
        scope[PRINCIPAL_KEY] = principal
        token = _acting.set(principal)
        try:
            await self.app(scope, receive, send)
        finally:
            _acting.reset(token)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
        description = message.replace('"', "'")
        challenge = (f'Bearer realm="conveyor", error="invalid_token", error_description="{description}"'
                     if status == 401 else 'Bearer realm="conveyor", error="insufficient_scope"')
        response = JSONResponse(self.error_body(PermissionError(message)), status_code=status,
                                headers={"WWW-Authenticate": challenge})
        await response(scope, receive, send)


def current_principal(request: Request) -> Principal:
    """The verified caller of a route whose rule names roles (a FastAPI dependency: `PrincipalDep`)."""
    principal = request.scope.get(PRINCIPAL_KEY)
    if principal is None:
        raise ConfigurationError(f"{request.method} {request.url.path} asks who calls it, but its access rule "
                                 "needs no token: give it roles in the access table")
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None
