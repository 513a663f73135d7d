"""The Kafka edge of the bus, on aiokafka: the publisher, the consumer loop, topic creation.

Services reach these through `EventRuntime`; benchmarks and integration tests use them directly.
"""

import asyncio
import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from google.protobuf.message import Message
from opentelemetry import trace
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from ._bus import DeadLetters, Dispatcher, Record, build_record
from ._envelope import Envelope
from ._errors import TransientError
from ._ops_metrics import lag_of
from ._settings import KafkaSettings
from ._tasks import cancel_task
from ._telemetry import tracer

__all__ = ["KafkaConsumerLoop", "KafkaPublisher", "ensure_topics"]
logger = logging.getLogger(__name__)
LAG_REFRESH_SECONDS = 2.0


async def ensure_topics(settings: KafkaSettings, topics: Iterable[str | type[Message]], partitions: int = 1) -> None:
    """Create the topics (base names or event classes) that do not exist yet: consumers must not wait
    for a producer to auto-create them, and a broker with auto-creation off must not lose a first event."""
    admin = AIOKafkaAdminClient(**settings.client_options())
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(KafkaError), stop=stop_after_delay(60), wait=wait_exponential(max=2)
    ):
        with attempt:
            await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [t for t in dict.fromkeys(settings.topic(t) for t in topics) if t not in existing]
        if wanted:
            try:
                await admin.create_topics(
                    [NewTopic(name=t, num_partitions=partitions, replication_factor=1) for t in wanted]
                )
            except TopicAlreadyExistsError:
                pass  # a peer created it between our list and create
    finally:
        await admin.close()


class KafkaPublisher:
    """Idempotent producer (acks=all): a send returns once the broker has the record."""

    def __init__(self, settings: KafkaSettings, source: str) -> None:
        self.settings = settings
        self.source = source
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        producer = AIOKafkaProducer(
            **self.settings.client_options(),
            client_id=f"{self.settings.client_id}-{self.source}",
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            max_request_size=8 * 1024 * 1024,
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

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    @property
    def started(self) -> bool:
        return self._producer is not None

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
            raise TransientError("publisher is not started")
        try:
            await self._producer.send_and_wait(
                record.topic, value=record.value, key=record.key, headers=list(record.headers)
            )
        except KafkaError as exc:
            raise TransientError(f"could not publish to {record.topic}: {exc}") from exc


class _Joined(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, joined: asyncio.Event) -> None:
        self.joined = joined

    async def on_partitions_revoked(self, revoked: object) -> None:
        pass

    async def on_partitions_assigned(self, assigned: object) -> None:
        self.joined.set()


class KafkaConsumerLoop:
    """Consumes topics in a group and commits an offset only after its record was handled (or refused
    and forwarded to the dead-letter topic)."""

    def __init__(self, settings: KafkaSettings, topics: Iterable[str], dispatcher: Dispatcher,
                 dead_letters: DeadLetters) -> None:
        self.settings = settings
        self.topics = [settings.topic(t) for t in topics]
        self.group = settings.group(dispatcher.group)
        self.dispatcher = dispatcher
        self.dead_letters = dead_letters
        self.assigned = asyncio.Event()
        self.handled = 0  # records fully processed and committed
        self._positions: dict[TopicPartition, int] = {}  # next offset to handle, per assigned partition
        self._ends: dict[TopicPartition, int] = {}  # high watermarks, asked for every LAG_REFRESH_SECONDS
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._lag_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            **self.settings.client_options(),
            group_id=self.group,
            client_id=f"{self.settings.client_id}-{self.group}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_interval_ms=600_000,
        )
        # Ready once the group has assigned this member its share, even none: with more instances than
        # partitions the spare ones stand by in the group and take over a partition when its owner dies.
        self._consumer.subscribe(self.topics, listener=_Joined(self.assigned))
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name=f"consume-{self.group}")
        self._lag_task = asyncio.create_task(self._refresh_ends(), name=f"lag-{self.group}")

    async def stop(self) -> None:
        await cancel_task(self._lag_task)
        await cancel_task(self._task)
        self._task = self._lag_task = None
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        assert self._consumer is not None
        consumer = self._consumer
        while True:
            batches = await consumer.getmany(timeout_ms=200, max_records=100)
            await self._note_positions(consumer)
            for tp, messages in batches.items():
                if messages:  # fetched is not handled: the lag counts from the first record still to handle
                    self._positions[TopicPartition(tp.topic, tp.partition)] = messages[0].offset
                for message in messages:
                    record = Record(
                        topic=message.topic,
                        key=message.key,
                        value=message.value,
                        headers=list(message.headers or ()),
                        partition=message.partition,
                        offset=message.offset,
                    )
                    failed = await self.dispatcher.dispatch(record)
                    if failed is not None:
                        await self.dead_letters.forward(failed)
                    await consumer.commit({TopicPartition(tp.topic, tp.partition): message.offset + 1})
                    self._positions[TopicPartition(tp.topic, tp.partition)] = message.offset + 1
                    self.handled += 1

    async def _note_positions(self, consumer: AIOKafkaConsumer) -> None:
        """Where each assigned partition stands, for consumer_lag(); known locally once fetching began."""
        assigned = consumer.assignment()
        for tp in list(self._positions):
            if tp not in assigned:
                del self._positions[tp]
        for tp in assigned:
            if tp not in self._positions:
                self._positions[tp] = await consumer.position(tp)

    async def _refresh_ends(self) -> None:
        """The fetcher learns a high watermark only when it fetches, and a handler that is slow (the case lag is
        for) stops the fetching: so ask the broker on a timer, off the consumer loop."""
        assert self._consumer is not None
        while True:
            assigned = list(self._consumer.assignment())
            if assigned:
                try:
                    self._ends = await self._consumer.end_offsets(assigned)
                except KafkaError as exc:
                    logger.debug("end offsets of %s unavailable: %s", self.group, exc)
            await asyncio.sleep(LAG_REFRESH_SECONDS)

    def consumer_lag(self) -> dict[tuple[str, str, int], int]:
        """Records behind each assigned partition's high watermark (the newest of the fetcher's and the broker's)."""
        consumer = self._consumer
        if consumer is None:
            return {}
        return lag_of((self.group, tp.topic, tp.partition, _newest(consumer.highwater(tp), self._ends.get(tp)),
                       position) for tp, position in list(self._positions.items()))


def _newest(*offsets: int | None) -> int | None:
    known = [o for o in offsets if o is not None]
    return max(known) if known else None
