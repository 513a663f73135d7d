"""Monthly compliance reports and model cards over a real ledger file (read-only service, no broker)."""

import json

import pytest
from fastapi.testclient import TestClient

from conveyor.events.v1 import events_pb2 as ev
from conveyor_audit.adapters.ledger_db import Ledger
from conveyor_audit.adapters.rows import Pending, StoredCheckpoint
from conveyor_audit.keys import load_signer
from conveyor_audit.note import Checkpoint
from conveyor_audit.report_verify import verify_report
from conveyor_audit.reports import canonical_hash
from conveyor_audit.settings import AuditSettings
from conveyor_audit.wiring import create_app
from conveyor_kernel import Envelope
from conveyor_kernel.callers import signed, token_for
from conveyor_kernel.identity import AUDITOR
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
    ("2025-06-21T09:00:00+00:00", ev.FactsDeclared(model_name="credit", section="intended_use",
                                                   text="Pre-screening of credit applications; a person decides.",
                                                   principal=ev.Principal(subject="alice", role="data_scientist")),
     "credit"),
    ("2025-07-02T09:00:00+00:00", ev.DatasetRejected(name="late", owner="dan"), "late"),
]
CHECKPOINTS = [(1, "2025-05-31T12:00:00+00:00"), (13, "2025-06-30T23:00:00+00:00"), (14, "2025-07-03T00:00:00+00:00")]


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


def generate(client, month: str = "2025-06", **body):
    return client.post("/reports/monthly", json={"month": month, **body})


def test_monthly_report_is_generated_once_and_verifies_with_only_the_public_key(settings, story) -> None:
    with signed(TestClient(create_app(settings))) as client:
        assert client.get("/reports/monthly/2025-06").status_code == 404  # GET never generates
        first = generate(client)
        again = generate(client)
        stored = client.get("/reports/monthly/2025-06").json()
    assert (first.status_code, again.status_code) == (201, 200)
    report = first.json()
    assert report["sha256"] == canonical_hash(report) == again.json()["sha256"] == stored["sha256"]
    problems, checked = verify_report(report, load_signer(settings).verifier)
    assert problems == [] and checked["checkpoints"] == 2 and checked["entries"] == checked["cited"] > 10
    evidence = report["evidence"]
    assert (evidence["start"]["size"], evidence["end"]["size"]) == (1, 14)  # the first checkpoint after June
    assert report["ledger_entry"].startswith("not recorded")


def test_monthly_report_content_per_model(settings, story) -> None:
    with signed(TestClient(create_app(settings))) as client:
        report = generate(client).json()
    summary = report["summary"]
    assert summary["models_in_production"] == [{"model": "credit", "version": 1}]
    assert (summary["changes"], summary["incidents"], summary["open_consent_debt"]) == (3, 1, [])
    [model] = report["models"]
    assert [(s["version"], s["how"]) for s in model["served"]] == [(1, "promotion"), (2, "promotion"),
                                                                   (1, "rollback")]
    assert model["served"][0]["until"] == "2025-06-11T09:02:00+00:00"
    promotions = model["promotions"]
    assert [(p["version"], p["approvers"]) for p in promotions] == [(1, ["policy"]), (2, ["policy"])]
    assert promotions[0]["gates"] == [{"gate": "first champion", "result": "passed"}]
    [rollback] = model["rollbacks"]
    assert (rollback["to_version"], rollback["by"]) == (1, "carol")
    [incident] = model["incidents"]
    assert incident["kind"] == "drift" and [f["type"] for f in incident["followed_by"]] == [
        "RetrainRequested", "ModelTrained", "ModelPromoted", "ModelPromoted"]
    assert [(f["value"], f["threshold"]) for f in model["fairness_series"]] == [(0.05, 0.2), (0.03, 0.2)]
    annex = {row["point"]: row for row in model["coverage"]["eu_ai_act_annex_iv"]}
    assert annex["1(a)"]["status"] == "declared" and annex["1(a)"]["declared_by"] == "alice"
    assert annex["2(d)"]["status"] == "auto-evidenced" and annex["5"]["status"] == "missing"
    assert "risk_management" in annex["5"]["to_fix"]
    card = {row["title"]: row["status"] for row in model["coverage"]["model_card"]}
    assert card["Intended use"] == "declared" and card["Ethical considerations"] == "missing"
    [dataset] = report["data_provenance"]["datasets"]
    assert (dataset["owner"], dataset["consent_basis"], dataset["used_by_runs"]) == ("alice", "contract", ["r1", "r2"])
    assert report["data_provenance"]["rejected"] == []  # July's rejection is not June's
    assert report["lineage"]["total"] == 2 and report["role_bindings"]["status"] == "missing"


