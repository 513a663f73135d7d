"""The SQLite ledger: idempotent appends, one transaction per batch, append-only, tamper evidence."""

import sqlite3

import pytest

from conveyor_audit import merkle
from conveyor_audit.adapters.ledger_db import Ledger
from conveyor_audit.consistency import consistency_proof
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


def test_stored_proofs_and_roots_equal_the_in_memory_ones_for_every_size(ledger, make) -> None:
    """The one-query SQLite path against the pure planner fed from memory, every index and pair."""
    pending = make.sample_pending(37)
    ledger.append_batch(pending[:20], {})
    ledger.append_batch(pending[20:], {})
    leaves = [merkle.hash_leaf(encode_leaf(p.envelope, p.value)) for p in pending]
    memory = merkle.getter_of(merkle.complete_levels(leaves))
    for size in range(0, 38):
        assert ledger.root_at(size) == merkle.root_of(leaves[:size])
        for index in range(size):
            assert ledger.proof(index, size) == merkle.inclusion_proof(index, size, memory), (index, size)
        for first in range(0, size + 1):
            assert ledger.consistency(first, size) == consistency_proof(first, size, memory), (first, size)


def test_a_missing_subtree_is_reported_not_guessed(ledger, make) -> None:
    ledger.append_batch(make.sample_pending(6), {})
    with raw(ledger) as conn:
        conn.execute("DROP TRIGGER subtree_no_delete")
        conn.execute("DELETE FROM subtree WHERE level = 1 AND idx = 2")
    with pytest.raises(LookupError, match=r"\(1, 2\)"):
        ledger.proof(0, 6)


def test_a_batch_prepared_on_an_uncommitted_one_skips_its_ids_and_lands_after_it(ledger, make) -> None:
    first, later = make.sample_pending(4), make.sample_pending(2, start_offset=4)
    a = ledger.prepare(first)
    b = ledger.prepare([first[2], later[0], later[0], later[1]], after=a)  # in flight + within
    assert (ledger.size, a.appended, b.appended, b.duplicates) == (0, 4, 2, 2)  # the tip has not moved
    with pytest.raises(RuntimeError, match="prepared for tree size 4"):
        ledger.commit(b, {})  # out of order: refused before anything is written
    assert ledger.commit(a, {("conveyor.models", 0): 4}).size == 4
    result = ledger.commit(b, {("conveyor.models", 0): 6})
    leaves = [merkle.hash_leaf(encode_leaf(p.envelope, p.value)) for p in [*first, *later]]
    assert (result.appended, result.duplicates, result.size) == (2, 2, 6)
    assert result.root == merkle.root_of(leaves) == ledger.root_at(6)
    assert verify_snapshot(ledger.snapshot()).ok


def test_a_failed_transaction_is_retried_as_prepared_without_gap_or_repeat(ledger, make, monkeypatch) -> None:
    ledger.append_batch(make.sample_pending(3), {("conveyor.models", 0): 3})
    prepared = ledger.prepare(make.sample_pending(4, start_offset=3))

    def disk_error(offsets) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(ledger, "_store_offsets", disk_error)
    with pytest.raises(sqlite3.OperationalError):
        ledger.commit(prepared, {("conveyor.models", 0): 7})
    monkeypatch.undo()
    assert ledger.size == 3
    assert ledger.commit(prepared, {("conveyor.models", 0): 7}).size == 7
    with raw(ledger) as conn:
        assert [r[0] for r in conn.execute("SELECT idx FROM entries ORDER BY idx")] == list(range(7))
    assert ledger.offsets() == {("conveyor.models", 0): 7}
    assert verify_snapshot(ledger.snapshot()).ok


@pytest.mark.parametrize("idx", ["idx", "idx + 2", "-1"])
def test_an_index_that_is_not_the_next_one_is_refused(ledger, make, idx: str) -> None:
    ledger.append_batch(make.sample_pending(3), {})
    with raw(ledger) as conn, pytest.raises(sqlite3.IntegrityError, match="next index|UNIQUE"):
        conn.execute(  # a repeated index, one past a gap, or a negative one
            f"INSERT INTO entries SELECT {idx}, event_id || 'x', type, source, subject, time, topic, partition,"
            ' "offset", leaf_bytes, leaf_hash, chain_hash, recorded_at FROM entries WHERE idx = 2')


def test_a_ledger_with_the_first_dense_trigger_gets_the_cheap_one(tmp_path, make) -> None:
    path = tmp_path / "ledger.db"
    Ledger(path).close()
    with sqlite3.connect(path) as conn:  # as a ledger created before the trigger changed
        conn.execute("DROP TRIGGER entries_dense_v2")
        conn.execute("CREATE TRIGGER entries_dense BEFORE INSERT ON entries "
                     "WHEN NEW.idx != (SELECT COALESCE(MAX(idx) + 1, 0) FROM entries) "
                     "BEGIN SELECT RAISE(ABORT, 'ledger entries: idx must be the next index'); END")
    reopened = Ledger(path)
    try:
        reopened.append_batch(make.sample_pending(2), {})
        with raw(reopened) as conn:
            triggers = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        assert "entries_dense_v2" in triggers and "entries_dense" not in triggers
    finally:
        reopened.close()
