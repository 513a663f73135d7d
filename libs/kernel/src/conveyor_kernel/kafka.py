"""The Kafka edge of the bus, on aiokafka: topic creation, the publisher, the consumer loops.

Services reach these through `EventRuntime`; benchmarks and integration tests use them directly.

What a publish promises (issue 15): it returns once the broker has the record (acks=all), or it raises
BrokerUnavailable within `publish_timeout` seconds and the record is never sent later. So a REST call that
publishes answers 503 in time and a retry is safe, and a state change whose publish failed (the registry rolls
its transaction back) is never announced behind the caller's back. Three settings make that true:
- the producer is NOT idempotent: aiokafka's idempotent producer retries a batch forever (a promote that
  failed for the caller was applied 92 s later when the broker came back) and, after one refused batch,
  fails every later one with OutOfOrderSequenceNumber (one oversized prediction log blinded the monitor);
- `request_timeout_ms` is the publish timeout, which is also how long a batch may live in the producer:
  aiokafka fails a batch that was not acknowledged within it instead of retrying it;
- a probe asks the broker for metadata every `probe_interval` seconds; while it gets no answer, a publish
  fails at once without touching the producer, and /readyz says "kafka broker unreachable".
The price of no idempotence: a batch the broker wrote but whose acknowledgement was lost is sent again (a
duplicate with the same ce_id); consumers are idempotent by event id or by the state they keep.
"""

import asyncio
import logging
import time
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, KafkaTimeoutError, MessageSizeTooLargeError, TopicAlreadyExistsError
from google.protobuf.message import Message
from opentelemetry import trace
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from ._bus import Record, build_record
from ._envelope import Envelope
from ._errors import BrokerUnavailable, InvalidMessage, TransientError
from ._kafka_consume import KafkaConsumerLoop, KafkaReplayLoop
from ._settings import KafkaSettings
from ._tasks import cancel_task
from ._telemetry import tracer

__all__ = ["KafkaConsumerLoop", "KafkaPublisher", "KafkaReplayLoop", "ensure_topics"]

logger = logging.getLogger(__name__)


async def ensure_topics(settings: KafkaSettings, topics: Iterable[str | type[Message]],
                        partitions: int | None = None) -> None:
    """Create the topics (base names or event classes) that do not exist yet, with the partitions, replicas
    and retention of `settings` (`KafkaSettings.topic_config`): consumers must not wait for a producer to
    auto-create them, and an auto-created topic would get the broker's defaults (7 days) instead.

    A topic that exists keeps its configuration: changing retention is an operator's decision (the Helm
    chart's KafkaTopic resources, or kafka-configs), and the services' principals may not alter configs."""
    from . import topics as topic_map

    admin = AIOKafkaAdminClient(**settings.client_options())
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(KafkaError), stop=stop_after_delay(60), wait=wait_exponential(max=2)
    ):
        with attempt:
            await admin.start()
    try:
        existing = set(await admin.list_topics())
        names = {settings.topic(t): t if isinstance(t, str) else topic_map.TOPIC_OF[t] for t in topics}
        wanted = [NewTopic(name=full, num_partitions=partitions or settings.partitions,
                           replication_factor=settings.replication_factor,
                           topic_configs=settings.topic_config(base))
                  for full, base in names.items() if full not in existing]
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                pass  # a peer created it between our list and create
            await _until_led(admin, [t.name for t in wanted])
    finally:
        await admin.close()


async def _until_led(admin: AIOKafkaAdminClient, names: list[str], seconds: float = 30) -> None:
    """Until the broker's metadata gives every partition of the new topics a leader. Creation returns once the
    controller decided; a loaded broker learns of it later, and a publish in that gap would spend its whole
    publish timeout (2 s) on UnknownTopicOrPartition and fail."""
    deadline = time.monotonic() + seconds
    while True:
        described = await admin.describe_topics(names)
        if all(d["error_code"] == 0 and d["partitions"] and all(p["leader"] >= 0 for p in d["partitions"])
               for d in described):
            return
        if time.monotonic() > deadline:
            logger.warning("topics %s have no leader after %.0f s; publishing to them may fail", names, seconds)
            return
        await asyncio.sleep(0.1)


