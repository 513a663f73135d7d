"""REST routes: read what the monitor has evaluated."""

from typing import Any

from fastapi import APIRouter, HTTPException

from .history import EvaluationHistory


def create_router(history: EvaluationHistory) -> APIRouter:
    router = APIRouter(tags=["drift"])

    @router.get("/models/{name}/drift")
    async def model_drift(name: str) -> dict[str, Any]:
        """The model's champion version and its last evaluations, newest first."""
        report = history.report(name)
        if report is None:
            raise HTTPException(
                status_code=404,
                detail=f"model {name!r} is unknown to the monitor: no ModelPromoted for it has been seen; "
                "check the name (path parameter 'name') or promote a version first",
            )
        return report

    return router
