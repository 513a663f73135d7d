"""The one infer path both protocols share: key, resolve, size limit, parse+run, log, metrics.

It raises the domain's errors (Unauthorized, ModelNotFound, BadRequest, BodyTooLarge) and never picks a
status: `api.ERRORS` does. It takes the request itself because reading the key and the body straight from it,
once, is the cheapest way: this path runs per request and costs about as much as a small model's inference.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from fastapi import Request

from .adapters.onnx_model import LoadedModel
from .gate import Gate
from .inference import Inference, dumps, run
from .metrics import ServingMetrics
from .prediction_log import PredictionLog
from .repository import SHADOW, ModelRepository
from .settings import ServingSettings

logger = logging.getLogger(__name__)

Parse = Callable[[LoadedModel, bytes, int], Inference]


class Inferencer:
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

    async def answer(self, request: Request, name: str, version: str | None,
                     parse: Parse) -> tuple[bytes, Inference, LoadedModel | None]:
        """The answer's JSON body, the inference behind it, and the shadow candidate that must also run on
        its rows once the answer is sent (None without a shadow split). A plain tuple: this runs per request."""
        started = time.perf_counter()
        self.gate.check_key(request)
        model = self.repository.resolve(name, version)  # read once: a swap after this line does not affect this request
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
        finally:
            in_flight.dec()
        self.log.record(result)
        shadow = None
        if version is None and (split := self.repository.split_of(name)) is not None and split.mode == SHADOW:
            shadow = split.candidate
        answer = dumps(result.response)
        seconds.observe(time.perf_counter() - started)
        return answer, result, shadow

    async def shadow(self, candidate: LoadedModel, answered: Inference) -> None:
        """Run the shadow candidate on an answered request's rows and log its predictions.

        async so it runs on the event loop (the prediction log is loop-only), after the response went out.
        """
        try:
            self.log.record(run(candidate, answered.features, [], answered.request_id, answered.attributes))
        except Exception:  # noqa: BLE001 - a failing shadow must not affect serving; it is logged
            logger.exception("shadow %s v%d failed", candidate.name, candidate.version)
