"""Prometheus metrics of one serving app, on a registry the app owns (no global state at import), so two apps
in one process never collide.

With several worker processes on one port a scrape reaches one of them, so the workers share their values
through prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set by the supervisor before it
starts them): every worker answers /metrics with the sum over all workers.
"""

import os
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"

REQUEST_SECONDS = "conveyor_serving_request_seconds"
REQUEST_ERRORS = "conveyor_serving_request_errors"
IN_FLIGHT = "conveyor_serving_requests_in_flight"
MODEL_SWAPS = "conveyor_serving_model_swaps"
MODEL_LOAD_SECONDS = "conveyor_serving_model_load_seconds"
LOG_BUFFER_DEPTH = "conveyor_serving_prediction_log_depth"
LOG_DROPPED = "conveyor_serving_prediction_log_dropped"

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass(frozen=True)
class ServingMetrics:
    registry: CollectorRegistry  # what /metrics exposes
    request_seconds: Histogram
    request_errors: Counter  # label `status`: the HTTP status the request was answered with
    in_flight: Gauge
    swaps: Counter
    load_seconds: Histogram
    log_depth: Gauge
    log_dropped: Counter  # label `reason`: buffer_full, too_large or publish_failed

    @classmethod
    def create(cls, registry: CollectorRegistry) -> "ServingMetrics":
        own = registry
        if os.environ.get(MULTIPROC_DIR):
            # Values live in the shared directory; this process's own registry must not be exposed as well.
            MultiProcessCollector(registry)
            own = CollectorRegistry()
        return cls(
            registry=registry,
            request_seconds=Histogram(REQUEST_SECONDS, "Infer request latency, parse to response", ["model", "version"],
                                      buckets=_LATENCY_BUCKETS, registry=own),
            request_errors=Counter(REQUEST_ERRORS, "Infer requests answered with an error", ["model", "status"],
                                   registry=own),
            in_flight=Gauge(IN_FLIGHT, "Infer requests being handled", ["model"], registry=own,
                            multiprocess_mode="livesum"),
            swaps=Counter(MODEL_SWAPS, "Champion swaps (promotions and rollbacks)", ["model"], registry=own),
            load_seconds=Histogram(MODEL_LOAD_SECONDS, "Time to load and check an ONNX model", ["model"],
                                   registry=own),
            log_depth=Gauge(LOG_BUFFER_DEPTH, "Predictions waiting in the log buffer", registry=own,
                            multiprocess_mode="livesum"),
            log_dropped=Counter(LOG_DROPPED, "Predictions not logged (buffer full, too large, or publish failed)",
                                ["reason"], registry=own),
        )
