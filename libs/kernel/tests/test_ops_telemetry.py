"""What an operator reads: request figures by route, probes and scrapes left out of spans and counts, and
span files that rotate instead of growing without bound."""

import json

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from conveyor_kernel import AuthSettings, ServiceSettings, create_service_app
from conveyor_kernel._telemetry import _JsonLinesExporter
from conveyor_kernel.callers import bearer, token_for
from conveyor_kernel.identity import MANAGER

TABLE = """
["*"]
"GET /healthz" = "public"
"GET /readyz" = "public"
"GET /metrics" = "public"
"GET /openapi.json" = "public"

[probe]
"GET /things/{name}" = ["manager"]
"""


@pytest.fixture
def probe(tmp_path):
    table = tmp_path / "access.toml"
    table.write_text(TABLE)
    settings = ServiceSettings(data_dir=tmp_path, auth=AuthSettings(access_file=table))
    registry = CollectorRegistry()
    app = create_service_app("probe", service="probe", settings=settings, registry=registry)

    @app.get("/things/{name}")
    def thing(name: str) -> dict[str, str]:
        return {"name": name}

    exporter = InMemorySpanExporter()
    provider = TracerProvider()  # local: the process-wide provider stays as other tests left it
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app._telemetry["tracer_provider"] = provider  # FastAPI's telemetry reads its config dict per request
    with TestClient(app) as client:
        yield client, registry, exporter


def test_probes_and_scrapes_make_no_spans_and_api_calls_do(probe):
    client, _, exporter = probe
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert client.get(path).status_code == 200
    assert exporter.get_finished_spans() == ()
    client.get("/things/a", headers=bearer(token_for(client.app, "mia", MANAGER)))
    names = [span.name for span in exporter.get_finished_spans()]
    assert names == ["GET /things/{name}"]


def test_requests_are_counted_by_route_template_and_status_refusals_included(probe):
    client, registry, _ = probe
    manager = bearer(token_for(client.app, "mia", MANAGER))
    for name in ("a", "b", "c"):
        assert client.get(f"/things/{name}", headers=manager).status_code == 200
    assert client.get("/things/d").status_code == 401
    client.get("/healthz")
    client.get("/metrics")

    def sample(name, **labels):
        return registry.get_sample_value(name, labels)

    assert sample("conveyor_http_requests_total", method="GET", route="/things/{name}", status="200") == 3
    assert sample("conveyor_http_requests_total", method="GET", route="/things/{name}", status="401") == 1
    assert sample("conveyor_http_requests_total", method="GET", route="/healthz", status="200") is None
    assert sample("conveyor_http_request_duration_seconds_count", method="GET", route="/things/{name}") == 4
    assert "conveyor_consumer_lag" in client.get("/metrics").text


class _Span:
    def __init__(self, n: int) -> None:
        self.n = n

    def to_json(self, indent=None) -> str:
        return json.dumps({"n": self.n, "pad": "x" * 200})


def test_the_span_file_rotates_at_its_size_and_keeps_three_old_files(tmp_path):
    path = tmp_path / "spans" / "svc.jsonl"
    exporter = _JsonLinesExporter(path, max_bytes=1000, backups=3)
    for n in range(40):
        exporter.export([_Span(n)])
    exporter.shutdown()
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == ["svc.jsonl", "svc.jsonl.1", "svc.jsonl.2", "svc.jsonl.3"]
    assert all(p.stat().st_size < 1000 + 300 for p in path.parent.iterdir())
    newest = [json.loads(line)["n"] for line in path.read_text().splitlines()]
    previous = [json.loads(line)["n"] for line in (path.parent / "svc.jsonl.1").read_text().splitlines()]
    assert previous[-1] + 1 == (newest[0] if newest else 40), "rotation lost or repeated a span"
    assert max(newest or previous) == 39
