"""Producing reports: on demand (POST) and by the monthly schedule, idempotently.

A final monthly report is generated once: the desk signs a fresh checkpoint first (so the report's end
checkpoint covers the whole month), draws the report, stores it, then records its hash in the ledger
(ReportPublished). Asking again returns the stored one. A draft (a month not yet over, or a look before the
1st) is drawn each time and neither stored nor ledgered.
"""

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .adapters.report_store import ReportStore
from .keeper import LedgerKeeper
from .monthly import monthly_report
from .report_entries import ReportEntries
from .report_html import monthly_html
from .report_pdf import pdf_of
from .settings import AuditSettings

logger = logging.getLogger(__name__)


class ReportNotGenerated(LookupError):
    """GET of a final report nobody has generated yet."""


@dataclass
class ReportDesk:
    keeper: LedgerKeeper
    store: ReportStore
    entries: ReportEntries
    settings: AuditSettings
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    async def monthly(self, month: str, draft: bool = False,
                      now: datetime | None = None) -> tuple[dict[str, Any], bool]:
        """(report, newly generated)."""
        async with self._lock:
            if not draft:
                stored = await asyncio.to_thread(self.store.get, "monthly", month)
                if stored is not None:
                    return stored, False
                if not self.settings.read_only:
                    await self.keeper.checkpointer.issue(force=True)
            report = await asyncio.to_thread(
                monthly_report, self.keeper.ledger, month, self.keeper.signer, self.settings.origin, draft=draft,
                now=now or datetime.now(UTC), fairness_threshold=self.settings.report_fairness_threshold)
            if draft:
                report["ledger_entry"] = "not recorded: a draft"
                return report, True
            await self.entries.record("monthly", month, report, self.keeper.ledger.size)
            await asyncio.to_thread(self.store.put, "monthly", month, report)
            logger.info("monthly report %s generated: sha256 %s", month, report["sha256"])
            return report, True

    async def stored_pdf(self, report: dict[str, Any]) -> bytes:
        """The PDF of a stored report, drawn on the first request and kept (the report never changes)."""
        cached = await asyncio.to_thread(self.store.rendering, report["sha256"], "pdf")
        if cached is not None:
            return cached
        pdf = await pdf_of(monthly_html(report))
        await asyncio.to_thread(self.store.put_rendering, report["sha256"], "pdf", pdf)
        return pdf

    async def stored_monthly(self, month: str) -> dict[str, Any]:
        from .report_data import month_bounds

        month_bounds(month)  # a malformed month is named as such, not as "not generated"
        stored = await asyncio.to_thread(self.store.get, "monthly", month)
        if stored is None:
            raise ReportNotGenerated(f"month: no final report for {month} yet; POST /reports/monthly "
                                     f'{{"month": "{month}"}} generates it (the schedule does on the 1st)')
        return stored
