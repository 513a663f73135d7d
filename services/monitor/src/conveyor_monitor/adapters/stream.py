"""The faust app as a component of the service: started in the FastAPI lifespan, ready once it consumes.

Faust runs inside the lifespan rather than as a `faust worker`: `App.start()` is a mode Service start, so
it shares uvicorn's loop. It is started as a task because it only returns once partitions are assigned
and tables recovered; /readyz reports progress meanwhile, then waits for the rewind (rewind.py).
"""

import asyncio
import logging
from collections.abc import Iterable

import faust

from conveyor_kernel import Dispatcher, KafkaSettings, cancel_task

from .agents import Forward, register_agents
from .rewind import rewind_sources

logger = logging.getLogger(__name__)


class FaustStream:
    def __init__(self, app: faust.App, kafka: KafkaSettings, sources: Iterable[str], dispatcher: Dispatcher,
                 forward: Forward) -> None:
        """`sources`: base names of the topics the dispatcher's handler table needs."""
        self.app = app
        self.kafka = kafka
        self.sources = tuple(sources)
        self._source_names = {kafka.topic(t) for t in self.sources}
        register_agents(app, kafka, self.sources, dispatcher, forward)
        self._faust_task: asyncio.Task[None] | None = None
        self._rewind_task: asyncio.Task[None] | None = None
        self._rewound = False

    async def start(self) -> None:
        # Faust creates only its internal topics and silently skips a missing source topic forever: the
        # event runtime, started before this, created the sources (they are its dispatcher's topics).
        self._faust_task = asyncio.create_task(self._run(), name="faust-monitor")
        self._rewind_task = asyncio.create_task(self._rewind_after_recovery(), name="monitor-rewind")

    async def _run(self) -> None:
        try:
            await self.app.start()
        except Exception:  # noqa: BLE001 - /readyz reports the app as not running; the REST side stays up
            logger.exception("faust app failed to start")

    async def _rewind_after_recovery(self) -> None:
        """See rewind.py: replays what faust's start-up may have dropped; /readyz waits for it."""
        await self.app.tables.recovery.completed.wait()
        while not self._assigned():
            await asyncio.sleep(0.05)
        try:
            await rewind_sources(self.app, self.kafka, self._source_names)
        except Exception:  # noqa: BLE001 - a failed rewind must not stop the service; the gap stays possible
            logger.exception("could not rewind the source partitions after recovery")
        self._rewound = True

    async def stop(self) -> None:
        await cancel_task(self._rewind_task)
        if self._faust_task is not None:
            await self.app.stop()
        await cancel_task(self._faust_task)
        self._faust_task = self._rewind_task = None

    def problems(self) -> list[str]:
        app = self.app
        if self._faust_task is None:
            return ["faust app"]
        if app.crashed:
            return ["faust app (crashed)"]
        if not self._assigned():
            return ["partition assignment"]
        if not app.tables.recovery.completed.is_set():
            return ["table recovery"]
        if not self._rewound:
            return ["source rewind after recovery"]
        return []

    def _assigned(self) -> bool:
        """This member has its share of the sources' partitions: all of them alone; with other instances some,
        or none at all when there are more instances than partitions (a spare that takes over on a failure)."""
        try:
            assigned = {tp.topic for tp in self.app.consumer.assignment()}
        except Exception:  # noqa: BLE001 - faust raises ConsumerNotStarted until its consumer thread runs
            return False
        if self._source_names <= assigned:
            return True
        return self.app.rebalancing_count > 0 and not self.app.rebalancing
