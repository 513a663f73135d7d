"""Event handlers: a promotion (or rollback) loads the version if needed, swaps the champion, says so."""

import asyncio
import logging
import time
from dataclasses import dataclass, field

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import ArtifactStore, Envelope, HandlerTable, InvalidMessage, Publisher, tracer

from .adapters.onnx_model import CLASSIFICATION, REGRESSION, LoadedModel, ModelRefused, load_model
from .first_predictions import FirstPredictions
from .metrics import ServingMetrics
from .repository import CANARY, SHADOW, ModelNotFound, ModelRepository, TrafficSplit

logger = logging.getLogger(__name__)

_TASKS = {ev.TASK_CLASSIFICATION: CLASSIFICATION, ev.TASK_REGRESSION: REGRESSION}


@dataclass
class ServingPorts:
    store: ArtifactStore
    repository: ModelRepository
    metrics: ServingMetrics
    instance: str
    publisher: Publisher  # announces ModelDeployed
    first_predictions: FirstPredictions = field(default_factory=FirstPredictions)  # the log continues the trace
    # The promotion event each model last applied: a redelivery (same ce_id) is not a new deployment.
    applied: dict[str, str] = field(default_factory=dict)


def _check(event: ev.ModelPromoted) -> None:
    if not event.model_name:
        raise InvalidMessage("ModelPromoted has no model_name")
    if event.version <= 0:
        raise InvalidMessage(f"ModelPromoted for {event.model_name!r} has version {event.version}; must be >= 1")
    if not event.artifact_uri:
        raise InvalidMessage(f"ModelPromoted for {event.model_name!r} v{event.version} has no artifact_uri")


async def _load(ports: ServingPorts, name: str, version: int, uri: str, feature_names: list[str],
                task: int) -> tuple[LoadedModel, float]:
    """The loaded version if we have it (a rollback), else load it in a worker thread."""
    cached = ports.repository.loaded(name, version)
    if cached is not None and cached.artifact_uri == uri:
        return cached, 0.0
    started = time.perf_counter()
    data = await asyncio.to_thread(ports.store.get, uri)  # the bytes, from the platform's artifact store
    try:
        model = await asyncio.to_thread(load_model, data, name, version, uri, feature_names, _TASKS.get(task, ""))
    except ModelRefused as exc:
        raise InvalidMessage(f"refused {name!r} v{version}: {exc}") from exc
    seconds = time.perf_counter() - started
    ports.metrics.load_seconds.labels(name).observe(seconds)
    ports.repository.add(model)
    return model, seconds


def build_handlers(ports: ServingPorts) -> HandlerTable:
    async def on_model_promoted(event: ev.ModelPromoted, envelope: Envelope) -> None:
        _check(event)
        if ports.applied.get(event.model_name) == envelope.id:
            logger.info("promotion %s of %s redelivered; already serving it", envelope.id, event.model_name)
            return
        with tracer.start_as_current_span("deploy model") as span:
            span.set_attribute("conveyor.model_name", event.model_name)
            span.set_attribute("conveyor.model_version", event.version)
            span.set_attribute("conveyor.action", event.action or "promote")
            with tracer.start_as_current_span("load model"):
                model, load_seconds = await _load(ports, event.model_name, event.version, event.artifact_uri,
                                                  list(event.feature_names), event.task)
            with tracer.start_as_current_span("swap champion"):
                previous = ports.repository.promote(model)
            ports.metrics.swaps.labels(event.model_name).inc()
            logger.info("serving %s v%d (was v%s, %s, loaded in %.3f s)", model.name, model.version,
                        previous.version if previous else "-", event.action or "promote", load_seconds)
            await ports.publisher.publish(
                ev.ModelDeployed(model_name=model.name, version=model.version, artifact_uri=model.artifact_uri,
                                 instance=ports.instance, load_seconds=load_seconds),
                subject=model.name,
            )
            ports.applied[event.model_name] = envelope.id
            ports.first_predictions.deployed(model.name, model.version, span.get_span_context())

    async def on_traffic_split_set(event: ev.TrafficSplitSet, envelope: Envelope) -> None:
        name = event.model_name
        if event.mode not in (CANARY, SHADOW, ""):
            raise InvalidMessage(f"TrafficSplitSet for {name!r} has mode {event.mode!r}; use canary, shadow or ''")
        if event.mode and (event.candidate_version <= 0 or not event.candidate_artifact_uri):
            raise InvalidMessage(f"TrafficSplitSet {event.mode} for {name!r} needs a candidate version and uri")
        if event.mode == CANARY and not 0.0 <= event.canary_weight <= 1.0:
            raise InvalidMessage(f"TrafficSplitSet canary for {name!r} has weight {event.canary_weight}; use 0..1")
        with tracer.start_as_current_span("split traffic") as span:
            span.set_attribute("conveyor.model_name", name)
            span.set_attribute("conveyor.traffic_mode", event.mode or "none")
            split = None
            if event.mode:
                candidate, _ = await _load(ports, name, event.candidate_version, event.candidate_artifact_uri,
                                           list(event.feature_names), event.task)
                split = TrafficSplit(event.mode, candidate, event.canary_weight if event.mode == CANARY else 0.0)
            try:
                ports.repository.set_split(name, split)
            except ModelNotFound as exc:
                raise InvalidMessage(str(exc)) from exc
        logger.info("traffic of %s: %s", name, split.as_metadata() if split else "champion only")

    return {ev.ModelPromoted: on_model_promoted, ev.TrafficSplitSet: on_traffic_split_set}
