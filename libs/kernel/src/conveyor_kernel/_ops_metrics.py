"""The figures an operator reads first, the same for every service: request rate, latency and errors of the
REST API, and how far each consumer trails its topics.

- `conveyor_http_requests_total{method,route,status}` and `conveyor_http_request_duration_seconds{method,route}`
  come from a plain ASGI middleware; `route` is the route's path template (never the raw path: one series per
  route, not per model name), and probes, scrapes and docs pages are not counted (`OPS_PATHS`).
- `conveyor_consumer_lag{group,topic,partition}`: records not yet handled, read at scrape time from every
  component that reports `consumer_lag()` (the event runtime's consumer loops).
"""

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ._guard import ROUTE_KEY
from ._telemetry import OPS_PATHS

HTTP_REQUESTS = "conveyor_http_requests"
HTTP_DURATION = "conveyor_http_request_duration_seconds"
CONSUMER_LAG = "conveyor_consumer_lag"
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# (group, topic, partition) -> records behind the partition's high watermark
LagReport = Mapping[tuple[str, str, int], int]


class HttpInstruments:
    """Made once per app (the middleware stack may be built more than once; a registry takes a name once)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(HTTP_REQUESTS, "REST requests answered, by route template and status",
                                ["method", "route", "status"], registry=registry)
        self.duration = Histogram(HTTP_DURATION, "REST request latency, first byte in to last byte out",
                                  ["method", "route"], buckets=_BUCKETS, registry=registry)


class HttpMetrics:
    """ASGI middleware counting every API request once, by its route template and status."""

    def __init__(self, app: Any, instruments: HttpInstruments) -> None:
        self.app = app
        self.requests, self.duration = instruments.requests, instruments.duration

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http" or scope.get("path") in OPS_PATHS:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception that escapes the app is answered 500 by the server

        async def recording_send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = getattr(scope.get("route"), "path", None) or scope.get(ROUTE_KEY) or "unmatched"
            method = scope.get("method", "")
            self.requests.labels(method, route, str(status)).inc()
            self.duration.labels(method, route).observe(time.perf_counter() - started)


class ConsumerLagCollector(Collector):
    """Asks each component for its lag at scrape time: no background task, never stale."""

    def __init__(self, components: Sequence[Any]) -> None:
        self.sources: list[Callable[[], LagReport]] = [
            c.consumer_lag for c in components if callable(getattr(c, "consumer_lag", None))]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(CONSUMER_LAG, "Records not yet handled: the partition's high watermark minus "
                                   "the consumer's position", labels=["group", "topic", "partition"])
        for source in self.sources:
            for (group, topic, partition), lag in source().items():
                family.add_metric([group, topic, str(partition)], lag)
        yield family


def lag_of(positions: Iterable[tuple[str, str, int, int | None, int | None]]) -> dict[tuple[str, str, int], int]:
    """(group, topic, partition, high watermark, position) -> lag, for the partitions where both are known."""
    return {(group, topic, partition): max(0, high - position)
            for group, topic, partition, high, position in positions if high is not None and position is not None}
