"""Conveyor's shared kernel: what every service imports, and nothing any of them runs on its own.

Events and their envelope (the CloudEvents Kafka binary binding):
    Envelope, decode_event, new_event_id
Topics: which topic carries which event, in the submodule `topics` (base names; full names come from
    `KafkaSettings.topic()`, the one place a prefix is applied)
The bus: a service builds one EventRuntime from its settings, takes its publisher for the ports that
    publish, and subscribes one handler table; the consumed topics derive from that table.
    EventRuntime, Publisher, Handler, HandlerTable, Record, Dispatcher, DeadLetters
Failure, one tree (see `_errors`): ConveyorError > InvalidMessage | TransientError (> BrokerUnavailable) |
    ConfigurationError
Settings: ServiceSettings (CONVEYOR_* variables), KafkaSettings, AuthSettings
The HTTP shell and the process: create_service_app (ops routes, component lifespan, error mapping, the
    access guard), Component, serve, configure_process, BIGINT_MAX (the bound of every integer a route takes)
Identity (see docs/security.md): who acts, from a verified bearer token or as the service itself
    Principal, PrincipalDep (a route's verified caller); the rest (role names, Kind, the access table, the
    dev-mode issuer, the verifier) in the submodule `conveyor_kernel.identity`
Artifacts: ArtifactStore (content-addressed blobs: FileStore, or S3Store in `conveyor_kernel._s3`), open_store;
    a service gets its store from `settings.artifacts()`
State: `conveyor_kernel.database` (make_engine, serialize, WriterLease): SQLite files or PostgreSQL schemas
Telemetry (the API only; entrypoints configure the SDK): tracer, links_of, context_of (an event's trace)
Long-running processes: cancel_task, settle_heap

Submodules for the transports: `conveyor_kernel.kafka` (KafkaPublisher, KafkaConsumerLoop, KafkaReplayLoop,
ensure_topics)
and `conveyor_kernel.memory` (InMemoryBus, build_record: unit tests only); `conveyor_kernel.grants`: what
each service's Kafka principal may do (KafkaGrants, acl_bindings); `conveyor_kernel.callers`: dev-mode
callers for tests and scripts (AllowedCaller, token_for).
"""

from . import topics
from ._bus import DeadLetters, Dispatcher, Handler, HandlerTable, Publisher, Record
from ._envelope import Envelope, decode_event, new_event_id
from ._errors import BrokerUnavailable, ConfigurationError, ConveyorError, InvalidMessage, TransientError
from ._guard import PrincipalDep
from ._heap import settle_heap
from ._http import BIGINT_MAX, Component, create_service_app
from ._identity import Principal
from ._runtime import EventRuntime
from ._serve import configure_process, serve
from ._settings import AuthSettings, KafkaSettings, ServiceSettings
from ._storage import ArtifactStore, FileStore, open_store
from ._tasks import cancel_task
from ._telemetry import context_of, links_of, tracer

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
    "BrokerUnavailable",
    "ConfigurationError",
    "ConveyorError",
    "InvalidMessage",
    "TransientError",
    # identity
    "Principal",
    "PrincipalDep",
    # settings
    "AuthSettings",
    "KafkaSettings",
    "ServiceSettings",
    # the HTTP shell and the process
    "BIGINT_MAX",
    "Component",
    "configure_process",
    "create_service_app",
    "serve",
    # artifacts, telemetry, long-running processes
    "ArtifactStore",
    "FileStore",
    "open_store",
    "cancel_task",
    "context_of",
    "links_of",
    "settle_heap",
    "tracer",
]
