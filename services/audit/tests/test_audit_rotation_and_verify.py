"""Issue 15, finding 8: a new signing key does not make the ledger refuse to start (the old key is retired, its
checkpoints still verify); /ledger/verify reads the ledger a page at a time and agrees with the in-memory check."""

import pytest
from fastapi.testclient import TestClient

from conveyor_audit.adapters import ledger_view
from conveyor_audit.adapters.ledger_db import Ledger
from conveyor_audit.checkpoints import Checkpointer
from conveyor_audit.integrity import verify_snapshot
from conveyor_audit.keeper import LedgerCorrupted
from conveyor_audit.note import Signer
from conveyor_audit.settings import AuditSettings
from conveyor_audit.wiring import create_app
from conveyor_kernel.callers import signed
from conveyor_kernel.memory import InMemoryBus


def _ledger_signed_by(settings: AuditSettings, signer: Signer, make, batches=(5, 9, 7)) -> None:
    ledger = Ledger(settings.state_dir("audit") / "ledger.db")
    checkpointer = Checkpointer(ledger, signer, settings.origin, every=1)
    start = ledger.size
    for count in batches:
        ledger.append_batch(make.sample_pending(count, start_offset=start), {})
        checkpointer.sign()
        start += count
    ledger.close()


def test_a_rotated_key_starts_with_the_old_one_retired_and_refuses_without_it(tmp_path, make):
    old, new = Signer.generate("conveyor.local/audit"), Signer.generate("conveyor.local/audit")
    _ledger_signed_by(AuditSettings(data_dir=tmp_path), old, make)
    rotated = AuditSettings(data_dir=tmp_path, read_only=False, signing_key=new.skey(),
                            retired_keys=[old.verifier.vkey()])
    app = create_app(rotated, transport=InMemoryBus())
    with signed(TestClient(app)) as client:
        verified = client.get("/ledger/verify").json()
        assert verified["ok"] is True and verified["size"] == 21, verified
    without = AuditSettings(data_dir=tmp_path, signing_key=new.skey())  # the old key forgotten
    with pytest.raises(LedgerCorrupted, match="note does not verify"), TestClient(create_app(without)):
        pass


def test_a_retired_key_that_is_not_a_verifier_key_is_a_configuration_error(tmp_path):
    from conveyor_kernel import ConfigurationError

    settings = AuditSettings(data_dir=tmp_path, read_only=True, retired_keys=["PRIVATE+KEY+oops"])
    with pytest.raises(ConfigurationError, match="CONVEYOR_RETIRED_KEYS"), TestClient(create_app(settings)):
        pass


def test_the_paged_verify_sees_what_the_in_memory_one_sees(tmp_path, make, monkeypatch):
    monkeypatch.setattr(ledger_view, "PAGE", 4)  # many pages for 21 entries
    settings = AuditSettings(data_dir=tmp_path, read_only=True)
    signer = Signer.generate(settings.origin)
    _ledger_signed_by(settings, signer, make)
    ledger = Ledger(settings.state_dir("audit") / "ledger.db")
    with ledger.view() as view:
        paged = verify_snapshot(view, [signer.verifier])
    whole = verify_snapshot(ledger.snapshot(), signer.verifier)
    assert paged.ok and whole.ok and (paged.size, paged.root) == (whole.size, whole.root) == (21, ledger.root())
    for (name,) in ledger._conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        ledger._conn.execute(f"DROP TRIGGER {name}")
    ledger._conn.execute("UPDATE subtree SET hash = zeroblob(32) WHERE level = 1 AND idx = 3")
    with ledger.view() as view:
        paged = verify_snapshot(view, [signer.verifier])
    assert paged.problems == verify_snapshot(ledger.snapshot(), signer.verifier).problems
    assert "subtree (level 1, index 3) differs from the recomputed hash" in paged.problems
    ledger.close()
