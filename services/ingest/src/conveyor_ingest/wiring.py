"""The composition root: settings in, the ingest app (with its event runtime) out."""

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import EventRuntime, create_service_app
from conveyor_kernel.database import make_engine
from conveyor_kernel.memory import InMemoryBus

from .adapters.catalog import Catalog
from .adapters.consent_db import ConsentStore
from .adapters.vault import SubjectVault
from .api import ERRORS, router
from .consent.book import ConsentBook
from .consent.erasure import Erasures
from .consent_api import router as consent_router
from .handlers import handlers
from .ingest import Ingestor
from .metrics import IngestMetrics
from .settings import IngestSettings
from .tabular import TableLimits

SERVICE = "ingest"
PUBLISHES = (ev.DatasetArrived, ev.DatasetRejected, ev.ConsentChanged, ev.DatasetErased, ev.ErasureCompleted)


def create_app(settings: IngestSettings, transport: InMemoryBus | None = None) -> FastAPI:
    """With `transport` (unit tests) events go to that in-memory bus; else to Kafka."""
    runtime = EventRuntime(settings, source=SERVICE, publishes=PUBLISHES, transport=transport)
    registry = CollectorRegistry()
    state = settings.state_dir(SERVICE)
    # The vault is a file of its own (held apart from the catalog and the consent records): see vault.py.
    book = ConsentBook(ConsentStore(state / "consent.db"), SubjectVault(settings.subjects_db or state / "subjects.db"),
                       runtime.publisher)
    artifacts = settings.artifacts()
    catalog = Catalog(make_engine(settings.database(SERVICE, "catalog.db"), schema=SERVICE))
    ingestor = Ingestor(
        store=artifacts,
        catalog=catalog,
        publisher=runtime.publisher,
        metrics=IngestMetrics.create(registry),
        max_upload_bytes=settings.max_upload_bytes,
        min_rows=settings.min_rows,
        consent=book,
        limits=TableLimits(settings.max_rows, settings.max_table_bytes),
    )
    table = handlers(ingestor)
    runtime.subscribe(table, group=SERVICE)  # conveyor.feedback
    app = create_service_app("Conveyor ingest", service=SERVICE, settings=settings,
                             components=[runtime], registry=registry, errors=ERRORS)
    app.state.ingestor = ingestor
    app.state.consent = book
    app.state.erasures = Erasures(book.store, book, catalog, artifacts, runtime.publisher)
    app.state.runtime, app.state.handlers = runtime, table
    app.include_router(router)
    app.include_router(consent_router)
    return app
