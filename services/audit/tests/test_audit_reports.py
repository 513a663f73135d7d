"""Monthly compliance reports and model cards over a real ledger file (read-only service, no broker)."""

import json

import pytest
from fastapi.testclient import TestClient

from conveyor.events.v1 import events_pb2 as ev
from conveyor_audit.adapters.ledger_db import Ledger
from conveyor_audit.adapters.rows import Pending, StoredCheckpoint
from conveyor_audit.consistency import verify_consistency
from conveyor_audit.keys import load_signer
from conveyor_audit.note import Checkpoint, verify_checkpoint
from conveyor_audit.reports import canonical_hash
from conveyor_audit.settings import AuditSettings
from conveyor_audit.wiring import create_app
from conveyor_kernel import AUDITOR, Envelope
from conveyor_kernel.callers import signed, token_for
from conveyor_kernel.topics import type_name

GAP = [ev.FairnessGap(attribute="sex", demographic_parity_difference=0.05, equalized_odds_difference=0.07)]
SPEC = ev.TrainingSpec(estimator="logistic_regression", primary_metric="roc_auc")
STORY = [  # (ISO time, event, subject)
    ("2025-05-30T10:00:00+00:00", ev.DatasetArrived(dataset_id="d0", name="old", owner="bob"), "d0"),
    ("2025-06-03T09:00:00+00:00", ev.DatasetArrived(dataset_id="d1", name="credit", owner="alice",
                                                    consent_basis="contract", row_count=100), "d1"),
    ("2025-06-04T09:00:00+00:00", ev.ModelTrained(model_name="credit", run_id="r1", dataset_id="d1", training=SPEC,
                                                  metrics={"roc_auc": 0.81}, fairness=GAP,
                                                  sensitive_attributes=["sex"]), "credit"),
    ("2025-06-04T09:01:00+00:00", ev.ModelRegistered(model_name="credit", version=1, run_id="r1", dataset_id="d1",
                                                     metrics={"roc_auc": 0.81}), "credit"),
    ("2025-06-04T09:02:00+00:00", ev.ModelPromoted(model_name="credit", version=1, reasons=["first champion"],
                                                   approved_by="policy", action="promote"), "credit"),
    ("2025-06-05T09:00:00+00:00", ev.ModelDeployed(model_name="credit", version=1, instance="s1"), "credit"),
    ("2025-06-10T09:00:00+00:00", ev.DriftDetected(model_name="credit", version=1, drift_share=0.6,
                                                   features=[ev.FeatureDrift(feature="age", drifted=True)]), "credit"),
    ("2025-06-10T09:01:00+00:00", ev.RetrainRequested(model_name="credit", version=1, reason="drift"), "credit"),
    ("2025-06-11T09:00:00+00:00", ev.ModelTrained(model_name="credit", run_id="r2", dataset_id="d1", training=SPEC,
                                                  metrics={"roc_auc": 0.84}, trigger="retrain_requested",
                                                  fairness=[ev.FairnessGap(attribute="sex",
                                                                           demographic_parity_difference=0.03)]),
     "credit"),
    ("2025-06-11T09:01:00+00:00", ev.ModelRegistered(model_name="credit", version=2, run_id="r2", dataset_id="d1",
                                                     metrics={"roc_auc": 0.84}), "credit"),
    ("2025-06-11T09:02:00+00:00", ev.ModelPromoted(model_name="credit", version=2, reasons=["roc_auc +0.03"],
                                                   approved_by="policy", action="promote"), "credit"),
    ("2025-06-20T09:00:00+00:00", ev.ModelPromoted(model_name="credit", version=1, reasons=["v2 misbehaved"],
                                                   approved_by="carol", action="rollback",
                                                   principal=ev.Principal(subject="carol", role="manager",
                                                                          kind=ev.PRINCIPAL_KIND_USER)), "credit"),
    ("2025-07-02T09:00:00+00:00", ev.DatasetRejected(name="late", owner="dan"), "late"),
]
CHECKPOINTS = [(1, "2025-05-31T12:00:00+00:00"), (12, "2025-06-30T23:00:00+00:00"), (13, "2025-07-03T00:00:00+00:00")]


