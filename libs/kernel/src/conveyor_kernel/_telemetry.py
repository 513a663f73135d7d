"""Trace context across Kafka: inject once on publish, extract once on consume (W3C traceparent).

Libraries use the OpenTelemetry API only; `configure_tracing` is for service entrypoints. Where spans go:
- Zipkin, when OTEL_EXPORTER_ZIPKIN_ENDPOINT is set (`conveyor up` points it at its own Zipkin);
- OTLP over HTTP, when the standard OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT is set;
- a JSON-lines file (CONVEYOR_TELEMETRY__SPAN_FILE), rotated at span_file_max_bytes with a few old files kept,
  for air-gapped runs and tests that read spans without a collector.
Health probes, readiness checks and metric scrapes make no spans (`is_ops_request`).
"""

import logging
import os
from collections.abc import MutableMapping, Sequence
from pathlib import Path
from typing import IO, Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context

from ._envelope import Envelope

logger = logging.getLogger(__name__)
tracer = trace.get_tracer("conveyor")

# Paths that probes, scrapers and people reading the API docs call: tracing them buries the lifecycle's spans
# (most of the span volume before this was readiness polls).
OPS_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/docs", "/docs/oauth2-redirect", "/redoc",
                       "/openapi.json", "/v2/health/live", "/v2/health/ready", "/favicon.ico"})
ZIPKIN_ENDPOINT_ENV = "OTEL_EXPORTER_ZIPKIN_ENDPOINT"
DEFAULT_SPAN_FILE_MAX_BYTES = 10 * 1024 * 1024
SPAN_FILE_BACKUPS = 3


def is_ops_request(scope: MutableMapping[str, Any]) -> bool:
    """True for a probe, a scrape or a docs page: FastAPI's telemetry skips these requests."""
    return scope.get("path") in OPS_PATHS


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
    """Writes each finished span as one JSON line; rotates the file at `max_bytes`, keeping `backups` old ones
    (span.jsonl.1 the newest), so a long-running platform never fills the disk with spans."""

    def __init__(self, path: Path, max_bytes: int = DEFAULT_SPAN_FILE_MAX_BYTES,
                 backups: int = SPAN_FILE_BACKUPS) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path, self._max_bytes, self._backups = path, max_bytes, backups
        self._out: IO[str] = path.open("a", encoding="utf-8")

    def export(self, spans):  # type: ignore[no-untyped-def]
        from opentelemetry.sdk.trace.export import SpanExportResult

        for span in spans:
            self._out.write(span.to_json(indent=None) + "\n")
        self._out.flush()
        if self._max_bytes and self._out.tell() >= self._max_bytes:
            self._rotate()
        return SpanExportResult.SUCCESS

    def _rotate(self) -> None:
        self._out.close()
        for index in range(self._backups - 1, 0, -1):
            older = self._path.with_name(f"{self._path.name}.{index}")
            if older.exists():
                older.replace(self._path.with_name(f"{self._path.name}.{index + 1}"))
        if self._backups:
            self._path.replace(self._path.with_name(f"{self._path.name}.1"))
        else:
            self._path.unlink(missing_ok=True)
        self._out = self._path.open("a", encoding="utf-8")

    def shutdown(self) -> None:
        self._out.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        self._out.flush()
        return True


def configure_tracing(service_name: str, span_file: Path | None = None,
                      span_file_max_bytes: int = DEFAULT_SPAN_FILE_MAX_BYTES) -> None:
    """Install the SDK for a service process; exporters as the module docstring says."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if span_file is not None:
        exporter = _JsonLinesExporter(span_file, span_file_max_bytes)
        provider.add_span_processor(SimpleSpanProcessor(exporter))  # type: ignore[arg-type]
    if os.environ.get(ZIPKIN_ENDPOINT_ENV):
        from opentelemetry.exporter.zipkin.json import ZipkinExporter

        # batched: a span never waits for Zipkin, and a Zipkin that is down costs a logged warning per batch
        provider.add_span_processor(BatchSpanProcessor(ZipkinExporter(endpoint=os.environ[ZIPKIN_ENDPOINT_ENV])))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    logger.info("tracing configured for %s (span file: %s, zipkin: %s)", service_name, span_file,
                os.environ.get(ZIPKIN_ENDPOINT_ENV) or "off")
