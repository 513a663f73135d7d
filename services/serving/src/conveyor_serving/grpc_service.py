"""OIP v2 over gRPC (`inference.GRPCInferenceService`) inside each serving worker process.

The same infer path as REST (Inferencer: API key from the metadata, resolve with canary, logging, shadow,
metrics, sampled tracing); CODES maps the domain's errors to gRPC status codes with the same messages.
One server per worker process: each binds the port with SO_REUSEPORT (gRPC's default on Linux), so the
kernel spreads connections over the workers, and each worker answers from its own models, log and metrics,
as its REST side does. A supervisor-side server would have to forward every call to a worker (one more hop)
or hold its own copy of every model and consumer.

The handlers are plain functions on gRPC's thread pool, not grpc.aio coroutines on the worker's event loop:
on one core grpc.aio answered an empty echo ~4,000-4,600 times a second, the threaded server ~7,600 (the
same Go client, same machine); REST answers ~9,000 single-row inferences. The prediction log takes rows
from any thread; what must run on the event loop (load from the folder) is handed to it.
"""

import asyncio
import logging
import random
import time
from concurrent.futures import Executor
from typing import Any

import grpc
from opentelemetry import propagate
from opentelemetry.trace import SpanKind

from conveyor_kernel import tracer

from . import grpc_codec
from .adapters.onnx_model import LoadedModel, ModelRefused
from .errors import BadRequest
from .gate import BodyTooLarge, Unauthorized
from .inference import run
from .inferencer import Inferencer
from .loading import ModelLoader
from .oip import grpc_predict_v2_pb2 as pb
from .oip import grpc_predict_v2_pb2_grpc as pb_grpc
from .repository import ModelNotFound

logger = logging.getLogger(__name__)

CODES: dict[type[Exception], grpc.StatusCode] = {
    BadRequest: grpc.StatusCode.INVALID_ARGUMENT, ModelRefused: grpc.StatusCode.INVALID_ARGUMENT,
    Unauthorized: grpc.StatusCode.UNAUTHENTICATED, ModelNotFound: grpc.StatusCode.NOT_FOUND,
    BodyTooLarge: grpc.StatusCode.RESOURCE_EXHAUSTED,
}
_ANSWERED = tuple(CODES)


def code_of(exc: Exception) -> grpc.StatusCode:
    return next(CODES[cls] for cls in type(exc).__mro__ if cls in CODES)


class _Metadata:
    """The call's metadata as the gate reads headers, built only if a key is checked."""

    def __init__(self, context: grpc.aio.ServicerContext) -> None:
        self._context, self._pairs = context, None

    def _read(self) -> dict[str, str]:
        if self._pairs is None:
            self._pairs = {k: v for k, v in (self._context.invocation_metadata() or ()) if isinstance(v, str)}
        return self._pairs

    def get(self, key: str, default: str | None = None) -> str | None:
        return self._read().get(key, default)

    def keys(self) -> list[str]:  # what OpenTelemetry's getter asks a carrier for
        return list(self._read())


