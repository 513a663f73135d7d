"""The ledger's Kafka input: librdkafka (confluent-kafka), no consumer group, positions from the ledger.

librdkafka fetches in its own C threads and hands a batch to Python for ~2 us a record (aiokafka spends
~10 us decoding in Python). Its calls block, so every one of them runs on a single dedicated thread:
the event loop never blocks, and close() can never overlap a consume() still in progress.
"""

import asyncio
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, TopicPartition

from conveyor_kernel import KafkaSettings, TransientError

from .rows import TopicPartitionKey

logger = logging.getLogger(__name__)
METADATA_ATTEMPTS = 50
T = TypeVar("T")


class KafkaSource:
    def __init__(self, settings: KafkaSettings, topics: list[str]) -> None:
        self.settings = settings
        self.topics = topics
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="audit-kafka")
        self._consumer: Consumer | None = None

    async def _call(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def start(self, stored: Mapping[TopicPartitionKey, int]) -> list[TopicPartitionKey]:
        """Assign every partition of the topics, each at its stored next offset (else the beginning)."""
        self._consumer = Consumer({
            **self.settings.librdkafka_options(),
            "client.id": f"{self.settings.client_id}-audit",
            # librdkafka insists on a group id; assign() without subscribe() never joins the group,
            # and with commits and offset storing off nothing is ever written to it.
            "group.id": self.settings.group("audit-ledger"),
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "isolation.level": "read_committed",  # librdkafka's fetch defaults measured fastest here
        })
        partitions = await self._partitions()
        await self._call(self._consumer.assign, [
            TopicPartition(topic, partition, stored.get((topic, partition), OFFSET_BEGINNING))
            for topic, partition in partitions
        ])
        return partitions

    async def _partitions(self) -> list[TopicPartitionKey]:
        """Every partition of every topic; topics created a moment ago may not be in metadata yet."""
        assert self._consumer is not None
        found: dict[str, list[int]] = {}
        for _ in range(METADATA_ATTEMPTS):
            metadata = await self._call(self._consumer.list_topics, None, 10.0)
            found = {t: sorted(metadata.topics[t].partitions) if t in metadata.topics
                     and metadata.topics[t].error is None else [] for t in self.topics}
            if all(found.values()):
                return [(t, p) for t, parts in found.items() for p in parts]
            await asyncio.sleep(0.2)
        raise TransientError(f"no partition metadata for {[t for t, p in found.items() if not p]}")

    async def poll(self, max_records: int, timeout: float) -> list[Message]:
        return await self._call(self._poll, max_records, timeout)

    def _poll(self, max_records: int, timeout: float) -> list[Message]:
        """Up to `max_records` messages (error events are logged or raised, never returned)."""
        assert self._consumer is not None
        messages = self._consumer.consume(max_records, timeout)
        if any(message.error() is not None for message in messages):
            messages = [message for message in messages if self._keep(message)]
        return messages

    @staticmethod
    def _keep(message: Message) -> bool:
        error = message.error()
        if error is None:
            return True
        if error.fatal():
            raise TransientError(f"kafka consumer failed: {error}")
        if error.code() != KafkaError._PARTITION_EOF:
            logger.warning("kafka consumer error (librdkafka retries): %s", error)
        return False

    async def close(self) -> None:
        """Queued after any consume() in flight on the same thread, so the two never overlap."""
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            await self._call(consumer.close)
        self._executor.shutdown(wait=False)
