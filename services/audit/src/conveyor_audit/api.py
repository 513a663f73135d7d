"""REST over the ledger: parse, call the ledger, answer with what it holds.

Errors are the ledger's and the reports' own; ERRORS below is the one place that turns them into
statuses, for every audit route (these, proofs_api and reports_api).
"""

import base64
from typing import Any

from fastapi import APIRouter, Path, Query

from conveyor_kernel import BIGINT_MAX, ConveyorError

from .adapters.rows import Entry
from .deps import KeeperDep, LedgerDep
from .facts_api import Unrecordable
from .leaf import event_as_dict
from .monthly import MonthNotEnded
from .queries import (
    EntryNotFound,
    NoCheckpoint,
    ProofOutOfRange,
    UnknownEventType,
    check_inclusion,
    entry_at,
    resolve_type,
)
from .report_data import MonthInvalid
from .report_desk import ReportNotGenerated
from .reports import NotFound

ERRORS: dict[type[Exception], int] = {
    UnknownEventType: 400, ProofOutOfRange: 400, MonthInvalid: 400,
    EntryNotFound: 404, NoCheckpoint: 404, NotFound: 404, ReportNotGenerated: 404, MonthNotEnded: 409,
    Unrecordable: 503,
}
MAX_PAGE = 1000
router = APIRouter(prefix="/ledger", tags=["ledger"])


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


@router.get("", responses={400: {}})
def list_entries(
    ledger: LedgerDep,
    subject: str | None = Query(None, description="only events about this subject"),
    type: str | None = Query(None, description="only this event type (full or short name)"),
    limit: int = Query(100, ge=1, le=MAX_PAGE, description=f"page size, 1..{MAX_PAGE}"),
    offset: int = Query(0, ge=0, le=BIGINT_MAX, description="entries to skip (>= 0)"),
) -> dict[str, Any]:
    total, entries = ledger.find(subject, resolve_type(type), limit, offset)
    return {"total": total, "limit": limit, "offset": offset, "entries": [entry_json(e) for e in entries]}


@router.get("/verify")
def verify(keeper: KeeperDep) -> dict[str, object]:
    return keeper.verify().as_dict()


@router.get("/root")
def root(ledger: LedgerDep) -> dict[str, object]:
    size, digest = ledger.size, ledger.root()
    return {"size": size, "root": digest.hex()}


@router.get("/entries/{index}", responses={404: {}})
def entry(ledger: LedgerDep,
          index: int = Path(ge=0, le=BIGINT_MAX, description="0-based leaf index")) -> dict[str, Any]:
    return entry_json(entry_at(ledger, index))


@router.get("/entries/{index}/proof", responses={400: {}})
def proof(
    ledger: LedgerDep,
    index: int = Path(ge=0, le=BIGINT_MAX, description="0-based leaf index"),
    size: int | None = Query(None, ge=1, le=BIGINT_MAX, description="tree size to prove against; default: current"),
) -> dict[str, Any]:
    tree_size = ledger.size if size is None else size
    check_inclusion(ledger, index, tree_size, size_name="size")
    found = ledger.entry(index)
    assert found is not None  # index < size of a dense ledger
    return {
        "index": index, "size": tree_size, "leaf_hash": found.leaf_hash.hex(),
        "audit_path": [h.hex() for h in ledger.proof(index, tree_size)],
        "root": ledger.root_at(tree_size).hex(),
    }
