"""What the monitor does with each event: learn the champion's reference, window its predictions, alarm.

Champion state lives in a MutableMapping of plain values (a faust Table in the service, a dict in unit
tests); references are cached by URI because they are immutable (content-addressed).
"""

import logging
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import ArtifactStore, Envelope, InvalidMessage, Publisher, TransientError, links_of, tracer

from .alarms import drift_detected, retrain_requested
from .cooldown import CooldownGate
from .drift import WindowResult, evaluate_window
from .history import EvaluationHistory
from .live import rows_of
from .metrics import MonitorMetrics
from .reference import Reference, parse_reference
from .window import Window, WindowBuffer

logger = logging.getLogger(__name__)


@dataclass
class Monitor:
    publisher: Publisher
    store: ArtifactStore
    champions: MutableMapping[str, Any]
    windows: WindowBuffer
    cooldown: CooldownGate
    history: EvaluationHistory
    metrics: MonitorMetrics
    p_threshold: float = 0.05
    share_threshold: float = 0.5
    _references: dict[str, Reference] = field(default_factory=dict)

    async def on_promoted(self, event: ev.ModelPromoted, envelope: Envelope) -> None:
        if not event.model_name or event.version <= 0:
            raise InvalidMessage("ModelPromoted needs model_name and a positive version")
        if not event.reference_uri:
            raise InvalidMessage(f"ModelPromoted for {event.model_name} v{event.version} has no reference_uri")
        reference = self._reference(event.reference_uri)  # fail here, not on the first window
        current = self.champions.get(event.model_name)
        if current is not None and current["version"] == event.version:
            return  # a redelivery: keep the window and the cooldown
        self.champions[event.model_name] = {
            "version": event.version,
            "reference_uri": event.reference_uri,
            "dataset_id": event.dataset_id,
            "feature_names": list(event.feature_names or reference.feature_names),
        }
        # A new champion is judged on its own predictions, and may raise its own alarm at once.
        self.windows.reset(event.model_name)
        self.cooldown.reset(event.model_name)
        self.history.champion(event.model_name, event.version)
        logger.info("champion of %s is now v%d (%s)", event.model_name, event.version, event.action or "promote")

    async def on_predictions(self, event: ev.PredictionsLogged, envelope: Envelope) -> None:
        champion = self.champions.get(event.model_name)
        if champion is None or champion["version"] != event.version:
            logger.debug("ignoring predictions of %s v%d: not the champion", event.model_name, event.version)
            return
        reference = self._reference(champion["reference_uri"])
        rows, outputs = rows_of(event, reference)
        self.history.champion(event.model_name, event.version)
        self.metrics.predictions_consumed.labels(event.model_name).inc(len(rows))
        for window in self.windows.add(event.model_name, event.version, rows, outputs, envelope):
            await self._evaluate(event.model_name, champion, reference, window)

    async def _evaluate(self, model: str, champion: Any, reference: Reference, window: Window) -> None:
        # Fan-in: one evaluation acts on many PredictionsLogged batches and links to each of them.
        with tracer.start_as_current_span("evaluate drift", links=links_of(window.envelopes)) as span:
            span.set_attribute("conveyor.model_name", model)
            span.set_attribute("conveyor.model_version", window.version)
            columns = {name: [row[i] for row in window.rows] for i, name in enumerate(reference.feature_names)}
            result = evaluate_window(
                reference.kinds, reference.columns, columns, self.p_threshold, self.share_threshold,
                reference.predictions, window.outputs, reference.prediction_kind,
            )
            publish = result.dataset_drifted and self.cooldown.allow(model)
            self.history.record(model, window.version, result, len(window.rows), publish)
            self.metrics.windows_evaluated.labels(model, str(result.dataset_drifted).lower()).inc()
            span.set_attribute("conveyor.drift_share", result.drift_share)
            logger.info(
                "window of %s v%d: drift share %.2f (drifted: %s), psi %s, prediction p=%s, publish=%s",
                model, window.version, result.drift_share, result.drifted_features or "none",
                {r.feature: round(r.psi, 4) for r in result.features if r.psi is not None},
                f"{result.prediction.p_value:.4g}" if result.prediction else "n/a", publish,
            )
            if publish:
                await self._alarm(model, champion, result, window)

    async def _alarm(self, model: str, champion: Any, result: WindowResult, window: Window) -> None:
        drift = drift_detected(model, window.version, result, len(window.rows))
        try:
            await self.publisher.publish(drift, model)
            await self.publisher.publish(
                retrain_requested(drift, champion["dataset_id"], result.drifted_features), model
            )
        except TransientError:
            # Re-running the handler would re-add the batch to the next window; instead the cooldown
            # is released so the next drifted window raises the alarm again.
            self.cooldown.reset(model)
            logger.exception("could not publish drift of %s v%d; the next drifted window retries", model,
                             window.version)
            return
        self.metrics.drift_events.labels(model).inc()

    def _reference(self, uri: str) -> Reference:
        reference = self._references.get(uri)
        if reference is None:
            try:
                document = self.store.get_json(uri)
            except ValueError as exc:  # JSONDecodeError
                raise InvalidMessage(f"reference {uri} is not JSON: {exc}") from exc
            reference = self._references[uri] = parse_reference(document, uri)
        return reference


def handler_table(monitor: Monitor) -> dict[type, Any]:
    return {ev.ModelPromoted: monitor.on_promoted, ev.PredictionsLogged: monitor.on_predictions}
