"""Conveyor's shared kernel: contracts on the wire, the event bus, storage, settings and telemetry.

Imported by every service; never run on its own. Errors: see `conveyor_kernel._errors`.
"""

from . import _topics as topics
from ._bus import Dispatcher, Handler, HandlerTable, InMemoryBus, Publisher, Record, build_record, dead_letter
from ._envelope import CONTENT_TYPE, Envelope, decode_event, new_event_id
from ._errors import ConfigurationError, ConveyorError, InvalidMessage, TransientError
from ._heap import settle_heap
from ._http import create_service_app
from ._kafka import KafkaConsumerLoop, KafkaPublisher, ensure_topics
from ._logging import configure_logging
from ._predictions import prediction_rows
from ._runtime import EventRuntime
from ._serve import serve
from ._settings import KafkaSettings, ServiceSettings, TelemetrySettings
from ._storage import ArtifactStore
from ._tasks import cancel_task
from ._telemetry import configure_tracing, context_of, links_of, tracer
from ._topics import EVENT_TYPES, LIFECYCLE_TOPICS, TOPIC_OF, topic_for, type_name

__all__ = [
    "prediction_rows",
    "CONTENT_TYPE",
    "EVENT_TYPES",
    "LIFECYCLE_TOPICS",
    "TOPIC_OF",
    "ArtifactStore",
    "ConfigurationError",
    "ConveyorError",
    "Dispatcher",
    "Envelope",
    "EventRuntime",
    "Handler",
    "HandlerTable",
    "InMemoryBus",
    "InvalidMessage",
    "KafkaConsumerLoop",
    "KafkaPublisher",
    "KafkaSettings",
    "Publisher",
    "Record",
    "ServiceSettings",
    "TelemetrySettings",
    "TransientError",
    "build_record",
    "cancel_task",
    "configure_logging",
    "configure_tracing",
    "context_of",
    "create_service_app",
    "dead_letter",
    "decode_event",
    "ensure_topics",
    "links_of",
    "new_event_id",
    "serve",
    "settle_heap",
    "topic_for",
    "topics",
    "tracer",
    "type_name",
]
