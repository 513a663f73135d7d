"""The composition root: settings in, the audit app (ledger, event runtime, ledger feed) out.

Start-up order, which the components list below follows: the signing key, the ledger verified, its
checkpointer; topics and the publisher (the runtime); the latest checkpoint re-sent, a forced
checkpoint, the process settled for the append path, the ledger's reader, the checkpoint timer.
"""

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import Component, EventRuntime, create_service_app, topics
from conveyor_kernel.lease import LeaderGate, WriterLease
from conveyor_kernel.memory import InMemoryBus

from . import api, proofs_api, reports_api
from .feed import LedgerFeed
from .keeper import LedgerKeeper
from .metrics import AuditMetrics
from .report_entries import ReportEntries
from .settings import AuditSettings

SERVICE = "audit"
PUBLISHES = (ev.CheckpointIssued, ev.ReportPublished)


def create_app(settings: AuditSettings, transport: InMemoryBus | None = None) -> FastAPI:
    """With `transport` (unit tests) checkpoints and report hashes go to that in-memory bus, and nothing
    feeds the ledger (its reader is Kafka only); else to Kafka. Read-only: no runtime, no feed."""
    # the ledger reads every lifecycle topic with its own reader (the feed): declared, so its grants include them
    runtime = EventRuntime(settings, source=SERVICE, publishes=PUBLISHES, transport=transport, reads=topics.LIFECYCLE)
    publisher = None if settings.read_only else runtime.publisher
    registry = CollectorRegistry()
    metrics = AuditMetrics.create(registry)
    keeper = LedgerKeeper(settings, metrics, publisher)
    components: list[Component] = [keeper]
    if not settings.read_only:
        components += [runtime, LedgerFeed(settings, keeper, runtime.dead_letters, metrics,
                                           read_kafka=transport is None)]
        # The ledger has one tip: one instance appends; a second one waits as a standby (see the package doc).
        lease = WriterLease(settings.database(SERVICE, "ledger.db"), "audit-ledger")
        components = [LeaderGate(lease, components, poll_seconds=settings.lease_poll_seconds)]
    app = create_service_app("Conveyor audit", service=SERVICE, settings=settings,
                             components=components, registry=registry, errors=api.ERRORS)
    app.state.runtime = runtime
    app.state.handlers = {}  # no handler table: see the package docstring
    app.state.keeper = keeper
    app.state.report_entries = ReportEntries(publisher)
    for module in (api, proofs_api, reports_api):
        app.include_router(module.router)
    return app
