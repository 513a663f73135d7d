"""The SQLite ledger: idempotent appends, one transaction per batch, append-only, tamper evidence."""

import sqlite3

import psycopg
import pytest

from conveyor_audit import merkle
from conveyor_audit.adapters.ledger_db import Ledger
from conveyor_audit.adapters.ledger_pg import PostgresLedger
from conveyor_audit.consistency import consistency_proof
from conveyor_audit.integrity import verify_snapshot
from conveyor_audit.leaf import encode_leaf


def raw(ledger: Ledger):  # type: ignore[no-untyped-def]
    """A second connection, as an attacker (or a careless operator) with file (or database) access would have."""
    if isinstance(ledger, PostgresLedger):
        libpq = ledger.url.replace("postgresql+psycopg://", "postgresql://")
        return psycopg.connect(libpq, autocommit=True, options="-c search_path=audit")
    return sqlite3.connect(ledger.path, isolation_level=None)


REFUSED = (sqlite3.IntegrityError, psycopg.errors.RaiseException)


def allow_updates(conn, table: str) -> None:  # type: ignore[no-untyped-def]
    """What an attacker with the database's owner rights does first: take the append-only trigger away."""
    if isinstance(conn, psycopg.Connection):
        conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
    else:
        conn.execute(f"DROP TRIGGER {table}_no_update")


def param(conn) -> str:  # type: ignore[no-untyped-def]
    return "%s" if isinstance(conn, psycopg.Connection) else "?"


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
        assert conn.execute("SELECT COUNT(*) FROM subtree").fetchone() == (1,)  # level 1; leaves are entries
    # The redelivered batch after the "restart" lands exactly once, on top of a consistent tip.
    retry = ledger.append_batch(make.sample_pending(3, start_offset=2), {("conveyor.datasets", 0): 5})
    assert (retry.appended, retry.size) == (3, 5)
    assert verify_snapshot(ledger.snapshot()).ok


@pytest.mark.parametrize("statement", [
    "UPDATE entries SET subject = 'forged' WHERE idx = 0",
    "DELETE FROM entries WHERE idx = 1",
    "UPDATE subtree SET idx = idx + 1000",
    "DELETE FROM tree_head",
])
def test_database_refuses_rewrites(ledger, make, statement: str) -> None:
    ledger.append_batch(make.sample_pending(3), {})
    with raw(ledger) as conn, pytest.raises(REFUSED, match="append-only"):
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
        allow_updates(conn, table)
        # Flip the lowest bit of one byte in the middle of the value.
        value = conn.execute(f"SELECT {column} FROM {table} WHERE {where}").fetchone()[0]
        middle = len(value) // 2
        tampered = value[:middle] + bytes([value[middle] ^ 1]) + value[middle + 1:]
        conn.execute(f"UPDATE {table} SET {column} = {param(conn)} WHERE {where}", (tampered,))
    report = verify_snapshot(ledger.snapshot())
    assert not report.ok
    assert any(expected in problem for problem in report.problems), report.problems


def test_column_edit_is_caught_against_the_leaf(ledger, make) -> None:
    ledger.append_batch(make.sample_pending(2), {})
    with raw(ledger) as conn:
        allow_updates(conn, "entries")
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
        if isinstance(conn, psycopg.Connection):
            conn.execute("ALTER TABLE subtree DISABLE TRIGGER subtree_append_only")
        else:
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


def copy_entry(conn: sqlite3.Connection, idx: str | int) -> None:
    """Entry 2 again (under another id) at index `idx`, as a buggy writer or an operator might add it."""
    conn.execute(f"INSERT INTO entries SELECT {idx}, event_id || '{idx}', type, source, subject, time, topic, "
                 'partition, "offset", leaf_bytes, leaf_hash, chain_hash, recorded_at FROM entries WHERE idx = 2')


@pytest.mark.parametrize(("indexes", "size"), [
    ([4], 5),         # a gap before the batch's only entry
    ([3, 5], 6),      # a gap inside the batch
    ([3], 5),         # dense, but the head claims an entry that was never written
    ([3, -1], 4),     # dense above, and a negative index below
])
def test_a_batch_that_leaves_a_gap_cannot_write_its_tree_head(ledger, make, indexes, size) -> None:
    ledger.append_batch(make.sample_pending(3), {})
    with raw(ledger) as conn:
        conn.execute("BEGIN")
        for idx in indexes:
            copy_entry(conn, idx)
        with pytest.raises(REFUSED, match="indexes must be dense"):
            conn.execute(f"INSERT INTO tree_head (size, root, recorded_at) VALUES ({param(conn)}, {param(conn)}, '')",
                         (size, bytes(32)))
        conn.execute("ROLLBACK")
    assert verify_snapshot(ledger.snapshot()).ok


