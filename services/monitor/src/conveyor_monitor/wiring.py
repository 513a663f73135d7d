"""The composition root: publisher, faust app, table, agents and the Monitor, started in one event loop.

Faust runs inside the FastAPI lifespan rather than as a `faust worker`: `App.start()` is a mode
Service start, so it shares uvicorn's loop. It is started as a task because it only returns once
partitions are assigned and tables recovered; /readyz reports progress meanwhile.
"""

import asyncio
import logging
from collections.abc import MutableMapping
from typing import Any

import faust

from conveyor_kernel import (
    ArtifactStore,
    Dispatcher,
    KafkaPublisher,
    Publisher,
    ensure_topics,
    topics,
)

from .actions import Actions
from .agents import register_agents
from .app import APP_NAME, create_faust_app, source_topics
from .confirm import DriftConfirmation
from .cooldown import CooldownGate
from .evaluation import Evaluator
from .handlers import Monitor, handler_table
from .history import EvaluationHistory
from .labels import LabelJoin
from .metrics import MonitorMetrics
from .policy import RetrainPolicy
from .rewind import rewind_sources
from .settings import MonitorSettings
from .tables import create_champions_table, create_windows_table
from .window import WindowBuffer

logger = logging.getLogger(__name__)

OWN_TOPICS = (topics.PREDICTIONS, topics.REGISTRY, topics.MONITORING, topics.RETRAIN, topics.DEAD_LETTER)


def build_monitor(
    settings: MonitorSettings, publisher: Publisher, champions: MutableMapping[str, Any],
    history: EvaluationHistory, metrics: MonitorMetrics, windows: MutableMapping[str, Any] | None = None,
) -> Monitor:
    """The Monitor and its parts from settings; unit tests pass an InMemoryBus and a dict."""
    return Monitor(
        store=ArtifactStore(settings.artifact_root),
        champions=champions,
        windows=WindowBuffer(settings.window_size, windows),
        history=history,
        metrics=metrics,
        actions=Actions(
            publisher=publisher,
            policy=RetrainPolicy(settings.retrain_cooldown_seconds, settings.retrain_max_per_hour),
            gate=CooldownGate(settings.retrain_cooldown_seconds),
            metrics=metrics,
        ),
        evaluator=Evaluator(
            share_threshold=settings.drift_share_threshold,
            method=settings.drift_method,
            parity_difference=settings.parity_difference_threshold,
            fairness_alpha=settings.fairness_alpha,
            min_group_size=settings.min_group_size,
        ),
        labels=LabelJoin(settings.state_dir(APP_NAME) / "labels.db", settings.label_window_size),
        tolerance=settings.performance_tolerance,
        confirmation=DriftConfirmation(settings.drift_confirm_windows),
    )


class MonitorRuntime:
    def __init__(self, settings: MonitorSettings, metrics: MonitorMetrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or MonitorMetrics.create()
        self.history = EvaluationHistory(settings.history_size)
        self.publisher = KafkaPublisher(settings.kafka, source=APP_NAME)
        self.faust_app: faust.App | None = None
        self.monitor: Monitor | None = None
        self._faust_task: asyncio.Task[None] | None = None
        self._rewind_task: asyncio.Task[None] | None = None
        self._rewound = False
        self._source_topics: set[str] = set()

    async def start(self) -> None:
        prefix = self.settings.kafka.topic_prefix
        await self.publisher.start()
        # Faust creates only its internal topics; it silently skips a missing source topic forever.
        await ensure_topics(self.settings.kafka, [prefix + t for t in OWN_TOPICS])
        app = create_faust_app(self.settings)
        sources = source_topics(app, prefix)
        self._source_topics = {prefix + topics.PREDICTIONS, prefix + topics.REGISTRY}
        self.monitor = build_monitor(self.settings, self.publisher, create_champions_table(app), self.history,
                                     self.metrics, create_windows_table(app))
        dispatcher = Dispatcher(
            handler_table(self.monitor), group=APP_NAME, max_retries=self.settings.kafka.max_retries
        )
        register_agents(app, sources, dispatcher, self.publisher, prefix)
        self.faust_app = app
        self._faust_task = asyncio.create_task(app.start(), name="faust-monitor")
        self._faust_task.add_done_callback(_log_start_failure)
        self._rewind_task = asyncio.create_task(self._rewind_after_recovery(app), name="monitor-rewind")

    async def _rewind_after_recovery(self, app: faust.App) -> None:
        """See rewind.py: replays what faust's start-up may have dropped; /readyz waits for it."""
        await app.tables.recovery.completed.wait()
        while not self._assigned(app):
            await asyncio.sleep(0.05)
        try:
            await rewind_sources(app, self.settings.kafka.bootstrap_servers, self._source_topics)
        except Exception:  # noqa: BLE001 - a failed rewind must not stop the service; the gap stays possible
            logger.exception("could not rewind the source partitions after recovery")
        self._rewound = True

    async def stop(self) -> None:
        if self._rewind_task is not None and not self._rewind_task.done():
            self._rewind_task.cancel()
        if self.faust_app is not None:
            await self.faust_app.stop()
        if self._faust_task is not None and not self._faust_task.done():
            self._faust_task.cancel()
            try:
                await self._faust_task
            except asyncio.CancelledError:
                pass
        await self.publisher.stop()
        if self.monitor is not None:
            self.monitor.labels.close()

    def problems(self) -> list[str]:
        problems = []
        if not self.publisher.started:
            problems.append("kafka producer")
        app = self.faust_app
        if app is None or app.crashed:
            problems.append("faust app" + (" (crashed)" if app is not None else ""))
        elif not self._assigned(app):
            problems.append("partition assignment")
        elif not app.tables.recovery.completed.is_set():
            problems.append("table recovery")
        elif not self._rewound:
            problems.append("source rewind after recovery")
        return problems

    def _assigned(self, app: faust.App) -> bool:
        try:
            assigned = {tp.topic for tp in app.consumer.assignment()}
        except Exception:  # noqa: BLE001 - faust raises ConsumerNotStarted until its consumer thread runs
            return False
        return self._source_topics <= assigned


def _log_start_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("faust app failed to start: %r", task.exception())
