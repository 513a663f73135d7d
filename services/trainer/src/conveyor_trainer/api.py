"""REST: the record of training runs (read-only).

Errors are the domain's; ERRORS below is the one place that turns them into statuses.
"""

from typing import Any

from fastapi import APIRouter

from .deps import RunsDep
from .runs import RunNotFound

ERRORS: dict[type[Exception], int] = {RunNotFound: 404}
router = APIRouter(tags=["runs"])


@router.get("/runs")
async def list_runs(runs: RunsDep) -> list[dict[str, Any]]:
    """The most recent runs, newest first, with status (running | trained | failed) and metrics."""
    return runs.latest()


@router.get("/runs/{run_id}", responses={404: {}})
async def get_run(run_id: str, runs: RunsDep) -> dict[str, Any]:
    return runs.get(run_id)
