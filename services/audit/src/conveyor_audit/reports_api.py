"""REST for reports: GET /reports/monthly/{YYYY-MM} and /reports/model-card/{model}/{version}, JSON or HTML.

Producing a report appends its hash to the ledger (ReportPublished on the reports topic, which the
ledger consumes); the event id derives from the hash, so asking twice records it once.
"""

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import HTMLResponse, JSONResponse

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import Envelope, Record, topic_for, type_name

from .adapters.ledger_db import Ledger
from .report_html import card_html, monthly_html
from .reports import NotFound, model_card, monthly_report

Send = Callable[[Record], Awaitable[None]]


def report_record(kind: str, scope: str, report: dict[str, Any], tree_size: int, prefix: str) -> Record:
    event = ev.ReportPublished(kind=kind, scope=scope, sha256=report["sha256"], tree_size=tree_size)
    envelope = Envelope(type=type_name(ev.ReportPublished), source="audit", subject=scope,
                        id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"conveyor-report/{report['sha256']}")))
    return Record(topic_for(ev.ReportPublished, prefix), scope.encode(), event.SerializeToString(),
                  envelope.to_headers())


def build_report_router(ledger_of: Callable[[], Ledger], send_of: Callable[[], Send | None],
                        prefix: str) -> APIRouter:
    router = APIRouter(prefix="/reports", tags=["reports"])

    async def publish(kind: str, scope: str, report: dict[str, Any]) -> None:
        send = send_of()
        if send is None:
            report["ledger_entry"] = "not recorded: the service runs read-only"
            return
        await send(report_record(kind, scope, report, ledger_of().size, prefix))
        report["ledger_entry"] = "ReportPublished sent; the ledger records the sha256 above"

    def respond(report: dict[str, Any], format: str, html: Callable[[dict[str, Any]], str]):
        return HTMLResponse(html(report)) if format == "html" else JSONResponse(report)

    @router.get("/monthly/{month}")
    async def monthly(
        month: str = Path(description="YYYY-MM"),
        format: Literal["json", "html"] = Query("json", description="json or html"),
    ):
        try:
            report = monthly_report(ledger_of(), month)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from exc
        await publish("monthly", month, report)
        return respond(report, format, monthly_html)

    @router.get("/model-card/{model}/{version}")
    async def card(
        model: str, version: int = Path(ge=1, description="registered version, >= 1"),
        format: Literal["json", "html"] = Query("json", description="json or html"),
    ):
        try:
            report = model_card(ledger_of(), model, version)
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from exc
        await publish("model_card", f"{model}@{version}", report)
        return respond(report, format, card_html)

    return router
