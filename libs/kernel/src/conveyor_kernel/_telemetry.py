"""Trace context across Kafka: inject once on publish, extract once on consume (W3C traceparent).

Libraries use the OpenTelemetry API only; `configure_tracing` is for service entrypoints.
"""

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from opentelemetry import propagate, trace
from opentelemetry.context import Context

from ._envelope import Envelope

logger = logging.getLogger(__name__)
tracer = trace.get_tracer("conveyor")


def current_trace_headers() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def context_of(envelope: Envelope) -> Context:
    carrier = {"traceparent": envelope.traceparent}
    if envelope.tracestate:
        carrier["tracestate"] = envelope.tracestate
    return propagate.extract(carrier)


def links_of(envelopes: Sequence[Envelope]) -> list[trace.Link]:
    """Span links for a fan-in: one span that acts on many events keeps a link to each."""
    links = []
    for envelope in envelopes:
        span_context = trace.get_current_span(context_of(envelope)).get_span_context()
        if span_context.is_valid:
            links.append(trace.Link(span_context))
    return links


class _JsonLinesExporter:
    """Writes each finished span as one JSON line; used where no OTLP collector is reachable."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._out: IO[str] = path.open("a", encoding="utf-8")

    def export(self, spans):  # type: ignore[no-untyped-def]
        from opentelemetry.sdk.trace.export import SpanExportResult

        for span in spans:
            self._out.write(span.to_json(indent=None) + "\n")
        self._out.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._out.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        self._out.flush()
        return True


def configure_tracing(service_name: str, span_file: Path | None = None) -> None:
    """Install the SDK for a service process. OTLP export follows the standard OTEL_* variables."""
    import os

    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if span_file is not None:
        provider.add_span_processor(SimpleSpanProcessor(_JsonLinesExporter(span_file)))  # type: ignore[arg-type]
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    logger.info("tracing configured for %s (span file: %s)", service_name, span_file)
