"""Access control for a service app: the access table's rules for the service, the guard in front of every
route, and an OpenAPI document that shows the bearer scheme and who may call each operation."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from ._access import AccessTable, Gate, Rule
from ._errors import ConfigurationError
from ._guard import AccessGuard
from ._settings import DEV_ISSUER, ServiceSettings
from ._tokens import DevIssuer, JwksKeys, TokenVerifier


@dataclass(frozen=True)
class AccessInfo:
    """What an app's access guard was built from (app.state.access): for dev-mode callers and the docs."""

    service: str
    table: AccessTable
    issuer_dir: Path  # the dev issuer's folder (dev mode)


def install_access(app: FastAPI, service: str, settings: ServiceSettings,
                   error_body: Callable[[Exception], dict[str, Any]]) -> None:
    table = AccessTable.load(settings.auth.access_file)
    rules = table.for_service(service)
    app.state.access = AccessInfo(service, table, settings.dev_issuer_dir)
    app.add_middleware(AccessGuard, service=service, routes=lambda: app.router.routes, rules=rules,
                       verifier=token_verifier(settings), error_body=error_body)
    app.openapi = lambda: _openapi(app, rules)  # type: ignore[method-assign]


def token_verifier(settings: ServiceSettings) -> TokenVerifier:
    """The verifier the settings describe; in dev mode without an issuer, Conveyor's own (its JWKS created on
    first use under the data dir, shared by every service)."""
    auth = settings.auth
    if auth.jwks_file is not None or auth.jwks_url:
        keys = JwksKeys(file=auth.jwks_file, url=auth.jwks_url)
    elif settings.mode == "dev" and not auth.issuer:
        keys = JwksKeys(file=DevIssuer.ensure(settings.dev_issuer_dir, DEV_ISSUER, auth.audience).jwks_path)
    else:
        raise ConfigurationError(f"auth.issuer is {auth.issuer!r} but no JWKS is set: set CONVEYOR_AUTH__JWKS_URL "
                                 "or CONVEYOR_AUTH__JWKS_FILE to the issuer's keys")
    return TokenVerifier(settings.token_issuer, auth.audience, keys, auth.algorithms, auth.leeway_seconds,
                         auth.role_claim)


def _openapi(app: FastAPI, rules: Mapping[tuple[str, str], Rule]) -> dict[str, Any]:
    """The OpenAPI document with the bearer scheme, and each operation saying who may call it."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
        schema.setdefault("components", {})["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                rule = rules.get((method.upper(), path))
                _declare_kernel_answers(operation, rule)
                if rule is None or rule.gate is Gate.PUBLIC:
                    continue
                if rule.gate is Gate.INFERENCE:
                    operation["description"] = (operation.get("description", "") +
                                                "\n\nAccess: serving's API keys, when set.").strip()
                    continue
                operation["security"] = [{"bearer": []}]
                operation["description"] = (operation.get("description", "") +
                                            f"\n\nAccess: a bearer token with the role {rule.needs()}.").strip()
        app.openapi_schema = schema
    return app.openapi_schema


# What the kernel itself answers before or around a route's handler, so that every OpenAPI names every status
# a route can return (issue 15: Schemathesis checks each answer against its route's document).
_GUARD_ANSWERS = {
    "401": {"description": "no bearer token, or one that is expired, forged or for another audience "
                           "(WWW-Authenticate says why)"},
    "403": {"description": "the token's role may not call this route (the message names the roles that may)"},
}
_BAD_BODY = {"400": {"description": "the body is not what its Content-Type says (for JSON: not parseable)"}}


def _declare_kernel_answers(operation: dict[str, Any], rule: Rule | None) -> None:
    responses = operation.setdefault("responses", {})
    if rule is None or rule.gate is Gate.ROLES:  # no rule: the guard refuses with 403 (not in the table)
        for status, answer in _GUARD_ANSWERS.items():
            responses.setdefault(status, answer)
    if "requestBody" in operation:
        for status, answer in _BAD_BODY.items():
            responses.setdefault(status, answer)
