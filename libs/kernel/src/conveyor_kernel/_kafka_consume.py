"""The Kafka consumer loops: a consumer group that commits after each record, and a replay that reads
topics from their beginning at every start, in no group.

Both survive the broker going away. A handler whose publish found the broker down (BrokerUnavailable) is
not dead-lettered: the loop waits until the broker answers and handles the same record again, so a broker
restart costs time, never records. A commit that fails is retried the same way; one refused because the
group rebalanced leaves the record to its partition's new owner (at least once: handlers are idempotent).
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from ._bus import DeadLetters, Dispatcher, Record
from ._errors import BrokerUnavailable
from ._ops_metrics import lag_of
from ._settings import KafkaSettings
from ._tasks import cancel_task

logger = logging.getLogger(__name__)
_BACKOFF = 0.5  # seconds between attempts while the broker is away
LAG_REFRESH_SECONDS = 2.0


class Broker(Protocol):
    """What the loops ask of the publisher: is the broker there, and wait until it is."""

    @property
    def reachable(self) -> bool: ...

    async def wait_reachable(self) -> None: ...


def _record(message: ConsumerRecord) -> Record:
    return Record(topic=message.topic, key=message.key, value=message.value, headers=list(message.headers or ()),
                  partition=message.partition, offset=message.offset)


class _Joined(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, joined: asyncio.Event) -> None:
        self.joined = joined

    async def on_partitions_revoked(self, revoked: object) -> None:
        pass

    async def on_partitions_assigned(self, assigned: object) -> None:
        self.joined.set()


class _Loop:
    def __init__(self, settings: KafkaSettings, topics: Iterable[str], dispatcher: Dispatcher,
                 dead_letters: DeadLetters, broker: Broker | None = None) -> None:
        self.settings = settings
        self.topics = [settings.topic(t) for t in topics]
        self.dispatcher = dispatcher
        self.dead_letters = dead_letters
        self.broker = broker
        self.assigned = asyncio.Event()
        self.handled = 0  # records fully processed (and, in a group, committed)
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        await cancel_task(self._task)
        self._task = None
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def _handle(self, record: Record) -> None:
        """Dispatch until the outcome is final: handled, or refused and forwarded to the dead-letter topic."""
        while True:
            try:
                failed = await self.dispatcher.dispatch(record)
                if failed is not None:
                    await self.dead_letters.forward(failed)
                return
            except BrokerUnavailable as exc:
                logger.warning("%s@%d waits for the broker: %s", record.topic, record.offset, exc)
                await self._wait_for_broker()

    async def _wait_for_broker(self) -> None:
        if self.broker is not None:
            await self.broker.wait_reachable()
        else:
            await asyncio.sleep(_BACKOFF)

    async def _fetch(self, consumer: AIOKafkaConsumer) -> dict[TopicPartition, list[ConsumerRecord]]:
        try:
            return await consumer.getmany(timeout_ms=200, max_records=100)
        except KafkaError as exc:  # the client reconnects by itself; the loop must not die meanwhile
            logger.warning("kafka fetch failed, retrying: %s", exc)
            await asyncio.sleep(_BACKOFF)
            return {}


class KafkaConsumerLoop(_Loop):
    """Consumes topics in a group and commits an offset only after its record was handled (or refused
    and forwarded to the dead-letter topic)."""

    def __init__(self, settings: KafkaSettings, topics: Iterable[str], dispatcher: Dispatcher,
                 dead_letters: DeadLetters, broker: Broker | None = None) -> None:
        super().__init__(settings, topics, dispatcher, dead_letters, broker)
        self.group = settings.group(dispatcher.group)
        self._positions: dict[TopicPartition, int] = {}  # next offset to handle, per assigned partition
        self._ends: dict[TopicPartition, int] = {}  # high watermarks, asked for every LAG_REFRESH_SECONDS
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
        self._lag_task = None
        await super().stop()

    async def _run(self) -> None:
        assert self._consumer is not None
        consumer = self._consumer
        while True:
            batches = await self._fetch(consumer)
            await self._note_positions(consumer)
            for tp, messages in batches.items():
                if messages:  # fetched is not handled: the lag counts from the first record still to handle
                    self._positions[TopicPartition(tp.topic, tp.partition)] = messages[0].offset
                for message in messages:
                    await self._handle(_record(message))
                    if not await self._commit(consumer, tp, message.offset + 1):
                        break  # the partition moved to another member: it goes on from the committed offset
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
                try:
                    self._positions[tp] = await consumer.position(tp)
                except (IllegalStateError, KafkaError) as exc:  # revoked meanwhile, or the broker away
                    logger.debug("position of %s unavailable: %s", tp, exc)

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

    async def _commit(self, consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int) -> bool:
        """Commit, retrying while the broker is away; False when the group took the partition elsewhere."""
        while True:
            try:
                await consumer.commit({TopicPartition(tp.topic, tp.partition): offset})
                return True
            except (CommitFailedError, IllegalStateError) as exc:
                logger.warning("commit of %s[%d]@%d refused after a rebalance: %s", tp.topic, tp.partition,
                               offset, exc)
                return False
            except KafkaError as exc:
                logger.warning("commit of %s[%d]@%d failed, retrying: %s", tp.topic, tp.partition, offset, exc)
                await self._wait_for_broker()


def _newest(*offsets: int | None) -> int | None:
    known = [o for o in offsets if o is not None]
    return max(known) if known else None


class KafkaReplayLoop(_Loop):
    """Reads every partition of its topics from the beginning at each start, in no consumer group: nothing
    is committed, so nothing is left behind as lag when the process goes away. For a service whose state IS
    those topics (serving's champions: conveyor.registry). `caught_up` is awaited once every record that
    existed at start was handled; readiness waits for it (`replayed`), live records follow."""

    def __init__(self, settings: KafkaSettings, topics: Iterable[str], dispatcher: Dispatcher,
                 dead_letters: DeadLetters, broker: Broker | None = None,
                 caught_up: Callable[[], Awaitable[None]] | None = None) -> None:
        super().__init__(settings, topics, dispatcher, dead_letters, broker)
        self.caught_up = caught_up
        self.replayed = asyncio.Event()
        self._end: dict[TopicPartition, int] = {}

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(**self.settings.client_options(), group_id=None,
                                    client_id=f"{self.settings.client_id}-{self.dispatcher.group}-replay",
                                    enable_auto_commit=False, auto_offset_reset="earliest",
                                    isolation_level="read_committed")
        await consumer.start()
        self._consumer = consumer
        partitions = await self._partitions(consumer)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        self._end = await consumer.end_offsets(partitions)
        self.assigned.set()
        self._task = asyncio.create_task(self._run(), name=f"replay-{self.dispatcher.group}")

    def consumer_lag(self) -> dict[tuple[str, str, int], int]:
        """None: a replay is in no consumer group, and its topic (the registry's history) is small."""
        return {}

    async def _partitions(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        """Every partition of the topics, once the metadata names them all (a topic created just now may
        take a moment to appear)."""
        admin = AIOKafkaAdminClient(**self.settings.client_options())
        await admin.start()
        try:
            for _ in range(300):
                found = {d["topic"]: [p["partition"] for p in d["partitions"]]
                         for d in await admin.describe_topics(self.topics)}
                if all(found.get(t) for t in self.topics):
                    return [TopicPartition(t, p) for t in self.topics for p in sorted(found[t])]
                await asyncio.sleep(0.1)
        finally:
            await admin.close()
        raise KafkaError(f"no partitions known for {self.topics} after 30 s")

    async def _run(self) -> None:
        assert self._consumer is not None
        consumer = self._consumer
        await self._check_caught_up(consumer)
        while True:
            batches = await self._fetch(consumer)
            for messages in batches.values():
                for message in messages:
                    await self._handle(_record(message))
                    self.handled += 1
            if not self.replayed.is_set():
                await self._check_caught_up(consumer)

    async def _check_caught_up(self, consumer: AIOKafkaConsumer) -> None:
        for tp, end in self._end.items():
            if await consumer.position(tp) < end:
                return
        while self.caught_up is not None:
            try:
                await self.caught_up()
                break
            except BrokerUnavailable as exc:  # it may publish (serving announces what nobody announced yet)
                logger.warning("catching up waits for the broker: %s", exc)
                await self._wait_for_broker()
        logger.info("replayed %d records of %s", self.handled, ", ".join(self.topics))
        self.replayed.set()
