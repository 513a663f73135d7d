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

from collections.abc import Iterable
from dataclasses import dataclass, field

from .adapters.rows import Entry, Snapshot, StoredCheckpoint
from .leaf import CHAIN_SEED, leaf_hash_of, next_chain, parse_leaf
from .merkle import EMPTY_ROOT, CompactRange
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


def verify_snapshot(snapshot: Snapshot, verifier: Verifier | None = None) -> VerifyReport:
    """Recompute everything from the leaf bytes; with a verifier, check every stored checkpoint too."""
    tree = CompactRange()
    chain = CHAIN_SEED
    heads = dict(snapshot.tree_heads)
    wanted = {c.size for c in snapshot.checkpoints}
    roots = {0: EMPTY_ROOT}
    report = VerifyReport(size=len(snapshot.entries), root=tree.root())
    first_seen: dict[str, int] = {}
    for position, entry in enumerate(snapshot.entries):
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
        if first_seen.setdefault(entry.event_id, position) != position:
            report.add(f"entry {position}: event id {entry.event_id} is already entry {first_seen[entry.event_id]}")
        for level, index, node in tree.append(leaf_hash):
            if not level:  # the leaf hash itself, checked above
                continue
            stored = snapshot.nodes.get((level, index))
            if stored != node:
                state = "missing" if stored is None else "differs from the recomputed hash"
                report.add(f"subtree (level {level}, index {index}) {state}")
        if tree.size in wanted:
            roots[tree.size] = tree.root()
        if tree.size in heads and heads[tree.size] != tree.root():
            report.add(f"tree head for size {tree.size} does not match the recomputed root")
    report.root = tree.root()
    for size in _sizes_beyond(heads, tree.size):
        report.add(f"tree head for size {size} is beyond the ledger's {tree.size} entries")
    for checkpoint in snapshot.checkpoints:
        for problem in _checkpoint_problems(checkpoint, roots.get(checkpoint.size), verifier):
            report.add(f"checkpoint {checkpoint.size}: {problem}")
    expected_nodes = tree.size - tree.size.bit_count()  # complete subtrees above the leaves
    if len(snapshot.nodes) != expected_nodes:
        report.add(f"subtree table has {len(snapshot.nodes)} rows, expected {expected_nodes}")
    return report


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


def _checkpoint_problems(stored: StoredCheckpoint, recomputed: bytes | None, verifier: Verifier | None) -> list[str]:
    if recomputed is None:
        return ["is beyond the ledger's entries"]
    problems = []
    if stored.root != recomputed:
        problems.append("root column does not match the recomputed root")
    if verifier is None:
        return problems
    try:
        signed = verify_checkpoint(stored.note, verifier)
    except NoteError as exc:
        return [*problems, f"note does not verify ({exc})"]
    if (signed.size, signed.root) != (stored.size, recomputed):
        problems.append("signed size/root differ from the ledger's")
    return problems
