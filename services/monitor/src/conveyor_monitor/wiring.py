"""The composition root: settings in, the monitor app (event runtime, faust stream, Monitor) out."""

from collections.abc import MutableMapping
from typing import Any

import faust
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import Component, EventRuntime, Publisher, create_service_app
from conveyor_kernel.database import make_engine
from conveyor_kernel.memory import InMemoryBus

from .adapters.faust_app import create_faust_app
from .adapters.stream import FaustStream
from .adapters.tables import create_champions_table, create_windows_table
from .alerting import Alerting
from .api import ERRORS, router
from .confirm import DriftConfirmation
from .cooldown import CooldownGate
from .evaluation import Evaluator
from .feedback import Feedback
from .handlers import Monitor, handler_table
from .history import EvaluationHistory
from .labels import LabelJoin
from .metrics import MonitorMetrics
from .policy import RetrainPolicy
from .settings import MonitorSettings
from .window import WindowBuffer

SERVICE = "monitor"
PUBLISHES = (ev.DriftDetected, ev.FairnessDegraded, ev.PerformanceDegraded, ev.RetrainDeferred, ev.FeedbackCollected)


def build_monitor(
    settings: MonitorSettings, publisher: Publisher, champions: MutableMapping[str, Any],
    history: EvaluationHistory, metrics: MonitorMetrics, windows: MutableMapping[str, Any] | None = None,
) -> Monitor:
    """The Monitor and its parts from settings; unit tests pass an in-memory publisher and dicts."""
    store = settings.artifacts()
    # NORMAL: a committed label survives a killed process; what power loss could take, redelivery brings back
    engine = make_engine(settings.database(SERVICE, "labels.db"), schema=SERVICE, sqlite_synchronous="NORMAL")
    labels = LabelJoin(engine, settings.label_window_size)
    feedback = Feedback(store, labels, publisher, settings.feedback_min_labels)
    return Monitor(
        store=store,
        champions=champions,
        windows=WindowBuffer(settings.window_size, windows),
        history=history,
        metrics=metrics,
        alerting=Alerting(
            publisher=publisher,
            feedback=feedback,
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
        labels=labels,
        feedback=feedback,
        tolerance=settings.performance_tolerance,
        confirmation=DriftConfirmation(settings.drift_confirm_windows),
    )


def create_app(settings: MonitorSettings, transport: InMemoryBus | None = None) -> FastAPI:
    """On Kafka, faust consumes the handler table's topics and keeps the state in its tables. With
    `transport` (unit tests) the runtime subscribes the table on that bus (`deliver()` plays the consumer)
    and the state lives in dicts."""
    runtime = EventRuntime(settings, source=SERVICE, publishes=PUBLISHES, transport=transport)
    registry = CollectorRegistry()
    faust_app = create_faust_app(settings, SERVICE) if transport is None else None
    champions, windows = _state(faust_app)
    monitor = build_monitor(settings, runtime.publisher, champions, EvaluationHistory(settings.history_size),
                            MonitorMetrics.create(registry), windows)
    table = handler_table(monitor)
    # The Monitor comes first so that it stops last: the stream writes to its label store until it stops.
    components: list[Component] = [monitor, runtime]
    stream = None
    if faust_app is None:
        runtime.subscribe(table, group=SERVICE)
    else:
        dispatcher = runtime.dispatcher(table, group=SERVICE)
        stream = FaustStream(faust_app, settings.kafka, runtime.subscribed, dispatcher, runtime.dead_letters.forward)
        components.append(stream)
    app = create_service_app("Conveyor monitor", service=SERVICE, settings=settings,
                             components=components, registry=registry, errors=ERRORS)
    app.state.runtime, app.state.handlers, app.state.monitor, app.state.stream = runtime, table, monitor, stream
    app.state.own_consumer_topics = stream.sources if stream else ()  # base names faust consumes
    app.include_router(router)
    return app


def _state(faust_app: faust.App | None) -> tuple[MutableMapping[str, Any], MutableMapping[str, Any]]:
    """Champions and open windows: faust tables (restored from their changelogs after a crash), else dicts."""
    if faust_app is None:
        return {}, {}
    return create_champions_table(faust_app), create_windows_table(faust_app)
