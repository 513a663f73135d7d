"""Open Inference Protocol v2 over REST: parse, call the domain, map errors to status codes.

Bodies are read and written with orjson (numpy arrays serialize directly); no pydantic on the infer path.
"""

import asyncio
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response

from .adapters.onnx_model import LoadedModel
from .inference import BadRequest, Inference, dumps, infer
from .metrics import ServingMetrics
from .prediction_log import PredictionLog
from .repository import ModelNotFound, ModelRepository
from .settings import ServingSettings

SERVER_NAME = "conveyor-serving"
SERVER_VERSION = "0.1.0"


def _json(body: Any, status: int = 200) -> Response:
    return Response(dumps(body), status_code=status, media_type="application/json")


def _metadata(model: LoadedModel, versions: list[int]) -> dict[str, Any]:
    return {
        "name": model.name,
        "versions": [str(v) for v in versions],
        "platform": "onnxruntime_onnx",
        "inputs": [model.input.as_metadata()],
        "outputs": [o.as_metadata() for o in model.outputs],
        "parameters": {"feature_names": model.feature_names, "class_labels": model.class_labels,
                       "task": model.task, "version": str(model.version)},
    }


def build_router(
    settings: ServingSettings,
    repository: ModelRepository,
    log: PredictionLog,
    metrics: ServingMetrics,
    is_ready: Callable[[], bool],
) -> APIRouter:
    router = APIRouter(prefix="/v2", tags=["inference (Open Inference Protocol v2)"])

    @router.get("")
    async def server_metadata() -> Response:
        return _json({"name": SERVER_NAME, "version": SERVER_VERSION, "extensions": ["model_repository"]})

    @router.get("/health/live")
    async def live() -> Response:
        return _json({"live": True})

    @router.get("/health/ready")
    async def ready() -> Response:
        ok = is_ready()
        return _json({"ready": ok}, 200 if ok else 503)

    def resolved(name: str, version: str | None) -> LoadedModel | Response:
        try:
            return repository.resolve(name, version)
        except ModelNotFound as exc:
            return _json({"error": str(exc)}, 404)

    @router.get("/models/{name}")
    @router.get("/models/{name}/versions/{version}")
    async def model_metadata(name: str, version: str | None = None) -> Response:
        model = resolved(name, version)
        if isinstance(model, Response):
            return model
        return _json(_metadata(model, repository.versions(name)))

    @router.get("/models/{name}/ready")
    @router.get("/models/{name}/versions/{version}/ready")
    async def model_ready(name: str, version: str | None = None) -> Response:
        model = resolved(name, version)
        if isinstance(model, Response):
            return model
        return _json({"name": model.name, "version": str(model.version), "ready": True})

    @router.post("/models/{name}/infer")
    @router.post("/models/{name}/versions/{version}/infer")
    async def model_infer(name: str, request: Request, version: str | None = None) -> Response:
        started = time.perf_counter()
        model = resolved(name, version)  # read once: a swap after this line does not affect this request
        if isinstance(model, Response):
            metrics.request_errors.labels(name, "404").inc()
            return model
        in_flight = metrics.in_flight.labels(name)
        in_flight.inc()
        try:
            body = await request.body()
            try:
                if len(body) > settings.offload_bytes:
                    # big batches parse and run in a worker so the loop keeps answering small ones
                    result: Inference = await asyncio.to_thread(infer, model, body, settings.max_batch_rows)
                else:
                    result = infer(model, body, settings.max_batch_rows)
            except BadRequest as exc:
                metrics.request_errors.labels(name, "400").inc()
                return _json({"error": str(exc)}, 400)
            log.record(result)
            response = _json(result.response)
        finally:
            in_flight.dec()
        metrics.request_seconds.labels(name, str(model.version)).observe(time.perf_counter() - started)
        return response

    @router.post("/repository/index")
    async def repository_index() -> Response:
        return _json(repository.index())

    return router
