"""REST over a real ledger file, with the service in read-only mode (no broker needed)."""

import sqlite3

import pytest
from fastapi.testclient import TestClient

from conveyor_audit import merkle
from conveyor_audit.adapters.ledger_db import Ledger
from conveyor_audit.keeper import LedgerCorrupted
from conveyor_audit.settings import AuditSettings
from conveyor_audit.wiring import create_app
from conveyor_kernel.callers import signed


@pytest.fixture
def settings(tmp_path) -> AuditSettings:
    return AuditSettings(data_dir=tmp_path, read_only=True)


@pytest.fixture
def filled(settings, make) -> list:
    pending = make.sample_pending(5)
    ledger = Ledger(settings.state_dir("audit") / "ledger.db")
    ledger.append_batch(pending, {})
    ledger.close()
    return pending


def test_listing_filters_and_decodes_events(settings, filled) -> None:
    with signed(TestClient(create_app(settings))) as client:
        everything = client.get("/ledger").json()
        assert everything["total"] == 5
        assert [e["event_id"] for e in everything["entries"]] == [p.envelope.id for p in filled]
        by_subject = client.get("/ledger", params={"subject": "credit", "limit": 2, "offset": 1}).json()
        assert by_subject["total"] == 4
        assert [e["index"] for e in by_subject["entries"]] == [2, 3]
        promoted = client.get("/ledger", params={"type": "ModelPromoted"}).json()["entries"]
        full = client.get("/ledger", params={"type": "conveyor.events.v1.ModelPromoted"}).json()["entries"]
        assert promoted == full and len(promoted) == 1
        assert promoted[0]["event"] == {"model_name": "credit", "version": "1", "reasons": ["better"]}


@pytest.mark.parametrize(("params", "status", "names"), [
    ({"type": "ModelExploded"}, 400, "type"),
    ({"limit": 0}, 422, "limit"),
    ({"limit": 5000}, 422, "limit"),
    ({"offset": -1}, 422, "offset"),
    ({"offset": 2**63}, 422, "less than or equal to 9223372036854775807"),  # finding 5: was a 500
])
def test_bad_query_parameters_are_named(settings, filled, params, status, names) -> None:
    with signed(TestClient(create_app(settings))) as client:
        response = client.get("/ledger", params=params)
    assert response.status_code == status
    assert names in response.text


@pytest.mark.parametrize("path", ["/ledger/entries/9223372036854775808", "/ledger/entries/9223372036854775808/proof",
                                  "/ledger/proof/inclusion?index=0&tree_size=9223372036854775808"])
def test_an_index_past_the_largest_integer_is_422_naming_the_bound(settings, filled, path) -> None:
    with signed(TestClient(create_app(settings))) as client:
        response = client.get(path)
    assert response.status_code == 422, response.text
    assert "less than or equal to 9223372036854775807" in response.text


def test_entry_root_proof_and_verify(settings, filled) -> None:
    with signed(TestClient(create_app(settings))) as client:
        root = client.get("/ledger/root").json()
        entry = client.get("/ledger/entries/3").json()
        assert entry["event_id"] == filled[3].envelope.id
        assert client.get("/ledger/entries/5").status_code == 404
        assert client.get("/ledger/entries/-1").status_code == 422
        proof = client.get("/ledger/entries/3/proof").json()
        assert proof["root"] == root["root"] and root["size"] == 5
        assert merkle.verify_inclusion(3, 5, bytes.fromhex(entry["leaf_hash"]),
                                       [bytes.fromhex(h) for h in proof["audit_path"]], bytes.fromhex(root["root"]))
        older = client.get("/ledger/entries/1/proof", params={"size": 2}).json()
        assert merkle.verify_inclusion(1, 2, bytes.fromhex(older["leaf_hash"]),
                                       [bytes.fromhex(h) for h in older["audit_path"]], bytes.fromhex(older["root"]))
        assert client.get("/ledger/entries/1/proof", params={"size": 6}).status_code == 400
        assert client.get("/ledger/verify").json() == {
            "ok": True, "size": 5, "root": root["root"], "problems": [],
        }
        assert client.get("/readyz").status_code == 200


def test_corrupted_ledger_refuses_to_start_unless_read_only(settings, filled) -> None:
    with sqlite3.connect(settings.state_dir("audit") / "ledger.db") as conn:
        conn.execute("DROP TRIGGER entries_no_update")
        conn.execute("UPDATE entries SET chain_hash = zeroblob(32) WHERE idx = 4")
    writable = settings.model_copy(update={"read_only": False})
    with pytest.raises(LedgerCorrupted, match="entry 4: chain_hash"), TestClient(create_app(writable)):
        pass
    with signed(TestClient(create_app(settings))) as client:
        report = client.get("/ledger/verify").json()
    assert report["ok"] is False
    assert report["problems"] == ["entry 4: chain_hash does not match the recomputed chain"]
