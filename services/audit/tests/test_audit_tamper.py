"""Tamper evidence: one changed byte anywhere in stored entries, hashes or checkpoints fails the full verify."""

import random
import sqlite3

import pytest
from fastapi.testclient import TestClient

from conveyor_audit.adapters.ledger_db import Ledger
from conveyor_audit.checkpoints import Checkpointer
from conveyor_audit.integrity import verify_snapshot
from conveyor_audit.keeper import LedgerCorrupted
from conveyor_audit.keys import load_signer
from conveyor_audit.settings import AuditSettings
from conveyor_audit.wiring import create_app
from conveyor_kernel.callers import signed

# (table, key column, stored column): everything the ledger hashes, chains or signs.
TARGETS = [
    ("entries", "idx", "leaf_bytes"), ("entries", "idx", "leaf_hash"), ("entries", "idx", "chain_hash"),
    ("entries", "idx", "event_id"), ("entries", "idx", "type"), ("entries", "idx", "subject"),
    ("subtree", "level || ':' || idx", "hash"), ("tree_head", "size", "root"),
    ("checkpoint", "size", "root"), ("checkpoint", "size", "note"),
]
SAMPLES_PER_TARGET = 30


@pytest.fixture
def settings(tmp_path) -> AuditSettings:
    return AuditSettings(data_dir=tmp_path, read_only=True)


@pytest.fixture
def ledger_path(settings, make):
    """37 entries in batches of 5..9, a checkpoint after each batch."""
    path = settings.state_dir("audit") / "ledger.db"
    ledger = Ledger(path)
    checkpointer = Checkpointer(ledger, load_signer(settings), settings.origin, every=1)
    start = 0
    for count in (5, 9, 7, 8, 8):
        ledger.append_batch(make.sample_pending(count, start_offset=start), {})
        checkpointer.sign()
        start += count
    ledger.close()
    return path


def flip(value: bytes | str, position: int) -> bytes | str:
    if isinstance(value, str):  # stay valid text: flip the lowest bit of an ASCII character
        return value[:position] + chr(ord(value[position]) ^ 1) + value[position + 1:]
    return value[:position] + bytes([value[position] ^ 1]) + value[position + 1:]


def test_every_sampled_single_byte_change_is_detected(settings, ledger_path) -> None:
    verifier = load_signer(settings).verifier
    ledger = Ledger(ledger_path)
    assert verify_snapshot(ledger.snapshot(), verifier).ok
    rng = random.Random(9162)
    conn = sqlite3.connect(ledger_path, isolation_level=None)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")  # the attacker owns the database file
    checked = 0
    try:
        for table, key, column in TARGETS:
            rows = conn.execute(f"SELECT {key}, {column} FROM {table}").fetchall()
            for _ in range(SAMPLES_PER_TARGET):
                row_key, original = rng.choice(rows)
                altered = flip(original, rng.randrange(len(original)))
                conn.execute(f"UPDATE {table} SET {column} = ? WHERE {key} = ?", (altered, row_key))
                report = verify_snapshot(ledger.snapshot(), verifier)
                conn.execute(f"UPDATE {table} SET {column} = ? WHERE {key} = ?", (original, row_key))
                assert not report.ok, f"{table}.{column} at {row_key} changed and nothing noticed"
                checked += 1
        assert verify_snapshot(ledger.snapshot(), verifier).ok  # restored: the check itself is not flaky
    finally:
        conn.close()
        ledger.close()
    assert checked == len(TARGETS) * SAMPLES_PER_TARGET


def test_deleted_rows_are_detected(settings, ledger_path) -> None:
    verifier = load_signer(settings).verifier
    with sqlite3.connect(ledger_path) as conn:
        conn.execute("DROP TRIGGER subtree_no_delete")
        conn.execute("DELETE FROM subtree WHERE level = 2 AND idx = 1")
    ledger = Ledger(ledger_path)
    try:
        problems = verify_snapshot(ledger.snapshot(), verifier).problems
    finally:
        ledger.close()
    assert "subtree (level 2, index 1) missing" in problems


def test_forged_checkpoint_stops_the_service_unless_read_only(settings, ledger_path) -> None:
    with sqlite3.connect(ledger_path) as conn:
        conn.execute("DROP TRIGGER checkpoint_no_update")
        conn.execute("UPDATE checkpoint SET note = REPLACE(note, 'conveyor.local/audit\n37', "
                     "'conveyor.local/audit\n38') WHERE size = 37")
    writable = settings.model_copy(update={"read_only": False})
    with pytest.raises(LedgerCorrupted, match="checkpoint 37: note does not verify"), TestClient(create_app(writable)):
        pass
    with signed(TestClient(create_app(settings))) as client:
        report = client.get("/ledger/verify").json()
    assert report["ok"] is False and report["problems"][0].startswith("checkpoint 37: note does not verify")
