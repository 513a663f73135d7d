"""On the real broker: a produced report's hash becomes a ledger entry, once, next to the signed checkpoint."""

import time
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from conveyor_audit.note import parse_vkey, verify_checkpoint
from conveyor_audit.settings import AuditSettings
from conveyor_audit.wiring import create_app
from conveyor_kernel.callers import signed

pytestmark = pytest.mark.integration


def wait_for(condition, what: str, seconds: float = 30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


def test_report_hash_is_appended_to_the_ledger_once(kafka_settings, tmp_path) -> None:
    # No timed checkpoint: the report's end checkpoint is the one the desk signs just before drawing it.
    settings = AuditSettings(data_dir=tmp_path, kafka=kafka_settings, checkpoint_every=10_000,
                             checkpoint_seconds=3600)
    now = datetime.now(UTC)
    month = f"{now.year - 1:04d}-{now.month:02d}"  # a month that has ended
    with signed(TestClient(create_app(settings))) as client:
        wait_for(lambda: client.get("/readyz").status_code == 200, "readiness")
        first = client.post("/reports/monthly", json={"month": month}).json()
        second = client.post("/reports/monthly", json={"month": month}, params={"format": "html"})
        assert first["sha256"] in second.text and first["ledger_entry"].startswith("ReportPublished sent")
        entries = wait_for(lambda: client.get("/ledger", params={"type": "ReportPublished"}).json()["entries"],
                           "the ReportPublished entry")
        assert [(e["event"]["scope"], e["event"]["sha256"]) for e in entries] == [(month, first["sha256"])]
        checkpoint = client.get("/ledger/checkpoint").json()
        assert first["evidence"]["end"]["note"] == checkpoint["note"]  # signed just before it was drawn
        vkey = client.get("/ledger/public-key").text
        assert client.get("/ledger", params={"type": "ReportPublished"}).json()["total"] == 1  # asked twice
    assert verify_checkpoint(checkpoint["note"], parse_vkey(vkey)).size == checkpoint["size"]
