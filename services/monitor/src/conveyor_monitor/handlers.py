"""What the monitor does with each event: learn champions and baselines, window predictions, act.

Champion state lives in a MutableMapping of plain values (a faust Table in the service, a dict in unit
tests); references (and the PCA fitted on them) are cached by URI because they are immutable.
"""

import logging
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import (
    ArtifactStore,
    Envelope,
    HandlerTable,
    InvalidMessage,
    TransientError,
    context_of,
    links_of,
    tracer,
)

from .alerting import Alerting
from .confirm import DriftConfirmation
from .drift import WindowResult
from .evaluation import Evaluator
from .evidence import drift_detected, fairness_degraded, performance_degraded
from .fairness import FairnessResult
from .feedback import Champion, Feedback
from .history import EvaluationHistory
from .labels import LabelJoin
from .live import LiveBatch, read_batch
from .metrics import MonitorMetrics
from .outcomes import AlarmOutcome, shown
from .performance import Logged, Scored, degraded
from .reference import Reference, parse_reference
from .window import Window, WindowBuffer

logger = logging.getLogger(__name__)


class MonitorStarting(Exception):  # noqa: N818 - names the state the client meets
    """The service has not started yet: late labels need its publisher and its state."""

    def __init__(self) -> None:
        super().__init__("the monitor is still starting; retry in a few seconds")


