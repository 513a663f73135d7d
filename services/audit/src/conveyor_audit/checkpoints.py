"""Signed checkpoints: issued every N entries or T seconds, stored in the ledger, published to Kafka.

The Kafka copy is what makes a rewritten ledger database detectable: whoever kept a checkpoint can ask
for a consistency proof from it. Publishing is at least once (the event id is derived from origin and
size, so copies are deduplicable); a checkpoint that could not be published is re-sent at next start.
"""

import asyncio
import logging
import uuid
from datetime import UTC, datetime

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import Publisher, TransientError

from .adapters.ledger_db import Ledger
from .adapters.rows import StoredCheckpoint
from .note import Checkpoint, Signer

logger = logging.getLogger(__name__)


class Checkpointer:
    def __init__(self, ledger: Ledger, signer: Signer, origin: str, every: int,
                 publisher: Publisher | None = None) -> None:
        self.ledger = ledger
        self.signer = signer
        self.origin = origin
        self.every = every
        self.publisher = publisher
        latest = ledger.checkpoints(limit=1)
        self.last_size: int | None = latest[0].size if latest else None

    def sign(self) -> StoredCheckpoint | None:
        """Sign and store a checkpoint of the current tip, unless the latest one already covers it."""
        size, root = self.ledger.tip()
        if size == self.last_size:
            return None
        note = self.signer.sign(Checkpoint(self.origin, size, root).body())
        stored = StoredCheckpoint(size, root, note, datetime.now(UTC).isoformat(timespec="microseconds"))
        self.ledger.add_checkpoint(stored)
        self.last_size = size
        logger.info("checkpoint issued: size %d root %s", size, root.hex())
        return stored

    def due(self) -> bool:
        return self.last_size is None or self.ledger.size - self.last_size >= self.every

    async def issue(self, force: bool = False) -> StoredCheckpoint | None:
        if not force and not self.due():
            return None
        stored = await asyncio.to_thread(self.sign)
        if stored is not None:
            await self.publish(stored)
        return stored

    async def publish(self, stored: StoredCheckpoint) -> None:
        if self.publisher is None:
            return
        event = ev.CheckpointIssued(
            origin=self.origin, tree_size=stored.size, root_hash=stored.root, note=stored.note,
            key_name=self.signer.name, key_id=self.signer.verifier.key_id.hex(),
        )
        try:
            await self.publisher.publish(event, self.origin, event_id=self.event_id_of(stored), time=stored.issued_at)
        except TransientError as exc:  # the checkpoint is stored; the next start re-sends the latest
            logger.error("checkpoint %d not published: %s", stored.size, exc)

    def event_id_of(self, stored: StoredCheckpoint) -> str:
        """Every copy of one checkpoint carries this id (and its signing time as ce_time): copies deduplicate."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.origin}/checkpoint/{stored.size}"))

    async def run_timer(self, seconds: float) -> None:
        """At least every `seconds`, sign what grew since the last checkpoint."""
        while True:
            await asyncio.sleep(seconds)
            try:
                await self.issue(force=True)
            except Exception:  # a failed tick must not end the timer; the next one retries
                logger.exception("checkpoint timer tick failed")
