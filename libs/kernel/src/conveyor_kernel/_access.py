"""The access table: for each service, each route (method and path as declared) and who may call it.

One TOML file decides every route of every service (the kernel's access.toml by default, or
CONVEYOR_AUTH__ACCESS_FILE); see its header for the format. Loading checks it whole: an unknown role, group
or rule is a ConfigurationError at start-up, not a surprise at the first request.
"""

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from ._errors import ConfigurationError
from ._identity import ROLES, Kind, Principal

DEFAULT_FILE = Path(__file__).with_name("access.toml")
EVERY_SERVICE = "*"
SERVICE_ACCOUNT = "service_account"
METHODS = frozenset(("GET", "POST", "PUT", "PATCH", "DELETE"))


class Gate(StrEnum):
    PUBLIC = "public"  # no token
    INFERENCE = "inference"  # serving's API keys decide; bearer tokens are not looked at
    ROLES = "roles"  # a verified token with one of the roles


@dataclass(frozen=True)
class Rule:
    gate: Gate
    roles: frozenset[str] = frozenset()
    service_accounts: bool = False

    def admits(self, principal: Principal) -> bool:
        return principal.role in self.roles or (self.service_accounts and principal.kind is Kind.SERVICE)

    def needs(self) -> str:
        """Who may call the route, as a 403 says it: 'manager or tech_leader'."""
        names = [r for r in ROLES if r in self.roles] + (["a service account"] if self.service_accounts else [])
        return " or ".join(names) if names else "nobody"

    def allowed_roles(self) -> list[str]:
        return [r for r in ROLES if r in self.roles]


Route = tuple[str, str]  # (method, path template)


@dataclass(frozen=True)
class AccessTable:
    rules: Mapping[str, Mapping[Route, Rule]]  # service -> route -> rule; EVERY_SERVICE applies to all
    source: str

    @classmethod
    def load(cls, path: Path | None = None) -> "AccessTable":
        path = path or DEFAULT_FILE
        try:
            document = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigurationError(f"cannot read the access table {path}: {exc}") from exc
        return cls.parse(document, str(path))

    @classmethod
    def parse(cls, document: Mapping[str, Any], source: str = "<table>") -> "AccessTable":
        groups = document.get("groups", {})
        for name, members in groups.items():
            unknown = [m for m in members if m not in ROLES and m != SERVICE_ACCOUNT]
            if unknown:
                raise ConfigurationError(f"{source}: group {name!r} names unknown roles {unknown}; roles: {ROLES}")
        rules: dict[str, dict[Route, Rule]] = {}
        for service, routes in document.items():
            if service == "groups":
                continue
            if not isinstance(routes, dict):
                raise ConfigurationError(f"{source}: {service!r} must be a table of routes")
            rules[service] = {_route(source, service, key): _rule(source, service, key, value, groups)
                              for key, value in routes.items()}
        return cls(rules, source)

    def for_service(self, service: str) -> dict[Route, Rule]:
        """Every route rule that applies to one service (its own and those of every service)."""
        return {**self.rules.get(EVERY_SERVICE, {}), **self.rules.get(service, {})}


def _route(source: str, service: str, key: str) -> Route:
    method, _, path = key.partition(" ")
    if method not in METHODS or not path.startswith("/"):
        raise ConfigurationError(f"{source}: [{service}] {key!r} is not 'METHOD /path' (methods: {sorted(METHODS)})")
    return method, path


def _rule(source: str, service: str, key: str, value: Any, groups: Mapping[str, list[str]]) -> Rule:
    where = f"{source}: [{service}] {key!r}"
    if isinstance(value, str):
        if value not in (Gate.PUBLIC, Gate.INFERENCE):
            raise ConfigurationError(f"{where} = {value!r}: a rule is 'public', 'inference' or a list of roles")
        return Rule(Gate(value))
    if not isinstance(value, list) or not value:
        raise ConfigurationError(f"{where}: a rule is 'public', 'inference' or a non-empty list of roles")
    names: list[str] = []
    for item in value:
        if isinstance(item, str) and item.startswith("@"):
            if item[1:] not in groups:
                raise ConfigurationError(f"{where}: no group {item[1:]!r} in [groups]")
            names += groups[item[1:]]
        else:
            names.append(item)
    unknown = [n for n in names if n not in ROLES and n != SERVICE_ACCOUNT]
    if unknown:
        raise ConfigurationError(f"{where}: unknown roles {unknown}; roles are {', '.join(ROLES)} "
                                 f"(and {SERVICE_ACCOUNT!r})")
    return Rule(Gate.ROLES, frozenset(n for n in names if n in ROLES), SERVICE_ACCOUNT in names)
