"""Prints lifecycle events as they cross Kafka, with the time since the scenario began."""

import asyncio
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from google.protobuf.message import Message

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import Envelope, InvalidMessage, KafkaSettings, cancel_task, decode_event, topics
from conveyor_kernel.kafka import ensure_topics


def describe(event: Message) -> str:
    match event:
        case ev.DatasetArrived():
            return f"dataset {event.name} arrived: {event.row_count} rows, id {event.dataset_id[:12]}"
        case ev.DatasetRejected():
            return f"dataset {event.name} rejected: {len(event.errors)} problem(s)"
        case ev.ModelTrained():
            metric = event.training.primary_metric
            return (f"{event.model_name} trained ({event.trigger}): {metric} {event.metrics.get(metric, 0):.4f}, "
                    f"ONNX parity {event.parity_max_abs_diff:.1e}")
        case ev.ModelTrainingFailed():
            return f"{event.model_name} training failed at {event.stage}: {event.reason}"
        case ev.ModelRegistered():
            return f"{event.model_name} registered as version {event.version}"
        case ev.ModelPromoted():
            reasons = "; ".join(event.reasons)
            return f"{event.model_name} v{event.version} {event.action}d by {event.approved_by}: {reasons}"
        case ev.PromotionDeclined():
            return f"{event.model_name} v{event.version} not promoted: {'; '.join(event.reasons)}"
        case ev.ModelDeployed():
            load_ms = event.load_seconds * 1000
            return f"{event.model_name} v{event.version} deployed on {event.instance} ({load_ms:.0f} ms load)"
        case ev.DriftDetected():
            return (f"drift detected on {event.model_name} v{event.version}: "
                    f"{event.drift_share:.0%} of features drifted (threshold {event.share_threshold:.0%})")
        case ev.RetrainRequested():
            return f"retraining {event.model_name} requested: {event.reason}"
        case ev.RetrainDeferred():
            return f"retraining {event.model_name} waits: {event.reason}"
        case ev.FeedbackCollected():
            return (f"{event.rows} labelled production rows of {event.model_name} v{event.version} collected "
                    f"({event.trigger}) for a new dataset version")
    return type(event).DESCRIPTOR.name


class Narrator:
    def __init__(self, settings: KafkaSettings, say: Callable[[float, str, str], None]) -> None:
        self.settings = settings
        self.say = say
        self.started = time.monotonic()
        self.seen: list[tuple[float, Envelope, Message]] = []
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await ensure_topics(self.settings, topics.LIFECYCLE)
        names = [self.settings.topic(t) for t in topics.LIFECYCLE]
        self._consumer = AIOKafkaConsumer(**self.settings.client_options(), enable_auto_commit=False)
        await self._consumer.start()
        partitions = [TopicPartition(t, p) for t in names for p in self._consumer.partitions_for_topic(t) or {0}]
        self._consumer.assign(partitions)
        await self._consumer.seek_to_end(*partitions)
        for partition in partitions:
            await self._consumer.position(partition)  # resolve "end" now, before anything is published
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        assert self._consumer is not None
        async for message in self._consumer:
            try:
                envelope = Envelope.from_headers(list(message.headers or ()))
                event = decode_event(envelope, message.value)
            except InvalidMessage:
                continue
            elapsed = time.monotonic() - self.started
            self.seen.append((elapsed, envelope, event))
            self.say(elapsed, type(event).DESCRIPTOR.name, describe(event))

    def first(self, event_cls: type[Message], after: float = 0.0, **fields: object) -> float | None:
        for elapsed, _, event in self.seen:
            if isinstance(event, event_cls) and elapsed >= after and all(
                getattr(event, k) == v for k, v in fields.items()
            ):
                return elapsed
        return None

    async def stop(self) -> None:
        await cancel_task(self._task)
        if self._consumer is not None:
            await self._consumer.stop()
