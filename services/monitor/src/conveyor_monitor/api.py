"""REST routes: read what the monitor has evaluated, run an ad-hoc drift report, accept late labels."""

from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from .handlers import Monitor
from .history import EvaluationHistory
from .report import DriftReportRequest, ReportError, drift_report


class Label(BaseModel):
    request_id: str = Field(min_length=1, description="the inference request's id")
    row: int = Field(default=0, ge=0, description="the row's index within that request")
    label: str | float = Field(description="the true label (classification) or value (regression)")


class LabelBatch(BaseModel):
    labels: list[Label] = Field(min_length=1, max_length=100_000)


def _unknown(name: str) -> HTTPException:
    return HTTPException(
        status_code=404,
        detail=f"model {name!r} is unknown to the monitor: no ModelPromoted for it has been seen; "
        "check the name (path parameter 'name') or promote a version first",
    )


def create_router(history: EvaluationHistory, monitor: Callable[[], Monitor | None]) -> APIRouter:
    router = APIRouter(tags=["monitoring"])

    @router.get("/models/{name}/drift")
    async def model_drift(name: str) -> dict[str, Any]:
        """The model's champion version and its last evaluations, newest first."""
        report = history.report(name)
        if report is None:
            raise _unknown(name)
        running = monitor()
        report["open_window_rows"] = running.windows.pending(name) if running is not None else None
        return report

    @router.get("/models/{name}/series/{kind}")
    async def model_series(
        name: str, kind: Literal["drift", "fairness", "performance"], version: int | None = None
    ) -> dict[str, Any]:
        """A time series per window, oldest first, for one version (query 'version') or all."""
        points = history.series(name, kind, version)
        if points is None:
            raise _unknown(name)
        return {"model_name": name, "kind": kind, "version": version, "points": points}

    @router.post("/drift/report")
    async def adhoc_drift_report(request: DriftReportRequest) -> dict[str, Any]:
        """Drift between two samples, column by column, with Evidently's method choice unless one is named."""
        try:
            return drift_report(request)
        except ReportError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc

    @router.post("/labels")
    async def late_labels(batch: LabelBatch) -> dict[str, Any]:
        """Ground truth for logged predictions, by (request_id, row); scores full labelled windows."""
        running = monitor()
        if running is None:
            raise HTTPException(status_code=503, detail="the monitor is still starting; retry in a few seconds")
        return await running.on_labels([(lab.request_id, lab.row, lab.label) for lab in batch.labels])

    return router
