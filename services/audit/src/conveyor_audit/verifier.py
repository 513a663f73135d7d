"""A verifier that trusts nothing but the public key it was given; it talks to the ledger over REST.

Every answer the server gives is checked against a signed checkpoint: leaf hashes are recomputed from the
leaf bytes, proofs are replayed by RFC 9162's verification algorithms, and full mode rebuilds the tree
from every leaf. `get(path, params)` returns decoded JSON (httpx in the CLI, a TestClient in tests).
"""

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .consistency import verify_consistency
from .merkle import CompactRange, hash_leaf, verify_inclusion
from .note import Checkpoint, NoteError, Verifier, verify_checkpoint

Getter = Callable[[str, dict[str, Any]], Any]
PAGE = 1000


class VerificationFailed(Exception):
    """The log's answer contradicts what its signed checkpoint commits to."""


@dataclass
class VerifiedEntry:
    index: int
    leaf_hash: bytes
    event: dict[str, Any] = field(default_factory=dict)


class RemoteLog:
    def __init__(self, get: Getter, verifier: Verifier) -> None:
        self.get = get
        self.verifier = verifier

    def checkpoint(self, note: str | None = None) -> Checkpoint:
        """Verify a checkpoint note (default: the server's latest) under our key."""
        text = note if note is not None else self.get("/ledger/checkpoint", {})["note"]
        try:
            return verify_checkpoint(text, self.verifier, origin=self.verifier.name)
        except NoteError as exc:
            raise VerificationFailed(f"checkpoint: {exc}") from exc

    def inclusion(self, checkpoint: Checkpoint, index: int) -> VerifiedEntry:
        if not 0 <= index < checkpoint.size:
            raise VerificationFailed(f"index {index} is not covered by the checkpoint of size {checkpoint.size}")
        entry = self.get(f"/ledger/entries/{index}", {})
        leaf_hash = hash_leaf(base64.b64decode(entry["leaf_bytes"], validate=True))  # never the server's hash
        proof = self.get("/ledger/proof/inclusion", {"index": index, "tree_size": checkpoint.size})
        hashes = [bytes.fromhex(h) for h in proof["hashes"]]
        if not verify_inclusion(index, checkpoint.size, leaf_hash, hashes, checkpoint.root):
            raise VerificationFailed(f"entry {index} is not included in the signed tree of size {checkpoint.size}")
        return VerifiedEntry(index, leaf_hash, entry.get("event") or {})

    def consistency(self, older: Checkpoint, newer: Checkpoint) -> None:
        if older.size > newer.size:
            older, newer = newer, older
        proof = self.get("/ledger/proof/consistency", {"first": older.size, "second": newer.size})
        hashes = [bytes.fromhex(h) for h in proof["hashes"]]
        if not verify_consistency(older.size, newer.size, older.root, newer.root, hashes):
            raise VerificationFailed(
                f"the tree of size {newer.size} does not extend the one of size {older.size}: history was rewritten"
            )

    def full(self, checkpoint: Checkpoint) -> int:
        """Re-read every entry, recompute every leaf hash and the root; returns the entries checked."""
        tree = CompactRange()
        for entry in self._entries(checkpoint.size):
            leaf_bytes = base64.b64decode(entry["leaf_bytes"], validate=True)
            if entry["index"] != tree.size:
                raise VerificationFailed(f"entry {tree.size} came back as index {entry['index']}")
            if hash_leaf(leaf_bytes).hex() != entry["leaf_hash"]:
                raise VerificationFailed(f"entry {tree.size}: stored leaf_hash does not match its leaf bytes")
            tree.append(hash_leaf(leaf_bytes))
        if tree.size != checkpoint.size:
            raise VerificationFailed(f"the log returned {tree.size} entries, the checkpoint signs {checkpoint.size}")
        if tree.root() != checkpoint.root:
            raise VerificationFailed("the root recomputed from every entry differs from the signed root")
        return tree.size

    def _entries(self, size: int) -> Iterator[dict[str, Any]]:
        offset = 0
        while offset < size:
            page = self.get("/ledger", {"limit": min(PAGE, size - offset), "offset": offset})["entries"]
            if not page:
                return
            yield from page
            offset += len(page)
