"""Feeds the ledger from Kafka without a consumer group: the ledger database owns the offsets.

Committing offsets to Kafka and entries to SQLite separately could lose or repeat an entry on a crash
between the two. Instead every partition of every lifecycle topic is assigned here, positioned at the
offset stored in the ledger, and each polled batch (entries + next offsets) is one SQLite transaction.

A two-stage pipeline: while batch n's transaction runs in the writer thread (SQLite releases the GIL),
the event loop fetches, sorts, encodes and hashes batch n+1 on top of n's uncommitted tip. Batches
still commit one at a time, in order, and the ledger's tip only moves when one has committed.
"""

import asyncio
import logging
import sqlite3
import sys
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

from confluent_kafka import Message
from opentelemetry import trace

from conveyor_kernel import (
    DeadLetters,
    KafkaSettings,
    Record,
    TransientError,
    cancel_task,
    links_of,
    settle_heap,
    topics,
    tracer,
)
from conveyor_kernel.kafka import ensure_topics

from .adapters.kafka_source import KafkaSource
from .adapters.ledger_db import Ledger
from .adapters.prepare import Prepared
from .adapters.rows import AppendResult
from .intake import Batch, sort_messages, sort_records
from .metrics import AuditMetrics

logger = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 5.0
MAX_LINKS = 128
POLL_SECONDS = 0.5
FETCHES_AHEAD = 2
YOUNG_OBJECTS = 50_000  # a batch of 2,000 events allocates about 25 tracked objects an event
SWITCH_SECONDS = 0.0005


def settle_process() -> None:
    """The process-wide settings the append pipeline is measured with (bench/audit.py calls this too).

    Collected every 700 allocations, a batch's short-lived objects were promoted and walked again by
    older-generation collections: a quarter of the preparing thread's time. And three threads hand
    batches on (Kafka fetch, prepare, SQLite commit): the writer releases the GIL around each SQLite call
    and needs it back after, which with the default 5 ms switch interval meant waiting out the
    preparing thread's slice several times a batch.
    """
    settle_heap(YOUNG_OBJECTS)
    sys.setswitchinterval(SWITCH_SECONDS)


class LedgerConsumer:
    def __init__(self, settings: KafkaSettings, ledger: Ledger, dead_letters: DeadLetters, metrics: AuditMetrics,
                 batch_size: int = 500, after_batch: Callable[[], Awaitable[object]] | None = None) -> None:
        self.settings = settings
        self.after_batch = after_batch  # e.g. issue a checkpoint when N entries accumulated
        self.ledger = ledger
        self.dead_letters = dead_letters
        self.metrics = metrics
        self.batch_size = batch_size
        self.topics = [settings.topic(t) for t in topics.LIFECYCLE]
        self.assigned = asyncio.Event()
        self._source: KafkaSource | None = None
        self._task: asyncio.Task[None] | None = None
        # One writer thread: a transaction still running when the task is cancelled finishes there,
        # and stop() waits for it before anyone closes the database.
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="audit-ledger-writer")
        self._writing: asyncio.Task[AppendResult] | None = None

    async def start(self) -> None:
        await ensure_topics(self.settings, [*topics.LIFECYCLE, topics.DEAD_LETTER])
        self._source = KafkaSource(self.settings, self.topics)
        stored = self.ledger.offsets()
        # Partitions are read once at start; a partition added later needs a restart to be audited.
        partitions = await self._source.start(stored)
        logger.info("audit consuming %d partitions from stored offsets %s", len(partitions), stored)
        self.assigned.set()
        self._task = asyncio.create_task(self._run(), name="audit-ledger")

    async def stop(self) -> None:
        await cancel_task(self._task)
        self._task = None
        if self._writing is not None:  # its outcome no longer matters: a restart resumes from the ledger
            self._writing.cancel()
            await asyncio.wait([self._writing])
            self._writing = None
        # A transaction already handed to the writer thread ends there (commits or rolls back)
        # before this returns, so the caller may close the database.
        await asyncio.to_thread(self._writer.shutdown, True)
        if self._source is not None:
            await self._source.close()
            self._source = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        """Prepare batch n+1 while batch n commits; hand n+1 to the writer only once n has landed."""
        source = self._source
        assert source is not None
        previous: Prepared | None = None
        # Fetches queue up on the Kafka thread, so the next ones are already running (or done) when a
        # batch has been prepared: waiting for a fetch to start would idle the pipeline once per batch.
        fetches = deque(self._fetch(source) for _ in range(FETCHES_AHEAD))
        try:
            while True:
                messages = await fetches.popleft()
                fetches.append(self._fetch(source))
                if messages:
                    previous = await self._pipeline(messages, previous)
        finally:
            for fetch in fetches:
                fetch.cancel()

    def _fetch(self, source: KafkaSource) -> asyncio.Task[list[Message]]:
        return asyncio.create_task(source.poll(self.batch_size, POLL_SECONDS))

    async def _pipeline(self, messages: list[Message], previous: Prepared | None) -> Prepared:
        batch = sort_messages(messages, self.dead_letters)
        prepared = self.ledger.prepare(batch.pending, after=previous)
        if self._writing is not None:
            await self._finish(await asyncio.shield(self._writing))
            self._writing = None
        await self._dead_letter(batch)
        self._writing = asyncio.create_task(self._land(batch, prepared, len(messages)))
        await asyncio.sleep(0)  # hand the transaction to the writer thread before preparing the next batch
        return prepared

    async def process(self, records: list[Record]) -> AppendResult:
        """One polled batch, start to end, with nothing in flight (what _run does, unpipelined)."""
        batch = sort_records(records, self.dead_letters)
        prepared = self.ledger.prepare(batch.pending)
        await self._dead_letter(batch)
        result = await self._land(batch, prepared, len(records))
        await self._finish(result)
        return result

    async def _dead_letter(self, batch: Batch) -> None:
        for letter in batch.dead:
            # Sent before the offsets commit: a crash in between re-sends it (at least once).
            await self.dead_letters.forward(letter)
            self.metrics.dead_lettered.inc()

    async def _land(self, batch: Batch, prepared: Prepared, count: int) -> AppendResult:
        # one link per event, up to the SDK's default span link limit (extracting more is wasted work)
        envelopes = list({p.id: p.envelope for p in batch.pending[:MAX_LINKS]}.values())
        with tracer.start_as_current_span(
            "audit append", kind=trace.SpanKind.CONSUMER, links=links_of(envelopes)
        ) as span:
            backoff = 0.2
            loop = asyncio.get_running_loop()
            while True:  # a gap in the ledger is worse than a stall: retry the same batch until it lands
                try:
                    # A failed transaction rolled back and left the tip where `prepared` starts.
                    result = await loop.run_in_executor(self._writer, self.ledger.commit, prepared,
                                                        batch.next_offsets)
                    break
                except (TransientError, OSError, sqlite3.OperationalError) as exc:
                    logger.error("audit batch of %d records failed, retrying in %.1fs: %s", count, backoff, exc)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
            span.set_attribute("messaging.batch.message_count", count)
            span.set_attribute("audit.appended", result.appended)
            span.set_attribute("audit.duplicates", result.duplicates)
            span.set_attribute("audit.tree_size", result.size)
            span.set_attribute("audit.root", result.root.hex())
        return result

    async def _finish(self, result: AppendResult) -> None:
        self.metrics.entries_appended.inc(result.appended)
        self.metrics.duplicates_skipped.inc(result.duplicates)
        self.metrics.ledger_size.set(result.size)
        if self.after_batch is not None and result.appended:
            await self.after_batch()
