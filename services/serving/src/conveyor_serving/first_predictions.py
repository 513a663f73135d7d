"""Carries a deployment's trace into the first predictions of the version it deployed.

A prediction request belongs to its caller's trace (or none), and the log publishes predictions in batches long
after their requests: nothing would join what happened to a model (upload, training, registration, promotion,
deployment) to what it then did. So the deployment handler leaves its span context here, and the log's first
flush of that version publishes inside a "first prediction" span whose parent is the deployment: the
PredictionsLogged event, and the monitor's evaluation of the window it opens, continue the deployment's trace.
Later batches trace as before. One context per (model, version), dropped once used or replaced by the next
deployment of that version.
"""

import threading

from opentelemetry.trace import SpanContext


class FirstPredictions:
    def __init__(self) -> None:
        self._pending: dict[tuple[str, int], SpanContext] = {}
        self._lock = threading.Lock()  # deployments arrive on the event loop, flushes too; gRPC threads never

    def deployed(self, name: str, version: int, context: SpanContext) -> None:
        if context.is_valid:
            with self._lock:
                self._pending[(name, version)] = context

    def take(self, name: str, version: int) -> SpanContext | None:
        """The deployment to continue, once: the first flush of a version takes it."""
        with self._lock:
            return self._pending.pop((name, version), None) if self._pending else None
