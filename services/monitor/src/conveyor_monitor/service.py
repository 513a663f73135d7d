"""The FastAPI app: ops endpoints, drift routes, and the runtime in its lifespan."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from conveyor_kernel import create_service_app

from .api import create_router
from .settings import MonitorSettings
from .wiring import MonitorRuntime


def create_app(settings: MonitorSettings, runtime: MonitorRuntime | None = None) -> FastAPI:
    runtime = runtime or MonitorRuntime(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = create_service_app(
        "Conveyor monitor", runtime.problems, lifespan=lifespan, registry=runtime.metrics.registry
    )
    app.include_router(create_router(runtime.history, lambda: runtime.monitor))
    app.state.runtime = runtime
    return app
