"""Open Inference Protocol v2 over REST (and KServe V1 `:predict`): parse, call the domain, map errors.

Bodies are read and written with orjson (numpy arrays serialize directly); no pydantic on the infer path.
"""

import asyncio
import logging
import random
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from opentelemetry import propagate
from opentelemetry.trace import SpanKind
from starlette.background import BackgroundTask
from starlette.routing import Route

from conveyor_kernel import tracer

from .adapters.onnx_model import LoadedModel
from .gate import BodyTooLarge, Gate, Unauthorized
from .inference import BadRequest, Inference, dumps, infer, infer_v1, run
from .metrics import ServingMetrics
from .prediction_log import PredictionLog
from .repository import SHADOW, ModelNotFound, ModelRepository, TrafficSplit
from .settings import ServingSettings

logger = logging.getLogger(__name__)

SERVER_NAME = "conveyor-serving"
SERVER_VERSION = "0.2.0"
EXTENSIONS = ["model_repository"]

Parse = Callable[[LoadedModel, bytes, int], Inference]


def json_response(body: Any, status: int = 200) -> Response:
    return Response(dumps(body), status_code=status, media_type="application/json")


def _metadata(model: LoadedModel, versions: list[int], split: TrafficSplit | None) -> dict[str, Any]:
    return {
        "name": model.name,
        "versions": [str(v) for v in versions],
        "platform": "onnxruntime_onnx",
        "inputs": [model.input.as_metadata()],
        "outputs": [o.as_metadata() for o in model.outputs],
        "parameters": {"feature_names": model.feature_names, "class_labels": model.class_labels,
                       "task": model.task, "version": str(model.version),
                       "traffic": split.as_metadata() if split else {"mode": "none"}},
    }


class Inferencer:
    """The one infer path both protocols share: key, resolve, size limit, parse+run, log, metrics."""

    def __init__(self, settings: ServingSettings, repository: ModelRepository, log: PredictionLog,
                 metrics: ServingMetrics, gate: Gate) -> None:
        self.settings, self.repository, self.log, self.metrics, self.gate = settings, repository, log, metrics, gate
        self._series: dict[LoadedModel, tuple[Any, Any]] = {}  # labelled metric children, looked up once

    def _series_of(self, model: LoadedModel) -> tuple[Any, Any]:
        series = self._series.get(model)
        if series is None:
            series = (self.metrics.in_flight.labels(model.name),
                      self.metrics.request_seconds.labels(model.name, str(model.version)))
            self._series[model] = series
        return series

    async def _shadow(self, candidate: LoadedModel, answered: Inference) -> None:
        # async so it runs on the event loop (the prediction log is loop-only), after the response went out
        try:
            self.log.record(run(candidate, answered.features, [], answered.request_id, answered.attributes))
        except Exception:  # noqa: BLE001 - a failing shadow must not affect serving; it is logged
            logger.exception("shadow %s v%d failed", candidate.name, candidate.version)

    def resolved(self, name: str, version: str | None) -> LoadedModel | Response:
        try:
            return self.repository.resolve(name, version)
        except ModelNotFound as exc:
            return json_response({"error": str(exc)}, 404)

    async def answer(self, request: Request, name: str, version: str | None, parse: Parse) -> Response:
        """Traced when the caller sent a traceparent (parent-based) or, for others, at trace_sample_ratio.

        The sampling decision is made here, before any OpenTelemetry call: even an unsampled span costs
        about as much as the inference of a small model, so an unsampled request makes none.
        """
        headers = request.headers
        if "traceparent" not in headers and random.random() >= self.settings.trace_sample_ratio:  # noqa: S311
            return await self._answer(request, name, version, parse)
        with tracer.start_as_current_span("infer", context=propagate.extract(headers), kind=SpanKind.SERVER,
                                          attributes={"http.route": request.url.path, "conveyor.model_name": name}):
            return await self._answer(request, name, version, parse)

    async def _answer(self, request: Request, name: str, version: str | None, parse: Parse) -> Response:
        started = time.perf_counter()
        try:
            self.gate.check_key(request)
        except Unauthorized as exc:
            self.metrics.request_errors.labels(name, "401").inc()
            return json_response({"error": str(exc)}, 401)
        model = self.resolved(name, version)  # read once: a swap after this line does not affect this request
        if isinstance(model, Response):
            self.metrics.request_errors.labels(name, "404").inc()
            return model
        in_flight, seconds = self._series_of(model)
        in_flight.inc()
        try:
            body = await self.gate.body(request)
            limit = self.settings.max_batch_rows
            if len(body) > self.settings.offload_bytes:
                # big batches parse and run in a worker so the loop keeps answering small ones
                result = await asyncio.to_thread(parse, model, body, limit)
            else:
                result = parse(model, body, limit)
        except BadRequest as exc:
            self.metrics.request_errors.labels(name, "400").inc()
            return json_response({"error": str(exc)}, 400)
        except BodyTooLarge as exc:
            self.metrics.request_errors.labels(name, "413").inc()
            return json_response({"error": str(exc)}, 413)
        finally:
            in_flight.dec()
        self.log.record(result)
        response = json_response(result.response)
        if version is None and (split := self.repository.split_of(name)) is not None and split.mode == SHADOW:
            # after the answer is sent: the shadow's latency and failures never reach the client
            response.background = BackgroundTask(self._shadow, split.candidate, result)
        seconds.observe(time.perf_counter() - started)
        return response


