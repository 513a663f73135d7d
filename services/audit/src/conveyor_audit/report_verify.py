"""Check a report's JSON offline, trusting nothing but the ledger's public key.

In order: the report's hash (recomputed from its canonical JSON), its signature (a signed note by the key,
naming that hash), the start and end checkpoints (signed notes by the key, their size and root as the JSON
states them), the consistency proof from start to end (RFC 9162), and, for every entry the report lists,
its inclusion proof under the end checkpoint; finally, that every ledger index a row cites is one of those
proven entries. Each failure is a sentence; an empty list means the report verifies.
"""

from typing import Any

from .consistency import verify_consistency
from .merkle import verify_inclusion
from .note import Checkpoint, NoteError, Verifier, open_note, verify_checkpoint
from .report_evidence import signature_text


def _checkpoint(which: str, stated: dict[str, Any] | None, verifier: Verifier,
                problems: list[str]) -> Checkpoint | None:
    if stated is None:
        return None
    try:
        checkpoint = verify_checkpoint(stated["note"], verifier, origin=verifier.name)
    except (NoteError, KeyError) as exc:
        problems.append(f"{which} checkpoint: {exc}")
        return None
    if checkpoint.size != stated.get("size") or checkpoint.root.hex() != stated.get("root"):
        problems.append(f"{which} checkpoint: the size or root the report states differs from the signed note")
    return checkpoint


def verify_report(report: dict[str, Any], verifier: Verifier) -> tuple[list[str], dict[str, int]]:
    """(problems, what was checked)."""
    from .monthly import _referenced
    from .reports import canonical_hash

    problems: list[str] = []
    if canonical_hash(report) != report.get("sha256"):
        problems.append("hash: the report's canonical JSON does not hash to its sha256: the report was altered")
    try:
        text = open_note(report.get("signature", ""), verifier)
        expected = signature_text(verifier.name, report.get("kind", ""), report.get("scope", ""),
                                  report.get("sha256", ""))
        if text != expected:
            problems.append("signature: the signed note names another report or hash")
    except NoteError as exc:
        problems.append(f"signature: {exc}")
    evidence = report.get("evidence") or {}
    start = _checkpoint("start", evidence.get("start"), verifier, problems)
    end = _checkpoint("end", evidence.get("end"), verifier, problems)
    proof = evidence.get("consistency_proof")
    entries = evidence.get("entries", [])
    if end is not None:
        first = start.size if start is not None else 0
        if proof is None or (proof.get("first"), proof.get("second")) != (first, end.size):
            problems.append(f"consistency: the proof does not span sizes {first} -> {end.size}")
        elif start is not None and not verify_consistency(first, end.size, start.root, end.root,
                                                          [bytes.fromhex(h) for h in proof.get("hashes", [])]):
            problems.append(f"consistency: the tree of size {end.size} does not extend the one of size {first}")
        for entry in entries:
            if not verify_inclusion(entry["index"], end.size, bytes.fromhex(entry["leaf_hash"]),
                                    [bytes.fromhex(h) for h in entry["proof"]], end.root):
                problems.append(f"inclusion: entry {entry['index']} is not in the signed tree of size {end.size}")
    cited = _referenced({k: v for k, v in report.items() if k != "evidence"})
    unproven = sorted(cited - {e["index"] for e in entries})
    if unproven:
        problems.append(f"coverage: ledger entries {unproven[:10]} are cited but not proven")
    checked = {"entries": len(entries), "cited": len(cited), "checkpoints": (start is not None) + (end is not None)}
    return problems, checked
