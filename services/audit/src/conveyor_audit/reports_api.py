"""REST for reports: GET /reports/monthly/{YYYY-MM} and /reports/model-card/{model}/{version}, JSON or HTML.

Producing a report appends its hash to the ledger (see report_entries).
"""

from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, JSONResponse

from conveyor_kernel import BIGINT_MAX

from .deps import LedgerDep, ReportEntriesDep
from .report_html import card_html, monthly_html
from .reports import model_card, monthly_report

router = APIRouter(prefix="/reports", tags=["reports"])


def respond(report: dict[str, Any], format: str, html: Callable[[dict[str, Any]], str]) -> HTMLResponse | JSONResponse:
    return HTMLResponse(html(report)) if format == "html" else JSONResponse(report)


@router.get("/monthly/{month}", response_model=None, responses={400: {}})
async def monthly(
    ledger: LedgerDep,
    entries: ReportEntriesDep,
    month: str = Path(description="YYYY-MM"),
    format: Literal["json", "html"] = Query("json", description="json or html"),
) -> HTMLResponse | JSONResponse:
    report = monthly_report(ledger, month)
    await entries.record("monthly", month, report, ledger.size)
    return respond(report, format, monthly_html)


@router.get("/model-card/{model}/{version}", response_model=None, responses={404: {}})
async def card(
    ledger: LedgerDep,
    entries: ReportEntriesDep,
    model: str,
    version: int = Path(ge=1, le=BIGINT_MAX, description="registered version, >= 1"),
    format: Literal["json", "html"] = Query("json", description="json or html"),
) -> HTMLResponse | JSONResponse:
    report = model_card(ledger, model, version)
    await entries.record("model_card", f"{model}@{version}", report, ledger.size)
    return respond(report, format, card_html)