def test_a_repeated_index_is_refused(ledger, make) -> None:
    ledger.append_batch(make.sample_pending(3), {})
    with raw(ledger) as conn, pytest.raises((sqlite3.IntegrityError, psycopg.errors.UniqueViolation),
                                            match="UNIQUE|unique"):
        copy_entry(conn, 2)


def test_a_gap_written_without_a_tree_head_is_caught_by_verify(ledger, make) -> None:
    ledger.append_batch(make.sample_pending(3), {})
    with raw(ledger) as conn:
        copy_entry(conn, 4)
    assert "entry at position 3 has idx 4: indexes are not dense" in verify_snapshot(ledger.snapshot()).problems


def test_a_format_1_ledger_is_migrated_and_keeps_its_tree(tmp_path, make) -> None:
    path = tmp_path / "ledger.db"
    pending = make.sample_pending(9)
    before = Ledger(path)
    before.append_batch(pending[:6], {("conveyor.models", 0): 6})
    root = before.root()
    before.close()
    with sqlite3.connect(path, isolation_level=None) as conn:  # back to format 1, as it was written
        conn.executescript("""
            INSERT INTO subtree SELECT 0, idx, leaf_hash FROM entries;
            DROP TRIGGER tree_head_dense;
            CREATE TRIGGER entries_dense_v2 BEFORE INSERT ON entries
            WHEN NEW.idx != 0 AND NOT EXISTS (SELECT 1 FROM entries WHERE idx = NEW.idx - 1)
            BEGIN SELECT RAISE(ABORT, 'ledger entries: idx must be the next index'); END;
            PRAGMA user_version = 0;""")
    migrated = Ledger(path)
    try:
        assert verify_snapshot(migrated.snapshot()).ok and migrated.root() == root
        with raw(migrated) as conn:
            assert conn.execute("PRAGMA user_version").fetchone() == (2,)
            assert conn.execute("SELECT COUNT(*) FROM subtree WHERE level = 0").fetchone() == (0,)
            triggers = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        assert {"tree_head_dense", "entries_no_update", "subtree_no_delete"} <= triggers
        assert "entries_dense_v2" not in triggers
        result = migrated.append_batch([pending[2], *pending[6:]], {("conveyor.models", 0): 9})
        assert (result.appended, result.duplicates) == (3, 1)  # a migrated id is still found
        leaves = [merkle.hash_leaf(encode_leaf(p.envelope, p.value)) for p in pending]
        memory = merkle.getter_of(merkle.complete_levels(leaves))
        assert all(migrated.proof(i, 9) == merkle.inclusion_proof(i, 9, memory) for i in range(9))
        assert verify_snapshot(migrated.snapshot()).ok
    finally:
        migrated.close()


def test_a_ledger_from_a_newer_format_is_not_touched(tmp_path) -> None:
    path = tmp_path / "ledger.db"
    Ledger(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 3")
    with pytest.raises(RuntimeError, match="format 3"):
        Ledger(path)


def test_an_event_id_stored_twice_is_refused_and_caught_by_verify(sqlite_ledger, make) -> None:
    ledger = sqlite_ledger  # it rewrites SQLite's own schema table, as an attacker with the file could
    ledger.append_batch(make.sample_pending(3), {})
    with raw(ledger) as conn, pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        conn.execute("INSERT INTO entries SELECT 3, event_id, type, source, subject, time, topic, partition, "
                     '"offset", leaf_bytes, leaf_hash, chain_hash, recorded_at FROM entries WHERE idx = 2')
    with raw(ledger) as conn:  # entry 2 again under its own id, once an attacker dropped the unique index
        conn.execute("PRAGMA writable_schema = ON")
        conn.execute("UPDATE sqlite_master SET sql = replace(sql, 'NOT NULL UNIQUE', 'NOT NULL') "
                     "WHERE name = 'entries'")
        conn.execute("DELETE FROM sqlite_master WHERE name = 'sqlite_autoindex_entries_1'")
    with raw(ledger) as conn:
        conn.execute("INSERT INTO entries SELECT 3, event_id, type, source, subject, time, topic, partition, "
                     '"offset", leaf_bytes, leaf_hash, chain_hash, recorded_at FROM entries WHERE idx = 2')
    problems = verify_snapshot(ledger.snapshot()).problems
    assert any("entry 3: event id" in p and "is already entry 2" in p for p in problems), problems
