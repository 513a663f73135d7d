"""Recompute the ledger from its leaf bytes and compare with everything stored about it.

What a single changed byte anywhere trips:
  leaf_bytes  → its leaf hash, every chain hash from there on, the subtrees above it, later tree heads
  leaf_hash   → the leaf-hash check at that index
  chain_hash  → the chain check at that index
  subtree / tree_head rows → the node or head check
  the indexed columns (event_id, type, ...) → the column check against the leaf's JSON
  a repeated event id → the uniqueness check (should the unique index have been dropped)
  checkpoint rows → the note's signature, its size/root against the row, the root against the leaves
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .adapters.rows import Entry, StoredCheckpoint
from .leaf import CHAIN_SEED, leaf_hash_of, next_chain, parse_leaf
from .merkle import EMPTY_ROOT, CompactRange, Position
from .note import NoteError, Verifier, verify_checkpoint

MAX_PROBLEMS = 100  # a corrupted prefix would otherwise list every later chain hash
LEAF_FIELDS = {"event_id": "id", "type": "type", "source": "source", "subject": "subject", "time": "time"}


@dataclass
class VerifyReport:
    size: int
    root: bytes
    problems: list[str] = field(default_factory=list)
    truncated: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, problem: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        else:
            self.truncated += 1

    def as_dict(self) -> dict[str, object]:
        problems = list(self.problems)
        if self.truncated:
            problems.append(f"... and {self.truncated} more problems")
        return {"ok": self.ok, "size": self.size, "root": self.root.hex(), "problems": problems}


class LedgerView(Protocol):
    """What verification reads: a Snapshot in memory, or a StoredView that pages through the database."""

    def entries(self) -> Iterable[Entry]: ...

    def nodes(self, positions: Sequence[Position]) -> dict[Position, bytes]: ...

    def node_count(self) -> int: ...

    def tree_heads(self) -> list[tuple[int, bytes]]: ...

    def checkpoints(self) -> list[StoredCheckpoint]: ...

    def repeated_ids(self) -> list[tuple[str, list[int]]]: ...


PAGE = 4096  # entries whose recomputed subtrees are compared with one lookup


def verify_snapshot(snapshot: LedgerView, verifier: Verifier | Iterable[Verifier] | None = None) -> VerifyReport:
    """Recompute everything from the leaf bytes, a page of entries at a time (memory stays bounded by the page
    and the tree heads); with verifiers (the current key and retired ones), check every stored checkpoint."""
    tree = CompactRange()
    chain = CHAIN_SEED
    heads = dict(snapshot.tree_heads())
    checkpoints = snapshot.checkpoints()
    wanted = {c.size for c in checkpoints}
    roots = {0: EMPTY_ROOT}
    report = VerifyReport(size=0, root=tree.root())
    computed: list[tuple[Position, bytes]] = []
    for position, entry in enumerate(snapshot.entries()):
        if entry.idx != position:
            report.add(f"entry at position {position} has idx {entry.idx}: indexes are not dense")
        leaf_hash = leaf_hash_of(entry.leaf_bytes)
        if leaf_hash != entry.leaf_hash:
            report.add(f"entry {position}: leaf_hash does not match SHA-256(0x00 || leaf_bytes)")
        chain = next_chain(chain, leaf_hash)
        if chain != entry.chain_hash:
            report.add(f"entry {position}: chain_hash does not match the recomputed chain")
        for problem in _column_problems(entry):
            report.add(f"entry {position}: {problem}")
        computed += [((level, index), node) for level, index, node in tree.append(leaf_hash) if level]
        if len(computed) >= PAGE:
            _compare_nodes(snapshot, computed, report)
            computed = []
        if tree.size in wanted:
            roots[tree.size] = tree.root()
        if tree.size in heads and heads[tree.size] != tree.root():
            report.add(f"tree head for size {tree.size} does not match the recomputed root")
    _compare_nodes(snapshot, computed, report)
    report.size, report.root = tree.size, tree.root()
    for event_id, indexes in snapshot.repeated_ids():
        for index in indexes[1:]:
            report.add(f"entry {index}: event id {event_id} is already entry {indexes[0]}")
    for size in _sizes_beyond(heads, tree.size):
        report.add(f"tree head for size {size} is beyond the ledger's {tree.size} entries")
    verifiers = [verifier] if isinstance(verifier, Verifier) else list(verifier or ())
    for checkpoint in checkpoints:
        for problem in _checkpoint_problems(checkpoint, roots.get(checkpoint.size), verifiers, verifier is not None):
            report.add(f"checkpoint {checkpoint.size}: {problem}")
    expected_nodes = tree.size - tree.size.bit_count()  # complete subtrees above the leaves
    stored_nodes = snapshot.node_count()
    if stored_nodes != expected_nodes:
        report.add(f"subtree table has {stored_nodes} rows, expected {expected_nodes}")
    return report


def _compare_nodes(snapshot: LedgerView, computed: list[tuple[Position, bytes]], report: VerifyReport) -> None:
    stored = snapshot.nodes([position for position, _ in computed])
    for (level, index), node in computed:
        found = stored.get((level, index))
        if found != node:
            state = "missing" if found is None else "differs from the recomputed hash"
            report.add(f"subtree (level {level}, index {index}) {state}")


def _column_problems(entry: Entry) -> list[str]:
    try:
        document = parse_leaf(entry.leaf_bytes)
    except ValueError as exc:
        return [f"leaf_bytes are not a JSON document ({exc})"]
    return [
        f"column {column} is {getattr(entry, column)!r} but the leaf says {document.get(key)!r}"
        for column, key in LEAF_FIELDS.items()
        if document.get(key) != getattr(entry, column)
    ]


def _sizes_beyond(heads: Iterable[int], size: int) -> list[int]:
    return sorted(s for s in heads if s > size)


def _checkpoint_problems(stored: StoredCheckpoint, recomputed: bytes | None, verifiers: list[Verifier],
                         check_signature: bool) -> list[str]:
    if recomputed is None:
        return ["is beyond the ledger's entries"]
    problems = []
    if stored.root != recomputed:
        problems.append("root column does not match the recomputed root")
    if not check_signature:
        return problems
    signed, errors = None, []
    for verifier in verifiers:  # the current key, then retired ones (a rotation keeps old checkpoints valid)
        try:
            signed = verify_checkpoint(stored.note, verifier)
            break
        except NoteError as exc:
            errors.append(str(exc))
    if signed is None:
        return [*problems, f"note does not verify ({'; '.join(errors)})"]
    if (signed.size, signed.root) != (stored.size, recomputed):
        problems.append("signed size/root differ from the ledger's")
    return problems
