"""Open Inference Protocol v2 over REST: parse, call the domain, map its errors.

ERRORS is the one place that turns the domain's errors into statuses, with the protocol's `{"error": "..."}`
body: the kernel's exception handlers apply it to every route, and the infer path (`fast_routes`) applies
the same table in a plain try/except, as a handler hop would cost it more than a small model's inference.
Bodies are read and written with orjson (numpy arrays serialize directly); no pydantic on the infer path.
"""

import random
from functools import partial
from typing import Any

from fastapi import APIRouter, Request, Response
from opentelemetry import propagate
from opentelemetry.trace import SpanKind
from starlette.background import BackgroundTask
from starlette.routing import Route

from conveyor_kernel import tracer

from . import rest_v1, rest_v2
from .adapters.onnx_model import LoadedModel, ModelRefused
from .deps import InferencerDep, ReadyDep, RepositoryDep
from .errors import BadRequest
from .gate import BodyTooLarge, Unauthorized
from .inference import dumps
from .inferencer import Inferencer, RestCodec
from .repository import ModelNotFound, TrafficSplit

SERVER_NAME = "conveyor-serving"
SERVER_VERSION = "0.3.0"
EXTENSIONS = ["model_repository", "binary_tensor_data", "classification"]
V2 = RestCodec(rest_v2.decode, rest_v2.encode)
V1 = RestCodec(rest_v1.decode, rest_v1.encode)

ERRORS: dict[type[Exception], int] = {
    BadRequest: 400, ModelRefused: 400, Unauthorized: 401, ModelNotFound: 404, BodyTooLarge: 413,
}
_ANSWERED = tuple(ERRORS)  # what the infer path answers itself (anything else is a bug: a 500)

# What the routes answer besides 200 (the kernel declares 401/403 of the role-gated ones), for the OpenAPI
UNKNOWN = {404: {"description": "the model (or that version of it) is not deployed here"}}
INFER = {400: {"description": "the request does not fit the protocol or the model (the message names the field)"},
         401: {"description": "serving has API keys and the request brings none of them"},
         **UNKNOWN, 413: {"description": "the body is larger than serving takes (CONVEYOR_MAX_BODY_BYTES)"}}

router = APIRouter(prefix="/v2", tags=["inference (Open Inference Protocol v2)"])


def oip_error(exc: Exception) -> dict[str, Any]:
    return {"error": str(exc)}


def json_response(body: Any, status: int = 200) -> Response:
    return Response(dumps(body), status_code=status, media_type="application/json")


def status_of(exc: Exception) -> int:
    status = ERRORS.get(type(exc))  # the exact class, almost always; else the nearest mapped base
    return status if status is not None else next(ERRORS[cls] for cls in type(exc).__mro__ if cls in ERRORS)


async def answer_infer(inferencer: Inferencer, codec: RestCodec, request: Request) -> Response:
    """The infer endpoint of both protocols. Traced when the caller sent a traceparent (parent-based) or,
    for others, at trace_sample_ratio.

    The sampling decision is made here, before any OpenTelemetry call: even an unsampled span costs about
    as much as the inference of a small model, so an unsampled request makes none.
    """
    params = request.path_params
    name, version = params["name"], params.get("version")
    headers = request.headers
    if "traceparent" not in headers and random.random() >= inferencer.settings.trace_sample_ratio:  # noqa: S311
        return await _respond(inferencer, request, name, version, codec)
    with tracer.start_as_current_span("infer", context=propagate.extract(headers), kind=SpanKind.SERVER,
                                      attributes={"http.route": request.url.path, "conveyor.model_name": name}):
        return await _respond(inferencer, request, name, version, codec)


async def _respond(inferencer: Inferencer, request: Request, name: str, version: str | None,
                   codec: RestCodec) -> Response:
    try:
        (body, headers), result, shadow = await inferencer.answer(request, name, version, codec)
    except _ANSWERED as exc:
        status = status_of(exc)
        inferencer.metrics.request_errors.labels(name, str(status)).inc()
        return json_response(oip_error(exc), status)
    response = Response(body, media_type="application/json", headers=headers)
    if shadow is not None:
        # after the answer is sent: the shadow's latency and failures never reach the client
        response.background = BackgroundTask(inferencer.shadow, shadow, result)
    return response


def fast_routes(inferencer: Inferencer) -> list[Route]:
    """The infer routes as bare Starlette routes bound to the Inferencer, placed first in the app.

    FastAPI's parameter solving and route scan cost more per request than a small model's inference. The
    FastAPI infer routes stay for /docs; these shadow them, serving the same paths with the same code.
    """
    v2, v1 = partial(answer_infer, inferencer, V2), partial(answer_infer, inferencer, V1)
    return [
        Route("/v2/models/{name}/infer", v2, methods=["POST"]),
        Route("/v2/models/{name}/versions/{version}/infer", v2, methods=["POST"]),
        Route("/v1/models/{name}:predict", v1, methods=["POST"]),
    ]


def _metadata(model: LoadedModel, versions: list[int], split: TrafficSplit | None) -> dict[str, Any]:
    return {
        "name": model.name,
        "versions": [str(v) for v in versions],
        "platform": "onnxruntime_onnx",
        "inputs": [spec.as_metadata() for spec in model.inputs],
        "outputs": [o.as_metadata() for o in model.outputs],
        "parameters": {"feature_names": model.feature_names, "class_labels": model.class_labels,
                       "task": model.task, "version": str(model.version),
                       "traffic": split.as_metadata() if split else {"mode": "none"}},
    }


@router.get("")
async def server_metadata() -> Response:
    return json_response({"name": SERVER_NAME, "version": SERVER_VERSION, "extensions": EXTENSIONS})


@router.get("/health/live")
async def live() -> Response:
    return json_response({"live": True})


@router.get("/health/ready", responses={503: {"description": "not ready: champions not loaded, or no broker"}})
async def ready(is_ready: ReadyDep) -> Response:
    return json_response({"ready": is_ready}, 200 if is_ready else 503)


@router.get("/models/{name}", responses=UNKNOWN)
@router.get("/models/{name}/versions/{version}", responses=UNKNOWN)
async def model_metadata(name: str, repository: RepositoryDep, version: str | None = None) -> Response:
    model = repository.resolve(name, version)
    if version is None:
        model = repository.resolve(name, str(repository.champion_version(name)))  # never the canary pick
    return json_response(_metadata(model, repository.versions(name), repository.split_of(name)))


@router.get("/models/{name}/ready", responses=UNKNOWN)
@router.get("/models/{name}/versions/{version}/ready", responses=UNKNOWN)
async def model_ready(name: str, repository: RepositoryDep, version: str | None = None) -> Response:
    model = repository.resolve(name, version)
    return json_response({"name": model.name, "version": str(model.version), "ready": True})


@router.post("/models/{name}/infer", responses=INFER)
@router.post("/models/{name}/versions/{version}/infer", responses=INFER)
async def model_infer(name: str, request: Request, inferencer: InferencerDep, version: str | None = None) -> Response:
    return await answer_infer(inferencer, V2, request)  # for /docs: `fast_routes` answer these paths first
