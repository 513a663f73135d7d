"""The composition root: settings in, a runnable FastAPI app (with its event runtime) out."""

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import EventRuntime, create_service_app
from conveyor_kernel.lease import LeaderGate, WriterLease
from conveyor_kernel.memory import InMemoryBus

from .adapters.db import Database, make_engine
from .api import ERRORS, router
from .champions import Registry
from .handlers import handlers
from .metrics import RegistryMetrics
from .policy import Limits
from .settings import RegistrySettings

SERVICE = "registry"
PUBLISHES = (ev.ModelRegistered, ev.ModelPromoted, ev.PromotionDeclined, ev.TrafficSplitSet)


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
        limits=Limits(metric_tolerance=settings.metric_tolerance, max_fairness_gap=settings.max_fairness_gap),
    )
    table = handlers(registry)
    runtime.subscribe(table, group=SERVICE)
    # the database first: it is migrated before the consumer starts and disposed after it stops. One instance
    # at a time decides (promotions are ordered): a second one is a standby until the writer lease is free.
    writer = LeaderGate(WriterLease(url, SERVICE), [database, runtime], poll_seconds=settings.lease_poll_seconds)
    app = create_service_app("Conveyor registry", service=SERVICE, settings=settings,
                             components=[writer], registry=metrics_registry,
                             errors=ERRORS)
    app.state.registry = registry
    app.state.runtime = runtime
    app.state.handlers = table
    app.include_router(router)
    return app
