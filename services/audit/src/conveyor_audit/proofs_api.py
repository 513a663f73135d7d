"""REST for verifiers: RFC 9162 inclusion and consistency proofs, and the latest signed checkpoint."""

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import PlainTextResponse

from .adapters.ledger_db import Ledger
from .note import Signer


def build_proof_router(ledger_of: Callable[[], Ledger], signer_of: Callable[[], Signer]) -> APIRouter:
    router = APIRouter(prefix="/ledger", tags=["proofs"])

    @router.get("/proof/inclusion")
    def inclusion(
        index: int = Query(ge=0, description="0-based leaf index"),
        tree_size: int = Query(ge=1, description="size of the tree to prove against, e.g. a checkpoint's"),
    ) -> dict[str, Any]:
        ledger = ledger_of()
        if tree_size > ledger.size:
            raise HTTPException(400, f"tree_size {tree_size} exceeds the ledger's {ledger.size} entries; "
                                     "use a size from a checkpoint")
        if index >= tree_size:
            raise HTTPException(400, f"index {index} is not in a tree of size {tree_size}: use 0..{tree_size - 1}")
        return {"leaf_index": index, "tree_size": tree_size,
                "hashes": [h.hex() for h in ledger.proof(index, tree_size)]}

    @router.get("/proof/consistency")
    def consistency(
        first: int = Query(ge=0, description="the older tree size"),
        second: int = Query(ge=0, description="the newer tree size, >= first"),
    ) -> dict[str, Any]:
        ledger = ledger_of()
        if first > second:
            raise HTTPException(400, f"first ({first}) must not exceed second ({second}): swap them")
        if second > ledger.size:
            raise HTTPException(400, f"second {second} exceeds the ledger's {ledger.size} entries")
        return {"first": first, "second": second, "hashes": [h.hex() for h in ledger.consistency(first, second)]}

    @router.get("/checkpoint")
    def checkpoint() -> dict[str, Any]:
        latest = ledger_of().checkpoints(limit=1)
        if not latest:
            raise HTTPException(404, "no checkpoint has been issued yet (a read-only ledger never signs one)")
        stored = latest[0]
        return {"size": stored.size, "root": stored.root.hex(), "note": stored.note, "issued_at": stored.issued_at}

    @router.get("/public-key", response_class=PlainTextResponse)
    def public_key() -> str:
        """Convenience only: a verifier should get this key out of band, not from the log it checks."""
        return signer_of().verifier.vkey() + "\n"

    return router
