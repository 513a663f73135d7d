"""The HTTP shell every service shares: /healthz, /readyz, /metrics, OpenAPI at /docs, a lifespan that
starts and stops the service's components in order, and one mapping from domain errors to responses.

A route raises the domain's own exceptions; the service's mapping (`errors=`) turns each class into its
status, with `{"detail": "<the exception's message>"}` as the body (or the exception's `problem()`
dict, when it has one), so no route or domain module picks a status code.
"""

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any, Protocol

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    generate_latest,
)

from ._ops_metrics import ConsumerLagCollector, HttpInstruments, HttpMetrics
from ._security import install_access
from ._settings import ServiceSettings
from ._telemetry import is_ops_request

RETRY_AFTER_SECONDS = "5"


class Component(Protocol):
    """A part of a service with a life of its own: the event runtime, a database, a background task."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def problems(self) -> list[str]: ...


ErrorBody = Callable[[Exception], dict[str, Any]]


def detail_body(exc: Exception) -> dict[str, Any]:
    problem = getattr(exc, "problem", None)
    return problem() if callable(problem) else {"detail": str(exc)}


def create_service_app(
    title: str,
    *,
    service: str,
    settings: ServiceSettings,
    components: Sequence[Component] = (),
    registry: CollectorRegistry | None = None,
    version: str = "0.1.0",
    errors: Mapping[type[Exception], int] | None = None,
    error_body: ErrorBody = detail_body,
    http_tracing: bool = True,
    http_metrics: bool = True,
) -> FastAPI:
    """Components start in the order given and stop in reverse; /readyz lists their problems.

    `service` names the service's section of the access table: every route is decided by it (see _guard).

    `http_tracing=False` turns FastAPI's own request spans off, for a hot path that traces itself;
    `http_metrics=False` the request counter and latency histogram (_ops_metrics), for one that counts itself.
    Consumer lag is exported for every component that reports it.

    A component that fails to start is stopped too (stop() must undo a partial start), then the ones
    already started, before the error propagates.
    """
    metrics_registry = registry or CollectorRegistry()
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):  # CPU, memory, GC: for operators
        with suppress(ValueError):  # already on this registry
            metrics_registry.register(collector)
    with suppress(ValueError):
        metrics_registry.register(ConsumerLagCollector(components))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        started: list[Component] = []
        try:
            for component in components:
                started.append(component)
                await component.start()
            yield
        finally:
            for component in reversed(started):
                await component.stop()

    # probes and scrapes make no spans; FastAPI's per-dependency operation spans are off (they multiplied the
    # span volume without saying anything about the lifecycle)
    app = FastAPI(title=title, version=version, lifespan=lifespan,
                  telemetry={"tracing": http_tracing, "exclude": is_ops_request, "operation_spans": False})

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], responses={503: {"description": "not ready: what it waits for"}})
    async def readyz() -> JSONResponse:
        problems = [p for component in components for p in component.problems()]
        if problems:
            return JSONResponse({"ready": False, "waiting_for": problems}, status_code=503)
        return JSONResponse({"ready": True})

    @app.get("/metrics", tags=["ops"])
    async def metrics() -> Response:
        return Response(generate_latest(metrics_registry), media_type=CONTENT_TYPE_LATEST)

    map_errors(app, errors or {}, error_body)
    install_access(app, service, settings, error_body)
    if http_metrics:  # outermost: a request the guard refuses is counted too, with its 401 or 403
        app.add_middleware(HttpMetrics, instruments=HttpInstruments(metrics_registry))
    return app


def map_errors(app: FastAPI, errors: Mapping[type[Exception], int], body: ErrorBody = detail_body) -> None:
    """Answer each exception class with its status; a 503 also says when to retry."""
    for exc_class, status in errors.items():
        app.add_exception_handler(exc_class, _handler(status, body))


def _handler(status: int, body: ErrorBody) -> Callable[[Request, Exception], Any]:
    headers = {"Retry-After": RETRY_AFTER_SECONDS} if status == 503 else None

    async def handle(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(body(exc), status_code=status, headers=headers)

    return handle