@pytest.fixture
def settings(tmp_path) -> AuditSettings:
    return AuditSettings(data_dir=tmp_path, read_only=True)


@pytest.fixture
def story(settings) -> None:
    ledger = Ledger(settings.state_dir("audit") / "ledger.db")
    signer = load_signer(settings)
    done = 0
    for size, issued_at in CHECKPOINTS:
        batch = [Pending.of(Envelope(type=type_name(type(event)), source="test", subject=subject, time=time),
                            event.SerializeToString(), "t", 0, offset)
                 for offset, (time, event, subject) in enumerate(STORY[done:size], start=done)]
        ledger.append_batch(batch, {})
        root = ledger.root_at(size)
        ledger.add_checkpoint(StoredCheckpoint(size, root, signer.sign(Checkpoint(settings.origin, size, root).body()),
                                               issued_at))
        done = size
    ledger.close()


def test_monthly_report_tells_the_month_and_can_itself_be_verified(settings, story) -> None:
    with signed(TestClient(create_app(settings))) as client:
        report = client.get("/reports/monthly/2025-06").json()
        again = client.get("/reports/monthly/2025-06").json()
    assert report["sha256"] == canonical_hash(report) == again["sha256"]  # deterministic, self-describing
    assert not report["empty"] and report["summary"].startswith("11 lifecycle events in 2025-06")
    models = report["models"]
    assert [(m["run_id"], m["trigger"]) for m in models["trained"]] == [("r1", ""), ("r2", "retrain_requested")]
    assert [(m["version"], m["approved_by"], m["reasons"]) for m in models["promoted"]] == [
        (1, "policy", ["first champion"]), (2, "policy", ["roc_auc +0.03"])]
    assert [(m["version"], m["approved_by"]) for m in models["rolled_back"]] == [(1, "carol")]
    assert models["rolled_back"][0]["principal"] == {"subject": "carol", "role": "manager",
                                                     "kind": "PRINCIPAL_KIND_USER"}
    assert models["promoted"][0]["principal"] is None  # an event from before principals existed
    assert [m["instance"] for m in models["deployed"]] == ["s1"]
    [incident] = report["drift_incidents"]
    assert incident["drifted_features"] == ["age"]
    assert [f["type"] for f in incident["followed_by"]] == ["RetrainRequested", "ModelTrained", "ModelPromoted",
                                                             "ModelPromoted"]
    assert [(f["version"], f["demographic_parity_difference"], f["primary_value"]) for f in report["fairness"]] == [
        (1, 0.05, 0.81), (2, 0.03, 0.84)]
    [dataset] = report["data_provenance"]["datasets"]
    assert (dataset["owner"], dataset["consent_basis"], dataset["used_by_runs"]) == ("alice", "contract", ["r1", "r2"])
    assert report["data_provenance"]["rejected"] == []  # July's rejection is not June's
    assert "no consent-revocation event" in report["consent_revocations"]["note"]
    verifier = load_signer(settings).verifier
    start, end = (verify_checkpoint(report["checkpoints"][e]["note"], verifier) for e in ("start", "end"))
    proof = report["checkpoints"]["consistency_proof"]
    assert (start.size, end.size, proof["first"], proof["second"]) == (1, 12, 1, 12)
    assert verify_consistency(1, 12, start.root, end.root, [bytes.fromhex(h) for h in proof["hashes"]])
    assert report["ledger_entry"].startswith("not recorded")


def test_monthly_html_has_every_section_and_charts(settings, story) -> None:
    with signed(TestClient(create_app(settings))) as client:
        html = client.get("/reports/monthly/2025-06", params={"format": "html"}).text
    for heading in ("Models promoted", "Models rolled back", "Drift incidents", "Fairness per version",
                    "Data provenance", "Consent revocations", "Signed checkpoints", "Consistency proof"):
        assert heading in html
    assert html.count("<svg") == 2 and html.count("<polyline") == 4 and "carol" in html


