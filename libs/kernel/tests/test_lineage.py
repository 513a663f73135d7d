"""OpenLineage run events: what each lineage fact becomes, checked against the official OpenLineage JSON
schema (tests/openlineage/OpenLineage.json, see SOURCE there), on the in-memory bus, on the real broker's
`conveyor.openlineage` topic through openlineage-python's Kafka transport, and at an HTTP endpoint named by
the standard `OPENLINEAGE_URL`."""

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import jsonschema
import pytest
from aiokafka import AIOKafkaConsumer

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import EventRuntime, ServiceSettings, topics
from conveyor_kernel.memory import InMemoryBus

SCHEMA = json.loads((Path(__file__).parent / "openlineage" / "OpenLineage.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
CONSENT = ev.ConsentSnapshot(purpose="training", digest="ab" * 32, subjects=40, included_rows=38, excluded_rows=2,
                             excluded_subjects=2, as_of_ms=1_700_000_000_000)
FACTS = [
    ("ingest", ev.DatasetArrived(dataset_id="d" * 64, name="cancer", row_count=40, version=2, owner="alice",
                                 target="diagnosis", subject_id_column="patient_id", consent_basis="consent",
                                 features=[ev.Feature(name="radius", kind=ev.COLUMN_KIND_NUMERIC, dtype="float64")])),
    ("trainer", ev.ModelTrained(model_name="cancer", run_id="run-1", training_dataset_ids=["d" * 64],
                                artifact_uri="file:///store/m1.onnx", metrics={"roc_auc": 0.93},
                                training=ev.TrainingSpec(estimator="random_forest", params={"n_estimators": "20"}),
                                fairness=[ev.FairnessGap(attribute="sex", demographic_parity_difference=0.04)],
                                consent=CONSENT, training_rows=38)),
    ("registry", ev.ModelPromoted(model_name="cancer", version=1, artifact_uri="file:///store/m1.onnx",
                                  approved_by="policy", action="promote", reasons=["first champion"])),
    ("registry", ev.PromotionDeclined(model_name="cancer", version=2, champion_version=1, reasons=["roc_auc -0.1"])),
    ("serving", ev.ModelDeployed(model_name="cancer", version=1, artifact_uri="file:///store/m1.onnx",
                                 instance="s1", load_seconds=0.2)),
]


def valid(event: dict) -> dict:
    errors = [f"{list(e.path)}: {e.message}" for e in VALIDATOR.iter_errors(event)]
    assert errors == [], errors
    return event


async def publish_all(settings: ServiceSettings, bus: InMemoryBus | None = None) -> None:
    for source, event in FACTS:
        runtime = EventRuntime(settings, source=source, publishes=[type(event)], transport=bus)
        await runtime.start()
        try:
            await runtime.publisher.publish(event, "cancer")
        finally:
            await runtime.stop()


def test_each_lineage_fact_is_one_valid_run_event_that_joins_the_next() -> None:
    bus = InMemoryBus()
    asyncio.run(publish_all(ServiceSettings(), bus))
    ingest, trainer, promoted, declined, deployed = (valid(e) for e in bus.lineage)
    assert [e["job"]["name"] for e in bus.lineage] == ["ingest.cancer", "trainer.cancer", "registry.cancer",
                                                       "registry.cancer", "serving.cancer"]
    [dataset] = ingest["outputs"]
    assert {f["name"] for f in dataset["facets"]["schema"]["fields"]} == {"radius", "diagnosis"}
    assert dataset["facets"]["dataQualityMetrics"]["rowCount"] == 40
    assert dataset["facets"]["ownership"]["owners"] == [{"name": "user:alice", "type": "OWNER"}]
    assert [(i["namespace"], i["name"]) for i in trainer["inputs"]] == [(dataset["namespace"], dataset["name"])]
    facets = trainer["run"]["facets"]
    assert facets["hyperparameters"]["params"] == {"n_estimators": "20"}
    assert facets["evaluation"]["metrics"] == {"roc_auc": 0.93}
    assert (facets["consentSnapshot"]["digest"], facets["consentSnapshot"]["excludedRows"]) == ("ab" * 32, 2)
    model = trainer["outputs"][0]["name"]
    assert promoted["inputs"][0]["name"] == deployed["inputs"][0]["name"] == model
    assert promoted["run"]["facets"]["promotionDecision"]["decision"] == "promote"
    assert declined["run"]["facets"]["promotionDecision"]["reasons"] == ["roc_auc -0.1"]
    assert deployed["run"]["facets"]["deployment"]["instance"] == "s1"


def test_the_same_fact_twice_is_the_same_run() -> None:
    bus = InMemoryBus()
    asyncio.run(publish_all(ServiceSettings(), bus))
    asyncio.run(publish_all(ServiceSettings(), bus))
    first, second = bus.lineage[:5], bus.lineage[5:]
    assert [e["run"]["runId"] for e in first] == [e["run"]["runId"] for e in second]


def test_a_runtime_that_publishes_lineage_is_granted_the_topic_and_others_are_not() -> None:
    assert topics.OPENLINEAGE in EventRuntime(ServiceSettings(), "trainer", [ev.ModelTrained]).needed_topics()
    assert topics.OPENLINEAGE not in EventRuntime(ServiceSettings(), "monitor", [ev.DriftDetected]).needed_topics()


@pytest.mark.integration
async def test_run_events_reach_the_openlineage_topic_through_the_kafka_transport(kafka_settings) -> None:
    await publish_all(ServiceSettings(kafka=kafka_settings))
    consumer = AIOKafkaConsumer(kafka_settings.topic(topics.OPENLINEAGE), **kafka_settings.client_options(),
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    received: list[dict] = []
    try:
        async with asyncio.timeout(60):
            while len(received) < len(FACTS):
                for messages in (await consumer.getmany(timeout_ms=1000)).values():
                    received += [json.loads(m.value) for m in messages]
    finally:
        await consumer.stop()
    assert sorted(valid(e)["job"]["name"] for e in received) == sorted(
        ["ingest.cancer", "trainer.cancer", "registry.cancer", "registry.cancer", "serving.cancer"])


def test_openlineage_url_sends_the_same_events_over_http(monkeypatch) -> None:
    received: list[tuple[str, dict]] = []

    class Marquez(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, json.loads(body)))
            self.send_response(201)
            self.end_headers()

        def log_message(self, *args) -> None:  # quiet
            pass

    server = HTTPServer(("127.0.0.1", 0), Marquez)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("OPENLINEAGE_URL", f"http://127.0.0.1:{server.server_port}")
        bus = InMemoryBus()
        asyncio.run(publish_all(ServiceSettings(), bus))
    finally:
        server.shutdown()
    assert [path for path, _ in received] == ["/api/v1/lineage"] * len(FACTS)
    assert [valid(e) for _, e in received] == bus.lineage
