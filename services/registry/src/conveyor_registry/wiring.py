"""The composition root: settings in, a runnable FastAPI app (with its event runtime) out."""

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import EventRuntime, create_service_app
from conveyor_kernel.lease import LeaderGate, WriterLease
from conveyor_kernel.memory import InMemoryBus

from .adapters.db import Database, make_engine
from .api import ERRORS, router
from .background import Background
from .champions import Registry
from .governance_api import router as governance_router
from .handlers import handlers
from .metrics import RegistryMetrics
from .policies import Policies
from .policy_doc import default_policy
from .settings import RegistrySettings

SERVICE = "registry"
PUBLISHES = (ev.ModelRegistered, ev.ModelPromoted, ev.PromotionDeclined, ev.TrafficSplitSet, ev.PolicyPublished,
             ev.PromotionRequested, ev.PromotionGatesEvaluated, ev.PromotionApprovalRecorded, ev.PromotionClosed,
             ev.AliasMoved, ev.RiskTierSet, ev.ModelVersionFlagged)


def create_app(settings: RegistrySettings, transport: InMemoryBus | None = None) -> FastAPI:
    """With `transport` (unit tests) events go to and come from that in-memory bus; else Kafka."""
    runtime = EventRuntime(settings, source=SERVICE, publishes=PUBLISHES, transport=transport)
    url = settings.database(SERVICE, "registry.db")
    database = Database(make_engine(url))
    metrics_registry = CollectorRegistry()
    registry = Registry(
        database.engine,
        publisher=runtime.publisher,
        metrics=RegistryMetrics.create(metrics_registry),
        policies=Policies(default_policy(settings.metric_tolerance, settings.max_fairness_gap)),
        broker=runtime.broker,
    )
    table = handlers(registry)
    runtime.subscribe(table, group=SERVICE)
    # the database first: it is migrated before the consumer starts and disposed after it stops; the policy in
    # force is published on first use. One instance at a time decides (promotions are ordered): a second one is
    # a standby until the writer lease is free, and runs no outbox relay or expiry meanwhile.
    writer = LeaderGate(WriterLease(url, SERVICE), [database, runtime, Background(registry)],
                        poll_seconds=settings.lease_poll_seconds)
    app = create_service_app("Conveyor registry", service=SERVICE, settings=settings,
                             components=[writer], registry=metrics_registry,
                             errors=ERRORS)
    app.state.registry = registry
    app.state.runtime = runtime
    app.state.handlers = table
    app.include_router(router)
    app.include_router(governance_router)
    return app
