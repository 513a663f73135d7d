"""The composition root: settings in, the serving app (with its event runtime and components) out."""

import logging
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import Component, EventRuntime, create_service_app, settle_heap
from conveyor_kernel.memory import InMemoryBus

from . import api, api_repository, api_v1
from .adapters.model_folder import ModelFolder
from .adapters.shared_decisions import SharedDecisions
from .gate import Gate
from .grpc_server import GrpcServer
from .grpc_service import InferenceService
from .handlers import ServingPorts, build_handlers
from .inferencer import Inferencer
from .loading import DecisionFollower, ModelLoader
from .metrics import ServingMetrics
from .prediction_log import PredictionLog
from .repository import ModelRepository
from .settings import ServingSettings

logger = logging.getLogger(__name__)

SERVICE = "serving"
PUBLISHES = (ev.ModelDeployed, ev.PredictionsLogged)


@dataclass
class Serving:
    """What one app holds; routes (deps.py) and tests reach it through `app.state.serving`."""

    ports: ServingPorts
    log: PredictionLog
    inferencer: Inferencer
    loader: ModelLoader
    components: Sequence[Component]
    grpc: GrpcServer | None = None

    def problems(self) -> list[str]:
        return [p for component in self.components for p in component.problems()]


class Started:
    """The last component: once every other one runs, the heap is settled and the instance counts as up."""

    def __init__(self, instance: str, group: str) -> None:
        self.instance, self.group, self.started = instance, group, False

    async def start(self) -> None:
        settle_heap()
        self.started = True
        logger.info("serving instance %s up (consumer group %s)", self.instance, self.group)

    async def stop(self) -> None:
        self.started = False

    def problems(self) -> list[str]:
        return [] if self.started else ["startup"]


def create_app(settings: ServingSettings, transport: InMemoryBus | None = None) -> FastAPI:
    """With `transport` (unit tests) events go to that in-memory bus; else to Kafka.

    With `kafka_enabled=False` (standalone) it serves only the model-repository folder: the runtime is built
    but never started (no consumer, no producer) and no predictions are logged.
    """
    suffix = uuid.uuid4().hex[:8]
    group = f"serving-{suffix}"  # every process needs every promotion, so each one consumes in a group of its own
    on_bus = transport is not None or settings.kafka_enabled
    runtime = EventRuntime(settings, source=SERVICE, publishes=PUBLISHES, transport=transport)
    metrics = ServingMetrics.create(CollectorRegistry())
    ports = ServingPorts(
        store=settings.artifacts(),
        repository=ModelRepository(),
        metrics=metrics,
        instance=settings.instance or f"{socket.gethostname()}-{suffix}",
        publisher=runtime.publisher,
    )
    handlers = build_handlers(ports)
    runtime.subscribe(handlers, group=group)
    log = PredictionLog(runtime.publisher, metrics, settings.log_buffer_size, settings.log_batch_size,
                        settings.log_flush_interval, enabled=on_bus, first_predictions=ports.first_predictions)
    folder = ModelFolder(settings.model_repository) if settings.model_repository else None
    shared = settings.repository_decisions_file
    decisions = SharedDecisions(shared) if shared is not None and folder is not None else None
    loader = ModelLoader(ports.repository, metrics, folder, decisions)
    inferencer = Inferencer(settings, ports.repository, log, metrics, Gate(settings.api_keys, settings.max_body_bytes))

    components: list[Component] = [loader]  # the folder's models first
    if on_bus:
        components.append(runtime)
    components.append(log)  # stops before the runtime: it flushes while the publisher still runs
    grpc_server = None
    if settings.grpc_enabled:
        def ready() -> bool:  # the components' readiness, as /v2/health/ready reports it
            return not [problem for component in components for problem in component.problems()]

        service = InferenceService(inferencer, loader, ready, api.SERVER_NAME, api.SERVER_VERSION, api.EXTENSIONS)
        grpc_server = GrpcServer(service, settings.host, settings.grpc_port, settings.max_body_bytes,
                                 settings.grpc_threads)
        components.append(grpc_server)  # stops before the log: calls in flight are logged
    if decisions is not None and folder is not None:
        components.append(DecisionFollower(loader, folder, decisions))
    components.append(Started(ports.instance, group if on_bus else "-"))

    # FastAPI's native HTTP tracing costs ~25% of peak throughput here even when sampling drops the span;
    # infer requests are traced by api.answer_infer instead (sampled before any OpenTelemetry call). For the
    # same reason the kernel's request metrics are off: infer requests have serving's own latency histogram.
    app = create_service_app("conveyor-serving", service=SERVICE, settings=settings,
                             components=components, registry=metrics.registry,
                             version=api.SERVER_VERSION, errors=api.ERRORS, error_body=api.oip_error,
                             http_tracing=False, http_metrics=False)
    app.state.serving = Serving(ports, log, inferencer, loader, components, grpc_server)
    app.state.runtime = runtime
    app.state.handlers = handlers
    app.include_router(api.router)
    app.include_router(api_v1.router)
    app.include_router(api_repository.router)
    app.router.routes[:0] = api.fast_routes(inferencer)
    return app

