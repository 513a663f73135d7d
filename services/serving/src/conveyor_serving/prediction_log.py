"""The prediction log: answered requests are buffered in memory and published as PredictionsLogged batches.

Policy — the request path never waits for logging:
- `record()` is a constant-time append on the event-loop thread; it never awaits, locks or publishes.
- The buffer holds at most `capacity` predictions (rows). A request whose rows do not fit is NOT logged:
  its rows are dropped and counted in conveyor_serving_prediction_log_dropped_total{reason="buffer_full"}.
  The answer to the client is unaffected. Dropping new rows (not old ones) keeps what is buffered in order.
- A background task publishes every `interval` seconds, or sooner once `batch_size` rows are waiting, in
  events of at most `batch_size` predictions, one model version per event.
- A batch the broker refuses (after the producer's own retries) is dropped and counted with
  reason="publish_failed": monitoring tolerates gaps, a serving process that stalls on Kafka is worse.
- On shutdown whatever is buffered is flushed before the publisher stops.
"""

import asyncio
import logging
from collections.abc import Iterator

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import Publisher

from .inference import Inference
from .metrics import ServingMetrics

logger = logging.getLogger(__name__)


def _rows(item: Inference) -> Iterator[dict]:
    """One Prediction's fields per row; `predictions.add(**fields)` builds it in place (no copy)."""
    results = item.results
    labels = results["label"].tolist() if "label" in results else None
    probabilities = results["probabilities"].tolist() if "probabilities" in results else None
    values = results["variable"].reshape(-1).tolist() if "variable" in results else None
    for row, features in enumerate(item.features.tolist()):
        fields: dict = {"request_id": item.request_id, "features": features, "timestamp_ms": item.timestamp_ms,
                        "row": row}
        if item.attributes:
            fields["attributes"] = {name: per_row[row] for name, per_row in item.attributes.items()}
        if labels is not None:
            fields["label"] = str(labels[row])
        if probabilities is not None:
            fields["probabilities"] = probabilities[row]
        if values is not None:
            fields["value"] = values[row]
        yield fields


class PredictionLog:
    def __init__(
        self, publisher: Publisher, metrics: ServingMetrics, capacity: int, batch_size: int, interval: float,
        enabled: bool = True,
    ) -> None:
        self.enabled = enabled  # off in standalone serving without Kafka: nothing to log to
        self.publisher = publisher
        self.metrics = metrics
        self.capacity = capacity
        self.batch_size = batch_size
        self.interval = interval
        self._items: list[Inference] = []
        self._depth = 0
        self._full_batch = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    @property
    def depth(self) -> int:
        return self._depth

    def record(self, item: Inference) -> bool:
        """Buffer one answered request; False when it was dropped because the buffer is full."""
        if not self.enabled:
            return False
        if self._depth + item.rows > self.capacity:
            self.metrics.log_dropped.labels("buffer_full").inc(item.rows)
            return False
        self._items.append(item)
        self._depth += item.rows
        self.metrics.log_depth.set(self._depth)
        if self._depth >= self.batch_size:
            self._full_batch.set()
        return True

    async def start(self) -> None:
        if not self.enabled:
            return
        self._task = asyncio.create_task(self._run(), name="prediction-log")

    async def stop(self) -> None:
        """Flush what is buffered, then end the background task."""
        self._stopping = True
        self._full_batch.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await asyncio.wait_for(self._full_batch.wait(), timeout=self.interval)
            except TimeoutError:
                pass
            self._full_batch.clear()
            try:
                await self.flush()
            except Exception:  # noqa: BLE001 - the logger task must outlive one bad flush
                logger.exception("prediction log flush failed")

    async def flush(self) -> int:
        """Publish everything buffered now; return how many predictions were published."""
        items, self._items, self._depth = self._items, [], 0
        self.metrics.log_depth.set(0)
        published = 0
        for event in self._events(items):
            try:
                await self.publisher.publish(event, subject=event.model_name)
                published += len(event.predictions)
            except Exception as exc:  # noqa: BLE001 - see the policy above: count, log, carry on
                self.metrics.log_dropped.labels("publish_failed").inc(len(event.predictions))
                logger.warning("dropped %d predictions of %s: %s", len(event.predictions), event.model_name, exc)
        return published

    def _events(self, items: list[Inference]) -> Iterator[ev.PredictionsLogged]:
        by_model: dict[int, list[Inference]] = {}
        for item in items:
            by_model.setdefault(id(item.model), []).append(item)
        for group in by_model.values():
            model = group[0].model
            event = None
            for fields in (f for item in group for f in _rows(item)):
                if event is None:
                    event = ev.PredictionsLogged(
                        model_name=model.name, version=model.version,
                        feature_names=model.feature_names, class_labels=model.class_labels,
                    )
                event.predictions.add(**fields)
                if len(event.predictions) >= self.batch_size:
                    yield event
                    event = None
            if event is not None:
                yield event
