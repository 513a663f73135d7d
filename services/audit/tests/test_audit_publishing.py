"""What audit publishes, on the in-memory bus: checkpoints and report hashes under ids derived from what
they are (so copies deduplicate), through the event runtime's publisher."""

import uuid

from fastapi.testclient import TestClient

from conveyor_audit.settings import AuditSettings
from conveyor_audit.wiring import SERVICE, create_app
from conveyor_kernel import Envelope, topics
from conveyor_kernel.callers import signed as signed_by_role
from conveyor_kernel.memory import InMemoryBus


def test_checkpoints_and_report_hashes_carry_derived_ids(tmp_path) -> None:
    settings = AuditSettings(data_dir=tmp_path)
    bus = InMemoryBus(source=SERVICE)  # the in-memory transport stamps its own source, not the runtime's
    with signed_by_role(TestClient(create_app(settings, transport=bus))) as client:
        assert client.get("/readyz").json() == {"ready": True}
        report = client.post("/reports/monthly", json={"month": "2025-06"}).json()
        client.post("/reports/monthly", json={"month": "2025-06"})  # generated before: returned, not re-recorded
        client.get("/reports/monthly/2025-06")  # a GET has no side effects
        card = client.post("/reports/model-card/m/1")
        signed = client.get("/ledger/checkpoint").json()
    assert card.status_code == 404  # nothing about model m: nothing recorded
    assert [r.topic for r in bus.records] == [topics.CHECKPOINTS, topics.REPORTS]
    checkpoint, *reports = (Envelope.from_headers(r.headers) for r in bus.records)
    assert checkpoint.id == str(uuid.uuid5(uuid.NAMESPACE_URL, f"{settings.origin}/checkpoint/{signed['size']}"))
    assert (checkpoint.time, checkpoint.source, checkpoint.subject) == (signed["issued_at"], "audit", settings.origin)
    assert bus.records[0].key == settings.origin.encode()
    report_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"conveyor-report/{report['sha256']}"))
    assert [(e.id, e.subject) for e in reports] == [(report_id, "2025-06")]
    assert report["ledger_entry"].startswith("ReportPublished sent")
