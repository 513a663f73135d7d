"""The composition root: settings in, a ready FastAPI app out."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from conveyor_kernel import ArtifactStore, EventRuntime, Publisher, create_service_app, ensure_topics, topics

from .adapters.catalog import Catalog
from .api import router
from .ingest import Ingestor
from .metrics import IngestMetrics
from .settings import IngestSettings


def create_app(
    settings: IngestSettings, publisher: Publisher | None = None, registry: CollectorRegistry | None = None
) -> FastAPI:
    """With `publisher` (tests), events go there and no Kafka client is started; else to Kafka."""
    # Ingest only publishes: its runtime has no consumer group.
    runtime = EventRuntime(settings, source="ingest") if publisher is None else None
    registry = registry or CollectorRegistry()
    ingestor = Ingestor(
        store=ArtifactStore(settings.artifact_root),
        catalog=Catalog(settings.state_dir("ingest") / "catalog.db"),
        publisher=publisher if runtime is None else runtime.publisher,
        metrics=IngestMetrics.create(registry),
        max_upload_bytes=settings.max_upload_bytes,
        min_rows=settings.min_rows,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime is None:
            yield
            return
        # Create the topic up front: a broker with auto-creation off must not lose the first event.
        await ensure_topics(settings.kafka, [settings.kafka.topic_prefix + topics.DATASETS])
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = create_service_app(
        "Conveyor ingest",
        ready_problems=runtime.problems if runtime is not None else list,
        lifespan=lifespan,
        registry=registry,
    )
    app.state.ingestor = ingestor
    app.include_router(router)
    return app
