"""Composition root: settings → store, state, event runtime, handlers, HTTP app."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from google.protobuf.message import Message

from conveyor_kernel import ArtifactStore, Envelope, EventRuntime, create_service_app, topics

from .adapters.state import TrainerState
from .api import runs_router
from .handlers import TrainerPorts, handlers_for
from .settings import TrainerSettings, package_version

SERVICE = "trainer"
TOPICS = (topics.DATASETS, topics.RETRAIN)


@dataclass
class Trainer:
    runtime: EventRuntime
    ports: TrainerPorts


class _LatePublisher:
    """The runtime owns the publisher but needs the handlers first; this closes the loop."""

    def __init__(self) -> None:
        self.runtime: EventRuntime | None = None

    async def publish(self, event: Message, subject: str) -> Envelope:
        assert self.runtime is not None, "build_trainer sets the runtime before anything is consumed"
        return await self.runtime.publisher.publish(event, subject)


def build_trainer(settings: TrainerSettings) -> Trainer:
    state = TrainerState(settings.state_dir(SERVICE) / "trainer.db")
    publisher = _LatePublisher()
    ports = TrainerPorts(ArtifactStore(settings.artifact_root), state, publisher, settings)
    runtime = EventRuntime(settings, source=SERVICE, group=SERVICE, topics=TOPICS, handlers=handlers_for(ports))
    publisher.runtime = runtime
    return Trainer(runtime, ports)


def create_app(settings: TrainerSettings) -> FastAPI:
    trainer = build_trainer(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await trainer.runtime.start()
        try:
            yield
        finally:
            await trainer.runtime.stop()

    app = create_service_app("Conveyor trainer", trainer.runtime.problems, lifespan=lifespan, version=package_version())
    app.include_router(runs_router(trainer.ports.state, settings.recent_runs))
    app.state.trainer = trainer
    return app