class InferenceService(pb_grpc.GRPCInferenceServiceServicer):
    def __init__(self, inferencer: Inferencer, loader: ModelLoader, ready: Any, server_name: str, version: str,
                 extensions: list[str]) -> None:
        self.inferencer, self.loader, self.ready = inferencer, loader, ready
        self.repository = inferencer.repository
        self.metadata = pb.ServerMetadataResponse(name=server_name, version=version, extensions=extensions)
        self.loop: asyncio.AbstractEventLoop | None = None  # the worker's event loop, set when the server starts
        self.shadows: Executor | None = None  # where shadow candidates run, after the answer went out

    def ServerLive(self, request: Any, context: Any) -> Any:  # noqa: N802 - the protocol's names
        return pb.ServerLiveResponse(live=True)

    def ServerReady(self, request: Any, context: Any) -> Any:  # noqa: N802
        return pb.ServerReadyResponse(ready=self.ready())

    def ServerMetadata(self, request: Any, context: Any) -> Any:  # noqa: N802
        return self.metadata

    def ModelReady(self, request: Any, context: Any) -> Any:  # noqa: N802
        try:
            self.repository.resolve(request.name, request.version or None)
        except ModelNotFound:
            return pb.ModelReadyResponse(ready=False)
        return pb.ModelReadyResponse(ready=True)

    def ModelMetadata(self, request: Any, context: Any) -> Any:  # noqa: N802
        try:
            model = self._metadata_model(request.name, request.version or None)
        except ModelNotFound as exc:
            context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        tensor = pb.ModelMetadataResponse.TensorMetadata
        return pb.ModelMetadataResponse(
            name=model.name, versions=[str(v) for v in self.repository.versions(model.name)],
            platform="onnxruntime_onnx", inputs=[tensor(**spec.as_metadata()) for spec in model.inputs],
            outputs=[tensor(**spec.as_metadata()) for spec in model.outputs])

    def _metadata_model(self, name: str, version: str | None) -> LoadedModel:
        if version is None:
            self.repository.resolve(name)  # raises for an unknown name
            version = str(self.repository.champion_version(name))  # never the canary pick
        return self.repository.resolve(name, version)

    def RepositoryModelLoad(self, request: Any, context: Any) -> Any:  # noqa: N802
        try:
            self.inferencer.gate.check_headers(_Metadata(context).get)
            assert self.loop is not None, "the server is started from the event loop"
            asyncio.run_coroutine_threadsafe(self.loader.load(request.model_name), self.loop).result()
        except _ANSWERED as exc:
            context.abort(code_of(exc), str(exc))
        return pb.RepositoryModelLoadResponse(model_name=request.model_name, isLoaded=True)

    def RepositoryModelUnload(self, request: Any, context: Any) -> Any:  # noqa: N802
        try:
            self.inferencer.gate.check_headers(_Metadata(context).get)
            self.loader.unload(request.model_name)
        except _ANSWERED as exc:
            context.abort(code_of(exc), str(exc))
        return pb.RepositoryModelUnloadResponse(model_name=request.model_name, isUnloaded=True)

    def ModelInfer(self, request: Any, context: Any) -> Any:  # noqa: N802
        metadata = _Metadata(context)
        inferencer = self.inferencer
        if random.random() >= inferencer.settings.trace_sample_ratio and metadata.get("traceparent") is None:  # noqa: S311
            return self._infer(request, context, metadata)
        with tracer.start_as_current_span("infer", context=propagate.extract(metadata), kind=SpanKind.SERVER,
                                          attributes={"rpc.method": "ModelInfer",
                                                      "conveyor.model_name": request.model_name}):
            return self._infer(request, context, metadata)

    def _infer(self, request: Any, context: Any, metadata: _Metadata) -> Any:
        started = time.perf_counter()
        inferencer = self.inferencer
        name, version = request.model_name, request.model_version or None
        try:
            inferencer.gate.check_headers(metadata.get)
            model = self.repository.resolve(name, version)
            in_flight, seconds = inferencer.series_of(model)
            in_flight.inc()
            try:
                result, response = self._serve(model, request)  # already off the event loop
            finally:
                in_flight.dec()
        except _ANSWERED as exc:
            inferencer.metrics.request_errors.labels(name, code_of(exc).name).inc()
            context.abort(code_of(exc), str(exc))
        shadow = inferencer.after(result, name, version)
        seconds.observe(time.perf_counter() - started)
        if shadow is not None and self.shadows is not None:
            self.shadows.submit(inferencer.run_shadow, shadow, result)  # its latency never reaches this caller
        return response

    def _serve(self, model: LoadedModel, request: Any) -> tuple[Any, Any]:
        decoded = grpc_codec.decode(model, request, self.inferencer.settings.max_batch_rows)
        result = run(model, decoded)
        return result, grpc_codec.encode(model, result, decoded, raw=bool(request.raw_input_contents))
