"""Conveyor's shared kernel: what every service imports, and nothing any of them runs on its own.

Events and their envelope (the CloudEvents Kafka binary binding):
    Envelope, decode_event, new_event_id
Topics: which topic carries which event, in the submodule `topics` (base names; full names come from
    `KafkaSettings.topic()`, the one place a prefix is applied)
The bus: a service builds one EventRuntime from its settings, takes its publisher for the ports that
    publish, and subscribes one handler table; the consumed topics derive from that table.
    EventRuntime, Publisher, Handler, HandlerTable, Record, Dispatcher, DeadLetters
Failure, one tree (see `_errors`): ConveyorError > InvalidMessage | TransientError | ConfigurationError
Settings: ServiceSettings (CONVEYOR_* variables), KafkaSettings
The HTTP shell and the process: create_service_app (ops routes, component lifespan, error mapping),
    Component, serve, configure_process
Artifacts: ArtifactStore (content-addressed blobs)
Telemetry (the API only; entrypoints configure the SDK): tracer, links_of
Long-running processes: cancel_task, settle_heap

Submodules for the transports: `conveyor_kernel.kafka` (KafkaPublisher, KafkaConsumerLoop, ensure_topics)
and `conveyor_kernel.memory` (InMemoryBus, build_record: unit tests only).
"""

from . import topics
from ._bus import DeadLetters, Dispatcher, Handler, HandlerTable, Publisher, Record
from ._envelope import Envelope, decode_event, new_event_id
from ._errors import ConfigurationError, ConveyorError, InvalidMessage, TransientError
from ._heap import settle_heap
from ._http import Component, create_service_app
from ._runtime import EventRuntime
from ._serve import configure_process, serve
from ._settings import KafkaSettings, ServiceSettings
from ._storage import ArtifactStore
from ._tasks import cancel_task
from ._telemetry import links_of, tracer

__all__ = [
    # events and the envelope
    "Envelope",
    "decode_event",
    "new_event_id",
    "topics",
    # the bus
    "DeadLetters",
    "Dispatcher",
    "EventRuntime",
    "Handler",
    "HandlerTable",
    "Publisher",
    "Record",
    # failure
    "ConfigurationError",
    "ConveyorError",
    "InvalidMessage",
    "TransientError",
    # settings
    "KafkaSettings",
    "ServiceSettings",
    # the HTTP shell and the process
    "Component",
    "configure_process",
    "create_service_app",
    "serve",
    # artifacts, telemetry, long-running processes
    "ArtifactStore",
    "cancel_task",
    "links_of",
    "settle_heap",
    "tracer",
]
