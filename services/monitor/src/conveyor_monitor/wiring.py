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
from .cooldown import CooldownGate
from .evaluation import Evaluator
from .handlers import Monitor, handler_table
from .history import EvaluationHistory
from .metrics import MonitorMetrics
from .performance import LabelJoin
from .policy import RetrainPolicy
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
        labels=LabelJoin(settings.label_window_size),
        tolerance=settings.performance_tolerance,
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

    async def stop(self) -> None:
        if self.faust_app is not None:
            await self.faust_app.stop()
        if self._faust_task is not None and not self._faust_task.done():
            self._faust_task.cancel()
            try:
                await self._faust_task
            except asyncio.CancelledError:
                pass
        await self.publisher.stop()

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
