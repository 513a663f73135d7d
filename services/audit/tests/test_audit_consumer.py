"""One polled batch through the consumer's processing, with a real ledger file and an in-memory bus."""

import dataclasses

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from conveyor_audit import consumer as consumer_module
from conveyor_audit import metrics
from conveyor_audit.consumer import LedgerConsumer
from conveyor_audit.metrics import AuditMetrics
from conveyor_kernel import KafkaSettings, Record, topics


def counter(registry: CollectorRegistry, name: str) -> float:
    return registry.get_sample_value(f"{name}_total") or 0.0


async def test_batch_appends_links_traces_and_dead_letters(ledger, make, monkeypatch, bus, runtime) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()  # local: the process-wide provider stays untouched
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    monkeypatch.setattr(consumer_module, "tracer", tracer)

    records, producer_traces = [], []
    for offset, (event, subject) in enumerate(make.events()[:2]):
        with tracer.start_as_current_span("produce") as span:
            records.append(make.record(event, subject, offset=offset, prefix="p."))
        producer_traces.append(span.get_span_context().trace_id)
    records.append(dataclasses.replace(records[0]))  # redelivered
    records.append(Record("p.conveyor.datasets", None, b"\x00", [("ce_id", b"x")], 0, 9))
    registry = CollectorRegistry()
    feeder = LedgerConsumer(KafkaSettings(topic_prefix="p."), ledger, runtime.dead_letters,
                            AuditMetrics.create(registry))
    before = [counter(registry, n) for n in (metrics.ENTRIES_APPENDED, metrics.DUPLICATES_SKIPPED)]

    result = await feeder.process(records)

    assert (result.appended, result.duplicates, result.size) == (2, 1, 2)
    assert [r.topic for r in bus.records] == [runtime.topic(topics.DEAD_LETTER)]
    assert dict(bus.records[0].headers)["dlq_offset"] == b"9"
    assert ledger.offsets() == {("p.conveyor.datasets", 0): 10, ("p.conveyor.models", 0): 2}
    (append_span,) = [s for s in exporter.get_finished_spans() if s.name == "audit append"]
    assert sorted(link.context.trace_id for link in append_span.links) == sorted(producer_traces)
    assert append_span.attributes["audit.root"] == ledger.root().hex()
    after = [counter(registry, n) for n in (metrics.ENTRIES_APPENDED, metrics.DUPLICATES_SKIPPED)]
    assert [a - b for a, b in zip(after, before, strict=True)] == [2, 1]
