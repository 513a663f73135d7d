"""The whole platform as six processes on the real broker: one closed loop, proven from the ledger and traces."""

import json
import math
import os
import uuid
from collections import defaultdict
from pathlib import Path

import pytest

from conveyor_cli.demo import run_scenario
from conveyor_cli.platform import SERVICES, Platform
from conveyor_kernel.identity import AUDITOR, DATA_SCIENTIST, Kind

pytestmark = pytest.mark.e2e

WINDOW = 200
CONFIRM = 2  # the monitor alarms after this many consecutive drifted windows
CAUSAL_ORDER = ["ModelTrained", "ModelRegistered", "ModelPromoted", "ModelDeployed"]


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
            "CONVEYOR_CHECKPOINT_SECONDS": "1",  # so "what served when" can verify fresh entries against one
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
    label_feed = running.issuer.mint("e2e-label-feed", kind=Kind.SERVICE)
    report = asyncio.run(run_scenario(urls, kafka, window=WINDOW, timeout=120, quiet=True, confirm=CONFIRM,
                                      token=token, label_token=label_feed))
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
        "shifted traffic sent", "drift detected", "retrain deferred", "labels arriving", "feedback collected",
        "feedback version arrived", "retrained", "new version promoted", "new version deployed", "ledger verified",
    ]
    times = [report.phases[p] for p in phases]
    assert times == sorted(times)
    assert report.retrained_version == report.first_version + 1
    assert report.labels_posted == WINDOW * CONFIRM + 100  # every shifted row's label joined its prediction


def _ledger(running, urls) -> list[dict]:
    import httpx

    auditor = {"Authorization": f"Bearer {running.issuer.mint('e2e-auditor', AUDITOR)}"}
    entries: list[dict] = []
    while True:  # every page: an upload alone gives one consent record per subject (thousands)
        page = httpx.get(f"{urls['audit']}/ledger", params={"limit": 1000, "offset": len(entries)},
                         headers=auditor).json()
        entries += page["entries"]
        if not page["entries"] or len(entries) >= page["total"]:
            return entries


def test_the_retrained_model_learned_from_the_labels_and_beats_the_champion_on_the_shifted_holdout(loop):
    running, urls, report = loop
    entries = _ledger(running, urls)
    trained = [e["event"] for e in entries if e["type"] == "conveyor.events.v1.ModelTrained"]
    first, retrained = trained
    arrived = [e["event"] for e in entries if e["type"] == "conveyor.events.v1.DatasetArrived"]
    upload, feedback = arrived
    assert retrained["artifact_uri"] != first["artifact_uri"], "the retrain minted the champion's model again"
    assert retrained["trigger"] == "production_feedback"
    # it learned from the labelled production rows (the feedback version) plus the original upload
    assert feedback["provenance"]["kind"] == "production_feedback" and feedback["version"] == "2"
    assert feedback["provenance"]["model_version"] == str(report.first_version)
    assert int(feedback["row_count"]) == report.labels_posted
    assert retrained["training_dataset_ids"] == [upload["dataset_id"], feedback["dataset_id"]]
    fresh = math.ceil(int(feedback["row_count"]) * 0.3)  # the spec's fresh_holdout_fraction
    assert int(retrained["training_rows"]) == int(upload["row_count"]) + int(feedback["row_count"]) - fresh
    # champion and challenger judged on the same shifted rows, which neither learned from
    comparison = retrained["comparison"]
    assert (comparison["champion_version"], comparison["rows"]) == (str(report.first_version), str(fresh))
    champion, challenger = comparison["champion_metrics"]["roc_auc"], comparison["challenger_metrics"]["roc_auc"]
    assert challenger > champion, comparison
    assert challenger == retrained["metrics"]["roc_auc"]
    # the champion on its own population scored better than on the shifted one: the shift is what it missed
    assert first["metrics"]["roc_auc"] > champion
    [promoted] = [e["event"] for e in entries if e["type"] == "conveyor.events.v1.ModelPromoted"
                  and e["event"]["version"] == str(report.retrained_version)]
    assert any(f"{challenger:.3f}" in r and f"champion v{report.first_version} {champion:.3f}" in r
               for r in promoted["reasons"]), promoted["reasons"]


