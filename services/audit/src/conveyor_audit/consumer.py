"""Feeds the ledger from Kafka without a consumer group: the ledger database owns the offsets.

Committing offsets to Kafka and entries to SQLite separately could lose or repeat an entry on a crash
between the two. Instead every partition of every lifecycle topic is assigned here, positioned at the
offset stored in the ledger, and each polled batch (entries + next offsets) is one SQLite transaction.
"""

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from opentelemetry import trace

from conveyor_kernel import (
    LIFECYCLE_TOPICS,
    KafkaPublisher,
    KafkaSettings,
    Record,
    TransientError,
    cancel_task,
    ensure_topics,
    links_of,
    topics,
    tracer,
)

from . import metrics
from .adapters.ledger_db import Ledger
from .adapters.rows import AppendResult
from .intake import Batch, sort_records

logger = logging.getLogger(__name__)
METADATA_ATTEMPTS = 50
MAX_BACKOFF_SECONDS = 5.0
MAX_LINKS = 128


class LedgerConsumer:
    def __init__(self, settings: KafkaSettings, ledger: Ledger, publisher: KafkaPublisher,
                 batch_size: int = 500, after_batch: Callable[[], Awaitable[object]] | None = None) -> None:
        self.settings = settings
        self.after_batch = after_batch  # e.g. issue a checkpoint when N entries accumulated
        self.ledger = ledger
        self.publisher = publisher
        self.batch_size = batch_size
        self.topics = [settings.topic_prefix + t for t in LIFECYCLE_TOPICS]
        self.assigned = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await ensure_topics(self.settings, [*self.topics, self.settings.topic_prefix + topics.DEAD_LETTER])
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.bootstrap_servers,
            group_id=None,
            client_id=f"{self.settings.client_id}-audit",
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        await self._consumer.start()
        # Partitions are read once at start; a partition added later needs a restart to be audited.
        partitions = await self._partitions()
        self._consumer.assign(partitions)
        stored = self.ledger.offsets()
        for tp in partitions:
            if (tp.topic, tp.partition) in stored:
                self._consumer.seek(tp, stored[(tp.topic, tp.partition)])
            else:
                await self._consumer.seek_to_beginning(tp)
        logger.info("audit consuming %d partitions from stored offsets %s", len(partitions), stored)
        self.assigned.set()
        self._task = asyncio.create_task(self._run(), name="audit-ledger")

    async def stop(self) -> None:
        await cancel_task(self._task)
        self._task = None
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _partitions(self) -> list[TopicPartition]:
        """Every partition of every lifecycle topic, from the admin API (fresh metadata, public API)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.bootstrap_servers)
        await admin.start()
        try:
            for _ in range(METADATA_ATTEMPTS):
                described = {d["topic"]: d for d in await admin.describe_topics(self.topics)}
                found = {t: [p["partition"] for p in described.get(t, {}).get("partitions", [])]
                         for t in self.topics}
                if all(found.values()):
                    return [TopicPartition(t, p) for t, parts in found.items() for p in sorted(parts)]
                await asyncio.sleep(0.2)  # topics created a moment ago may not be in metadata yet
        finally:
            await admin.close()
        raise TransientError(f"no partition metadata for {[t for t, p in found.items() if not p]}")

    async def _run(self) -> None:
        """Fetch and sort batch n+1 while batch n is written: appends still land one at a time, in order."""
        assert self._consumer is not None
        writing: asyncio.Task[AppendResult] | None = None
        try:
            while True:
                polled = await self._consumer.getmany(timeout_ms=500, max_records=self.batch_size)
                records = [
                    Record(m.topic, m.key, m.value, list(m.headers or ()), m.partition, m.offset)
                    for messages in polled.values() for m in messages
                ]
                if not records:
                    continue
                batch = sort_records(records)
                if writing is not None:
                    await writing
                writing = asyncio.create_task(self._land(batch, len(records)))
        finally:
            if writing is not None and not writing.done():
                writing.cancel()

    async def _land(self, batch: Batch, count: int) -> AppendResult:
        backoff = 0.2
        while True:  # a gap in the ledger is worse than a stall: retry the same batch until it lands
            try:
                return await self.append(batch, count)
            except (TransientError, OSError, sqlite3.OperationalError) as exc:
                logger.error("audit batch of %d records failed, retrying in %.1fs: %s", count, backoff, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def process(self, records: list[Record]) -> AppendResult:
        return await self.append(sort_records(records), len(records))

    async def append(self, batch: Batch, count: int) -> AppendResult:
        for record in batch.dead:
            logger.warning("dead-lettering %s", dict(record.headers)["dlq_reason"].decode())
            # Sent before the offsets commit: a crash in between re-sends it (at least once).
            await self.publisher.send(Record(self.settings.topic_prefix + record.topic, record.key,
                                             record.value, record.headers))
            metrics.DEAD_LETTERED.inc()
        # one link per event, up to the SDK's default span link limit (extracting more is wasted work)
        envelopes = list({p.envelope.id: p.envelope for p in batch.pending[:MAX_LINKS]}.values())
        with tracer.start_as_current_span(
            "audit append", kind=trace.SpanKind.CONSUMER, links=links_of(envelopes)
        ) as span:
            result = await asyncio.to_thread(self.ledger.append_batch, batch.pending, batch.next_offsets)
            span.set_attribute("messaging.batch.message_count", count)
            span.set_attribute("audit.appended", result.appended)
            span.set_attribute("audit.duplicates", result.duplicates)
            span.set_attribute("audit.tree_size", result.size)
            span.set_attribute("audit.root", result.root.hex())
        metrics.ENTRIES_APPENDED.inc(result.appended)
        metrics.DUPLICATES_SKIPPED.inc(result.duplicates)
        metrics.LEDGER_SIZE.set(result.size)
        if self.after_batch is not None and result.appended:
            await self.after_batch()
        return result
