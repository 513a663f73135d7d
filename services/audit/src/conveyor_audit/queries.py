"""What a reader may ask of the ledger, and why a question cannot be answered.

The errors below are the ledger's own; api.ERRORS is the one place that turns them into statuses. A
proof asked of a tree the ledger cannot answer for (beyond its entries, or an index outside the tree)
is one error, whichever route asked: the caller fixes the numbers it sent.
"""

from conveyor_kernel import topics

from .adapters.ledger_db import Ledger
from .adapters.rows import Entry, StoredCheckpoint

SHORT_TYPE_NAMES = {name.rsplit(".", 1)[-1]: name for name in topics.EVENT_TYPES}


class UnknownEventType(ValueError):
    """A type filter that names no lifecycle event."""


class EntryNotFound(LookupError):
    """No entry at that index."""


class ProofOutOfRange(ValueError):
    """A proof of a tree size or an index the ledger cannot prove."""


class NoCheckpoint(LookupError):
    """Nothing has been signed yet."""


def resolve_type(value: str | None) -> str | None:
    """Accept a full CloudEvents type or the bare message name (DatasetArrived)."""
    if value is None or value in topics.EVENT_TYPES:
        return value
    if value in SHORT_TYPE_NAMES:
        return SHORT_TYPE_NAMES[value]
    raise UnknownEventType(
        f"type {value!r} is not a lifecycle event type; use one of {sorted(SHORT_TYPE_NAMES)}"
        " or the full name, e.g. conveyor.events.v1.DatasetArrived"
    )


def entry_at(ledger: Ledger, index: int) -> Entry:
    found = ledger.entry(index)
    if found is None:
        raise EntryNotFound(f"no entry {index}: the ledger has {ledger.size} entries (0-based)")
    return found


def check_inclusion(ledger: Ledger, index: int, tree_size: int, size_name: str) -> None:
    """`size_name`: the query parameter that carried tree_size, so the message names what to fix."""
    if tree_size > ledger.size:
        raise ProofOutOfRange(f"{size_name} {tree_size} exceeds the ledger's {ledger.size} entries; "
                              "use a size from a checkpoint")
    if index >= tree_size:
        fix = f"use 0..{tree_size - 1}" if tree_size else "the tree is empty"
        raise ProofOutOfRange(f"index {index} is not in a tree of size {tree_size}: {fix}")


def check_consistency(ledger: Ledger, first: int, second: int) -> None:
    if first > second:
        raise ProofOutOfRange(f"first ({first}) must not exceed second ({second}): swap them")
    if second > ledger.size:
        raise ProofOutOfRange(f"second {second} exceeds the ledger's {ledger.size} entries")


def latest_checkpoint(ledger: Ledger) -> StoredCheckpoint:
    latest = ledger.checkpoints(limit=1)
    if not latest:
        raise NoCheckpoint("no checkpoint has been issued yet (a read-only ledger never signs one)")
    return latest[0]
