"""REST: the record of training runs (read-only)."""

from typing import Any

from fastapi import APIRouter, HTTPException

from .adapters.state import TrainerState


def runs_router(state: TrainerState, recent: int) -> APIRouter:
    router = APIRouter(tags=["runs"])

    @router.get("/runs")
    async def list_runs() -> list[dict[str, Any]]:
        """The most recent runs, newest first, with status (running | trained | failed) and metrics."""
        return state.recent_runs(recent)

    @router.get("/runs/{run_id}")
    async def get_run(run_id: str) -> dict[str, Any]:
        run = state.run(run_id)
        if run is None:
            raise HTTPException(404, f"no run with run_id {run_id!r}; GET /runs lists the known runs")
        return run

    return router
