"""Conveyor's shared kernel: what every service imports, and nothing any of them runs on its own.

Events and their envelope (the CloudEvents Kafka binary binding):
    Envelope, decode_event, new_event_id
Topics: which topic carries which event, in the submodule `topics` (base names; full names come from
    `KafkaSettings.topic()`, the one place a prefix is applied)
The bus: a service builds one EventRuntime from its settings, takes its publisher for the ports that
    publish, and subscribes one handler table; the consumed topics derive from that table.
    EventRuntime, Publisher, Handler, HandlerTable, Record, Dispatcher, DeadLetters
Failure, one tree (see `_errors`): ConveyorError > InvalidMessage | TransientError | ConfigurationError
Settings: ServiceSettings (CONVEYOR_* variables), KafkaSettings, AuthSettings
The HTTP shell and the process: create_service_app (ops routes, component lifespan, error mapping, the
    access guard), Component, serve, configure_process
Identity (see docs/security.md): who acts, from a verified bearer token or as the service itself
    Principal, PrincipalDep (a route's verified caller), acting_principal, Kind, ROLES and the role names,
    AccessTable (access.toml: every route of every service), DevIssuer (dev-mode tokens), TokenVerifier,
    TokenRefused, token_verifier
Artifacts: ArtifactStore (content-addressed blobs: FileStore, or S3Store in `conveyor_kernel._s3`), open_store;
    a service gets its store from `settings.artifacts()`
State: `conveyor_kernel.database` (make_engine, serialize, WriterLease): SQLite files or PostgreSQL schemas
Telemetry (the API only; entrypoints configure the SDK): tracer, links_of, context_of (an event's trace)
Long-running processes: cancel_task, settle_heap

Submodules for the transports: `conveyor_kernel.kafka` (KafkaPublisher, KafkaConsumerLoop, ensure_topics)
and `conveyor_kernel.memory` (InMemoryBus, build_record: unit tests only); `conveyor_kernel.grants`: what
each service's Kafka principal may do (KafkaGrants, acl_bindings); `conveyor_kernel.callers`: dev-mode
callers for tests and scripts (AllowedCaller, token_for).
"""

from . import topics
from ._access import AccessTable
from ._bus import DeadLetters, Dispatcher, Handler, HandlerTable, Publisher, Record
from ._envelope import Envelope, decode_event, new_event_id
from ._errors import ConfigurationError, ConveyorError, InvalidMessage, TransientError
from ._guard import PrincipalDep
from ._heap import settle_heap
from ._http import Component, create_service_app
from ._identity import (
    ADMIN,
    AUDITOR,
    DATA_SCIENTIST,
    MANAGER,
    PRIVACY_OFFICER,
    ROLES,
    TECH_LEADER,
    Kind,
    Principal,
    acting_principal,
)
from ._runtime import EventRuntime
from ._security import token_verifier
from ._serve import configure_process, serve
from ._settings import AuthSettings, KafkaSettings, ServiceSettings
from ._storage import ArtifactStore, FileStore, open_store
from ._tasks import cancel_task
from ._telemetry import context_of, links_of, tracer
from ._tokens import DevIssuer, TokenRefused, TokenVerifier

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
    # identity
    "ADMIN",
    "AUDITOR",
    "AccessTable",
    "DATA_SCIENTIST",
    "DevIssuer",
    "Kind",
    "MANAGER",
    "PRIVACY_OFFICER",
    "Principal",
    "PrincipalDep",
    "ROLES",
    "TECH_LEADER",
    "TokenRefused",
    "TokenVerifier",
    "acting_principal",
    "token_verifier",
    # settings
    "AuthSettings",
    "KafkaSettings",
    "ServiceSettings",
    # the HTTP shell and the process
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