def test_a_tampered_report_fails_verification_and_says_where(settings, story) -> None:
    with signed(TestClient(create_app(settings))) as client:
        report = generate(client).json()
    verifier = load_signer(settings).verifier
    edited = json.loads(json.dumps(report))
    edited["models"][0]["rollbacks"][0]["by"] = "policy"
    assert any(p.startswith("hash:") for p in verify_report(edited, verifier)[0])
    edited["sha256"] = canonical_hash(edited)  # re-hashed: the signature no longer names it
    assert any(p.startswith("signature:") for p in verify_report(edited, verifier)[0])
    forged = json.loads(json.dumps(report))
    forged["evidence"]["entries"][0]["leaf_hash"] = "00" * 32
    assert any(p.startswith("inclusion: entry") for p in verify_report(forged, verifier)[0])
    other_key = load_signer(AuditSettings(data_dir=settings.data_dir / "elsewhere", read_only=True)).verifier
    assert any("checkpoint" in p for p in verify_report(report, other_key)[0])


def test_a_month_not_over_is_409_unless_a_draft(settings, story) -> None:
    with signed(TestClient(create_app(settings))) as client:
        refused = generate(client, "2999-01")
        draft = generate(client, "2999-01", draft=True)
        bad = generate(client, "2025-13")
        unknown = client.get("/reports/monthly/2025-05")
    assert refused.status_code == 409 and "draft" in refused.json()["detail"]
    assert draft.status_code == 201 and draft.json()["draft"] and draft.json()["summary"]["ledger_entries"] == 0
    assert bad.status_code == 400 and "YYYY-MM" in bad.text
    assert unknown.status_code == 404 and "POST /reports/monthly" in unknown.json()["detail"]


def test_monthly_html_reads_as_tables_and_charts_and_prints_to_pdf(settings, story) -> None:
    with signed(TestClient(create_app(settings))) as client:
        generate(client)
        html = client.get("/reports/monthly/2025-06", params={"format": "html"}).text
        pdf = client.get("/reports/monthly/2025-06", params={"format": "pdf"})
        kept = client.app.state.desk.store.rendering(client.get("/reports/monthly/2025-06").json()["sha256"], "pdf")
    assert kept == pdf.content  # drawn once, then served as stored
    for heading in ("Summary", "What served when", "Promotion decisions", "Rollbacks", "Incidents and what followed",
                    "Fairness over time", "Coverage: EU AI Act Annex IV", "Coverage: model card", "Consent",
                    "Lineage completeness", "Role-binding changes", "Evidence"):
        assert heading in html
    assert html.count("<svg") == 2 and "carol" in html and "a person decides" in html
    cells = [c.split("</td>")[0] for c in html.split("<td>")[1:]]
    assert not [c for c in cells if c.lstrip().startswith(("{", "["))]  # no JSON in a cell
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF") and len(pdf.content) > 5000


def test_model_card_is_drawn_from_the_ledger_and_get_records_nothing(settings, story) -> None:
    with signed(TestClient(create_app(settings))) as client:
        card = client.get("/reports/model-card/credit/1").json()
        html = client.get("/reports/model-card/credit/1", params={"format": "html"}).text
        missing = client.get("/reports/model-card/credit/9")
    assert card["model_details"]["owners"] == [{"name": "alice"}]
    assert card["quantitative_analysis"]["performance_metrics"] == [{"type": "roc_auc", "value": 0.81}]
    assert card["lineage"]["run_id"] == "r1" and card["lineage"]["dataset_id"] == "d1"
    [use] = card["considerations"]["use_cases"]
    assert (use["declared_by"], use["description"]) == ("alice", "Pre-screening of credit applications; a person "
                                                                 "decides.")
    assert card["considerations"]["limitations"] == []  # not declared: empty, never placeholder text
    assert card["sha256"] == canonical_hash(card) and "Model card: credit v1" in html
    assert missing.status_code == 404 and "versions in the ledger: [1, 2]" in missing.text
    assert "ledger_entry" not in card


