"""The composition root: settings → artifact store, repository, metrics, prediction log, runtime, app."""

import asyncio
import logging
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from conveyor_kernel import (
    ArtifactStore,
    EventRuntime,
    HandlerTable,
    Publisher,
    cancel_task,
    create_service_app,
    settle_heap,
    topics,
)

from .adapters.model_folder import ModelFolder
from .adapters.shared_decisions import SharedDecisions
from .api import SERVER_VERSION, Inferencer, build_router, build_v1_router, fast_routes
from .api_repository import build_repository_router, follow_decisions, load_folder_model
from .gate import Gate
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


class _NoKafka:
    """The publisher of standalone serving: nothing is published (prediction logging is off too)."""

    async def publish(self, event, subject):  # type: ignore[no-untyped-def]
        raise RuntimeError("standalone serving has no Kafka")


def create_app(settings: ServingSettings, publisher: Publisher | None = None) -> FastAPI:
    """The serving app. With `publisher` (unit tests) no Kafka runtime is built and handlers are driven by hand.

    With `kafka_enabled=False` it serves only the model-repository folder and logs no predictions.
    """
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
    logging_on = True
    if publisher is None and settings.kafka_enabled:
        runtime = EventRuntime(settings, source="serving", group=group, topics=[topics.REGISTRY], handlers=handlers)
        publisher = runtime.publisher
    elif publisher is None:
        publisher, logging_on = _NoKafka(), False
    ports.publisher = publisher
    log = PredictionLog(publisher, metrics, settings.log_buffer_size, settings.log_batch_size,
                        settings.log_flush_interval, enabled=logging_on)
    serving = Serving(ports, handlers, log, runtime)
    folder = ModelFolder(settings.model_repository) if settings.model_repository else None
    shared = settings.repository_decisions_file
    decisions = SharedDecisions(shared) if shared is not None and folder is not None else None
    inferencer = Inferencer(settings, ports.repository, log, metrics, Gate(settings.api_keys, settings.max_body_bytes))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if folder is not None:
            for name in sorted({entry.name for entry in folder.entries()}):
                load_folder_model(folder, inferencer, metrics, name)  # a bad model stops startup, loudly
        if runtime is not None:
            await runtime.start()
        await log.start()
        following = None
        if decisions is not None and folder is not None:
            following = asyncio.create_task(follow_decisions(decisions, folder, inferencer, metrics),
                                            name="repository-decisions")
        settle_heap()
        serving.started = True
        logger.info("serving instance %s up (consumer group %s)", ports.instance, group if runtime else "-")
        try:
            yield
        finally:
            serving.started = False
            await cancel_task(following)
            await log.stop()  # flush while the publisher still runs
            if runtime is not None:
                await runtime.stop()

    app = create_service_app("conveyor-serving", serving.problems, lifespan, metrics.registry, SERVER_VERSION)
    app.include_router(build_router(inferencer, lambda: not serving.problems()))
    app.include_router(build_v1_router(inferencer))
    app.include_router(build_repository_router(inferencer, folder, metrics, decisions))
    app.router.routes[:0] = fast_routes(inferencer)
    # FastAPI's native HTTP tracing costs ~25% of peak throughput here even when sampling drops the span;
    # infer requests are traced by the Inferencer instead (sampled before any OpenTelemetry call).
    app._telemetry["tracing"] = False  # noqa: SLF001 - FastAPI(telemetry=...) is built by the kernel
    app.state.serving = serving
    return app
