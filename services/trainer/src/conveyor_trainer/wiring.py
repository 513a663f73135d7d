"""The composition root: settings in, the trainer app (with its event runtime and handler table) out."""

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import EventRuntime, create_service_app
from conveyor_kernel.database import make_engine
from conveyor_kernel.memory import InMemoryBus

from .adapters.state import TrainerState
from .api import ERRORS, router
from .handlers import TrainerPorts, handlers
from .intake import NotebookIntake
from .metrics import TrainerMetrics
from .runs import RunHistory
from .settings import TrainerSettings, package_version

SERVICE = "trainer"
PUBLISHES = (ev.ModelTrained, ev.ModelTrainingFailed)


def create_app(settings: TrainerSettings, transport: InMemoryBus | None = None) -> FastAPI:
    """With `transport` (unit tests) events go to and come from that in-memory bus; else Kafka."""
    runtime = EventRuntime(settings, source=SERVICE, publishes=PUBLISHES, transport=transport)
    registry = CollectorRegistry()
    ports = TrainerPorts(
        store=settings.artifacts(),
        state=TrainerState(make_engine(settings.database(SERVICE, "trainer.db"), schema=SERVICE)),
        publisher=runtime.publisher,
        settings=settings,
        metrics=TrainerMetrics.create(registry),
    )
    table = handlers(ports)
    runtime.subscribe(table, group=SERVICE)
    app = create_service_app("Conveyor trainer", service=SERVICE, settings=settings,
                             components=[runtime], registry=registry,
                             version=package_version(), errors=ERRORS)
    app.state.runtime, app.state.handlers, app.state.ports = runtime, table, ports
    app.state.runs = RunHistory(ports.state, settings.recent_runs)
    app.state.intake = NotebookIntake(ports)
    app.include_router(router)
    return app
