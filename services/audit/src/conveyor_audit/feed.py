"""What keeps the ledger growing, started once the ledger is open and the event runtime is up: the
latest checkpoint re-sent, the tip signed, the lifecycle topics consumed into the ledger, and a timer
that signs what grew at least every `checkpoint_seconds`. A component: stops the timer, then the reader.
"""

import asyncio

from conveyor_kernel import DeadLetters, cancel_task

from .consumer import LedgerConsumer, settle_process
from .keeper import LedgerKeeper
from .metrics import AuditMetrics
from .settings import AuditSettings


class LedgerFeed:
    def __init__(self, settings: AuditSettings, keeper: LedgerKeeper, dead_letters: DeadLetters,
                 metrics: AuditMetrics, read_kafka: bool = True) -> None:
        self.settings = settings
        self.keeper = keeper
        self.dead_letters = dead_letters
        self.metrics = metrics
        self.read_kafka = read_kafka  # False on an in-memory transport: the ledger's reader is Kafka only
        self.consumer: LedgerConsumer | None = None
        self._timer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        ledger, checkpointer = self.keeper.ledger, self.keeper.checkpointer
        try:
            # Re-send the latest checkpoint first: a crash may have come between storing and publishing it.
            for latest in ledger.checkpoints(limit=1):
                await checkpointer.publish(latest)
            await checkpointer.issue(force=True)
            if self.read_kafka:
                settle_process()
                # Not runtime.subscribe(): the ledger database owns the offsets, committed in the same SQLite
                # transaction as the entries, so a crash can neither lose nor repeat an entry (a consumer
                # group would commit them to Kafka separately).
                self.consumer = LedgerConsumer(self.settings.kafka, ledger, self.dead_letters, self.metrics,
                                               self.settings.batch_size, after_batch=checkpointer.issue)
                await self.consumer.start()
            self._timer = asyncio.create_task(checkpointer.run_timer(self.settings.checkpoint_seconds),
                                              name="audit-checkpoint-timer")
        except BaseException:
            await self.stop()  # leave no half-started reader behind: the lifespan only stops what started
            raise

    async def stop(self) -> None:
        await cancel_task(self._timer)
        self._timer = None
        if self.consumer is not None:
            await self.consumer.stop()
            self.consumer = None

    def problems(self) -> list[str]:
        if not self.read_kafka:
            return []
        if self.consumer is None or not self.consumer.running:
            return ["ledger consumer"]
        return [] if self.consumer.assigned.is_set() else ["partition assignment"]
