"""The SQLite ledger: idempotent appends, one transaction per batch, append-only, tamper evidence."""

import sqlite3

import pytest

from conveyor_audit import merkle
from conveyor_audit.adapters.ledger_db import Ledger
from conveyor_audit.leaf import encode_leaf
from conveyor_audit.verify import verify_snapshot


def raw(ledger: Ledger) -> sqlite3.Connection:
    """A second connection, as an attacker (or a careless operator) with file access would have."""
    return sqlite3.connect(ledger.path, isolation_level=None)


def test_append_is_idempotent_by_event_id(ledger, make) -> None:
    batch = make.sample_pending(5)
    first = ledger.append_batch(batch, {("conveyor.models", 0): 5})
    again = ledger.append_batch([batch[1], batch[3], batch[1]], {("conveyor.models", 0): 8})
    assert (first.appended, first.duplicates, first.size) == (5, 0, 5)
    assert (again.appended, again.duplicates, again.size) == (0, 3, 5)
    within = make.sample_pending(2, start_offset=10)
    mixed = ledger.append_batch([within[0], within[0], within[1]], {})
    assert (mixed.appended, mixed.duplicates, mixed.size) == (2, 1, 7)
    assert [e.event_id for e in ledger.find(None, None, 100, 0)[1]] == [
        p.envelope.id for p in [*batch, *within]
    ]
    assert ledger.offsets() == {("conveyor.models", 0): 8}


def test_entries_and_offsets_commit_together_or_not_at_all(ledger, make, monkeypatch) -> None:
    ledger.append_batch(make.sample_pending(2), {("conveyor.datasets", 0): 2})
    before_root = ledger.root()

    def crash(offsets) -> None:
        raise OSError("power cut between appending entries and storing offsets")

    monkeypatch.setattr(ledger, "_store_offsets", crash)
    with pytest.raises(OSError, match="power cut"):
        ledger.append_batch(make.sample_pending(3, start_offset=2), {("conveyor.datasets", 0): 5})
    monkeypatch.undo()

    assert (ledger.size, ledger.root()) == (2, before_root)
    assert ledger.offsets() == {("conveyor.datasets", 0): 2}
    with raw(ledger) as conn:
        assert conn.execute("SELECT COUNT(*) FROM entries").fetchone() == (2,)
        assert conn.execute("SELECT COUNT(*) FROM subtree").fetchone() == (3,)
    # The redelivered batch after the "restart" lands exactly once, on top of a consistent tip.
    retry = ledger.append_batch(make.sample_pending(3, start_offset=2), {("conveyor.datasets", 0): 5})
    assert (retry.appended, retry.size) == (3, 5)
    assert verify_snapshot(ledger.snapshot()).ok


@pytest.mark.parametrize("statement", [
    "UPDATE entries SET subject = 'forged' WHERE idx = 0",
    "DELETE FROM entries WHERE idx = 1",
    "UPDATE subtree SET hash = zeroblob(32)",
    "DELETE FROM tree_head",
    "INSERT INTO entries SELECT idx + 5, event_id || 'x', type, source, subject, time, topic, partition,"
    ' "offset", leaf_bytes, leaf_hash, chain_hash, recorded_at FROM entries WHERE idx = 0',
])
def test_database_refuses_rewrites_and_gaps(ledger, make, statement: str) -> None:
    ledger.append_batch(make.sample_pending(3), {})
    with raw(ledger) as conn, pytest.raises(sqlite3.IntegrityError, match="append-only|next index"):
        conn.execute(statement)
    assert verify_snapshot(ledger.snapshot()).ok


@pytest.mark.parametrize(("table", "column", "where", "expected"), [
    ("entries", "leaf_bytes", "idx = 2", "entry 2: leaf_hash does not match"),
    ("entries", "leaf_hash", "idx = 2", "entry 2: leaf_hash does not match"),
    ("entries", "chain_hash", "idx = 2", "entry 2: chain_hash does not match"),
    ("subtree", "hash", "level = 1 AND idx = 0", "subtree (level 1, index 0) differs"),
    ("tree_head", "root", "size = 4", "tree head for size 4 does not match"),
])
def test_verify_detects_one_changed_byte(ledger, make, table, column, where, expected) -> None:
    ledger.append_batch(make.sample_pending(4), {})
    ledger.append_batch(make.sample_pending(3, start_offset=4), {})  # a second tree head, size 7
    assert verify_snapshot(ledger.snapshot()).ok
    with raw(ledger) as conn:
        conn.execute(f"DROP TRIGGER {table}_no_update")
        # Flip the lowest bit of one byte in the middle of the value.
        value = conn.execute(f"SELECT {column} FROM {table} WHERE {where}").fetchone()[0]
        middle = len(value) // 2
        tampered = value[:middle] + bytes([value[middle] ^ 1]) + value[middle + 1:]
        conn.execute(f"UPDATE {table} SET {column} = ? WHERE {where}", (tampered,))
    report = verify_snapshot(ledger.snapshot())
    assert not report.ok
    assert any(expected in problem for problem in report.problems), report.problems


def test_column_edit_is_caught_against_the_leaf(ledger, make) -> None:
    ledger.append_batch(make.sample_pending(2), {})
    with raw(ledger) as conn:
        conn.execute("DROP TRIGGER entries_no_update")
        conn.execute("UPDATE entries SET subject = 'someone-else' WHERE idx = 1")
    problems = verify_snapshot(ledger.snapshot()).problems
    assert problems == ["entry 1: column subject is 'someone-else' but the leaf says 'credit'"]


def test_reopened_ledger_continues_the_same_tree(tmp_path, make) -> None:
    pending = make.sample_pending(11)
    first = Ledger(tmp_path / "ledger.db")
    first.append_batch(pending[:6], {})
    first.close()
    second = Ledger(tmp_path / "ledger.db")
    try:
        result = second.append_batch(pending[6:], {})
        leaves = [merkle.hash_leaf(encode_leaf(p.envelope, p.value)) for p in pending]
        assert result.root == merkle.root_of(leaves) == second.root_at(11)
        assert second.root_at(6) == merkle.root_of(leaves[:6])
        for index in (0, 5, 10):
            proof = second.proof(index, 11)
            assert merkle.verify_inclusion(index, 11, leaves[index], proof, result.root)
        report = verify_snapshot(second.snapshot())
        assert report.ok and report.size == 11 and report.root == result.root
    finally:
        second.close()
