"""The whole platform as six processes on the real broker: one closed loop, proven from the ledger and traces."""

import json
import os
import uuid
from collections import defaultdict
from pathlib import Path

import pytest

from conveyor_cli.demo import run_scenario
from conveyor_cli.platform import SERVICES, Platform
from conveyor_kernel import AUDITOR, DATA_SCIENTIST

pytestmark = pytest.mark.e2e

WINDOW = 200
CONFIRM = 2  # the monitor alarms after this many consecutive drifted windows
CAUSAL_ORDER = [
    "conveyor.events.v1.ModelTrained",
    "conveyor.events.v1.ModelRegistered",
    "conveyor.events.v1.ModelPromoted",
    "conveyor.events.v1.ModelDeployed",
]


@pytest.fixture(scope="module")
def platform(kafka_bootstrap, tmp_path_factory):
    prefix = f"e2e{uuid.uuid4().hex[:8]}."
    state = tmp_path_factory.mktemp("platform")
    running = Platform(
        state_dir=state,
        port_offset=int(os.environ.get("CONVEYOR_E2E_PORT_OFFSET", "100")),  # several checkouts at once
        observability=False, console=False,  # traces in Zipkin and the console: test_console.py's platform
        env={
            "CONVEYOR_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
            "CONVEYOR_KAFKA__TOPIC_PREFIX": prefix,
            "CONVEYOR_WINDOW_SIZE": str(WINDOW),
            "CONVEYOR_DRIFT_CONFIRM_WINDOWS": str(CONFIRM),
        },
    )
    running.start(timeout=120)
    yield running, running.kafka_settings()  # the narrator's principal
    running.stop()


@pytest.fixture(scope="module")
def loop(platform):
    import asyncio

    running, kafka = platform
    urls = {service: running.url(service) for service in SERVICES}
    token = running.issuer.mint("e2e-scientist", DATA_SCIENTIST)
    report = asyncio.run(run_scenario(urls, kafka, window=WINDOW, timeout=120, quiet=True, confirm=CONFIRM,
                                      token=token))
    return running, urls, report


def test_every_service_answers_health_readiness_metrics_and_docs(platform):
    import httpx

    running, _ = platform
    for service in SERVICES:
        base = running.url(service)
        assert httpx.get(f"{base}/healthz").status_code == 200, service
        assert httpx.get(f"{base}/readyz").status_code == 200, service
        metrics = httpx.get(f"{base}/metrics")
        assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain"), service
        assert "# TYPE" in metrics.text, service
        assert httpx.get(f"{base}/docs").status_code == 200, service
        assert httpx.get(f"{base}/openapi.json").json()["info"]["title"], service


def test_the_loop_closes_from_upload_to_a_retrained_model_serving(loop):
    _, _, report = loop
    phases = list(report.phases)
    assert phases == [
        "uploaded", "trained", "registered", "promoted", "deployed", "predictions served",
        "drifted traffic sent", "drift detected", "retrain requested", "retrained", "new version deployed",
        "ledger verified",
    ]
    times = [report.phases[p] for p in phases]
    assert times == sorted(times)
    assert report.retrained_version == report.first_version + 1


def test_the_ledger_holds_each_event_once_in_causal_order_and_verifies(loop):
    import httpx

    running, urls, report = loop
    assert report.ledger["ok"] is True, report.ledger
    auditor = {"Authorization": f"Bearer {running.issuer.mint('e2e-auditor', AUDITOR)}"}
    entries = httpx.get(f"{urls['audit']}/ledger", params={"limit": 1000}, headers=auditor).json()
    entries = entries["entries"] if isinstance(entries, dict) else entries
    ids = [e["event_id"] for e in entries]
    assert len(ids) == len(set(ids)), "an event was stored twice"
    types = [e["type"] for e in entries]
    for expected in ["DatasetArrived", "ModelTrained", "ModelRegistered", "ModelPromoted", "ModelDeployed",
                     "DriftDetected", "RetrainRequested"]:
        assert f"conveyor.events.v1.{expected}" in types, f"{expected} missing from the ledger"
    by_subject: dict[str, list[str]] = defaultdict(list)
    for entry in entries:
        by_subject[entry["subject"]].append(entry["type"])
    loop_types = {*CAUSAL_ORDER, "conveyor.events.v1.DriftDetected", "conveyor.events.v1.RetrainRequested"}
    model_story = [t.rsplit(".", 1)[-1] for t in by_subject["breast-cancer"] if t in loop_types]
    assert model_story == [
        "ModelTrained", "ModelRegistered", "ModelPromoted", "ModelDeployed",
        "DriftDetected", "RetrainRequested",
        "ModelTrained", "ModelRegistered", "ModelPromoted", "ModelDeployed",
    ]
    [arrived] = [e for e in entries if e["type"] == "conveyor.events.v1.DatasetArrived"]
    assert ids.index(arrived["event_id"]) < types.index("conveyor.events.v1.ModelTrained")
    # who caused each event is in the ledger: the uploader from the token, the services for what they did
    assert arrived["event"]["principal"] == {"subject": "e2e-scientist", "role": "data_scientist",
                                             "kind": "PRINCIPAL_KIND_USER", "issuer": "urn:conveyor:dev"}
    by_type = {e["type"].rsplit(".", 1)[-1]: e["event"]["principal"] for e in entries}
    for event, service in [("ModelTrained", "trainer"), ("ModelPromoted", "registry"), ("ModelDeployed", "serving"),
                           ("DriftDetected", "monitor")]:
        assert by_type[event] == {"subject": service, "kind": "PRINCIPAL_KIND_SERVICE"}, event


def test_one_trace_links_upload_training_registration_and_deployment(loop):
    running, _, _ = loop
    spans_by_service = {}
    for service in ("ingest", "trainer", "registry", "serving"):
        path = Path(running.state_dir) / "spans" / f"{service}.jsonl"
        spans_by_service[service] = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    upload = next(s for s in spans_by_service["ingest"] if s["name"] == "ingest dataset")
    trace_id = upload["context"]["trace_id"]
    for service in ("trainer", "registry", "serving"):
        assert any(s["context"]["trace_id"] == trace_id for s in spans_by_service[service]), (
            f"{service} has no span in the upload's trace {trace_id}"
        )


def test_down_stops_every_service_and_leaves_no_process(platform):
    """Runs last in this module: the same stop that `conveyor down` performs."""
    running, _ = platform
    pids = running.status()
    assert all(pid is not None for pid in pids.values()), pids
    stopped = running.stop()
    assert sorted(stopped) == sorted(SERVICES)
    assert all(pid is None for pid in running.status().values()), "a service outlived `down`"
    for pid in pids.values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
