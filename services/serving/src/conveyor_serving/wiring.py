"""The composition root: settings → artifact store, repository, metrics, prediction log, runtime, app."""

import logging
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from conveyor_kernel import ArtifactStore, EventRuntime, HandlerTable, Publisher, create_service_app, topics

from .api import SERVER_VERSION, build_router
from .handlers import ServingPorts, build_handlers
from .metrics import ServingMetrics
from .prediction_log import PredictionLog
from .repository import ModelRepository
from .settings import ServingSettings

logger = logging.getLogger(__name__)


@dataclass
class Serving:
    """Everything one app holds; tests reach it through `app.state.serving`."""

    ports: ServingPorts
    handlers: HandlerTable
    log: PredictionLog
    runtime: EventRuntime | None
    started: bool = False

    def problems(self) -> list[str]:
        if not self.started:
            return ["startup"]
        return self.runtime.problems() if self.runtime is not None else []


def create_app(settings: ServingSettings, publisher: Publisher | None = None) -> FastAPI:
    """The serving app. With `publisher` (unit tests) no Kafka runtime is built and handlers are driven by hand."""
    suffix = uuid.uuid4().hex[:8]
    # Every process needs every promotion, so each one consumes in a group of its own.
    group = f"serving-{suffix}"
    metrics = ServingMetrics(CollectorRegistry())
    ports = ServingPorts(
        store=ArtifactStore(settings.artifact_root),
        repository=ModelRepository(),
        metrics=metrics,
        instance=settings.instance or f"{socket.gethostname()}-{suffix}",
    )
    handlers = build_handlers(ports)
    runtime = None
    if publisher is None:
        runtime = EventRuntime(settings, source="serving", group=group, topics=[topics.REGISTRY], handlers=handlers)
        publisher = runtime.publisher
    ports.publisher = publisher
    log = PredictionLog(publisher, metrics, settings.log_buffer_size, settings.log_batch_size,
                        settings.log_flush_interval)
    serving = Serving(ports, handlers, log, runtime)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if runtime is not None:
            await runtime.start()
        await log.start()
        serving.started = True
        logger.info("serving instance %s up (consumer group %s)", ports.instance, group)
        try:
            yield
        finally:
            serving.started = False
            await log.stop()  # flush while the publisher still runs
            if runtime is not None:
                await runtime.stop()

    app = create_service_app("conveyor-serving", serving.problems, lifespan, metrics.registry, SERVER_VERSION)
    app.include_router(
        build_router(settings, ports.repository, log, metrics, lambda: not serving.problems())
    )
    app.state.serving = serving
    return app
