"""The endpoints every service has: /healthz, /readyz, /metrics, plus OpenAPI at /docs."""

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

ReadyCheck = Callable[[], Sequence[str]]


def create_service_app(
    title: str,
    ready_problems: ReadyCheck,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
    registry: CollectorRegistry | None = None,
    version: str = "0.1.0",
) -> FastAPI:
    """`ready_problems` returns what is not ready yet (empty when ready)."""
    from prometheus_client import REGISTRY

    metrics_registry = registry or REGISTRY
    app = FastAPI(title=title, version=version, lifespan=lifespan)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    async def readyz() -> JSONResponse:
        problems = list(ready_problems())
        if problems:
            return JSONResponse({"ready": False, "waiting_for": problems}, status_code=503)
        return JSONResponse({"ready": True})

    @app.get("/metrics", tags=["ops"])
    async def metrics() -> Response:
        return Response(generate_latest(metrics_registry), media_type=CONTENT_TYPE_LATEST)

    return app