def test_the_ledger_holds_each_event_once_in_causal_order_and_verifies(loop):
    running, urls, report = loop
    assert report.ledger["ok"] is True, report.ledger
    entries = _ledger(running, urls)
    ids = [e["event_id"] for e in entries]
    assert len(ids) == len(set(ids)), "an event was stored twice"
    types = [e["type"].rsplit(".", 1)[-1] for e in entries]
    loop_types = {"DatasetArrived", *CAUSAL_ORDER, "DriftDetected", "RetrainDeferred", "FeedbackCollected"}
    story = [t for t in types if t in loop_types]
    assert story == [
        "DatasetArrived", "ModelTrained", "ModelRegistered", "ModelPromoted", "ModelDeployed",
        "DriftDetected", "RetrainDeferred", "FeedbackCollected",
        "DatasetArrived", "ModelTrained", "ModelRegistered", "ModelPromoted", "ModelDeployed",
    ]
    # every lifecycle entry is about the model; a dataset's are about it, a consent record about its subject's
    # pseudonymous reference (one per subject of each upload), never a raw id; policy versions about the policy
    about_subjects = [e for e in entries if e["type"].endswith("ConsentChanged")]
    assert about_subjects and all(e["subject"].startswith("subj-") for e in about_subjects)
    assert all(e["subject"] == report.model for e in entries
               if not e["type"].endswith(("DatasetArrived", "ConsentChanged", "PolicyPublished")))
    assert {e["subject"] for e in entries if e["type"].endswith("PolicyPublished")} == {"promotion-policy"}
    # who caused each event is in the ledger: the uploader from the token, the label feed for the feedback its
    # labels completed, the services for what they did on their own
    by_type: dict[str, list[dict]] = defaultdict(list)
    for entry in entries:
        by_type[entry["type"].rsplit(".", 1)[-1]].append(entry["event"]["principal"])
    assert by_type["DatasetArrived"] == [
        {"subject": "e2e-scientist", "role": "data_scientist", "kind": "PRINCIPAL_KIND_USER",
         "issuer": "urn:conveyor:dev"},
        {"subject": "ingest", "kind": "PRINCIPAL_KIND_SERVICE"},
    ]
    assert by_type["FeedbackCollected"] == [{"subject": "e2e-label-feed", "kind": "PRINCIPAL_KIND_SERVICE",
                                             "issuer": "urn:conveyor:dev"}]
    for event, service in [("ModelTrained", "trainer"), ("ModelPromoted", "registry"), ("ModelDeployed", "serving"),
                           ("DriftDetected", "monitor"), ("RetrainDeferred", "monitor")]:
        assert all(p == {"subject": service, "kind": "PRINCIPAL_KIND_SERVICE"} for p in by_type[event]), event


def test_the_default_policy_promoted_both_versions_without_a_meeting_and_the_ledger_names_it(loop):
    """Approvals (issue 12): every promotion goes through a request; under the shipped default a low-risk
    model needs no approval, so the loop closed on its own, and each move names the policy that allowed it."""
    running, urls, report = loop
    entries = _ledger(running, urls)
    [policy] = [e["event"] for e in entries if e["type"].endswith("PolicyPublished")]
    assert policy["published_by"] == "registry" and len(policy["digest"]) == 64
    promoted = [e["event"] for e in entries if e["type"].endswith("ModelPromoted")]
    assert [p["version"] for p in promoted] == [str(report.first_version), str(report.retrained_version)]
    closed = {e["event"]["request_id"]: e["event"] for e in entries if e["type"].endswith("PromotionClosed")}
    gates = {e["event"]["request_id"]: e["event"] for e in entries if e["type"].endswith("PromotionGatesEvaluated")}
    requested = {e["event"]["request_id"] for e in entries if e["type"].endswith("PromotionRequested")}
    for move in promoted:
        assert (move["alias"], move["approved_by"], move["requested_by"]) == ("production", "policy", "registry")
        assert (move["policy_digest"], move["policy_version"]) == (policy["digest"], "1")
        assert move.get("approvers", []) == []  # nobody had to: quorum 0 for low risk
        assert move["reasons"][-1] == (f"allowed by policy v1 ({policy['digest'][:12]}), risk tier low: "
                                       "no approval needed")
        request = move["request_id"]
        assert request in requested and gates[request]["passed"] is True
        assert (closed[request]["state"], closed[request]["closed_by"]) == ("approved", "policy")