def test_cli_writes_json_html_and_pdf_and_verifies_them(settings, story, tmp_path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from conveyor_cli import audit_cmd
    from conveyor_cli.main import app as main_app

    with TestClient(create_app(settings)) as client:  # not signed: the CLI sends CONVEYOR_TOKEN itself
        def request(method, url, **kw):  # type: ignore[no-untyped-def]
            kw.pop("timeout", None)
            return client.request(method, url.removeprefix("http://audit"), **kw)

        monkeypatch.setattr(audit_cmd.httpx, "request", request)
        runner = CliRunner(env={"CONVEYOR_TOKEN": token_for(client.app, "ada", AUDITOR)})
        out = tmp_path / "out"
        result = runner.invoke(main_app, ["report", "monthly", "--month", "2025-06", "--url", "http://audit",
                                          "--out", str(out)])
        bad = runner.invoke(main_app, ["report", "monthly", "--month", "2025-6", "--url", "http://audit"])
    assert result.exit_code == 0, result.stdout
    written = out / "report-2025-06.json"
    assert canonical_hash(json.loads(written.read_text())) in result.stdout
    assert "<svg" in (out / "report-2025-06.html").read_text()
    assert (out / "report-2025-06.pdf").read_bytes().startswith(b"%PDF")
    assert bad.exit_code == 1 and "YYYY-MM" in bad.stdout

    key = load_signer(settings).verifier.vkey()
    ok = CliRunner().invoke(main_app, ["report", "verify", str(written), "--key", key])
    assert ok.exit_code == 0, ok.stdout
    tampered = json.loads(written.read_text())
    tampered["summary"]["incidents"] = 0
    (tmp_path / "bad.json").write_text(json.dumps(tampered))
    failed = CliRunner().invoke(main_app, ["report", "verify", str(tmp_path / "bad.json"), "--key", key])
    assert failed.exit_code == 1 and "hash" in failed.stdout


def test_the_schedule_generates_last_month_on_the_first_once_and_ledgers_it(settings, story) -> None:
    from datetime import UTC, datetime

    from conveyor_audit.report_schedule import MonthlySchedule
    from conveyor_kernel import topics
    from conveyor_kernel.memory import InMemoryBus

    live = settings.model_copy(update={"read_only": False, "report_schedule": False})  # ticked by hand here
    bus = InMemoryBus(source="audit")
    with signed(TestClient(create_app(live, transport=bus))) as client:
        desk = client.app.state.desk
        schedule = MonthlySchedule(desk, check_seconds=300)
        first = datetime(2025, 7, 1, 0, 10, tzinfo=UTC)
        before_the_ledger = datetime(2025, 5, 1, 0, 10, tzinfo=UTC)  # April: the ledger began on May 30
        assert client.portal.call(schedule.tick, before_the_ledger) is False
        assert client.portal.call(schedule.tick, first) is True
        assert client.portal.call(schedule.tick, first) is False  # idempotent: generated once
        report = client.get("/reports/monthly/2025-06").json()
        assert desk.store.rendering(report["sha256"], "pdf").startswith(b"%PDF")  # drawn ahead of its readers
    published = [r for r in bus.records if r.topic == topics.REPORTS]
    assert [r.key for r in published] == [b"2025-06"]
    assert report["ledger_entry"].startswith("ReportPublished sent")


def test_cli_declares_a_fact_that_the_ledger_records(settings, tmp_path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from conveyor_cli import audit_cmd
    from conveyor_cli.main import app as main_app
    from conveyor_kernel.identity import DATA_SCIENTIST
    from conveyor_kernel.memory import InMemoryBus

    bus = InMemoryBus(source="audit")
    live = settings.model_copy(update={"read_only": False, "report_schedule": False})
    with TestClient(create_app(live, transport=bus)) as client:
        def request(method, url, **kw):  # type: ignore[no-untyped-def]
            kw.pop("timeout", None)
            return client.request(method, url.removeprefix("http://audit"), **kw)

        monkeypatch.setattr(audit_cmd.httpx, "request", request)
        owner = CliRunner(env={"CONVEYOR_TOKEN": token_for(client.app, "alice", DATA_SCIENTIST)})
        ok = owner.invoke(main_app, ["report", "declare", "credit", "--section", "limitations",
                                     "--text", "Not for applicants under 21.", "--url", "http://audit"])
        wrong = owner.invoke(main_app, ["report", "declare", "credit", "--section", "vibes", "--text", "x",
                                        "--url", "http://audit"])
        auditor = CliRunner(env={"CONVEYOR_TOKEN": token_for(client.app, "ada", AUDITOR)}).invoke(
            main_app, ["report", "declare", "credit", "--section", "limitations", "--text", "x",
                       "--url", "http://audit"])
    assert ok.exit_code == 0, ok.stdout
    [declared] = bus.events(ev.FactsDeclared)
    assert (declared.model_name, declared.section, declared.text, declared.principal.subject) == (
        "credit", "limitations", "Not for applicants under 21.", "alice")
    assert wrong.exit_code == 1 and "vibes" in wrong.stdout and "intended_use" in wrong.stdout
    assert auditor.exit_code == 1 and "403" in auditor.stdout
