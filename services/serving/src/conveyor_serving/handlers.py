"""Event handlers: a promotion (or rollback) loads the version if needed, swaps the champion, says so."""

import asyncio
import logging
import time
from dataclasses import dataclass, field

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import ArtifactStore, Envelope, HandlerTable, InvalidMessage, Publisher, tracer

from .adapters.onnx_model import CLASSIFICATION, REGRESSION, LoadedModel, ModelRefused, load_model
from .metrics import ServingMetrics
from .repository import ModelRepository

logger = logging.getLogger(__name__)

_TASKS = {ev.TASK_CLASSIFICATION: CLASSIFICATION, ev.TASK_REGRESSION: REGRESSION}


@dataclass
class ServingPorts:
    store: ArtifactStore
    repository: ModelRepository
    metrics: ServingMetrics
    instance: str
    # Set by the composition root once the runtime (which owns the Kafka publisher) exists.
    publisher: Publisher | None = field(default=None)


def _check(event: ev.ModelPromoted) -> None:
    if not event.model_name:
        raise InvalidMessage("ModelPromoted has no model_name")
    if event.version <= 0:
        raise InvalidMessage(f"ModelPromoted for {event.model_name!r} has version {event.version}; must be >= 1")
    if not event.artifact_uri:
        raise InvalidMessage(f"ModelPromoted for {event.model_name!r} v{event.version} has no artifact_uri")


async def _load(ports: ServingPorts, event: ev.ModelPromoted) -> tuple[LoadedModel, float]:
    """The loaded version if we have it (a rollback), else load it in a worker thread."""
    cached = ports.repository.loaded(event.model_name, event.version)
    if cached is not None and cached.artifact_uri == event.artifact_uri:
        return cached, 0.0
    path = ports.store.path_of(event.artifact_uri)
    started = time.perf_counter()
    try:
        model = await asyncio.to_thread(
            load_model, path, event.model_name, event.version, event.artifact_uri,
            list(event.feature_names), _TASKS.get(event.task, ""),
        )
    except ModelRefused as exc:
        raise InvalidMessage(f"refused {event.model_name!r} v{event.version}: {exc}") from exc
    seconds = time.perf_counter() - started
    ports.metrics.load_seconds.labels(event.model_name).observe(seconds)
    ports.repository.add(model)
    return model, seconds


def build_handlers(ports: ServingPorts) -> HandlerTable:
    async def on_model_promoted(event: ev.ModelPromoted, envelope: Envelope) -> None:
        _check(event)
        with tracer.start_as_current_span("deploy model") as span:
            span.set_attribute("conveyor.model_name", event.model_name)
            span.set_attribute("conveyor.model_version", event.version)
            span.set_attribute("conveyor.action", event.action or "promote")
            with tracer.start_as_current_span("load model"):
                model, load_seconds = await _load(ports, event)
            with tracer.start_as_current_span("swap champion"):
                previous = ports.repository.promote(model)
            ports.metrics.swaps.labels(event.model_name).inc()
            logger.info("serving %s v%d (was v%s, %s, loaded in %.3f s)", model.name, model.version,
                        previous.version if previous else "-", event.action or "promote", load_seconds)
            assert ports.publisher is not None, "the composition root sets the publisher"
            await ports.publisher.publish(
                ev.ModelDeployed(model_name=model.name, version=model.version, artifact_uri=model.artifact_uri,
                                 instance=ports.instance, load_seconds=load_seconds),
                subject=model.name,
            )

    return {ev.ModelPromoted: on_model_promoted}