def test_what_served_when_answers_with_the_ledger_entries_and_their_verified_inclusion_proofs(loop):
    """`conveyor promotion served`: the version, who asked, who approved, the policy, and each ledger entry
    behind it verified against the signed checkpoint with the ledger's key (given out of band: the dev key file)."""
    import time

    import httpx
    from typer.testing import CliRunner

    from conveyor_audit.keys import DEV_KEY_FILE
    from conveyor_audit.note import parse_skey
    from conveyor_cli.main import app

    running, urls, report = loop
    auditor = running.issuer.mint("e2e-auditor", AUDITOR)
    headers = {"Authorization": f"Bearer {auditor}"}
    from datetime import UTC, datetime

    answer = httpx.get(f"{urls['registry']}/models/{report.model}/aliases/production/served",
                       params={"at": datetime.now(UTC).isoformat()}, headers=headers).json()
    assert (answer["version"], answer["requested_by"], answer["policy_version"]) == (
        report.retrained_version, "registry", 1)
    # the entries behind it: the move, the request's events, the policy's publication
    in_ledger = {e["event_id"]: e for e in _ledger(running, urls)}
    assert set(answer["event_ids"]) <= set(in_ledger), "an entry behind the answer is not in the ledger"
    newest = max(in_ledger[i]["index"] for i in answer["event_ids"])
    deadline = time.monotonic() + 30
    while httpx.get(f"{urls['audit']}/ledger/checkpoint", headers=headers).json().get("size", 0) <= newest:
        assert time.monotonic() < deadline, "no signed checkpoint covered the entries within 30 s"
        time.sleep(0.5)
    key = parse_skey((running.data_dir / "audit" / DEV_KEY_FILE).read_text()).verifier.vkey()
    result = CliRunner().invoke(app, ["promotion", "served", report.model, "--alias", "production", "--key", key,
                                      "--registry", urls["registry"], "--audit", urls["audit"]],
                                env={"CONVEYOR_TOKEN": auditor, "COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert f"v{report.retrained_version} since" in result.output and "approved by the policy alone" in result.output
    for event_id in answer["event_ids"]:
        [line] = [line for line in result.output.splitlines() if event_id in line]
        assert "verified against the signed checkpoint" in line, line


def _spans(running, services) -> dict[str, list[dict]]:
    spans = {}
    for service in services:
        path = Path(running.state_dir) / "spans" / f"{service}.jsonl"
        spans[service] = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return spans


def test_one_trace_links_upload_training_registration_and_deployment(loop):
    running, _, _ = loop
    spans_by_service = _spans(running, ("ingest", "trainer", "registry", "serving"))
    upload = next(s for s in spans_by_service["ingest"] if s["name"] == "ingest dataset")
    trace_id = upload["context"]["trace_id"]
    for service in ("trainer", "registry", "serving"):
        assert any(s["context"]["trace_id"] == trace_id for s in spans_by_service[service]), (
            f"{service} has no span in the upload's trace {trace_id}"
        )


def test_one_trace_links_the_labels_to_the_retrained_model_serving(loop):
    """The POST /labels that completed the count starts the retrain's trace: monitor → ingest → trainer →
    registry → serving."""
    running, _, _ = loop
    spans_by_service = _spans(running, ("monitor", "ingest", "trainer", "registry", "serving"))
    [collected] = [s for s in spans_by_service["monitor"] if s["name"] == "publish FeedbackCollected"]
    trace_id = collected["context"]["trace_id"]
    assert any(s["name"] == "join late labels" and s["context"]["trace_id"] == trace_id
               for s in spans_by_service["monitor"])
    for service, span in [("ingest", "publish DatasetArrived"), ("trainer", "publish ModelTrained"),
                          ("registry", "publish ModelPromoted"), ("serving", "publish ModelDeployed")]:
        assert any(s["name"] == span and s["context"]["trace_id"] == trace_id for s in spans_by_service[service]), (
            f"{service} has no {span!r} span in the labels' trace {trace_id}"
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
