"""The one infer path every protocol shares: key, resolve, size limit, decode+run+encode, log, metrics, shadow.

It raises the domain's errors (Unauthorized, ModelNotFound, BadRequest, BodyTooLarge) and never picks a
status: `api.ERRORS` (REST) and `grpc_service.CODES` (gRPC) do. REST hands it the request itself because
reading the key and the body straight from it, once, is the cheapest way: this path runs per request and
costs about as much as a small model's inference.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from .adapters.onnx_model import LoadedModel
from .gate import Gate
from .inference import Inference, InferRequest, run
from .metrics import ServingMetrics
from .prediction_log import PredictionLog
from .repository import SHADOW, ModelRepository
from .settings import ServingSettings

logger = logging.getLogger(__name__)

Encoded = tuple[bytes, dict[str, str] | None]  # body, and headers the protocol needs beside it


@dataclass(frozen=True)
class RestCodec:
    """How one REST protocol reads a body (with its Inference-Header-Content-Length, if any) and writes one."""

    decode: Callable[[LoadedModel, bytes, str | None, int], InferRequest]
    encode: Callable[[LoadedModel, Inference, InferRequest], Encoded]


class Inferencer:
    def __init__(self, settings: ServingSettings, repository: ModelRepository, log: PredictionLog,
                 metrics: ServingMetrics, gate: Gate) -> None:
        self.settings, self.repository, self.log, self.metrics, self.gate = settings, repository, log, metrics, gate
        self._series: dict[LoadedModel, tuple[Any, Any]] = {}  # labelled metric children, looked up once

    def series_of(self, model: LoadedModel) -> tuple[Any, Any]:
        series = self._series.get(model)
        if series is None:
            series = (self.metrics.in_flight.labels(model.name),
                      self.metrics.request_seconds.labels(model.name, str(model.version)))
            self._series[model] = series
        return series

    async def answer(self, request: Request, name: str, version: str | None,
                     codec: RestCodec) -> tuple[Encoded, Inference, LoadedModel | None]:
        """The encoded answer, the inference behind it, and the shadow candidate that must also run on its
        rows once the answer is sent (None without a shadow split). A plain tuple: this runs per request."""
        started = time.perf_counter()
        self.gate.check_key(request)
        model = self.repository.resolve(name, version)  # read once: a swap after this line does not affect this request
        in_flight, seconds = self.series_of(model)
        in_flight.inc()
        try:
            body = await self.gate.body(request)
            header = request.headers.get("inference-header-content-length")
            if len(body) > self.settings.offload_bytes:
                # big batches decode and run in a worker so the loop keeps answering small ones
                result, encoded = await asyncio.to_thread(self._serve, codec, model, body, header)
            else:
                result, encoded = self._serve(codec, model, body, header)
        finally:
            in_flight.dec()
        shadow = self.after(result, name, version)
        seconds.observe(time.perf_counter() - started)
        return encoded, result, shadow

    def _serve(self, codec: RestCodec, model: LoadedModel, body: bytes,
               header: str | None) -> tuple[Inference, Encoded]:
        decoded = codec.decode(model, body, header, self.settings.max_batch_rows)
        result = run(model, decoded)
        return result, codec.encode(model, result, decoded)

    def after(self, result: Inference, name: str, version: str | None) -> LoadedModel | None:
        """Log the answered request; the shadow candidate that must also run on it, if any."""
        self.log.record(result)
        if version is None and (split := self.repository.split_of(name)) is not None and split.mode == SHADOW:
            return split.candidate
        return None

    async def shadow(self, candidate: LoadedModel, answered: Inference) -> None:
        """Run the shadow candidate on an answered request's rows and log its predictions (REST: a background
        task of the response, so it runs after the answer went out)."""
        self.run_shadow(candidate, answered)

    def run_shadow(self, candidate: LoadedModel, answered: Inference) -> None:
        try:
            request = InferRequest(answered.feeds, answered.rows, [], answered.request_id, answered.attributes)
            self.log.record(run(candidate, request))
        except Exception:  # noqa: BLE001 - a failing shadow must not affect serving; it is logged
            logger.exception("shadow %s v%d failed", candidate.name, candidate.version)
