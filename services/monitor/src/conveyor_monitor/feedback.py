"""Production feedback: the retrain an alarm asks for learns from labelled production rows, or waits for them.

When the retrain policy grants an alarm's retrain, the labelled rows that no feedback table has carried yet
are what is newer than the champion's training data: every earlier table went to ingest as a version of
the model's dataset, which the retrain's window policy reads. With at least `min_labels` of them
(RetrainPolicy.min_labels from ModelPromoted, else the monitor's default) they are written as a Parquet table
(the reference's feature columns, the dataset's target column, the sensitive attributes) to the artifact store
and FeedbackCollected is published; the rows are marked collected only after the publish, so no row goes
out twice and a crash in between re-sends the same bytes under the same content address. With fewer,
RetrainDeferred says how many there are and the retrain waits (durably, in the label store) until POST
/labels brings enough: then the table goes out without anyone asking again. No new labelled row, no table:
the monitor never asks for a retrain on the data the champion already had.
"""

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import ArtifactStore, Publisher

from .labels import LabelJoin, Labelled, Waiting
from .outcomes import AlarmOutcome, Retrain
from .reference import Reference
from .stattests import BOOLEAN, NUMERIC, category_of

logger = logging.getLogger(__name__)

FEEDBACK_KIND = "feedback"  # the artifact store's folder for the tables
WHAT = {"drift": "drift detected", "fairness": "fairness degraded", "performance": "performance degraded"}


@dataclass(frozen=True)
class Champion:
    """The model line's current champion, as ModelPromoted described it, with its reference."""

    model: str
    version: int
    artifact_uri: str
    dataset_id: str
    min_labels: int  # 0: the monitor's default
    reference: Reference
    sensitive_attributes: tuple[str, ...]


@dataclass
class Feedback:
    store: ArtifactStore
    labels: LabelJoin
    publisher: Publisher
    default_min_labels: int = 200

    def needed(self, champion: Champion) -> int:
        return max(1, champion.min_labels or self.default_min_labels)

    async def ask(self, champion: Champion, trigger: str, reason: str) -> AlarmOutcome:
        """Publish FeedbackCollected if enough new labelled rows exist, else RetrainDeferred (and wait)."""
        have, needed = self.labels.uncollected(champion.model), self.needed(champion)
        if have >= needed:
            collected = await self._collect(champion, trigger, reason)
            return AlarmOutcome(Retrain.COLLECTED, f"{collected.rows} labelled rows in {collected.uri}")
        deferred = ev.RetrainDeferred(
            model_name=champion.model, version=champion.version, trigger=trigger, labelled_rows=have,
            needed_rows=needed, reason=f"{WHAT.get(trigger, trigger)}; waiting for labelled data: {have} of {needed} "
                                       f"labels ({reason})",
        )
        await self.publisher.publish(deferred, champion.model)
        self.labels.defer(Waiting(champion.model, champion.version, trigger, reason, needed))
        return AlarmOutcome(Retrain.DEFERRED, f"waiting for labelled data: {have} of {needed} labels")

    async def resume(self, champions: dict[str, Champion]) -> list[ev.FeedbackCollected]:
        """After labels arrived: send each waiting retrain whose rows are now enough (its champion unchanged)."""
        sent = []
        for waiting in self.labels.waiting():
            champion = champions.get(waiting.model)
            if champion is None or champion.version != waiting.version:
                self.labels.stop_waiting(waiting.model)  # a new champion is judged on its own
                continue
            if self.labels.uncollected(waiting.model) >= waiting.needed:
                sent.append(await self._collect(champion, waiting.trigger, waiting.reason))
                self.labels.stop_waiting(waiting.model)
        return sent

    async def _collect(self, champion: Champion, trigger: str, reason: str) -> ev.FeedbackCollected:
        rows = self.labels.feedback(champion.model)
        data = feedback_table(rows, champion.reference, champion.sensitive_attributes)
        sha256, uri = self.store.put(FEEDBACK_KIND, data, ".parquet")
        times = [r.logged.timestamp_ms for r in rows if r.logged.timestamp_ms]
        event = ev.FeedbackCollected(
            model_name=champion.model, version=champion.version, artifact_uri=champion.artifact_uri,
            dataset_id=champion.dataset_id, uri=uri, sha256=sha256, rows=len(rows),
            window_start_ms=min(times, default=0), window_end_ms=max(times, default=0), reason=reason,
            trigger=trigger,
        )
        await self.publisher.publish(event, champion.model)
        self.labels.collected([r.seq for r in rows], sha256)
        logger.info("feedback for %s v%d: %d labelled rows in %s (%s)", champion.model, champion.version, len(rows),
                    uri, trigger)
        return event


def feedback_table(rows: list[Labelled], reference: Reference, sensitive: tuple[str, ...]) -> bytes:
    """The rows as the dataset's columns: features as the model saw them (null where missing), the true label
    in the target column, and each sensitive attribute that is not a feature from the logged attributes."""
    columns: dict[str, pa.Array] = {}
    for name in reference.feature_names:
        columns[name] = _column([r.logged.inputs.get(name) for r in rows], reference.kinds[name],
                                reference.columns[name])
    extra = [a for a in sensitive if a not in columns and a != reference.target]
    for name in extra:
        columns[name] = pa.array([r.logged.attributes.get(name) or None for r in rows], pa.string())
    truths = [r.truth for r in rows]
    columns[reference.target] = pa.array([float(t) for t in truths], pa.float64()) \
        if reference.task == "regression" else _labels(truths)
    sink = io.BytesIO()
    pq.write_table(pa.table(columns), sink)
    return sink.getvalue()


def _column(values: list[Any], kind: str, trained: Sequence[Any] = ()) -> pa.Array:
    """One feature as the model saw it; a category column is integer-coded when its training values and these
    all are integers (else text), so a window of gaps keeps the training data's type."""
    values = [None if v is None or v == "" or v != v else v for v in values]  # v != v: NaN
    if kind == NUMERIC:
        return pa.array(values, pa.float64())
    if kind == BOOLEAN:
        return pa.array([None if v is None else bool(v) for v in values], pa.bool_())
    if all(v is None or (isinstance(v, int | float) and float(v).is_integer()) for v in [*values, *trained]):
        return pa.array([None if v is None else int(v) for v in values], pa.int64())  # integer-coded categories
    return pa.array([None if v is None else category_of(v) for v in values], pa.string())


def _labels(truths: list[Any]) -> pa.Array:
    """Class labels as posted: integers when every one is an integer (1, 1.0, "1"), else text."""
    def integral(t: Any) -> bool:
        if isinstance(t, str):
            return t.lstrip("-").isdigit()
        return isinstance(t, int | float) and float(t).is_integer()

    if all(integral(t) for t in truths):
        return pa.array([int(float(t)) for t in truths], pa.int64())
    return pa.array([str(t) for t in truths], pa.string())
