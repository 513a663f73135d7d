"""REST for verifiers: RFC 9162 inclusion and consistency proofs, and the latest signed checkpoint."""

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from conveyor_kernel import BIGINT_MAX

from .deps import LedgerDep, SignerDep
from .queries import check_consistency, check_inclusion, latest_checkpoint

router = APIRouter(prefix="/ledger", tags=["proofs"])


@router.get("/proof/inclusion", responses={400: {}})
def inclusion(
    ledger: LedgerDep,
    index: int = Query(ge=0, le=BIGINT_MAX, description="0-based leaf index"),
    tree_size: int = Query(ge=1, le=BIGINT_MAX, description="size of the tree to prove against, e.g. a checkpoint's"),
) -> dict[str, Any]:
    check_inclusion(ledger, index, tree_size, size_name="tree_size")
    return {"leaf_index": index, "tree_size": tree_size, "hashes": [h.hex() for h in ledger.proof(index, tree_size)]}


@router.get("/proof/consistency", responses={400: {}})
def consistency(
    ledger: LedgerDep,
    first: int = Query(ge=0, le=BIGINT_MAX, description="the older tree size"),
    second: int = Query(ge=0, le=BIGINT_MAX, description="the newer tree size, >= first"),
) -> dict[str, Any]:
    check_consistency(ledger, first, second)
    return {"first": first, "second": second, "hashes": [h.hex() for h in ledger.consistency(first, second)]}


@router.get("/checkpoint", responses={404: {}})
def checkpoint(ledger: LedgerDep) -> dict[str, Any]:
    stored = latest_checkpoint(ledger)
    return {"size": stored.size, "root": stored.root.hex(), "note": stored.note, "issued_at": stored.issued_at}


@router.get("/public-key", response_class=PlainTextResponse)
def public_key(signer: SignerDep) -> str:
    """Convenience only: a verifier should get this key out of band, not from the log it checks."""
    return signer.verifier.vkey() + "\n"
