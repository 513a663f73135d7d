"""Proofs, checkpoints and the key-only verifier, over REST on a real ledger file (read-only service)."""

import sqlite3

import pytest
from fastapi.testclient import TestClient

from conveyor_audit.adapters.ledger_db import Ledger
from conveyor_audit.checkpoints import Checkpointer
from conveyor_audit.keys import load_signer
from conveyor_audit.note import Signer
from conveyor_audit.settings import AuditSettings
from conveyor_audit.verifier import RemoteLog, VerificationFailed
from conveyor_audit.wiring import create_app
from conveyor_kernel.callers import signed


@pytest.fixture
def settings(tmp_path) -> AuditSettings:
    return AuditSettings(data_dir=tmp_path, read_only=True)


@pytest.fixture
def notes(settings, make) -> list[str]:
    """A ledger of 11 entries with checkpoints signed at sizes 5 and 11."""
    ledger = Ledger(settings.state_dir("audit") / "ledger.db")
    checkpointer = Checkpointer(ledger, load_signer(settings), settings.origin, every=1)
    signed = []
    for count, start in [(5, 0), (6, 5)]:
        ledger.append_batch(make.sample_pending(count, start_offset=start), {})
        signed.append(checkpointer.sign().note)
    ledger.close()
    return signed


def remote(client: TestClient, settings: AuditSettings, signer: Signer | None = None) -> RemoteLog:
    def get(path, params):
        response = client.get(path, params=params)
        response.raise_for_status()
        return response.json()
    return RemoteLog(get, (signer or load_signer(settings)).verifier)


def test_verifier_checks_checkpoint_every_inclusion_consistency_and_full(settings, notes) -> None:
    with signed(TestClient(create_app(settings))) as client:
        latest = client.get("/ledger/checkpoint").json()
        assert latest["size"] == 11 and latest["note"] == notes[1]
        assert client.get("/ledger/public-key").text.strip() == load_signer(settings).verifier.vkey()
        log = remote(client, settings)
        newest = log.checkpoint()
        older = log.checkpoint(notes[0])
        assert (older.size, newest.size) == (5, 11)
        for index in range(11):
            assert log.inclusion(newest, index).event
        for index in range(5):
            log.inclusion(older, index)
        log.consistency(older, newest)
        assert log.full(newest) == 11 and log.full(older) == 5
        with pytest.raises(VerificationFailed, match="not covered"):
            log.inclusion(older, 7)
        with pytest.raises(VerificationFailed, match="no signature"):
            remote(client, settings, Signer.generate(settings.origin)).checkpoint()


def test_a_rewritten_entry_fails_inclusion_and_full_verification(settings, notes) -> None:
    with sqlite3.connect(settings.state_dir("audit") / "ledger.db") as conn:
        conn.execute("DROP TRIGGER entries_no_update")
        conn.execute("UPDATE entries SET leaf_bytes = CAST(REPLACE(CAST(leaf_bytes AS TEXT), 'credit', 'debit')"
                     " AS BLOB) WHERE idx = 2")
    with signed(TestClient(create_app(settings))) as client:
        log = remote(client, settings)
        newest = log.checkpoint()
        log.inclusion(newest, 1)
        with pytest.raises(VerificationFailed, match="entry 2 is not included"):
            log.inclusion(newest, 2)
        with pytest.raises(VerificationFailed, match="entry 2: stored leaf_hash"):
            log.full(newest)


@pytest.mark.parametrize(("path", "params", "status", "names"), [
    ("/ledger/proof/inclusion", {"index": 0, "tree_size": 12}, 400, "tree_size"),
    ("/ledger/proof/inclusion", {"index": 5, "tree_size": 5}, 400, "index"),
    ("/ledger/proof/inclusion", {"index": 0}, 422, "tree_size"),
    ("/ledger/proof/inclusion", {"index": -1, "tree_size": 3}, 422, "index"),
    ("/ledger/proof/consistency", {"first": 6, "second": 5}, 400, "first"),
    ("/ledger/proof/consistency", {"first": 1, "second": 12}, 400, "second"),
])
def test_bad_proof_parameters_are_named(settings, notes, path, params, status, names) -> None:
    with signed(TestClient(create_app(settings))) as client:
        response = client.get(path, params=params)
    assert response.status_code == status
    assert names in response.text


def test_proof_shapes(settings, notes) -> None:
    with signed(TestClient(create_app(settings))) as client:
        inclusion = client.get("/ledger/proof/inclusion", params={"index": 3, "tree_size": 11}).json()
        consistency = client.get("/ledger/proof/consistency", params={"first": 5, "second": 11}).json()
        entry = client.get("/ledger/entries/3").json()
    assert inclusion["leaf_index"] == 3 and inclusion["tree_size"] == 11 and len(inclusion["hashes"]) == 4
    assert consistency["first"] == 5 and consistency["second"] == 11 and consistency["hashes"]
    assert entry["leaf_bytes"] and entry["event"]["model_name"] == "credit"


def test_no_checkpoint_yet_is_a_404_with_a_reason(settings, make) -> None:
    with signed(TestClient(create_app(settings))) as client:
        response = client.get("/ledger/checkpoint")
    assert response.status_code == 404 and "no checkpoint" in response.text
