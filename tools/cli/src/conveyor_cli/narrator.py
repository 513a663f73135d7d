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
            return (f"dataset {event.name} v{event.version} arrived{_origin(event.provenance)}: "
                    f"{event.row_count} rows, {event.imputed_cells} gaps to impute, id {event.dataset_id[:12]}")
        case ev.DatasetRejected():
            return f"dataset {event.name} rejected: {len(event.errors)} problem(s)"
        case ev.ModelTrained():
            metric = event.training.primary_metric
            text = (f"{event.model_name} trained ({event.trigger}, {event.training_rows} rows): {metric} "
                    f"{event.metrics.get(metric, 0):.4f}, ONNX parity {event.parity_max_abs_diff:.1e}")
            if event.HasField("comparison"):
                compared = event.comparison
                text += (f"; on {compared.description}: {metric} {compared.challenger_metrics.get(metric, 0):.3f}, "
                         f"champion v{compared.champion_version} {compared.champion_metrics.get(metric, 0):.3f}")
            return text
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
        case ev.PerformanceDegraded():
            fell = ", ".join(f"{m} {event.metrics[m]:.3f} (holdout {event.baseline[m]:.3f})" for m in event.degraded)
            return f"{event.model_name} v{event.version} on {event.window_size} labelled predictions: {fell}"
        case ev.RetrainRequested():
            return f"retraining {event.model_name} requested: {event.reason}"
        case ev.RetrainDeferred():
            return f"retraining {event.model_name} waits: {event.reason}"
        case ev.FeedbackCollected():
            return (f"{event.rows} labelled production rows of {event.model_name} v{event.version} collected "
                    f"({event.trigger}) for a new dataset version")
    return _governance(event) or type(event).DESCRIPTOR.name


def _governance(event: Message) -> str:
    """Promotion requests, their gates and approvals, policy versions (issue 12's events)."""
    match event:
        case ev.PolicyPublished():
            return f"promotion policy v{event.policy_version} published by {event.published_by} ({event.digest[:12]})"
        case ev.PromotionRequested():
            return (f"{event.requested_by} asks {event.model_name} v{event.version} -> {event.alias}"
                    f"{f': {event.reason}' if event.reason else ''}")
        case ev.PromotionGatesEvaluated():
            failed = [g.rule for g in event.gates if g.mode == "enforce" and not g.passed]
            verdict = "gates passed" if event.passed else f"gates failed: {', '.join(failed)}"
            return (f"{event.model_name} v{event.version} -> {event.alias}: {verdict} under policy "
                    f"v{event.policy_version}, risk {event.risk_tier}, {event.approvals_required} approval(s) needed")
        case ev.PromotionApprovalRecorded():
            return (f"{event.approver} ({event.role}) approved {event.model_name} v{event.version} -> {event.alias}: "
                    f"{event.approvals} of {event.approvals_required}")
        case ev.PromotionClosed():
            return (f"request for {event.model_name} v{event.version} -> {event.alias} {event.state} "
                    f"by {event.closed_by}")
        case ev.AliasMoved():
            return f"{event.model_name} {event.alias} -> v{event.version}"
        case ev.RiskTierSet():
            return (f"{event.model_name} risk tier {event.previous_tier or 'default'} -> {event.risk_tier} "
                    f"by {event.set_by}")
    return ""


def _origin(provenance: ev.DatasetProvenance) -> str:
    if provenance.kind != "production_feedback":
        return ""
    return f" (production feedback: {provenance.model_name} v{provenance.model_version}'s predictions, labelled)"


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

    def first_event(self, event_cls: type[Message], **fields: object) -> tuple[float, Message] | None:
        """When the first event of this type with these field values went by, and the event."""
        for elapsed, _, event in self.seen:
            if isinstance(event, event_cls) and all(getattr(event, k) == v for k, v in fields.items()):
                return elapsed, event
        return None

    async def stop(self) -> None:
        await cancel_task(self._task)
        if self._consumer is not None:
            await self._consumer.stop()
