"""The composition root: ledger, publisher (dead letters) and consumer, built from settings."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from conveyor_kernel import ConveyorError, KafkaPublisher, create_service_app, ensure_topics, topics

from . import metrics
from .adapters.ledger_db import Ledger, open_ledger
from .api import build_router
from .checkpoints import Checkpointer
from .consumer import LedgerConsumer, settle_process
from .keys import load_signer
from .note import Signer
from .proofs_api import build_proof_router
from .reports_api import build_report_router
from .settings import AuditSettings
from .verify import verify_snapshot

logger = logging.getLogger(__name__)


class LedgerCorrupted(ConveyorError):
    """The stored ledger does not verify; appending to it would bury the evidence."""


class AuditService:
    def __init__(self, settings: AuditSettings) -> None:
        self.settings = settings
        self.ledger: Ledger | None = None
        self.publisher: KafkaPublisher | None = None
        self.consumer: LedgerConsumer | None = None
        self.signer: Signer | None = None
        self.checkpointer: Checkpointer | None = None
        self._timer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.signer = load_signer(self.settings)  # before opening anything: production needs a real key
        self.ledger = open_ledger(self.settings.state_dir("audit"))
        report = verify_snapshot(self.ledger.snapshot(), self.signer.verifier)
        metrics.LEDGER_SIZE.set(report.size)
        if report.ok:
            logger.info("ledger verified: %d entries, root %s", report.size, report.root.hex())
        elif self.settings.read_only:
            logger.error("ledger fails verification, serving read-only: %s", report.problems)
        else:
            path = self.ledger.path
            self.ledger.close()
            self.ledger = None
            raise LedgerCorrupted(
                f"ledger {path} fails verification ({'; '.join(report.problems[:5])}); "
                "refusing to append. Start with CONVEYOR_READ_ONLY=true to inspect it."
            )
        settings = self.settings
        self.checkpointer = Checkpointer(self.ledger, self.signer, settings.origin, settings.checkpoint_every)
        if settings.read_only:
            return
        self.publisher = KafkaPublisher(settings.kafka, source="audit")
        self.checkpointer.publisher = self.publisher
        self.consumer = LedgerConsumer(settings.kafka, self.ledger, self.publisher, settings.batch_size,
                                       after_batch=self.checkpointer.issue)
        try:
            await ensure_topics(settings.kafka, [settings.kafka.topic_prefix + topics.CHECKPOINTS])
            await self.publisher.start()
            # Re-send the latest checkpoint first: a crash may have come between storing and publishing it.
            for latest in self.ledger.checkpoints(limit=1):
                await self.checkpointer.publish(latest)
            await self.checkpointer.issue(force=True)
            settle_process()
            await self.consumer.start()
            self._timer = asyncio.create_task(self.checkpointer.run_timer(settings.checkpoint_seconds))
        except BaseException:
            await self.stop()  # leave no half-started clients or open database behind
            raise

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
            self._timer = None
        if self.consumer is not None:
            await self.consumer.stop()
            self.consumer = None
        if self.publisher is not None:
            await self.publisher.stop()
            self.publisher = None
        if self.ledger is not None:
            self.ledger.close()
            self.ledger = None

    def problems(self) -> list[str]:
        if self.ledger is None:
            return ["ledger"]
        if self.settings.read_only:
            return []
        problems = []
        if self.publisher is None or not self.publisher.started:
            problems.append("kafka producer")
        if self.consumer is None or not self.consumer.running:
            problems.append("ledger consumer")
        elif not self.consumer.assigned.is_set():
            problems.append("partition assignment")
        return problems

    def require_ledger(self) -> Ledger:
        if self.ledger is None:
            raise RuntimeError("the ledger is not open (service not started)")
        return self.ledger

    def require_signer(self) -> Signer:
        if self.signer is None:
            raise RuntimeError("the signing key is not loaded (service not started)")
        return self.signer


def create_app(settings: AuditSettings) -> FastAPI:
    service = AuditService(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = create_service_app("Conveyor audit", service.problems, lifespan)
    app.include_router(build_router(
        service.require_ledger, lambda: service.signer.verifier if service.signer else None
    ))
    app.include_router(build_proof_router(service.require_ledger, service.require_signer))
    app.include_router(build_report_router(
        service.require_ledger, lambda: service.publisher.send if service.publisher else None,
        settings.kafka.topic_prefix,
    ))
    app.state.audit = service
    return app