@dataclass
class Monitor:
    store: ArtifactStore
    champions: MutableMapping[str, Any]
    windows: WindowBuffer
    history: EvaluationHistory
    metrics: MonitorMetrics
    alerting: Alerting
    evaluator: Evaluator
    labels: LabelJoin
    feedback: Feedback
    tolerance: float = 0.1  # live metric may fall this far below the holdout's before it is degradation
    confirmation: DriftConfirmation = field(default_factory=DriftConfirmation)
    _references: dict[str, Reference] = field(default_factory=dict)
    running: bool = field(default=False, init=False)  # takes REST labels only once the service has started

    # The Monitor is a component of the service: first in the lifespan's list, so it stops last, after the
    # consumer that writes to its label store.
    async def start(self) -> None:
        self.running = True

    async def stop(self) -> None:
        self.running = False
        self.labels.close()

    def problems(self) -> list[str]:
        return []  # ready when the bus and the stream are: /readyz lists theirs

    async def on_registered(self, event: ev.ModelRegistered, envelope: Envelope) -> None:
        """The version's holdout metrics: the bar live performance is held to (kept in the label store)."""
        self.labels.set_baseline(event.model_name, event.version, dict(event.metrics))

    async def on_promoted(self, event: ev.ModelPromoted, envelope: Envelope) -> None:
        if not event.model_name or event.version <= 0:
            raise InvalidMessage("ModelPromoted needs model_name and a positive version")
        if not event.reference_uri:
            raise InvalidMessage(f"ModelPromoted for {event.model_name} v{event.version} has no reference_uri")
        reference = self._reference(event.reference_uri)  # fail here, not on the first window
        current = self.champions.get(event.model_name)
        if current is not None and current["version"] == event.version:
            return  # a redelivery: keep the window and the cooldown
        entry = self.champions[event.model_name] = {
            "version": event.version,
            "reference_uri": event.reference_uri,
            "dataset_id": event.dataset_id,
            "artifact_uri": event.artifact_uri,
            "feature_names": list(event.feature_names or reference.feature_names),
            "min_labels": event.retrain.min_labels if event.HasField("retrain") else 0,
            "sensitive_attributes": list(event.sensitive_attributes or reference.sensitive_attributes),
        }
        self.labels.set_champion(event.model_name, entry)  # for /labels on instances that own other partitions
        # A new champion is judged on its own predictions, and may raise its own alarm at once.
        self.windows.reset(event.model_name)
        self.alerting.reset(event.model_name)
        self.labels.stop_waiting(event.model_name)
        self.history.champion(event.model_name, event.version)
        logger.info("champion of %s is now v%d (%s)", event.model_name, event.version, event.action or "promote")

    async def on_predictions(self, event: ev.PredictionsLogged, envelope: Envelope) -> None:
        # faust's table, else the label store's copy (a promotion consumed by another instance)
        champion = self.champions.get(event.model_name) or self.labels.champion(event.model_name)
        if champion is None or champion["version"] != event.version:
            logger.debug("ignoring predictions of %s v%d: not the champion", event.model_name, event.version)
            return
        if self.windows.seen(event.model_name, envelope.id):
            # Redelivered after a crash: the window state already holds this batch.
            logger.info("batch %s of %s already in its window; skipped", envelope.id, event.model_name)
            return
        reference = self._reference(champion["reference_uri"])
        batch = read_batch(event, reference)  # columns as they came: never one message per row
        self._remember(event, batch, reference)
        self.history.champion(event.model_name, event.version)
        self.metrics.predictions_consumed.labels(event.model_name).inc(batch.size)
        filled = self.windows.fill(event.model_name, event.version, batch, envelope)
        run, verdicts = filled.drift_run, []
        for window in filled.windows:
            # Fan-in: one evaluation acts on many PredictionsLogged batches and links to each of them; its parent is
            # the batch that opened the window, so a version's first evaluation continues its deployment's trace
            # (serving publishes a version's first batch in that trace) in tools that show no links (Zipkin).
            opened_by = context_of(window.envelopes[0]) if window.envelopes else None
            span = tracer.start_span("evaluate drift", context=opened_by, links=links_of(window.envelopes))
            with trace.use_span(span):
                result = self.evaluator.drift(reference, champion["reference_uri"], window)
                fairness = self.evaluator.fairness(reference, window)
            run = self.confirmation.step(run, result.dataset_drifted)
            verdicts.append(Verdict(window, result, fairness, run, span))
        # The window, the batch ids and the drift run are stored before anything is published, as one write.
        self.windows.commit(filled, run)
        for verdict in verdicts:
            with trace.use_span(verdict.span, end_on_exit=True):
                await self._act(event.model_name, verdict)

    def _remember(self, event: ev.PredictionsLogged, batch: LiveBatch, reference: Reference) -> None:
        """Keep each prediction, and the input row it was made from, until its late label arrives."""
        labels = list(event.class_labels) or list(reference.class_labels)
        positive = labels[-1] if labels else "1"
        index = labels.index(positive) if positive in labels else -1
        scores = batch.probabilities[:, index].tolist() if 0 <= index < batch.probabilities.shape[1] \
            and batch.probabilities.shape[1] == len(labels) else [None] * batch.size
        names = list(batch.inputs)
        rows = zip(*batch.inputs.values(), strict=True)  # the reference has at least one feature
        attributes = list(batch.attributes.items())
        model, version, task = event.model_name, event.version, reference.task
        label_of = batch.labels or [""] * batch.size
        value_of = batch.values or [0.0] * batch.size
        self.labels.remember_batch(
            (batch.request_ids[i], batch.request_rows[i], Logged(
                model, version, label_of[i], scores[i], value_of[i],
                {name: values[i] for name, values in attributes if values[i]}, task, positive,
                dict(zip(names, row, strict=True)), batch.timestamps_ms[i],
            ))
            for i, row in enumerate(rows)
        )  # one transaction; a redelivered batch adds nothing

    async def _act(self, model: str, verdict: "Verdict") -> None:
        window, result, fairness, span = verdict.window, verdict.result, verdict.fairness, verdict.span
        span.set_attribute("conveyor.model_name", model)
        span.set_attribute("conveyor.model_version", window.version)
        alarm = self.confirmation.alarms(verdict.drift_run)
        retrain: AlarmOutcome | None = None
        if alarm and not self.alerting.quiet(f"drift:{model}"):
            fact = drift_detected(model, window.version, result, window.rows)
            retrain = await self.alerting.raise_alarm(f"drift:{model}", model, window.version, self._champion(model),
                                                      fact)
        published = retrain is not None and retrain.published
        for found in fairness:
            key = f"fairness:{model}:{found.attribute}"
            if found.degraded and not self.alerting.quiet(key):
                fact = fairness_degraded(model, window.version, found, window.rows)
                await self.alerting.raise_alarm(key, model, window.version, self._champion(model), fact)
        self.history.record(model, window.version, result, window.rows, published, fairness, retrain,
                            drift_run=verdict.drift_run, alarm=alarm)
        self.metrics.windows_evaluated.labels(model, str(result.dataset_drifted).lower()).inc()
        span.set_attribute("conveyor.drift_share", result.drift_share)
        span.set_attribute("conveyor.drift_run", verdict.drift_run)
        logger.info(
            "window of %s v%d: drift share %.2f (drifted: %s), multivariate %s, run %d of %d, fairness degraded %s, "
            "retrain %s", model, window.version, result.drift_share, result.drifted_features or "none",
            result.multivariate.drifted if result.multivariate else "n/a", verdict.drift_run,
            self.confirmation.windows, [f.attribute for f in fairness if f.degraded] or "none", shown(retrain) or "n/a",
        )

    async def on_labels(self, labels: list[tuple[str, int, Any]]) -> dict[str, Any]:
        """Join (request_id, row, true label) to logged predictions; score and act on each full window."""
        joined, unmatched, scored = 0, [], []
        with tracer.start_as_current_span("join late labels") as span:
            for request_id, row, truth in labels:
                completed = self.labels.join(request_id, row, truth)
                if completed is None:
                    unmatched.append({"request_id": request_id, "row": row})
                    continue
                joined += 1
                for window in completed:
                    scored.append(await self._judge_performance(window))
            span.set_attribute("conveyor.labels_joined", joined)
            collected = await self._resume_waiting() if joined else []
        return {"joined": joined, "unmatched": unmatched, "windows_scored": scored,
                "feedback": [{"model_name": c.model_name, "version": c.version, "rows": c.rows, "uri": c.uri}
                             for c in collected]}

    async def _resume_waiting(self) -> list[ev.FeedbackCollected]:
        """Retrains that waited for labels go out once enough have arrived: nobody has to ask again."""
        waiting = {w.model for w in self.labels.waiting()}
        champions = {m: c for m in waiting if (c := self._champion(m)) is not None}
        try:
            return await self.feedback.resume(champions)
        except TransientError:  # the labels are stored; the next POST /labels tries again
            logger.exception("could not publish production feedback; it goes out with the next labels")
            return []

    async def _judge_performance(self, scored: Scored) -> dict[str, Any]:
        self.metrics.labels_joined.labels(scored.model).inc(scored.size)
        baseline = self.labels.baseline(scored.model, scored.version)
        fell = degraded(scored.metrics, baseline, self.tolerance)
        self.history.record_performance(scored, fell)
        outcome: AlarmOutcome | None = None
        champion = self._champion(scored.model)
        key = f"performance:{scored.model}"
        if fell and not self.alerting.quiet(key):
            fact = performance_degraded(scored, {m: baseline[m] for m in scored.metrics if m in baseline}, fell,
                                        self.tolerance)
            outcome = await self.alerting.raise_alarm(key, scored.model, scored.version, champion, fact)
        # This dict is the REST response: the outcome goes out as the text users have always read.
        return {"model_name": scored.model, "version": scored.version, "metrics": scored.metrics,
                "equalized_odds": scored.equalized_odds, "degraded": fell, "retrain": shown(outcome)}

    def _champion(self, model: str) -> Champion | None:
        # faust's table holds the models of this instance's partitions; the label store every instance's
        entry = self.champions.get(model) or self.labels.champion(model)
        if entry is None:
            return None
        reference = self._reference(entry["reference_uri"])
        return Champion(model, entry["version"], entry.get("artifact_uri", ""), entry["dataset_id"],
                        int(entry.get("min_labels", 0)), reference,
                        tuple(entry.get("sensitive_attributes") or reference.sensitive_attributes))

    def _reference(self, uri: str) -> Reference:
        reference = self._references.get(uri)
        if reference is None:
            try:
                document = self.store.get_json(uri)
            except ValueError as exc:  # JSONDecodeError
                raise InvalidMessage(f"reference {uri} is not JSON: {exc}") from exc
            reference = self._references[uri] = parse_reference(document, uri)
        return reference


@dataclass
class Verdict:
    """A full window's evaluation, waiting for the state write before it is acted on."""

    window: Window
    result: WindowResult
    fairness: list[FairnessResult]
    drift_run: int  # consecutive drifted windows of this champion, this one included
    span: trace.Span


def handler_table(monitor: Monitor) -> HandlerTable:
    return {
        ev.ModelRegistered: monitor.on_registered,
        ev.ModelPromoted: monitor.on_promoted,
        ev.PredictionsLogged: monitor.on_predictions,
    }
