"""Every operation of every service, tried as nobody, with an expired token, a forged one, and each role.

Expectations come from the access table alone: a role the rule admits must get past the guard (any status
but 401/403), every other caller must be refused with the reason. An operation the table does not name fails
the test, so a new route cannot ship without a decision about who may call it.
"""

import importlib
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from conveyor_kernel.callers import bearer
from conveyor_kernel.identity import ROLES, AccessTable, DevIssuer, Kind
from conveyor_kernel.memory import InMemoryBus

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").exists())
DOC_PAGES = ["/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"]
REFUSED = (401, 403)


def _app(service: str, data_dir: Path):
    settings_module = importlib.import_module(f"conveyor_{service}.settings")
    wiring = importlib.import_module(f"conveyor_{service}.wiring")
    settings_cls = next(value for name, value in vars(settings_module).items()
                        if name.endswith("Settings") and getattr(value, "__module__", "") == settings_module.__name__)
    return wiring.create_app(settings_cls(data_dir=data_dir), transport=InMemoryBus())


def _url(path: str, operation: dict) -> str:
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            value = "1" if parameter.get("schema", {}).get("type") == "integer" else "x"
            path = path.replace("{" + parameter["name"] + "}", value)
    return path


def _forged(issuer: DevIssuer, role: str) -> str:
    """Signed by another key under the real key's id: only the signature gives it away."""
    claims = {"iss": issuer.issuer, "aud": issuer.audience, "sub": "mallory", "role": role, "exp": 2**31}
    return jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": issuer.jwk["kid"]})


@pytest.fixture(scope="module", params=SERVICES)
def service(request, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp(request.param)
    app = _app(request.param, data_dir)
    with TestClient(app) as client:
        yield request.param, client, DevIssuer.ensure(app.state.access.issuer_dir)


def _operations(client: TestClient):
    for path, operations in client.get("/openapi.json").json()["paths"].items():
        for method, operation in operations.items():
            yield method.upper(), path, _url(path, operation)


def test_every_operation_is_in_the_access_table(service):
    name, client, _ = service
    rules = AccessTable.load().for_service(name)
    missing = [f"{method} {path}" for method, path, _ in _operations(client) if (method, path) not in rules]
    assert missing == [], f"{name}: add these to libs/kernel/src/conveyor_kernel/access.toml"


def test_the_table_names_no_route_the_service_lacks(service):
    name, client, _ = service
    real = {(method, path) for method, path, _ in _operations(client)} | {("GET", p) for p in DOC_PAGES}
    stale = sorted(f"{m} {p}" for m, p in AccessTable.load().rules.get(name, {}) if (m, p) not in real)
    assert stale == [], f"{name}: the access table names routes that do not exist"


def test_no_caller_is_wrongly_allowed_or_wrongly_refused(service):
    name, client, issuer = service
    rules = AccessTable.load().for_service(name)
    callers = {"no token": None, "expired": issuer.mint("late", ROLES[0], now=0),
               "forged": _forged(issuer, ROLES[0]), "service account": issuer.mint("feed", kind=Kind.SERVICE)}
    callers |= {role: issuer.mint(f"someone-{role}", role) for role in ROLES}
    wrongly_allowed, wrongly_refused, tried = [], [], 0
    for method, path, url in _operations(client):
        rule = rules.get((method, path))
        if rule is None:
            continue  # the test above names it
        for caller, token in callers.items():
            # expired and forged tokens carry a role the rule may admit: only verification may refuse them
            expired_or_forged = caller in ("expired", "forged")
            response = client.request(method, url, headers=bearer(token) if token else {})
            tried += 1
            if rule.gate != "roles":
                allowed = True
            elif token is None or expired_or_forged:
                allowed = False
            else:
                allowed = rule.admits(_principal_of(caller))
            refused = response.status_code in REFUSED
            if allowed and refused:
                wrongly_refused.append(f"{caller}: {method} {path} -> {response.status_code} {response.text}")
            elif not allowed and not refused:
                wrongly_allowed.append(f"{caller}: {method} {path} -> {response.status_code}")
            elif not allowed:
                _assert_reason(caller, rule, response)
    assert tried > 0
    assert wrongly_allowed == [], f"{name}: {len(wrongly_allowed)} wrongly allowed of {tried}"
    assert wrongly_refused == [], f"{name}: {len(wrongly_refused)} wrongly refused of {tried}"


def _principal_of(caller: str):
    from conveyor_kernel import Principal

    if caller == "service account":
        return Principal("feed", "", Kind.SERVICE)
    return Principal(f"someone-{caller}", caller)


def _assert_reason(caller: str, rule, response) -> None:
    body = response.json()
    text = body.get("detail") or body.get("error")
    expected = {"no token": (401, "no bearer token"), "expired": (401, "expired"),
                "forged": (401, "bad signature")}.get(caller, (403, f"needs the role {rule.needs()}"))
    assert (response.status_code, expected[1] in text) == (expected[0], True), (caller, response.status_code, text)
    if response.status_code == 401:
        assert response.headers["www-authenticate"].startswith('Bearer realm="conveyor", error="invalid_token"')


def test_probes_scrapers_and_the_openapi_pages_need_no_token(service):
    _, client, _ = service
    for path in ["/healthz", "/readyz", "/metrics", *DOC_PAGES]:
        assert client.get(path).status_code not in REFUSED, path
