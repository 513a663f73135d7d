"""The composition root: settings in, a runnable FastAPI app (with its event runtime) out."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from conveyor_kernel import EventRuntime, create_service_app, topics

from .adapters.db import make_engine, migrate
from .api import build_router
from .handlers import make_handlers
from .policy import Limits
from .service import Registry
from .settings import RegistrySettings

logger = logging.getLogger(__name__)


def create_app(settings: RegistrySettings) -> FastAPI:
    engine = make_engine(settings.resolved_database_url())
    registry = Registry(
        engine, Limits(metric_tolerance=settings.metric_tolerance, max_fairness_gap=settings.max_fairness_gap)
    )
    runtime = EventRuntime(
        settings, source="registry", group="registry", topics=[topics.MODELS], handlers=make_handlers(registry)
    )
    # The runtime owns the one Kafka producer; the registry publishes through it.
    registry.publisher = runtime.publisher

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        migrate(engine)  # before consuming: handlers need the tables
        await runtime.start()
        logger.info("registry ready on %s:%d", settings.host, settings.port)
        try:
            yield
        finally:
            await runtime.stop()
            engine.dispose()

    app = create_service_app("Conveyor registry", ready_problems=runtime.problems, lifespan=lifespan)
    app.include_router(build_router(registry))
    app.state.registry = registry
    app.state.runtime = runtime
    return app