def build_router(inferencer: Inferencer, is_ready: Callable[[], bool]) -> APIRouter:
    router = APIRouter(prefix="/v2", tags=["inference (Open Inference Protocol v2)"])
    repository = inferencer.repository

    @router.get("")
    async def server_metadata() -> Response:
        return json_response({"name": SERVER_NAME, "version": SERVER_VERSION, "extensions": EXTENSIONS})

    @router.get("/health/live")
    async def live() -> Response:
        return json_response({"live": True})

    @router.get("/health/ready")
    async def ready() -> Response:
        ok = is_ready()
        return json_response({"ready": ok}, 200 if ok else 503)

    @router.get("/models/{name}")
    @router.get("/models/{name}/versions/{version}")
    async def model_metadata(name: str, version: str | None = None) -> Response:
        model = inferencer.resolved(name, version)
        if isinstance(model, Response):
            return model
        if version is None:
            model = repository.resolve(name, str(repository.champion_version(name)))  # never the canary pick
        return json_response(_metadata(model, repository.versions(name), repository.split_of(name)))

    @router.get("/models/{name}/ready")
    @router.get("/models/{name}/versions/{version}/ready")
    async def model_ready(name: str, version: str | None = None) -> Response:
        model = inferencer.resolved(name, version)
        if isinstance(model, Response):
            return model
        return json_response({"name": model.name, "version": str(model.version), "ready": True})

    @router.post("/models/{name}/infer")
    @router.post("/models/{name}/versions/{version}/infer")
    async def model_infer(name: str, request: Request, version: str | None = None) -> Response:
        return await inferencer.answer(request, name, version, infer)

    return router


def fast_routes(inferencer: Inferencer) -> list[Route]:
    """The infer routes as bare Starlette routes, placed first in the app.

    FastAPI's parameter solving and route scan cost more per request than a small model's inference. The
    FastAPI routes above stay for /docs; these shadow them, serving the same paths with the same code.
    """

    async def v2(request: Request) -> Response:
        params = request.path_params
        return await inferencer.answer(request, params["name"], params.get("version"), infer)

    async def v1(request: Request) -> Response:
        return await inferencer.answer(request, request.path_params["name"], None, infer_v1)

    return [
        Route("/v2/models/{name}/infer", v2, methods=["POST"]),
        Route("/v2/models/{name}/versions/{version}/infer", v2, methods=["POST"]),
        Route("/v1/models/{name}:predict", v1, methods=["POST"]),
    ]


def build_v1_router(inferencer: Inferencer) -> APIRouter:
    """KServe V1 for older clients: `{"instances": [[...]]}` in, `{"predictions": [...]}` out."""
    router = APIRouter(prefix="/v1", tags=["inference (KServe V1)"])

    @router.get("/models/{name}")
    async def v1_model(name: str) -> Response:
        model = inferencer.resolved(name, None)
        if isinstance(model, Response):
            return model
        return json_response({"name": model.name, "ready": True})

    @router.post("/models/{name}:predict")
    async def v1_predict(name: str, request: Request) -> Response:
        return await inferencer.answer(request, name, None, infer_v1)

    return router
