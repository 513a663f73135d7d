"""The console's composition root: the pages of every role, sign-in, static assets, and the ops routes every
Conveyor process has (/healthz, /readyz, /metrics). It is no event-driven service: no Kafka, no database, no
credentials of its own; every read and change goes to a service's REST API with the signed-in user's token."""

import logging
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, PROCESS_COLLECTOR, CollectorRegistry, generate_latest

from conveyor_kernel._ops_metrics import HttpInstruments, HttpMetrics
from conveyor_kernel._telemetry import is_ops_request

from . import views_oversight, views_people, views_shared
from .session import Sessions, SignInNeeded
from .settings import ConsoleSettings, get_settings
from .web import HERE

logger = logging.getLogger(__name__)
ASSETS = HERE / "static" / "dist" / "app.js"


def _untraced(scope: dict[str, Any]) -> bool:
    return is_ops_request(scope) or str(scope.get("path", "")).startswith("/static/")


def create_app(settings: ConsoleSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="Conveyor console", version="0.1.0", docs_url=None, redoc_url=None, openapi_url=None,
                  telemetry={"exclude": _untraced, "operation_spans": False})
    app.state.settings = settings
    app.state.sessions = Sessions(settings)
    app.state.assets_built = ASSETS.exists()
    if not app.state.assets_built:
        logger.warning("console assets missing (%s): pages work, charts and in-page verification do not; "
                       "build them with `make console`", ASSETS)
    registry = CollectorRegistry()
    registry.register(PROCESS_COLLECTOR)
    app.add_middleware(HttpMetrics, instruments=HttpInstruments(registry))
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (views_shared, views_people, views_oversight):
        app.include_router(module.router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        return JSONResponse({"ready": True, "assets_built": app.state.assets_built})

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(SignInNeeded)
    async def sign_in(request: Request, exc: SignInNeeded) -> Response:
        if request.headers.get("hx-request"):  # a partial: tell htmx to load the sign-in page whole
            return Response(status_code=401, headers={"HX-Redirect": f"/login?reason={quote(str(exc))}"})
        return RedirectResponse(f"/login?reason={quote(str(exc))}", status_code=303)

    return app
