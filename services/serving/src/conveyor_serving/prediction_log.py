"""The prediction log: answered requests are buffered in memory and published as PredictionsLogged batches.

Policy — the request path never waits for logging:
- `record()` is a constant-time append; it never awaits or publishes. It is called from the event loop (REST)
  and from gRPC's handler threads, so the append and the flusher's swap share one short lock.
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
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import numpy as np
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import Publisher, tracer

from .adapters.onnx_model import COLUMNS, MATRIX, LoadedModel
from .first_predictions import FirstPredictions
from .inference import Inference
from .metrics import ServingMetrics

logger = logging.getLogger(__name__)


def loggable(model: LoadedModel) -> bool:
    """A model whose rows the monitor can read: a Conveyor model (matrix or columns), or a folder model with
    one numeric matrix. A folder model with other tensors (images, several matrices) is served, not logged."""
    return model.layout in (MATRIX, COLUMNS)


def _features(items: list[Inference], model: LoadedModel, columns: ev.PredictionColumns) -> None:
    """Numeric inputs into `features` (row-major, feature_names order, NaN for missing), string inputs into
    `text_features` ("" for missing). Done at flush time, off the request path: a request only keeps its feeds."""
    if model.layout == MATRIX:
        name = model.input.name
        matrix = np.concatenate([item.feeds[name] for item in items]).astype(np.float64)
        columns.features.extend(matrix.ravel().tolist())
        return
    texts = set(model.text_columns)
    numeric = [name for name in model.feature_names if name not in texts]
    if numeric:
        matrix = np.column_stack([
            np.concatenate([item.feeds[name].reshape(-1) for item in items]).astype(np.float64) for name in numeric
        ])
        columns.features.extend(matrix.ravel().tolist())
    for name in model.feature_names:
        if name in texts:
            values = np.concatenate([item.feeds[name].reshape(-1) for item in items])
            columns.text_features[name].values.extend([str(v) for v in values.tolist()])


def _columns(items: list[Inference]) -> ev.PredictionColumns:
    """The rows of `items` (one model version, in order) as one PredictionColumns: a few bulk array copies.

    One Prediction message per row cost ~45 us a request inside a busy server (a tenth of its CPU); packed
    columns filled from concatenated arrays cost a few microseconds a row.
    """
    first = items[0].results
    counts = [item.rows for item in items]
    request_ids: list[str] = []
    request_rows: list[int] = []
    timestamps: list[int] = []
    for item, n in zip(items, counts, strict=True):
        if n == 1:  # the common case, kept to three appends
            request_ids.append(item.request_id)
            request_rows.append(item.first_row)
            timestamps.append(item.timestamp_ms)
        else:
            request_ids.extend([item.request_id] * n)
            request_rows.extend(range(item.first_row, item.first_row + n))
            timestamps.extend([item.timestamp_ms] * n)
    columns = ev.PredictionColumns(rows=len(request_ids), request_ids=request_ids, request_rows=request_rows,
                                   timestamps_ms=timestamps)
    _features(items, items[0].model, columns)
    if "label" in first:
        columns.labels.extend([str(v) for v in np.concatenate([i.results["label"] for i in items]).tolist()])
    if "probabilities" in first:
        probabilities = np.concatenate([i.results["probabilities"] for i in items]).astype(np.float64)
        columns.probabilities.extend(probabilities.ravel().tolist())
    if "variable" in first:
        values = np.concatenate([i.results["variable"].reshape(-1) for i in items]).astype(np.float64)
        columns.values.extend(values.tolist())
    names = {name for item in items if item.attributes for name in item.attributes}
    for name in sorted(names):
        column: list[str] = []  # "" where a request did not send this attribute
        for item, n in zip(items, counts, strict=True):
            column.extend(item.attributes[name] if item.attributes and name in item.attributes else [""] * n)
        columns.attributes[name].values.extend(column)
    return columns


def _batches(items: list[Inference], batch_size: int) -> Iterator[list[Inference]]:
    """Runs of items of at most batch_size rows; a bigger request is cut into row slices of that size."""
    batch: list[Inference] = []
    rows = 0
    for item in items:
        n = item.rows
        parts = [(item, n)] if n <= batch_size else [
            (_slice(item, start, min(start + batch_size, n)), min(batch_size, n - start))
            for start in range(0, n, batch_size)
        ]
        for part, size in parts:
            if rows + size > batch_size and batch:
                yield batch
                batch, rows = [], 0
            batch.append(part)
            rows += size
    if batch:
        yield batch


def _slice(item: Inference, start: int, stop: int) -> Inference:
    return replace(
        item, feeds={k: v[start:stop] for k, v in item.feeds.items()}, rows=stop - start,
        results={k: v[start:stop] for k, v in item.results.items()},
        attributes={k: v[start:stop] for k, v in item.attributes.items()} if item.attributes else None,
        first_row=item.first_row + start,
    )


class PredictionLog:
    def __init__(
        self, publisher: Publisher, metrics: ServingMetrics, capacity: int, batch_size: int, interval: float,
        enabled: bool = True, first_predictions: FirstPredictions | None = None,
    ) -> None:
        self.enabled = enabled  # off in standalone serving without Kafka: nothing to log to
        self.first_predictions = first_predictions or FirstPredictions()
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
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0

    @property
    def depth(self) -> int:
        return self._depth

    def record(self, item: Inference) -> bool:
        """Buffer one answered request; False when it was dropped because the buffer is full."""
        if not self.enabled or not loggable(item.model):
            return False
        with self._lock:
            if self._depth + item.rows > self.capacity:
                full = True
            else:
                full = False
                self._items.append(item)
                self._depth += item.rows
                depth = self._depth
        if full:
            self.metrics.log_dropped.labels("buffer_full").inc(item.rows)
            return False
        self.metrics.log_depth.set(depth)
        if depth >= self.batch_size and not self._full_batch.is_set():
            if threading.get_ident() == self._loop_thread or self._loop is None:
                self._full_batch.set()
            else:  # an asyncio.Event is set from its own loop only
                self._loop.call_soon_threadsafe(self._full_batch.set)
        return True

    async def start(self) -> None:
        if not self.enabled:
            return
        self._loop, self._loop_thread = asyncio.get_running_loop(), threading.get_ident()
        self._task = asyncio.create_task(self._run(), name="prediction-log")

    async def stop(self) -> None:
        """Flush what is buffered, then end the background task."""
        self._stopping = True
        self._full_batch.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self.flush()

    def problems(self) -> list[str]:
        return []  # a log that cannot publish drops and counts; it never holds serving back

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
        with self._lock:
            items, self._items, self._depth = self._items, [], 0
        self.metrics.log_depth.set(0)
        published = 0
        async for event in self._events(items):
            try:
                deployment = self.first_predictions.take(event.model_name, event.version)
                if deployment is None:
                    await self.publisher.publish(event, subject=event.model_name)
                else:
                    await self._publish_first(event, deployment)
                published += event.columns.rows
            except Exception as exc:  # noqa: BLE001 - see the policy above: count, log, carry on
                self.metrics.log_dropped.labels("publish_failed").inc(event.columns.rows)
                logger.warning("dropped %d predictions of %s: %s", event.columns.rows, event.model_name, exc)
        return published

    async def _publish_first(self, event: ev.PredictionsLogged, deployment: SpanContext) -> None:
        """The version's first batch, published in its deployment's trace (see first_predictions): the span
        starts when the first prediction was answered and ends once the batch is on the topic."""
        columns = event.columns
        answered_ns = columns.timestamps_ms[0] * 1_000_000 if columns.timestamps_ms else None
        span = tracer.start_span(
            "first prediction", context=trace.set_span_in_context(NonRecordingSpan(deployment)),
            start_time=answered_ns, attributes={
                "conveyor.model_name": event.model_name, "conveyor.model_version": event.version,
                "conveyor.request_id": columns.request_ids[0] if columns.request_ids else "",
                "conveyor.rows": columns.rows})
        with trace.use_span(span, end_on_exit=True):
            await self.publisher.publish(event, subject=event.model_name)

    async def _events(self, items: list[Inference]) -> AsyncIterator[ev.PredictionsLogged]:
        """PredictionsLogged events of at most batch_size rows, one model version each, in arrival order.

        The loop gets control back between events: requests never wait behind a whole flush.
        """
        by_model: dict[int, list[Inference]] = {}
        for item in items:
            by_model.setdefault(id(item.model), []).append(item)
        for group in by_model.values():
            model = group[0].model
            for batch in _batches(group, self.batch_size):
                yield ev.PredictionsLogged(
                    model_name=model.name, version=model.version, feature_names=model.feature_names,
                    class_labels=model.class_labels, columns=_columns(batch),
                )
                await asyncio.sleep(0)
