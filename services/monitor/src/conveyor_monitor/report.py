"""The ad-hoc drift report: two samples in, per-column verdicts out, independent of any deployment.

Validation names the field and the fix; `ReportError` becomes an HTTP 400 in the API.
"""

import math
from typing import Any

from pydantic import BaseModel, Field

from .drift import compare_column, drift_share
from .stattests import KINDS, METHODS, NUMERIC

DEFAULT_SHARE = 0.5


class ReportError(ValueError):
    pass


class DriftReportRequest(BaseModel):
    reference: dict[str, list[Any]] = Field(description="column -> reference values")
    current: dict[str, list[Any]] = Field(description="column -> current values")
    column_types: dict[str, str] = Field(description="column -> 'numeric' | 'categorical'")
    method: str | None = Field(default=None, description=f"one of {sorted(METHODS)}; omitted: Evidently's default")
    threshold: float | None = Field(default=None, description="per-column threshold; omitted: the method's")
    drift_share: float = Field(default=DEFAULT_SHARE, gt=0, le=1, description="dataset drifted at this share")


def _check(request: DriftReportRequest) -> None:
    if request.method is not None and request.method not in METHODS:
        raise ReportError(f"method {request.method!r} is unknown; use one of {sorted(METHODS)} or omit it")
    if request.threshold is not None and not math.isfinite(request.threshold):
        raise ReportError("threshold must be a finite number")
    columns = set(request.column_types)
    if not columns:
        raise ReportError("column_types is empty: name at least one column and its type")
    for side in ("reference", "current"):
        given = set(getattr(request, side))
        if given != columns:
            raise ReportError(
                f"{side} has columns {sorted(given)} but column_types has {sorted(columns)}: "
                "give the same columns in reference, current and column_types"
            )
    for side in ("reference", "current"):
        lengths = {len(v) for v in getattr(request, side).values()}
        if len(lengths) > 1:
            raise ReportError(
                f"{side} columns have unequal lengths {sorted(lengths)}: every column needs one value a row"
            )
        if lengths == {0}:
            raise ReportError(f"{side} is empty: give at least one row")
    for column, kind in request.column_types.items():
        if kind not in KINDS:
            raise ReportError(f"column_types[{column!r}] is {kind!r}; use 'numeric' or 'categorical'")
        if request.method is not None and kind not in METHODS[request.method].kinds:
            raise ReportError(f"method {request.method!r} does not apply to {kind} column {column!r}")
        if kind == NUMERIC:
            for side in ("reference", "current"):
                if not all(_finite(v) for v in getattr(request, side)[column]):
                    raise ReportError(f"{side}[{column!r}] holds a non-numeric or non-finite value (NaN, inf, text)")


def drift_report(request: DriftReportRequest) -> dict[str, Any]:
    _check(request)
    results = [
        compare_column(column, kind, request.reference[column], request.current[column], request.method,
                       request.threshold)
        for column, kind in request.column_types.items()
    ]
    share = drift_share(results)
    return {
        "columns": {
            r.feature: {"method": r.method, "score": r.score, "threshold": r.threshold, "drifted": r.drifted}
            for r in results
        },
        "drift_share": share,
        "share_threshold": request.drift_share,
        "dataset_drifted": share >= request.drift_share,
        "reference_rows": len(next(iter(request.reference.values()))),
        "current_rows": len(next(iter(request.current.values()))),
    }


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
