"""REST routes: read what the monitor has evaluated, run an ad-hoc drift report, accept late labels.

Errors are the domain's; ERRORS below is the one place that turns them into statuses.
"""

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from conveyor_kernel import BIGINT_MAX

from .deps import MonitorDep
from .handlers import MonitorStarting
from .history import ModelUnknown
from .report import DriftReportRequest, ReportError, drift_report

ERRORS: dict[type[Exception], int] = {ModelUnknown: 404, ReportError: 400, MonitorStarting: 503}
router = APIRouter(tags=["monitoring"])


class Label(BaseModel):
    request_id: str = Field(min_length=1, description="the inference request's id")
    row: int = Field(default=0, ge=0, le=BIGINT_MAX, description="the row's index within that request")
    label: str | float = Field(description="the true label (classification) or value (regression)")


class LabelBatch(BaseModel):
    labels: list[Label] = Field(min_length=1, max_length=100_000)


@router.get("/models/{name}/drift", responses={404: {}})
async def model_drift(name: str, monitor: MonitorDep) -> dict[str, Any]:
    """The model's champion version and its last evaluations, newest first."""
    report = monitor.history.report(name)
    if report is None:
        raise ModelUnknown(name)
    report["open_window_rows"] = monitor.windows.pending(name) if monitor.running else None
    return report


@router.get("/models/{name}/series/{kind}", responses={404: {}})
async def model_series(
    name: str, kind: Literal["drift", "fairness", "performance"], monitor: MonitorDep, version: int | None = None
) -> dict[str, Any]:
    """A time series per window, oldest first, for one version (query 'version') or all."""
    points = monitor.history.series(name, kind, version)
    if points is None:
        raise ModelUnknown(name)
    return {"model_name": name, "kind": kind, "version": version, "points": points}


@router.post("/drift/report", responses={400: {}})
async def adhoc_drift_report(request: DriftReportRequest) -> dict[str, Any]:
    """Drift between two samples, column by column, with Evidently's method choice unless one is named."""
    return drift_report(request)


@router.post("/labels", responses={503: {}})
async def late_labels(batch: LabelBatch, monitor: MonitorDep) -> dict[str, Any]:
    """Ground truth for logged predictions, by (request_id, row); scores full labelled windows."""
    if not monitor.running:  # checked here, not in a dependency: a malformed batch is a 422 even then
        raise MonitorStarting()
    return await monitor.on_labels([(lab.request_id, lab.row, lab.label) for lab in batch.labels])
