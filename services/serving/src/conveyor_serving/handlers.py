"""Event handlers: a promotion (or rollback) loads the version if needed, swaps the champion, says so.

At start the same handlers read the registry's past (replay.py): they keep each model's tail, and
`restore` applies the tails once the past is read.
"""

import asyncio
import logging
import time
from dataclasses import dataclass, field

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import ArtifactStore, Envelope, HandlerTable, InvalidMessage, Publisher, tracer

from .adapters.onnx_model import CLASSIFICATION, REGRESSION, LoadedModel, ModelRefused, load_model
from .first_predictions import FirstPredictions
from .metrics import ServingMetrics
from .replay import Replay
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
    replay: Replay = field(default_factory=Replay)


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


async def deploy(ports: ServingPorts, event: ev.ModelPromoted, envelope: Envelope, announce: bool = True) -> None:
    """Load the promoted version, make it the champion, and (unless a restart restores it) say so."""
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
        if announce:
            await ports.publisher.publish(
                ev.ModelDeployed(model_name=model.name, version=model.version, artifact_uri=model.artifact_uri,
                                 instance=ports.instance, load_seconds=load_seconds),
                subject=model.name,
            )
        ports.applied[event.model_name] = envelope.id
        ports.first_predictions.deployed(model.name, model.version, span.get_span_context())


def _check_split(event: ev.TrafficSplitSet) -> None:
    name = event.model_name
    if event.mode not in (CANARY, SHADOW, ""):
        raise InvalidMessage(f"TrafficSplitSet for {name!r} has mode {event.mode!r}; use canary, shadow or ''")
    if event.mode and (event.candidate_version <= 0 or not event.candidate_artifact_uri):
        raise InvalidMessage(f"TrafficSplitSet {event.mode} for {name!r} needs a candidate version and uri")
    if event.mode == CANARY and not 0.0 <= event.canary_weight <= 1.0:
        raise InvalidMessage(f"TrafficSplitSet canary for {name!r} has weight {event.canary_weight}; use 0..1")


async def split_traffic(ports: ServingPorts, event: ev.TrafficSplitSet) -> None:
    name = event.model_name
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


async def restore(ports: ServingPorts) -> None:
    """The replay has read the past: apply each model's tail (see replay.py). A tail that cannot be applied
    was dead-lettered when it was new; it is logged, and the other models are restored."""
    replay = ports.replay
    for tail in replay.tails.values():
        try:
            if tail.promotion is not None:
                event, envelope = tail.promotion
                await deploy(ports, event, envelope, announce=not replay.announced(event, envelope))
            if tail.split is not None:
                await split_traffic(ports, tail.split)
        except InvalidMessage as exc:
            logger.error("could not restore a model at start: %s", exc)
    restored = len(replay.finish())
    logger.info("restored %d models from the registry's history", restored)


def build_handlers(ports: ServingPorts) -> HandlerTable:
    async def on_model_promoted(event: ev.ModelPromoted, envelope: Envelope) -> None:
        _check(event)
        if ports.replay.active:
            ports.replay.promoted(event, envelope)
            return
        await deploy(ports, event, envelope)

    async def on_traffic_split_set(event: ev.TrafficSplitSet, envelope: Envelope) -> None:
        _check_split(event)
        if ports.replay.active:
            ports.replay.split(event)
            return
        await split_traffic(ports, event)

    async def on_model_deployed(event: ev.ModelDeployed, envelope: Envelope) -> None:
        """Read only to know, at start, which promotions were announced already."""
        if ports.replay.active:
            ports.replay.deployed(event, envelope)

    return {ev.ModelPromoted: on_model_promoted, ev.TrafficSplitSet: on_traffic_split_set,
            ev.ModelDeployed: on_model_deployed}