def test_empty_month_says_so(settings, story) -> None:
    with signed(TestClient(create_app(settings))) as client:
        report = client.get("/reports/monthly/2024-01").json()
        html = client.get("/reports/monthly/2024-01", params={"format": "html"}).text
    assert report["empty"] and report["summary"] == "No lifecycle events were recorded in 2024-01."
    assert report["checkpoints"]["end"] is None and "no checkpoint had been issued" in html
    assert "No lifecycle events were recorded in 2024-01." in html and "no data in this period" in html


@pytest.mark.parametrize(("path", "status", "names"), [
    ("/reports/monthly/2025-13", 400, "YYYY-MM"),
    ("/reports/monthly/June", 400, "YYYY-MM"),
    ("/reports/monthly/2025-06?format=pdf", 422, "format"),
    ("/reports/model-card/credit/0", 422, "version"),
    ("/reports/model-card/nobody/1", 404, "no events about model 'nobody'"),
    ("/reports/model-card/credit/9", 404, "versions in the ledger: [1, 2]"),
])
def test_bad_report_parameters_are_named(settings, story, path, status, names) -> None:
    with signed(TestClient(create_app(settings))) as client:
        response = client.get(path)
    assert response.status_code == status
    assert names in response.text


def test_model_card_is_drawn_from_the_ledger(settings, story) -> None:
    with signed(TestClient(create_app(settings))) as client:
        card = client.get("/reports/model-card/credit/1").json()
        html = client.get("/reports/model-card/credit/1", params={"format": "html"}).text
    assert card["model_details"]["name"] == "credit" and card["model_details"]["version"]["name"] == "1"
    assert card["model_details"]["owners"] == [{"name": "alice"}]
    assert card["quantitative_analysis"]["performance_metrics"] == [{"type": "roc_auc", "value": 0.81}]
    assert card["model_parameters"]["data"][0]["description"] == "dataset d1; consent basis: contract"
    assert card["lineage"]["run_id"] == "r1" and card["lineage"]["dataset_id"] == "d1"
    assert [(h["type"], h["approved_by"]) for h in card["deployment_history"]] == [
        ("ModelPromoted", "policy"), ("ModelDeployed", ""), ("DriftDetected", ""), ("RetrainRequested", ""),
        ("ModelPromoted", "carol")]
    assert "not recorded in the ledger" in card["considerations"]["use_cases"][0]["description"]
    assert card["sha256"] == canonical_hash(card) and "Model card: credit v1" in html



def test_cli_writes_json_and_html(settings, story, tmp_path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from conveyor_cli import audit_cmd
    from conveyor_cli.main import app as main_app

    with TestClient(create_app(settings)) as client:  # not signed: the CLI sends CONVEYOR_TOKEN itself
        monkeypatch.setattr(audit_cmd.httpx, "get", lambda url, params, timeout, headers: client.get(
            url.removeprefix("http://audit"), params=params, headers=headers))
        runner = CliRunner(env={"CONVEYOR_TOKEN": token_for(client.app, "ada", AUDITOR)})
        result = runner.invoke(main_app, ["report", "monthly", "--month", "2025-06", "--url", "http://audit",
                                          "--out", str(tmp_path / "out")])
        bad = runner.invoke(main_app, ["report", "monthly", "--month", "2025-6", "--url", "http://audit"])
        nobody = CliRunner(env={"CONVEYOR_TOKEN": "", "CONVEYOR_STATE_DIR": str(tmp_path)}).invoke(
            main_app, ["report", "monthly", "--month", "2025-06", "--url", "http://audit"])
    assert result.exit_code == 0, result.stdout
    written = (tmp_path / "out" / "report-2025-06.json").read_text()
    assert canonical_hash(json.loads(written)) in result.stdout
    assert "<svg" in (tmp_path / "out" / "report-2025-06.html").read_text()
    assert bad.exit_code == 1 and "YYYY-MM" in bad.stdout
    assert nobody.exit_code == 1 and "401" in nobody.stdout and "no bearer token" in nobody.stdout
