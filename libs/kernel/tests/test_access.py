"""The access table and the guard on a small app: deny by default, reasons, and the principal on events."""

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import (
    AuthSettings,
    ConfigurationError,
    EventRuntime,
    PrincipalDep,
    ServiceSettings,
    create_service_app,
)
from conveyor_kernel.callers import bearer, token_for
from conveyor_kernel.identity import MANAGER, AccessTable
from conveyor_kernel.memory import InMemoryBus

TABLE = """
[groups]
release = ["manager", "tech_leader"]

["*"]
"GET /healthz" = "public"
"GET /openapi.json" = "public"

[probe]
"GET /open" = "public"
"POST /promote" = ["@release"]
"""


@pytest.mark.parametrize(("document", "complaint"), [
    ({"probe": {"GET /x": ["ceo"]}}, "unknown roles ['ceo']"),
    ({"probe": {"GET /x": ["@nobody"]}}, "no group 'nobody'"),
    ({"probe": {"GET /x": "open"}}, "a rule is 'public', 'inference' or a list of roles"),
    ({"probe": {"FETCH /x": "public"}}, "is not 'METHOD /path'"),
    ({"groups": {"g": ["root"]}}, "group 'g' names unknown roles"),
])
def test_a_table_that_names_what_does_not_exist_refuses_to_load(document, complaint):
    with pytest.raises(ConfigurationError, match=complaint.replace("[", r"\[").replace("]", r"\]")):
        AccessTable.parse(document)


def test_the_default_table_loads_and_every_service_inherits_the_probes():
    table = AccessTable.load()
    for service in ("ingest", "trainer", "registry", "serving", "monitor", "audit"):
        assert table.for_service(service)[("GET", "/healthz")].gate == "public"
    assert table.for_service("registry")[("POST", "/models/{name}/rollback")].allowed_roles() == [
        "manager", "tech_leader"]


def test_production_mode_refuses_to_start_without_an_issuer_and_a_jwks():
    with pytest.raises(ValidationError, match="production mode needs a token issuer"):
        ServiceSettings(mode="production")
    with pytest.raises(ValidationError, match="production mode needs a token issuer"):
        ServiceSettings(mode="production", auth=AuthSettings(issuer="https://idp.example"))
    ServiceSettings(mode="production", auth=AuthSettings(issuer="https://idp.example",
                                                         jwks_url="https://idp.example/jwks.json"))
    with pytest.raises(ValidationError, match="not asymmetric"):
        AuthSettings(algorithms=["RS256", "HS256"])


@pytest.fixture
def probe(tmp_path):
    table = tmp_path / "access.toml"
    table.write_text(TABLE)
    settings = ServiceSettings(data_dir=tmp_path, auth=AuthSettings(access_file=table))
    bus = InMemoryBus()
    runtime = EventRuntime(settings, source="probe", publishes=[ev.ModelPromoted], transport=bus)

    async def on_trained(event, envelope) -> None:  # the service acting on its own
        await runtime.publisher.publish(ev.ModelPromoted(model_name=event.model_name, approved_by="policy"), "m")

    runtime.subscribe({ev.ModelTrained: on_trained}, group="probe")
    app = create_service_app("probe", service="probe", settings=settings, components=[runtime])

    @app.get("/open")
    def open_route() -> dict[str, str]:
        return {"ok": "yes"}

    @app.post("/promote")
    async def promote(principal: PrincipalDep) -> dict[str, str]:
        await runtime.publisher.publish(ev.ModelPromoted(model_name="m", approved_by=principal.subject), "m")
        return {"by": principal.subject}

    @app.post("/forgotten")
    def forgotten() -> None:
        raise AssertionError("a route the table does not name must never run")

    with TestClient(app) as client:
        yield client, bus, runtime


async def test_events_name_the_caller_or_the_service_itself(probe):
    client, bus, runtime = probe
    answer = client.post("/promote", headers=bearer(token_for(client.app, "mia", MANAGER)))
    assert answer.json() == {"by": "mia"}
    await bus.publish(ev.ModelTrained(model_name="m"), "m")
    await runtime.deliver()
    by_caller, by_service = bus.events(ev.ModelPromoted)
    assert (by_caller.principal.subject, by_caller.principal.role, by_caller.principal.kind) == (
        "mia", MANAGER, ev.PRINCIPAL_KIND_USER)
    assert (by_service.principal.subject, by_service.principal.role, by_service.principal.kind) == (
        "probe", "", ev.PRINCIPAL_KIND_SERVICE)


def test_the_guard_refuses_what_the_table_does_not_name_and_leaves_unknown_paths_to_the_router(probe):
    client, _, _ = probe
    assert client.get("/open").status_code == 200
    forgotten = client.post("/forgotten", headers=bearer(token_for(client.app, "mia", MANAGER)))
    assert forgotten.status_code == 403 and "not in the access table" in forgotten.json()["detail"]
    assert client.get("/nowhere").status_code == 404  # not a 401: there is nothing to protect
    assert client.get("/promote").status_code == 405
    refused = client.post("/promote", headers=bearer(token_for(client.app, "dan", "data_scientist")))
    assert refused.status_code == 403
    assert refused.json()["detail"] == ("POST /promote needs the role manager or tech_leader; your token (dan) "
                                        "carries data_scientist")
    schema = client.get("/openapi.json").json()
    assert schema["paths"]["/promote"]["post"]["security"] == [{"bearer": []}]
