"""What makes a report self-verifying: the signed checkpoints at the period's start and end, the consistency
proof between them, each listed entry's leaf hash with its inclusion proof under the end checkpoint, and
the report's own signature (a signed note naming its hash, by the ledger's key).

Start: the newest checkpoint issued before the period began (none: the empty tree, size 0). End: the first
checkpoint issued once the period had closed that covers every listed entry (the scheduler signs one just
before it generates), else the newest one.
"""

from typing import Any

from .adapters.ledger_db import Ledger
from .adapters.rows import StoredCheckpoint
from .note import Signer


def checkpoint_json(stored: StoredCheckpoint | None) -> dict[str, Any] | None:
    if stored is None:
        return None
    return {"size": stored.size, "root": stored.root.hex(), "note": stored.note, "issued_at": stored.issued_at}


def end_checkpoint(ledger: Ledger, period_end: str, covers: int) -> StoredCheckpoint | None:
    after = [c for c in ledger.checkpoints_from(period_end) if c.size >= covers]
    if after:
        return after[0]
    newest = ledger.checkpoints(limit=1)
    return newest[0] if newest and newest[0].size >= covers else None


def evidence(ledger: Ledger, leaf_hashes: dict[int, bytes], start: StoredCheckpoint | None,
             end: StoredCheckpoint | None) -> dict[str, Any]:
    first = start.size if start is not None else 0
    proof = None
    entries: list[dict[str, Any]] = []
    if end is not None:
        proof = {"first": first, "second": end.size,
                 "hashes": [h.hex() for h in ledger.consistency(first, end.size)] if first else []}
        entries = [{"index": index, "leaf_hash": leaf_hashes[index].hex(),
                    "proof": [h.hex() for h in ledger.proof(index, end.size)]}
                   for index in sorted(leaf_hashes) if index < end.size]
    return {"start": checkpoint_json(start), "end": checkpoint_json(end), "consistency_proof": proof,
            "entries": entries,
            "note": "start: the newest checkpoint before the period; end: the first after it closed covering every "
                    "listed entry. Each entry's inclusion proof is under the end checkpoint (RFC 9162)."}


def signature_text(origin: str, kind: str, scope: str, sha256: str) -> str:
    return f"{origin}\nconveyor {kind} report {scope}\n{sha256}\n"


def sign_report(report: dict[str, Any], signer: Signer, origin: str) -> str:
    return signer.sign(signature_text(origin, report["kind"], report["scope"], report["sha256"]))
