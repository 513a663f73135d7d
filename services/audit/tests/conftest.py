"""Helpers for the audit tests: real SQLite files in tmp_path, events built by the kernel."""

import dataclasses
from pathlib import Path

import pytest
from google.protobuf.message import Message

from conveyor.events.v1 import events_pb2 as ev
from conveyor_audit.adapters.ledger_db import open_ledger
from conveyor_audit.adapters.rows import Pending
from conveyor_audit.settings import AuditSettings
from conveyor_audit.wiring import PUBLISHES, SERVICE
from conveyor_kernel import Envelope, EventRuntime, Record
from conveyor_kernel.memory import InMemoryBus, build_record


@pytest.fixture
def ledger(backend, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The ledger on SQLite (a file in tmp_path) and on PostgreSQL (the test's own database)."""
    opened = open_ledger(tmp_path, backend.database_url)
    yield opened
    opened.close()


@pytest.fixture
def sqlite_ledger(tmp_path: Path):  # type: ignore[no-untyped-def]
    opened = open_ledger(tmp_path)
    yield opened
    opened.close()


@pytest.fixture
def bus() -> InMemoryBus:
    return InMemoryBus()


@pytest.fixture
def runtime(bus: InMemoryBus) -> EventRuntime:
    """Audit's event runtime on the in-memory bus: its dead_letters is the forwarder the ledger's intake uses."""
    return EventRuntime(AuditSettings(), source=SERVICE, publishes=PUBLISHES, transport=bus)


def sample_events() -> list[tuple[Message, str]]:
    return [
        (ev.DatasetArrived(dataset_id="d1", name="credit", row_count=10), "d1"),
        (ev.ModelTrained(model_name="credit", run_id="r1", metrics={"roc_auc": 0.9}), "credit"),
        (ev.ModelPromoted(model_name="credit", version=1, reasons=["better"]), "credit"),
        (ev.DriftDetected(model_name="credit", version=1, drift_share=0.5), "credit"),
        (ev.RetrainRequested(model_name="credit", version=1, reason="drift"), "credit"),
    ]


def record_of(event: Message, subject: str, offset: int = 0, prefix: str = "") -> Record:
    record, _ = build_record(event, subject, source="test", prefix=prefix)
    return dataclasses.replace(record, offset=offset)


def pending_of(record: Record) -> Pending:
    assert record.value is not None
    return Pending.of(Envelope.from_headers(record.headers), record.value, record.topic, record.partition,
                      record.offset)


def sample_pending(count: int = 5, start_offset: int = 0) -> list[Pending]:
    events = sample_events()
    return [pending_of(record_of(*events[i % len(events)], offset=start_offset + i)) for i in range(count)]


class Factory:
    """Test data builders, handed to tests as the `make` fixture (conftest is not importable)."""

    events = staticmethod(sample_events)
    record = staticmethod(record_of)
    pending = staticmethod(pending_of)
    sample_pending = staticmethod(sample_pending)


@pytest.fixture
def make() -> type[Factory]:
    return Factory
