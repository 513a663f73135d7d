"""Sending OpenLineage run events: to the Kafka topic `conveyor.openlineage` through openlineage-python's own
Kafka transport (JSON, the standard wire form, so any OpenLineage consumer reads it), and also to wherever
the standard OpenLineage client configuration points (`OPENLINEAGE_URL`, `OPENLINEAGE_CONFIG`, an
`openlineage.yml` in the working directory or ~/.openlineage, `OPENLINEAGE__TRANSPORT__*`), e.g. Marquez.

Lineage observes the lifecycle, it does not gate it: the Conveyor event is already published when its run
event is sent, and a failed send is logged (with the job) rather than failing the step that was done.
"""

import asyncio
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from google.protobuf.message import Message
from openlineage.client import OpenLineageClient
from openlineage.client.serde import Serde
from openlineage.client.transport.kafka import KafkaConfig, KafkaTransport
from openlineage.client.transport.transport import Transport

from . import topics
from ._envelope import Envelope
from ._settings import KafkaSettings
from .lineage import run_event
from .memory import InMemoryBus

logger = logging.getLogger(__name__)
FLUSH_SECONDS = 10.0


def configured_elsewhere() -> bool:
    """Whether the standard OpenLineage configuration names a destination (the client's own search order)."""
    if os.environ.get("OPENLINEAGE_URL") or os.environ.get("OPENLINEAGE_CONFIG"):
        return True
    if any(k.startswith("OPENLINEAGE__TRANSPORT") for k in os.environ):
        return True
    return any(p.is_file() for p in (Path.cwd() / "openlineage.yml", Path.home() / ".openlineage" / "openlineage.yml"))


class _MemoryTransport(Transport):
    """Unit tests: the run events as the wire would carry them, on the in-memory bus."""

    kind = "conveyor-memory"

    def __init__(self, bus: InMemoryBus) -> None:
        self.bus = bus

    def emit(self, event: Any) -> None:
        self.bus.lineage.append(json.loads(Serde.to_json(event)))


class LineageEmitter:
    """Transports are built on the first run event: a service that never emits one opens no connection."""

    def __init__(self, kafka: KafkaSettings, memory: InMemoryBus | None = None) -> None:
        self.settings = kafka
        self.memory = memory
        self.kafka: KafkaTransport | None = None
        self.transports: list[Transport] = []
        self._lock = threading.Lock()

    def _open(self) -> list[Transport]:
        with self._lock:
            if self.transports:
                return self.transports
            if self.memory is not None:
                self.transports.append(_MemoryTransport(self.memory))
            else:
                options = {**self.settings.librdkafka_options(), "client.id": f"{self.settings.client_id}-openlineage"}
                self.kafka = KafkaTransport(KafkaConfig(config=options, topic=self.settings.topic(topics.OPENLINEAGE),
                                                        flush=False))
                self.transports.append(self.kafka)
            if configured_elsewhere():
                standard = OpenLineageClient().transport  # the standard resolution: HTTP (Marquez), ...
                if standard.kind != "console":  # its fallback when the named configuration holds no transport
                    self.transports.append(standard)
            return self.transports

    async def observe(self, event: Message, envelope: Envelope) -> None:
        run = run_event(event, envelope)
        if run is not None:
            await asyncio.to_thread(self._emit, run)

    def _emit(self, run: Any) -> None:
        for transport in self._open():
            try:
                transport.emit(run)
            except Exception:  # noqa: BLE001 - see the module docstring: lineage never fails the step
                logger.warning("openlineage: %s could not take the run event of job %s", transport.kind,
                               run.job.name, exc_info=True)
        if self.kafka is not None and not self.kafka.wait_for_completion(FLUSH_SECONDS):
            logger.warning("openlineage: the run event of job %s is still unsent after %.0f s", run.job.name,
                           FLUSH_SECONDS)

    def close(self) -> None:
        with self._lock:
            transports, self.transports, self.kafka = self.transports, [], None
        for transport in transports:
            try:
                transport.close(FLUSH_SECONDS)
            except Exception:  # noqa: BLE001 - closing at shutdown: say so, go on
                logger.warning("openlineage: closing %s failed", transport.kind, exc_info=True)
