"""The monthly schedule: on the first day of each month, the report for the month before.

It checks every `report_check_seconds` rather than sleeping until the 1st, so a service that was down on
the 1st catches up when it starts, and a clock change cannot make it skip a month. Generating is idempotent
(the desk returns a stored report as it is), so checking often costs one lookup.
"""

import asyncio
import logging
from datetime import UTC, datetime

from conveyor_kernel import cancel_task

from .report_data import month_bounds
from .report_desk import ReportDesk

logger = logging.getLogger(__name__)


def previous_month(now: datetime) -> str:
    year, month = (now.year - 1, 12) if now.month == 1 else (now.year, now.month - 1)
    return f"{year:04d}-{month:02d}"


class MonthlySchedule:
    def __init__(self, desk: ReportDesk, check_seconds: float) -> None:
        self.desk = desk
        self.check_seconds = check_seconds
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="monthly reports")

    async def stop(self) -> None:
        await cancel_task(self._task)

    def problems(self) -> list[str]:
        return ["monthly report schedule stopped"] if self._task is not None and self._task.done() else []

    async def tick(self, now: datetime | None = None) -> bool:
        """Generate last month's report unless it exists, or the ledger began after that month (a platform has
        nothing to report for the time before it existed); True if this call generated it."""
        now = now or datetime.now(UTC)
        month = previous_month(now)
        first = self.desk.keeper.ledger.entry(0)
        if first is None or first.time >= month_bounds(month)[1]:
            return False
        report, generated = await self.desk.monthly(month, now=now)
        if generated:
            await self.desk.stored_pdf(report)  # drawn now, so the first reader does not wait for it
        return generated

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # a failed run must not end the schedule; the next check retries
                logger.exception("monthly report generation failed; retrying in %.0f s", self.check_seconds)
            await asyncio.sleep(self.check_seconds)
