"""The registry's own clockwork: publish the shipped default policy when none is in force (before the consumer
takes a ModelTrained), retry the outbox every second while Kafka is away, expire requests left unanswered."""

import asyncio
import logging
from dataclasses import dataclass, field

from conveyor_kernel import cancel_task

from .champions import Registry

logger = logging.getLogger(__name__)
RELAY_SECONDS = 1.0
EXPIRY_SECONDS = 60.0


@dataclass
class Background:
    registry: Registry
    _task: asyncio.Task[None] | None = field(default=None, init=False, repr=False)

    async def start(self) -> None:
        await self.registry.ensure_policy()
        self._task = asyncio.create_task(self._run(), name="registry-background")

    async def stop(self) -> None:
        await cancel_task(self._task)
        self._task = None

    async def _run(self) -> None:
        since_expiry = 0.0
        while True:
            await asyncio.sleep(RELAY_SECONDS)
            since_expiry += RELAY_SECONDS
            try:
                await self.registry.relay.drain()
                if since_expiry >= EXPIRY_SECONDS:
                    since_expiry = 0.0
                    await self.registry.expire_due()
            except Exception:  # noqa: BLE001 - one failed pass must not end the clockwork; it is logged whole
                logger.exception("registry background pass failed; trying again in %.0f s", RELAY_SECONDS)

    def problems(self) -> list[str]:
        return self.registry.relay.problems()
