"""REST over the ledger: parse, call the ledger, map errors to HTTP codes."""

import base64
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Path, Query

from conveyor_kernel import EVENT_TYPES, ConveyorError

from .adapters.ledger_db import Ledger
from .adapters.rows import Entry
from .leaf import event_as_dict
from .note import Verifier
from .verify import verify_snapshot

MAX_PAGE = 1000
SHORT_TYPE_NAMES = {name.rsplit(".", 1)[-1]: name for name in EVENT_TYPES}


def resolve_type(value: str | None) -> str | None:
    """Accept a full CloudEvents type or the bare message name (DatasetArrived)."""
    if value is None or value in EVENT_TYPES:
        return value
    if value in SHORT_TYPE_NAMES:
        return SHORT_TYPE_NAMES[value]
    raise HTTPException(
        400, f"type {value!r} is not a lifecycle event type; use one of {sorted(SHORT_TYPE_NAMES)}"
        " or the full name, e.g. conveyor.events.v1.DatasetArrived",
    )


def entry_json(entry: Entry) -> dict[str, Any]:
    body: dict[str, Any] = {
        "index": entry.idx, "event_id": entry.event_id, "type": entry.type, "source": entry.source,
        "subject": entry.subject, "time": entry.time, "topic": entry.topic, "partition": entry.partition,
        "offset": entry.offset, "leaf_hash": entry.leaf_hash.hex(), "chain_hash": entry.chain_hash.hex(),
        "recorded_at": entry.recorded_at, "leaf_bytes": base64.b64encode(entry.leaf_bytes).decode("ascii"),
    }
    try:
        body["event"] = event_as_dict(entry.leaf_bytes)
    except (ValueError, KeyError, ConveyorError) as exc:  # a damaged leaf is shown, not hidden
        body["event"] = None
        body["event_error"] = f"cannot decode the leaf: {exc}"
    return body


def build_router(ledger_of: Callable[[], Ledger], verifier_of: Callable[[], Verifier | None] = lambda: None
                 ) -> APIRouter:
    router = APIRouter(prefix="/ledger", tags=["ledger"])

    @router.get("")
    def list_entries(
        subject: str | None = Query(None, description="only events about this subject"),
        type: str | None = Query(None, description="only this event type (full or short name)"),
        limit: int = Query(100, ge=1, le=MAX_PAGE, description=f"page size, 1..{MAX_PAGE}"),
        offset: int = Query(0, ge=0, description="entries to skip (>= 0)"),
    ) -> dict[str, Any]:
        total, entries = ledger_of().find(subject, resolve_type(type), limit, offset)
        return {"total": total, "limit": limit, "offset": offset, "entries": [entry_json(e) for e in entries]}

    @router.get("/verify")
    def verify() -> dict[str, object]:
        return verify_snapshot(ledger_of().snapshot(), verifier_of()).as_dict()

    @router.get("/root")
    def root() -> dict[str, object]:
        ledger = ledger_of()
        size, digest = ledger.size, ledger.root()
        return {"size": size, "root": digest.hex()}

    @router.get("/entries/{index}")
    def entry(index: int = Path(ge=0, description="0-based leaf index")) -> dict[str, Any]:
        found = ledger_of().entry(index)
        if found is None:
            raise HTTPException(404, f"no entry {index}: the ledger has {ledger_of().size} entries (0-based)")
        return entry_json(found)

    @router.get("/entries/{index}/proof")
    def proof(
        index: int = Path(ge=0, description="0-based leaf index"),
        size: int | None = Query(None, ge=1, description="tree size to prove against; default: current"),
    ) -> dict[str, Any]:
        ledger = ledger_of()
        tree_size = ledger.size if size is None else size
        if tree_size > ledger.size:
            raise HTTPException(400, f"size {tree_size} exceeds the ledger's {ledger.size} entries")
        if index >= tree_size:
            raise HTTPException(404, f"no entry {index} in a tree of size {tree_size}")
        found = ledger.entry(index)
        assert found is not None  # index < size of a dense ledger
        return {
            "index": index, "size": tree_size, "leaf_hash": found.leaf_hash.hex(),
            "audit_path": [h.hex() for h in ledger.proof(index, tree_size)],
            "root": ledger.root_at(tree_size).hex(),
        }

    return router