class KafkaPublisher:
    """acks=all, bounded: a send returns once the broker has the record or raises BrokerUnavailable within
    `publish_timeout` (see the module docstring)."""

    def __init__(self, settings: KafkaSettings, source: str) -> None:
        self.settings = settings
        self.source = source
        self._producer: AIOKafkaProducer | None = None
        self._probe: asyncio.Task[None] | None = None
        self._unreachable_since: float | None = None  # monotonic; None while the broker answers
        self._reachable = asyncio.Event()

    async def start(self) -> None:
        producer = AIOKafkaProducer(
            **self.settings.client_options(),
            client_id=f"{self.settings.client_id}-{self.source}",
            acks="all",
            enable_idempotence=False,
            linger_ms=5,
            max_request_size=self.settings.max_message_bytes,
            request_timeout_ms=int(self.settings.publish_timeout * 1000),
            retry_backoff_ms=100,
        )
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(KafkaError), stop=stop_after_delay(60), wait=wait_exponential(max=2)
            ):
                with attempt:
                    await producer.start()
        except BaseException:
            await producer.stop()  # never leave a half-started client behind
            raise
        self._producer = producer
        self._mark(reachable=True)
        self._probe = asyncio.create_task(self._watch(producer), name=f"kafka-probe-{self.source}")

    async def stop(self) -> None:
        await cancel_task(self._probe)
        self._probe = None
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    @property
    def started(self) -> bool:
        return self._producer is not None

    @property
    def reachable(self) -> bool:
        return self._producer is not None and self._unreachable_since is None

    async def wait_reachable(self) -> None:
        """Return once the broker answers the probe, and not sooner than half a second from now: a caller whose
        publish just failed may be ahead of the probe, and must not spin."""
        await asyncio.gather(self._reachable.wait(), asyncio.sleep(0.5))

    def _mark(self, reachable: bool) -> None:
        if reachable:
            if self._unreachable_since is not None:
                logger.warning("kafka broker %s reachable again after %.1f s", self.settings.bootstrap_servers,
                               time.monotonic() - self._unreachable_since)
            self._unreachable_since = None
            self._reachable.set()
        elif self._unreachable_since is None:
            logger.warning("kafka broker %s unreachable: publishes fail at once until it answers",
                           self.settings.bootstrap_servers)
            self._unreachable_since = time.monotonic()
            self._reachable.clear()

    async def _watch(self, producer: AIOKafkaProducer) -> None:
        interval = self.settings.probe_interval
        while True:
            try:
                await asyncio.wait_for(producer.client.fetch_all_metadata(), timeout=max(interval, 1.0))
                self._mark(reachable=True)
            except (KafkaError, TimeoutError, OSError):
                self._mark(reachable=False)
            await asyncio.sleep(interval)

    async def publish(self, event: Message, subject: str, *, event_id: str | None = None,
                      time: str | None = None) -> Envelope:
        name = type(event).DESCRIPTOR.name
        with tracer.start_as_current_span(f"publish {name}", kind=trace.SpanKind.PRODUCER) as span:
            record, envelope = build_record(event, subject, self.source, self.settings.topic_prefix,
                                            event_id=event_id, time=time)
            span.set_attribute("messaging.destination.name", record.topic)
            span.set_attribute("cloudevents.event_id", envelope.id)
            await self.send(record)
            return envelope

    async def send(self, record: Record) -> None:
        if self._producer is None:
            raise BrokerUnavailable("publisher is not started")
        if self._unreachable_since is not None:
            raise BrokerUnavailable(
                f"Kafka ({self.settings.bootstrap_servers}) unreachable for "
                f"{time.monotonic() - self._unreachable_since:.0f} s; nothing was published to {record.topic}")
        try:
            await self._producer.send_and_wait(
                record.topic, value=record.value, key=record.key, headers=list(record.headers)
            )
        except MessageSizeTooLargeError as exc:
            raise InvalidMessage(f"record for {record.topic} is larger than the {self.settings.max_message_bytes}"
                                 f" bytes a record may have (CONVEYOR_KAFKA__MAX_MESSAGE_BYTES): {exc}") from exc
        except KafkaError as exc:
            if exc.retriable or isinstance(exc, KafkaTimeoutError):
                raise BrokerUnavailable(f"Kafka did not take the record for {record.topic} within "
                                        f"{self.settings.publish_timeout} s: {exc}") from exc
            raise TransientError(f"could not publish to {record.topic}: {exc}") from exc
