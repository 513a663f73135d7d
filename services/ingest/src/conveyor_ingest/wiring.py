"""The composition root: settings in, the ingest app (with its event runtime) out."""

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import EventRuntime, create_service_app
from conveyor_kernel.database import make_engine
from conveyor_kernel.memory import InMemoryBus

from .adapters.catalog import Catalog
from .api import ERRORS, router
from .handlers import handlers
from .ingest import Ingestor
from .metrics import IngestMetrics
from .settings import IngestSettings

SERVICE = "ingest"
PUBLISHES = (ev.DatasetArrived, ev.DatasetRejected)


def create_app(settings: IngestSettings, transport: InMemoryBus | None = None) -> FastAPI:
    """With `transport` (unit tests) events go to that in-memory bus; else to Kafka."""
    runtime = EventRuntime(settings, source=SERVICE, publishes=PUBLISHES, transport=transport)
    registry = CollectorRegistry()
    ingestor = Ingestor(
        store=settings.artifacts(),
        catalog=Catalog(make_engine(settings.database(SERVICE, "catalog.db"), schema=SERVICE)),
        publisher=runtime.publisher,
        metrics=IngestMetrics.create(registry),
        max_upload_bytes=settings.max_upload_bytes,
        min_rows=settings.min_rows,
    )
    table = handlers(ingestor)
    runtime.subscribe(table, group=SERVICE)  # conveyor.feedback
    app = create_service_app("Conveyor ingest", service=SERVICE, settings=settings,
                             components=[runtime], registry=registry, errors=ERRORS)
    app.state.ingestor = ingestor
    app.state.runtime, app.state.handlers = runtime, table
    app.include_router(router)
    return app
