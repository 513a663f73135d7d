"""A produced report becomes a ledger entry: its hash is published as ReportPublished on the reports
topic, which the ledger consumes. The event id derives from the hash, so asking twice records it once.
"""

import uuid
from typing import Any

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import Publisher


class ReportEntries:
    def __init__(self, publisher: Publisher | None) -> None:
        self.publisher = publisher  # None when nothing may be published (read-only)

    async def record(self, kind: str, scope: str, report: dict[str, Any], tree_size: int) -> None:
        """Publish the report's hash and say so in the report (`ledger_entry`, outside the hashed body)."""
        if self.publisher is None:
            report["ledger_entry"] = "not recorded: the service runs read-only"
            return
        event = ev.ReportPublished(kind=kind, scope=scope, sha256=report["sha256"], tree_size=tree_size)
        event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"conveyor-report/{report['sha256']}"))
        await self.publisher.publish(event, scope, event_id=event_id)
        report["ledger_entry"] = "ReportPublished sent; the ledger records the sha256 above"
